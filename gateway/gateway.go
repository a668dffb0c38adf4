package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/replicator"
	"github.com/cairn-backup/cairn/s3api"
)

// DefaultGroup is the storage group of buckets created without a location.
const DefaultGroup = "default"

// Config configures a Gateway.
type Config struct {
	// DataDir holds meta.db, the pid file and, unless Groups says otherwise,
	// the default group's chunk store.
	DataDir string
	// Groups maps storage group names to directories. The default group is
	// always present, at DataDir/groups/default unless named here.
	Groups map[string]string
	// Region is the server's region: a CreateBucket LocationConstraint equal
	// to it names the default group, as clients send their region there.
	Region string
	// MinPartSize is the smallest size of a multipart part other than the
	// last (S3: 5 MiB).
	MinPartSize int64
	// LockTimeout bounds the wait for meta.db's file lock; a second cairn on
	// the same data directory fails after it.
	LockTimeout time.Duration
	// ChunkStore, when set, returns the chunk store configuration of a group;
	// nil uses chunkstore.DefaultConfig(dir).
	ChunkStore func(group, dir string) chunkstore.Config
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// SSEMasterKeyFile is the master key of server-side encryption
	// (ssekeys.go); "" is DataDir/sse-master.key, made when absent.
	SSEMasterKeyFile string

	// LifecycleDay is how long a lifecycle "day" lasts (24h; shorter in
	// tests and demos, like Ceph's rgw_lc_debug_interval): rule days,
	// idle times and copy-then-move delays scale with it.
	LifecycleDay time.Duration
	// LifecycleInterval is how often the lifecycle scanner runs over every
	// bucket with rules; 0 runs it only on demand (RunLifecycle).
	LifecycleInterval time.Duration
	// LifecycleRate bounds the versions and uploads the scanner reads per
	// second; 0 is unbounded.
	LifecycleRate int
	// TierCatalogInterval is how often each tier's mover appends the
	// forgets of deleted tiered versions to the tier's catalog when no
	// transition does it sooner (1 minute).
	TierCatalogInterval time.Duration
	// TierCleanInterval is how often each tier's cleaner runs on its own
	// (6 hours); cairn admin tier clean runs it now.
	TierCleanInterval time.Duration

	// MinQuota is the smallest quota a group may be given (DefaultMinQuota:
	// 100 GiB, as the appliance has it); smaller for small systems and tests.
	MinQuota int64
	// CleanInterval is how often the cleaner runs on each group on its own
	// (24h; 0: only when a group nears its quota or its disk fills, or on
	// demand). CleanCheck is how often each group's use is looked at for
	// that (1 minute); CleanPressure is the fraction of the quota or of the
	// disk at which a group is cleaned (0.9); CleanGap is the least time
	// between two such runs on one group (5 minutes).
	CleanInterval time.Duration
	CleanCheck    time.Duration
	CleanPressure float64
	CleanGap      time.Duration
	// RecompressIdle is how long a group goes without writes before the
	// cleaner makes its S2 records zstd (compression zstd-later, the
	// default; 1 minute). That run stops when writes begin.
	RecompressIdle time.Duration
	// EventWebhook, if set, is a URL every event of DATA/events.log is
	// POSTed to as JSON, retried until it is taken (package events).
	EventWebhook string
	// DiskFullPercent is how full (percent used) a group's filesystem may
	// get before a disk_nearly_full event (90).
	DiskFullPercent float64
	// DiskCheckInterval is how often the groups' filesystems are checked
	// (1 minute).
	DiskCheckInterval time.Duration

	// recovering runs the gateway for Recover: no mover, no cleaner, no
	// scanner, so that nothing deletes or moves while it rebuilds.
	recovering bool
}

// DefaultConfig returns the configuration of a gateway on dataDir with only
// the default group.
func DefaultConfig(dataDir string) Config {
	return Config{
		DataDir:     dataDir,
		Region:      "us-east-1",
		MinPartSize: 5 << 20,
		LockTimeout: time.Second,

		LifecycleDay:      24 * time.Hour,
		LifecycleInterval: time.Hour,
		LifecycleRate:     5000,

		TierCatalogInterval: time.Minute,
		TierCleanInterval:   6 * time.Hour,

		CleanInterval:     24 * time.Hour,
		DiskFullPercent:   90,
		DiskCheckInterval: time.Minute,
	}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("gateway: Config.DataDir is empty")
	}
	if c.MinPartSize < 0 {
		return fmt.Errorf("gateway: Config.MinPartSize %d is negative", c.MinPartSize)
	}
	if c.LockTimeout < 0 {
		return fmt.Errorf("gateway: Config.LockTimeout %v is negative", c.LockTimeout)
	}
	if c.TierCatalogInterval < 0 || c.TierCleanInterval < 0 {
		return fmt.Errorf("gateway: Config: tier catalog interval %v and clean interval %v must not be negative", c.TierCatalogInterval, c.TierCleanInterval)
	}
	if c.MinQuota < 0 || c.CleanInterval < 0 || c.CleanCheck < 0 || c.CleanGap < 0 || c.CleanPressure < 0 || c.CleanPressure > 1 {
		return fmt.Errorf("gateway: Config: min quota %d, clean interval %v, check %v, gap %v must not be negative, clean pressure %v within [0, 1]", c.MinQuota, c.CleanInterval, c.CleanCheck, c.CleanGap, c.CleanPressure)
	}
	if c.LifecycleDay < 0 || c.LifecycleInterval < 0 || c.LifecycleRate < 0 {
		return fmt.Errorf("gateway: Config: lifecycle day %v, interval %v and rate %d must not be negative", c.LifecycleDay, c.LifecycleInterval, c.LifecycleRate)
	}
	if c.DiskFullPercent < 0 || c.DiskFullPercent > 100 {
		return fmt.Errorf("gateway: Config.DiskFullPercent %v is not a percentage (0 to 100)", c.DiskFullPercent)
	}
	if c.DiskCheckInterval < 0 {
		return fmt.Errorf("gateway: Config.DiskCheckInterval %v is negative", c.DiskCheckInterval)
	}
	seen := map[string]string{}
	dirs := c.GroupDirs()
	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		dir := dirs[name]
		if name == "" || strings.ContainsAny(name, "=,/\\ \t\n") || len(name) > 63 {
			return fmt.Errorf("gateway: Config.Groups: bad group name %q (letters, digits, '-', '_', '.'; at most 63)", name)
		}
		if dir == "" {
			return fmt.Errorf("gateway: Config.Groups[%q]: empty directory", name)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("gateway: Config.Groups[%q]: %w", name, err)
		}
		if other, ok := seen[abs]; ok {
			return fmt.Errorf("gateway: Config.Groups: groups %q and %q share directory %s", other, name, abs)
		}
		seen[abs] = name
	}
	return nil
}

// GroupDirs is Groups with the default group filled in: every storage
// group's directory, by name.
func (c Config) GroupDirs() map[string]string {
	m := make(map[string]string, len(c.Groups)+1)
	for k, v := range c.Groups {
		m[k] = v
	}
	if _, ok := m[DefaultGroup]; !ok {
		m[DefaultGroup] = filepath.Join(c.DataDir, "groups", DefaultGroup)
	}
	return m
}

// Gateway implements s3api.Backend. Its methods are safe for concurrent use.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	db     *bolt.DB // meta.db: the data directory's lock and the group registry
	groups map[string]*group

	// groupAdmin makes group additions, changes and removals one at a time.
	groupAdmin sync.Mutex

	// buckets maps each bucket to its group; a bucket's records live in
	// its group's store. Created and deleted under mu (write), so that two
	// groups never hold the same name.
	mu      sync.RWMutex
	buckets map[string]*group

	sse        *sseKeys   // server-side encryption keys (ssekeys.go)
	rulesCache rulesCache // parsed lifecycle configurations and cloud policies
	scan       *scanner
	tiers      *tiers
	rst        restorer   // RestoreObject's recalls
	cleanSt    cleanState // the cleaner run in progress
	events     *events.Log
	// pollsStopped ends Events' long polls (StopLongPolls).
	pollsStopped  chan struct{}
	stopPollsOnce sync.Once
	// stopDiskCheck stops the disk check (nil when it is not running).
	stopDiskCheck func()
	// tierNamed says whether a tier of that name exists (tests of rules
	// without a cloud set a stand-in).
	tierNamed func(name string) bool

	cleanPaused atomic.Bool // the cleaner's own runs are paused (autoclean.go)

	// replicas maps each replica bucket to what it replicates (read-only
	// to S3 clients); replSources holds the buckets that replicate.
	replicas    sync.Map // string -> string
	replSources sync.Map // string -> bool
	seedPending sync.Map // replica buckets waiting for their seed -> true
	seedSt      seedState
	// frozen holds the buckets whose roles a reversal is moving (writes
	// get 503); reversing, at start-up, those with a reversal to finish.
	frozen    sync.Map
	reversing []string
	reverseMu sync.Mutex
	// bgCtx ends at Close: background work started by New.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	// remotes are the peers; senders replicate the source buckets, one
	// each, through replHTTP; replHandler serves peers replicating here.
	remotes          *remotes
	tunnels          tunnels
	replMu           sync.Mutex
	senders          map[string]*replSender
	replHTTP         *http.Client
	replHandler      *replicator.Handler
	replIncompatible atomic.Int64

	// ids are the users and the root key (users.go); access caches each
	// bucket's owner and policy (authz.go).
	ids    identities
	access sync.Map // bucket name -> *bucketAccess
	// accessMu orders caching an access record against forgetting it;
	// accessGen counts the forgets.
	accessMu  sync.Mutex
	accessGen uint64

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

var _ s3api.Backend = (*Gateway)(nil)

// New opens (creating when absent) the gateway on cfg.DataDir: meta.db,
// then every group's chunk store, then it reads which buckets each group
// holds. Nothing at start-up walks objects: an object's version and its
// manifest commit in one transaction of the group's store, so there is no
// orphan to look for. A data directory of format 1 is migrated first.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MinPartSize == 0 {
		cfg.MinPartSize = 5 << 20
	}
	if cfg.LockTimeout == 0 {
		cfg.LockTimeout = time.Second
	}
	if cfg.LifecycleDay == 0 {
		cfg.LifecycleDay = 24 * time.Hour
	}
	if cfg.TierCatalogInterval == 0 {
		cfg.TierCatalogInterval = time.Minute
	}
	if cfg.TierCleanInterval == 0 {
		cfg.TierCleanInterval = 6 * time.Hour
	}
	if cfg.DiskFullPercent == 0 {
		cfg.DiskFullPercent = 90
	}
	if cfg.DiskCheckInterval == 0 {
		cfg.DiskCheckInterval = time.Minute
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("gateway: data directory: %w", err)
	}
	db, format, err := openMeta(cfg.DataDir, cfg.LockTimeout)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: log, db: db, groups: map[string]*group{}, buckets: map[string]*group{}, pollsStopped: make(chan struct{})}
	fail := func(err error) (*Gateway, error) {
		g.Close()
		return nil, err
	}
	if err := g.writePID(); err != nil {
		return fail(err)
	}
	if err := g.openEvents(); err != nil {
		return fail(err)
	}
	if g.sse, err = openSSEKeys(cfg); err != nil {
		return fail(err)
	}
	// The tiers first: their registry is every group's Remote.
	if g.tiers, err = loadTiers(cfg.DataDir); err != nil {
		return fail(err)
	}
	if g.remotes, err = loadRemotes(cfg.DataDir); err != nil {
		return fail(err)
	}
	g.startTunnels()
	g.senders = map[string]*replSender{}
	// A request to a peer is bounded, so that a link that goes silent
	// (a WAN black-holing traffic) fails and is retried rather than hang
	// the relationship: the largest body is 16 MiB of records.
	rt := http.DefaultTransport.(*http.Transport).Clone()
	rt.ResponseHeaderTimeout = 2 * time.Minute
	g.replHTTP = &http.Client{Transport: rt, Timeout: 5 * time.Minute}
	g.replHandler = replicator.NewHandler(replTarget{g: g}, replicator.HandlerOptions{
		Logger:         log.With("part", "replication"),
		Server:         g.siteName(),
		OnIncompatible: func(local, remote string) { g.incompatiblePeer("a source", local, remote) },
	})
	// Packs half sealed when the last process stopped were never recorded.
	os.RemoveAll(filepath.Join(cfg.DataDir, spoolDirName))
	if format == metaFormat1 {
		if err := g.checkBucketGroups1(); err != nil {
			return fail(err)
		}
	}
	// The groups: those --group names (their directory made if missing),
	// and those cairn admin group add registered (their directory must be
	// there: a missing one is a disk not mounted, never an empty group).
	rows, err := g.groupRows()
	if err != nil {
		return fail(fmt.Errorf("gateway: meta.db: %w", err))
	}
	dirs := cfg.GroupDirs()
	for name, r := range rows {
		if _, ok := dirs[name]; !ok && r.Added {
			if err := statDir(r.Dir); err != nil {
				return fail(missingGroupDir(name, r.Dir))
			}
			dirs[name] = r.Dir
		}
	}
	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		gr, err := openGroup(ctx, cfg, log, name, dirs[name], g.tiers.reg, rows[name])
		if err != nil {
			return fail(err)
		}
		g.groups[name] = gr
	}
	if format == metaFormat1 {
		if err := g.migrate(ctx); err != nil {
			return fail(fmt.Errorf("gateway: migrating meta.db format 1: %w", err))
		}
	}
	if err := g.loadBuckets(); err != nil {
		return fail(err)
	}
	if err := g.loadUsers(); err != nil {
		return fail(err)
	}
	for _, gr := range g.groupList() {
		if err := g.loadReplicas(gr); err != nil {
			return fail(fmt.Errorf("storage group %q: %w", gr.name, err))
		}
	}
	if cfg.recovering {
		return g, nil
	}
	if err := g.loadCleanPaused(); err != nil {
		return fail(fmt.Errorf("gateway: meta.db: %w", err))
	}
	for _, gr := range g.groupList() {
		g.startAutoClean(gr)
	}
	g.startSenders()
	g.bgCtx, g.bgCancel = context.WithCancel(context.Background())
	g.resumeReversals(g.bgCtx, g.reversing)
	// Every tier's mover runs from the start: forgets left by the last
	// run go to the catalog even if nothing is transitioned.
	for _, name := range g.tiers.reg.Names() {
		if _, err := g.moverFor(name); err != nil {
			return fail(err)
		}
	}
	g.startScanner()
	g.startDiskCheck()
	return g, nil
}

// openMeta opens meta.db, turning a held lock into a message naming the
// process that holds it, and answers its format.
func openMeta(dataDir string, timeout time.Duration) (*bolt.DB, string, error) {
	path := filepath.Join(dataDir, "meta.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		holder := "pid unknown"
		if b, rerr := os.ReadFile(filepath.Join(dataDir, pidFile)); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = "pid " + strconv.Itoa(pid)
			}
		}
		return nil, "", inUseError(fmt.Sprintf("data directory %s is in use by another cairn (%s)", dataDir, holder))
	}
	if err != nil {
		return nil, "", fmt.Errorf("gateway: open %s: %w", path, err)
	}
	format, err := initMeta(db)
	if err != nil {
		db.Close()
		return nil, "", err
	}
	return db, format, nil
}

// ErrInUse: the data directory or a group directory is open in another process.
var ErrInUse = errors.New("in use by another process")

// inUseError is ErrInUse with a message that names the directory and the
// holder, and says nothing more: it is what the operator reads.
type inUseError string

func (e inUseError) Error() string        { return string(e) }
func (e inUseError) Is(target error) bool { return target == ErrInUse }

const pidFile = "cairn.pid"

// writePID records who holds the data directory, for the message a second
// cairn prints. It is advisory: the lock is meta.db's.
func (g *Gateway) writePID() error {
	path := filepath.Join(g.cfg.DataDir, pidFile)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	return nil
}

// Close closes every chunk store and meta.db. Readers handed out by GetObject
// must be closed first. Close is idempotent.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.closed.Store(true)
		if g.scan != nil {
			g.scan.close()
		}
		if g.stopDiskCheck != nil {
			g.stopDiskCheck()
		}
		g.StopLongPolls()
		g.rst.close()
		if g.tiers != nil {
			g.closeMovers()
		}
		if g.bgCancel != nil {
			g.bgCancel()
		}
		if g.senders != nil {
			g.closeSenders()
		}
		g.stopTunnels()
		if g.replHandler != nil {
			g.replHandler.Close()
		}
		for _, gr := range g.groups {
			gr.stopAutoClean()
		}
		var errs []error
		if g.events != nil {
			// After the movers: their last failures are events too.
			if err := g.events.Close(); err != nil {
				errs = append(errs, fmt.Errorf("events: %w", err))
			}
		}
		for name, gr := range g.groups {
			if err := gr.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("group %s: %w", name, err))
			}
		}
		if g.db != nil {
			os.Remove(filepath.Join(g.cfg.DataDir, pidFile))
			if err := g.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("meta.db: %w", err))
			}
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// group is one storage group: its chunk store, which holds the records of
// its buckets too.
type group struct {
	name  string
	dir   string
	store *chunkstore.Store
	log   *slog.Logger

	mu  sync.Mutex
	row groupRow // its settings, as meta.db has them

	clean autoClean // the cleaner's own runs (autoclean.go)
}

// settings is the group's row: performance tier, quota, stream limit.
func (gr *group) settings() groupRow {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	return gr.row
}

func (gr *group) setSettings(r groupRow) {
	gr.mu.Lock()
	gr.row.Performance, gr.row.Quota, gr.row.Streams, gr.row.Compression = r.Performance, r.Quota, r.Streams, r.Compression
	gr.mu.Unlock()
}

// openGroup opens a group's chunk store with the settings of its row.
func openGroup(ctx context.Context, cfg Config, log *slog.Logger, name, dir string, remote chunkstore.Remote, row groupRow) (*group, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage group %q: %w", name, err)
	}
	scfg := chunkstore.DefaultConfig(dir)
	if cfg.ChunkStore != nil {
		scfg = cfg.ChunkStore(name, dir)
	}
	if scfg.Logger == nil {
		scfg.Logger = log.With("group", name)
	}
	if scfg.Remote == nil {
		scfg.Remote = remote
	}
	if row.Streams > 0 {
		scfg.MaxStreams = row.Streams
	}
	if row.Compression != "" {
		scfg.Compression = chunkstore.Compression(row.Compression)
	}
	scfg.Quota = row.Quota
	st, err := chunkstore.Open(ctx, scfg)
	if errors.Is(err, chunkstore.ErrLocked) {
		return nil, inUseError(fmt.Sprintf("storage group %q directory %s is in use by another cairn", name, dir))
	}
	if err != nil {
		return nil, fmt.Errorf("storage group %q (%s): %w", name, dir, err)
	}
	return &group{name: name, dir: dir, store: st, log: log.With("group", name), row: row}, nil
}

// group returns a configured storage group by name.
func (g *Gateway) group(name string) (*group, error) {
	g.mu.RLock()
	gr, ok := g.groups[name]
	g.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("storage group %q is not configured", name)
	}
	return gr, nil
}

// groupList is every storage group, in name order: a snapshot, as groups
// come and go while the gateway runs.
func (g *Gateway) groupList() []*group {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*group, 0, len(g.groups))
	for _, name := range slices.Sorted(maps.Keys(g.groups)) {
		out = append(out, g.groups[name])
	}
	return out
}

// bucketGroup resolves the group that holds a bucket, or ErrNoSuchBucket.
func (g *Gateway) bucketGroup(name string) (*group, error) {
	g.mu.RLock()
	gr := g.buckets[name]
	g.mu.RUnlock()
	if gr == nil {
		return nil, noSuchBucket(name)
	}
	return gr, nil
}

func noSuchBucket(name string) error {
	return s3api.ErrNoSuchBucket.WithMessagef("The specified bucket does not exist: %s", name)
}

// viewBucket runs fn in a read transaction of the bucket's group, with the
// bucket open. Readers opened in it hold their manifests (chunkstore leases).
func (g *Gateway) viewBucket(name string, fn func(tx *chunkstore.Tx, k *bkt) error) error {
	gr, err := g.bucketGroup(name)
	if err != nil {
		return err
	}
	return gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		return fn(tx, k)
	})
}

// updateBucket runs fn in a write transaction of the bucket's group, with
// the bucket open; it commits durably when fn returns nil.
func (g *Gateway) updateBucket(name string, fn func(tx *chunkstore.Tx, k *bkt) error) error {
	gr, err := g.bucketGroup(name)
	if err != nil {
		return err
	}
	return updateIn(gr, name, fn)
}

// batchBucket is updateBucket with the commit shared with concurrent
// small writes (chunkstore.Store.Batch): fn may run more than once, so it
// must keep its effects in tx and set, not accumulate, its results.
func (g *Gateway) batchBucket(name string, fn func(tx *chunkstore.Tx, k *bkt) error) error {
	gr, err := g.bucketGroup(name)
	if err != nil {
		return err
	}
	return gr.store.Batch(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		return fn(tx, k)
	})
}

// updateIn is updateBucket in a group already resolved.
func updateIn(gr *group, name string, fn func(tx *chunkstore.Tx, k *bkt) error) error {
	return gr.store.Update(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		return fn(tx, k)
	})
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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
}

// DefaultConfig returns the configuration of a gateway on dataDir with only
// the default group.
func DefaultConfig(dataDir string) Config {
	return Config{
		DataDir:     dataDir,
		Region:      "us-east-1",
		MinPartSize: 5 << 20,
		LockTimeout: time.Second,
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
	db     *bolt.DB
	groups map[string]*group

	// lookups orders pins against releases; see pinView.
	lookups sync.RWMutex

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

var _ s3api.Backend = (*Gateway)(nil)

// New opens (creating when absent) the gateway on cfg.DataDir: meta.db, then
// every group's chunk store, then releases orphan manifests (committed to a
// chunk store but never recorded, as a crash between the two leaves them).
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
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("gateway: data directory: %w", err)
	}
	db, err := openMeta(cfg.DataDir, cfg.LockTimeout)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: log, db: db, groups: map[string]*group{}}
	if err := g.writePID(); err != nil {
		g.Close()
		return nil, err
	}
	if err := g.checkBucketGroups(); err != nil {
		g.Close()
		return nil, err
	}
	dirs := cfg.GroupDirs()
	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		gr, err := openGroup(ctx, cfg, log, name, dirs[name])
		if err != nil {
			g.Close()
			return nil, err
		}
		gr.lookups = &g.lookups
		g.groups[name] = gr
	}
	if err := g.reconcile(ctx); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// openMeta opens meta.db, turning a held lock into a message naming the
// process that holds it.
func openMeta(dataDir string, timeout time.Duration) (*bolt.DB, error) {
	path := filepath.Join(dataDir, "meta.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		holder := "pid unknown"
		if b, rerr := os.ReadFile(filepath.Join(dataDir, pidFile)); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = "pid " + strconv.Itoa(pid)
			}
		}
		return nil, inUseError(fmt.Sprintf("data directory %s is in use by another cairn (%s)", dataDir, holder))
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: open %s: %w", path, err)
	}
	if err := initMeta(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
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
		var errs []error
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

// group is one storage group: its chunk store and the pins of its manifests.
type group struct {
	name  string
	dir   string
	store *chunkstore.Store
	log   *slog.Logger
	// lookups is the Gateway's: release waits out the lookups in flight.
	lookups *sync.RWMutex

	mu struct {
		sync.Mutex
		pins   map[chunkstore.ManifestID]int
		doomed map[chunkstore.ManifestID]bool
	}
}

func openGroup(ctx context.Context, cfg Config, log *slog.Logger, name, dir string) (*group, error) {
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
	st, err := chunkstore.Open(ctx, scfg)
	if errors.Is(err, chunkstore.ErrLocked) {
		return nil, inUseError(fmt.Sprintf("storage group %q directory %s is in use by another cairn", name, dir))
	}
	if err != nil {
		return nil, fmt.Errorf("storage group %q (%s): %w", name, dir, err)
	}
	gr := &group{name: name, dir: dir, store: st, log: log.With("group", name)}
	gr.mu.pins = map[chunkstore.ManifestID]int{}
	gr.mu.doomed = map[chunkstore.ManifestID]bool{}
	return gr, nil
}

// pin keeps id's chunks until unpin: a release meanwhile is deferred.
func (gr *group) pin(id chunkstore.ManifestID) {
	gr.mu.Lock()
	gr.mu.pins[id]++
	gr.mu.Unlock()
}

func (gr *group) unpin(ctx context.Context, id chunkstore.ManifestID) {
	gr.mu.Lock()
	gr.mu.pins[id]--
	last := gr.mu.pins[id] == 0
	doomed := last && gr.mu.doomed[id]
	if last {
		delete(gr.mu.pins, id)
		delete(gr.mu.doomed, id)
	}
	gr.mu.Unlock()
	if doomed {
		gr.releaseNow(ctx, id)
	}
}

// release drops manifests no metadata names any more. It runs after the
// transaction that dropped them committed, and must not be skipped because
// a client went away, so it ignores ctx's cancellation. A failure is logged:
// the manifest is then an orphan that the next startup releases.
func (gr *group) release(ctx context.Context, ids ...chunkstore.ManifestID) {
	if len(ids) == 0 {
		return
	}
	// A lookup whose read transaction began before ours committed may still
	// find these manifests and pin them; wait until every such lookup has
	// taken its pin (pinView), so that the check below sees it. Lookups
	// that begin from now on read the committed state and cannot find them.
	gr.lookups.Lock()
	gr.lookups.Unlock()
	for _, id := range ids {
		gr.mu.Lock()
		if gr.mu.pins[id] > 0 {
			gr.mu.doomed[id] = true
			gr.mu.Unlock()
			continue
		}
		gr.mu.Unlock()
		gr.releaseNow(ctx, id)
	}
}

func (gr *group) releaseNow(ctx context.Context, id chunkstore.ManifestID) {
	if err := gr.store.Release(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, chunkstore.ErrNotFound) {
		gr.log.Warn("release manifest; left for the startup reconcile", "manifest", uint64(id), "err", err)
	}
}

// open returns a reader of a manifest pinned until the reader is closed.
// The caller pinned id already (inside the transaction that found it).
func (gr *group) open(ctx context.Context, id chunkstore.ManifestID) (io.ReadSeekCloser, error) {
	r, err := gr.store.NewReader(ctx, id)
	if err != nil {
		gr.unpin(ctx, id)
		return nil, err
	}
	return &pinnedReader{Reader: r, unpin: func() { gr.unpin(context.Background(), id) }}, nil
}

type pinnedReader struct {
	*chunkstore.Reader
	once  sync.Once
	unpin func()
}

func (r *pinnedReader) Close() error {
	err := r.Reader.Close()
	r.once.Do(r.unpin)
	return err
}

// pinView runs fn, which finds manifests and pins them, in a read
// transaction. A bbolt read transaction sees the database as of its start,
// so fn may find a version that a write has removed since, and pin its
// manifest after that write's release looked for pins and found none: the
// reader would then lose its chunks midway, or fail to open. The lookups
// lock closes that window: held shared from before the transaction begins
// until fn's pins are taken, and taken exclusively by release.
func (g *Gateway) pinView(fn func(tx *bolt.Tx) error) error {
	g.lookups.RLock()
	defer g.lookups.RUnlock()
	return g.db.View(fn)
}

// group returns the storage group of a bucket record.
func (g *Gateway) group(name string) (*group, error) {
	gr, ok := g.groups[name]
	if !ok {
		return nil, fmt.Errorf("storage group %q is not configured", name)
	}
	return gr, nil
}

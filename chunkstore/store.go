package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Config configures a Store. Start from DefaultConfig.
type Config struct {
	// Dir holds the store: index.db and containers/.
	Dir string
	// MinChunk, AvgChunk, MaxChunk bound content-defined chunk sizes.
	// AvgChunk must be a power of two. Two stores agree on chunk IDs only
	// with the same three values.
	MinChunk, AvgChunk, MaxChunk int
	// Compression for new chunks.
	Compression Compression
	// MaxStreams bounds the container files open for appending; beyond it,
	// streams share container files (slower restores, never an error).
	MaxStreams int
	// ContainerSize is the size at which a container file is sealed.
	ContainerSize int64
	// BatchBytes is how much input a writer gathers before it chunks,
	// stores and indexes it in one transaction. Memory per stream is about
	// BatchBytes + MaxChunk plus the compressed copy of the new chunks.
	BatchBytes int
	// CompactThreshold is the dead fraction of a container file above which
	// the cleaner compacts it.
	CompactThreshold float64
	// ReserveBytes of disk are held back so that a full disk can still be
	// freed by deletes and the cleaner (see reserve.go); 0 disables it.
	ReserveBytes int64
	// Quota bounds the store's physical bytes (quota.go); 0 is none.
	// SetQuota changes it while the store runs.
	Quota int64
	// OpenTimeout is how long Open waits for another process's lock.
	OpenTimeout time.Duration
	// Remote reads chunks whose only copies are in a tier; nil means the
	// store reads local copies only (and fails, with ErrNoRemote, to read
	// a chunk that has none).
	Remote Remote
	// RemoteTimeout bounds one fetch from a tier; 0 means no bound.
	RemoteTimeout time.Duration
	// RemoteReadahead is how many bytes of consecutive records a reader
	// fetches from a tier in one request (and holds in memory).
	RemoteReadahead int
	Logger          *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the settings measured to suit backup data; see doc.go.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:              dir,
		MinChunk:         4 << 10,
		AvgChunk:         16 << 10,
		MaxChunk:         64 << 10,
		Compression:      CompressZstdLater,
		MaxStreams:       16,
		ContainerSize:    128 << 20,
		BatchBytes:       8 << 20,
		CompactThreshold: 0.25,
		ReserveBytes:     64 << 20,
		OpenTimeout:      500 * time.Millisecond,
		RemoteTimeout:    2 * time.Minute,
		RemoteReadahead:  4 << 20,
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("chunkstore: Dir is empty")
	case c.Quota < 0:
		return fmt.Errorf("chunkstore: Quota %d is negative", c.Quota)
	case c.MaxStreams < 1:
		return fmt.Errorf("chunkstore: MaxStreams %d: want at least 1", c.MaxStreams)
	case c.ContainerSize < 1<<20:
		return fmt.Errorf("chunkstore: ContainerSize %d: want at least 1 MiB", c.ContainerSize)
	case c.BatchBytes < c.MaxChunk:
		return fmt.Errorf("chunkstore: BatchBytes %d: want at least MaxChunk (%d)", c.BatchBytes, c.MaxChunk)
	case c.MaxChunk > maxRecordRaw:
		return fmt.Errorf("chunkstore: MaxChunk %d: want at most %d", c.MaxChunk, maxRecordRaw)
	case c.CompactThreshold <= 0 || c.CompactThreshold > 1:
		return fmt.Errorf("chunkstore: CompactThreshold %v: want (0, 1]", c.CompactThreshold)
	case c.RemoteReadahead < 0 || c.RemoteReadahead > 256<<20:
		return fmt.Errorf("chunkstore: RemoteReadahead %d: want 0 to 256 MiB", c.RemoteReadahead)
	case c.RemoteTimeout < 0:
		return fmt.Errorf("chunkstore: RemoteTimeout %v is negative", c.RemoteTimeout)
	}
	if _, err := newChunker(c.MinChunk, c.AvgChunk, c.MaxChunk); err != nil {
		return fmt.Errorf("chunkstore: %w", err)
	}
	if err := c.Compression.Check(); err != nil {
		return fmt.Errorf("chunkstore: %w", err)
	}
	return nil
}

// Store is a deduplicating chunk store in one directory. It shares nothing
// with other stores, so a storage group is one Store. Its methods are safe
// for concurrent use.
type Store struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	db      *bolt.DB
	chunker chunker
	codecs  *codecs
	pool    *containerPool
	files   *fileCache
	ctrDir  string
	batches *batchPool // recycles writer batches

	// gate orders dedup against the cleaner. A writer holds it shared from
	// the moment it looks a chunk up until the transaction that references
	// it commits; the cleaner holds it exclusively while it drops chunks.
	// So a chunk a writer decided to reuse can never vanish before the
	// writer's reference lands.
	gate sync.RWMutex
	// cleaning makes cleaner runs one at a time.
	cleaning sync.Mutex

	leases  *leases
	drainer *drainer
	use     usage     // physical bytes against the quota (quota.go)
	commits committer // group commit of small transactions (commit.go)

	// lastWrite is when a writer last stored a batch (UnixNano): the
	// cleaner's recompression yields to writes (later.go).
	lastWrite atomic.Int64

	closed atomic.Bool
}

// Open opens (creating if needed) the store in cfg.Dir and recovers from any
// crash: container tails written after the last commit are cut off, files no
// commit reached are removed, and interrupted writes and releases are
// rolled back or finished. Only one process may have a store open.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, now: cfg.Now, ctrDir: filepath.Join(cfg.Dir, "containers"), batches: newBatchPool(cfg)}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.chunker, _ = newChunker(cfg.MinChunk, cfg.AvgChunk, cfg.MaxChunk)
	s.drainer = newDrainer(s)
	s.leases = newLeases(s.drainer.add)
	if err := os.MkdirAll(s.ctrDir, 0o700); err != nil {
		return nil, fmt.Errorf("chunkstore: %w", err)
	}
	db, err := bolt.Open(filepath.Join(cfg.Dir, "index.db"), 0o600, &bolt.Options{
		Timeout:        cfg.OpenTimeout,
		NoFreelistSync: false, // a synced freelist: Open need not walk every page to rebuild it
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("chunkstore %s: %w", cfg.Dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("chunkstore %s: open index: %w", cfg.Dir, err)
	}
	s.db = db
	if s.codecs, err = newCodecs(cfg.Compression); err != nil {
		db.Close()
		return nil, err
	}
	s.files = newFileCache(s.ctrDir, 256)
	work, err := s.recover(ctx)
	if err != nil {
		s.codecs.close()
		db.Close()
		return nil, fmt.Errorf("chunkstore %s: %w", cfg.Dir, err)
	}
	go s.drainer.run()
	if len(work) > 0 {
		s.log.Info("finishing interrupted writes, releases and moves in the background", "manifests", len(work))
		s.drainer.add(work)
	}
	return s, nil
}

// storeFormat is the version of the database's layout this code writes:
// 1 had one location and one reference count per chunk and no pending
// bucket; 2 adds remote copies, local reference counts, packs, holds, the
// pending bucket and the caller's namespace. A format 1 store is upgraded
// at open (upgrade.go).
const storeFormat = 2

// formatRecord is the format and the chunking settings, written once; a
// store made with other chunk sizes still works (dedup just does not match
// across the change), so a difference is only logged.
func (s *Store) formatRecord() []byte {
	b := []byte{storeFormat}
	for _, v := range []int{s.cfg.MinChunk, s.cfg.AvgChunk, s.cfg.MaxChunk} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// recover brings the store to a state where every container file matches
// the index, and returns the manifests with work left (pending bucket).
// It reads the container rows and the pending bucket, never every
// manifest or chunk: its cost does not grow with what the store holds.
func (s *Store) recover(ctx context.Context) ([]ManifestID, error) {
	var (
		committed = map[uint64]int64{}
		work      []ManifestID
		maxID     uint64
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		t := newTxn(tx)
		want := s.formatRecord()
		switch f := bytes.Clone(t.meta.Get(keyFormat)); {
		case f == nil:
			if err := t.meta.Put(keyFormat, want); err != nil {
				return err
			}
		case len(f) < 1 || f[0] > storeFormat:
			return fmt.Errorf("the store's format %x is newer than this cairn reads (%d)", f[:min(1, len(f))], storeFormat)
		case f[0] < storeFormat:
			if err := s.upgrade(t, f[0]); err != nil {
				return fmt.Errorf("upgrade from format %d: %w", f[0], err)
			}
			fallthrough
		default:
			if string(f[1:]) != string(want[1:]) {
				s.log.Warn("chunk sizes differ from the ones this store was made with; new data will not dedup against old", "dir", s.cfg.Dir)
			}
		}
		if err := t.containers.ForEach(func(k, v []byte) error {
			cs, err := decodeContainerStat(v)
			if err != nil {
				return err
			}
			id := binary.BigEndian.Uint64(k)
			committed[id] = cs.committed
			maxID = max(maxID, id)
			return nil
		}); err != nil {
			return err
		}
		if err := t.dropOrphanLater(); err != nil {
			return err
		}
		var released []ManifestID
		err := t.pending.ForEach(func(k, v []byte) error {
			id := ManifestID(binary.BigEndian.Uint64(k))
			work = append(work, id)
			if len(v) == 1 && v[0]&pendDrain != 0 {
				released = append(released, id) // no reader holds anything yet
			}
			return nil
		})
		s.leases.authorize(released)
		return err
	})
	if err != nil {
		return nil, err
	}

	names, err := os.ReadDir(s.ctrDir)
	if err != nil {
		return nil, err
	}
	for _, de := range names {
		id, ok := parseContainerName(de.Name())
		if !ok {
			continue
		}
		maxID = max(maxID, id)
		path := filepath.Join(s.ctrDir, de.Name())
		size, known := committed[id]
		if !known {
			// No commit ever referenced it: the writer or cleaner that made it
			// stopped first.
			s.log.Info("removing uncommitted container file", "container", id)
			if err := os.Remove(path); err != nil {
				return nil, err
			}
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		switch {
		case fi.Size() > size:
			// The tail of a write that never committed (perhaps torn).
			s.log.Info("cutting uncommitted container tail", "container", id, "bytes", fi.Size()-size)
			if err := os.Truncate(path, size); err != nil {
				return nil, err
			}
		case fi.Size() < size:
			s.log.Error("container file is shorter than committed; scrub will list the lost chunks", "container", id, "size", fi.Size(), "committed", size)
		}
		delete(committed, id)
	}
	for id := range committed {
		s.log.Error("container file is missing; scrub will list the lost chunks", "container", id)
	}
	if err := syncDir(s.ctrDir); err != nil {
		return nil, err
	}
	s.pool = newContainerPool(s.ctrDir, maxID+1, s.cfg.MaxStreams, s.cfg.ContainerSize)
	s.makeReserve()
	if err := s.SetQuota(s.cfg.Quota); err != nil {
		return nil, err
	}
	return work, nil
}

// Close closes the store. Writers still open fail from then on.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// The drainer stops after its current step; what it has not done is
	// in the pending bucket for the next Open.
	s.drainer.close()
	// Wait for writers mid-batch and a running cleaner.
	s.gate.Lock()
	defer s.gate.Unlock()
	s.pool.close()
	s.batches.close()
	s.files.close()
	s.codecs.close()
	return s.db.Close()
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// SetMaxStreams changes the stream limit (Config.MaxStreams) while the store
// runs; Stats.MaxStreams reports the one in force. Streams that start from
// now on see the new limit. Lowering it never fails a stream in flight: a
// stream keeps the container it holds (until that one fills), and idle
// containers beyond the new limit are sealed.
func (s *Store) SetMaxStreams(n int) error {
	if n < 1 {
		return fmt.Errorf("chunkstore: MaxStreams %d: want at least 1", n)
	}
	if s.closed.Load() {
		return fmt.Errorf("chunkstore: set MaxStreams: %w", ErrClosed)
	}
	if old := s.pool.setMaxStreams(n); old != n {
		s.log.Info("stream limit changed", "dir", s.cfg.Dir, "from", old, "to", n,
			"active_streams", s.pool.activeStreams.Load())
	}
	return nil
}

// SetCompression changes how new chunks are compressed (Config.Compression)
// while the store runs. Every store reads every codec, so what is stored
// stays readable; chunks prepared from now on use the new setting.
func (s *Store) SetCompression(c Compression) error {
	if err := c.Check(); err != nil {
		return fmt.Errorf("chunkstore: %w", err)
	}
	ws, _ := settingFor(c)
	if s.closed.Load() {
		return fmt.Errorf("chunkstore: set compression: %w", ErrClosed)
	}
	if old := s.codecs.write.Swap(ws); old.name != ws.name {
		s.log.Info("compression changed", "dir", s.cfg.Dir, "from", old.name, "to", ws.name)
	}
	return nil
}

// Compression is the setting new chunks are compressed with.
func (s *Store) Compression() Compression { return s.codecs.write.Load().name }

// check fails fast on a closed store or a cancelled context.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// withGate runs fn holding the dedup gate shared.
func (s *Store) withGate(fn func() error) error {
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	return fn()
}

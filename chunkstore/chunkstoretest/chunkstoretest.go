// Package chunkstoretest gives the tests of packages built on the chunk
// store (and its own) a store in a temporary directory that checks itself
// when the test ends, and DirTier, a stand-in for a cloud tier.
//
//	s := chunkstoretest.New(t) // drained, scrubbed and closed at cleanup
package chunkstoretest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Config is chunkstore.DefaultConfig in a new temporary directory, with
// small containers and batches so that little data spans several of each,
// and warnings logged to the test.
func Config(t testing.TB) chunkstore.Config {
	cfg := chunkstore.DefaultConfig(t.TempDir())
	cfg.ContainerSize = 1 << 20
	cfg.BatchBytes = 256 << 10
	cfg.ReserveBytes = 256 << 10
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg
}

// New opens a store on Config(t); see Open.
func New(t testing.TB) *chunkstore.Store { return Open(t, Config(t)) }

// Open opens a store and, when the test ends, checks it (Check) and closes
// it, unless the test closed it itself.
func Open(t testing.TB, cfg chunkstore.Config) *chunkstore.Store {
	t.Helper()
	s, err := chunkstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		Check(t, s)
		s.Close()
	})
	return s
}

// Check fails the test unless the store, once its released manifests are
// drained, scrubs clean. A closed store is not checked.
func Check(t testing.TB, s *chunkstore.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.Drain(ctx); err != nil {
		if err != chunkstore.ErrClosed {
			t.Errorf("chunkstoretest: drain: %v", err)
		}
		return
	}
	rep, err := s.Scrub(ctx, chunkstore.ScrubOptions{})
	switch {
	case err == chunkstore.ErrClosed:
	case err != nil:
		t.Errorf("chunkstoretest: scrub: %v", err)
	case !rep.OK():
		t.Errorf("chunkstoretest: scrub: %s", rep)
	}
}

// Data is n seeded random bytes: incompressible, and the same for the same
// seed, so that tests can write a piece twice to see it dedup.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Put writes data as one manifest and commits it.
func Put(t testing.TB, s *chunkstore.Store, data []byte) chunkstore.Manifest {
	t.Helper()
	w := s.NewWriter(t.Context())
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	m, err := w.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Read reads a whole manifest.
func Read(t testing.TB, s *chunkstore.Store, id chunkstore.ManifestID) []byte {
	t.Helper()
	r, err := s.NewReader(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read manifest %d: %v", id, err)
	}
	return b
}

// DirTier is a stand-in for a cloud tier (the real ones, Azure Blob and
// S3, are package cloudtier's): packs are plain files in a directory, so
// that they outlive a killed process, and every fetch can be made to fail,
// stall or return wrong bytes. It implements chunkstore.Remote.
type DirTier struct {
	Name string
	Dir  string

	fetches atomic.Int64
	mu      sync.Mutex
	fault   func(p chunkstore.Pack, off int64, buf []byte) error
}

// NewDirTier makes a tier named name in a new temporary directory.
func NewDirTier(t testing.TB, name string) *DirTier {
	return &DirTier{Name: name, Dir: t.TempDir()}
}

// SetFault makes every later fetch call fn after reading (it may change
// buf, sleep, or return an error to fail the fetch); nil removes it.
func (d *DirTier) SetFault(fn func(p chunkstore.Pack, off int64, buf []byte) error) {
	d.mu.Lock()
	d.fault = fn
	d.mu.Unlock()
}

// Fetches counts the fetches made so far.
func (d *DirTier) Fetches() int64 { return d.fetches.Load() }

// Fetch implements chunkstore.Remote.
func (d *DirTier) Fetch(ctx context.Context, p chunkstore.Pack, off int64, buf []byte) error {
	d.fetches.Add(1)
	if p.Tier != d.Name {
		return fmt.Errorf("dirtier %s: asked for a pack of tier %q", d.Name, p.Tier)
	}
	f, err := os.Open(filepath.Join(d.Dir, p.Object))
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.ReadAt(buf, off); err != nil {
		return fmt.Errorf("dirtier %s: read %s at %d: %w", d.Name, p.Object, off, err)
	}
	d.mu.Lock()
	fault := d.fault
	d.mu.Unlock()
	if fault != nil {
		if err := fault(p, off, buf); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Tiers routes fetches to the DirTier of each pack's tier.
type Tiers []*DirTier

// Fetch implements chunkstore.Remote.
func (ts Tiers) Fetch(ctx context.Context, p chunkstore.Pack, off int64, buf []byte) error {
	for _, d := range ts {
		if d.Name == p.Tier {
			return d.Fetch(ctx, p, off, buf)
		}
	}
	return fmt.Errorf("no tier %q", p.Tier)
}

// PackManifest copies every chunk of manifest id that has no copy in the
// tier yet into one new pack, the way a tier's mover does (without the
// encryption), writes it durably and records it with AddPack. It returns
// the pack's ID and the number of chunks placed (0 and no pack when all
// were in the tier already).
func (d *DirTier) PackManifest(ctx context.Context, s *chunkstore.Store, id chunkstore.ManifestID) (chunkstore.PackID, int, error) {
	it, err := s.Entries(ctx, id, 0)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	var pack bytes.Buffer
	var placed []chunkstore.PackedChunk
	seen := map[chunkstore.ChunkID]bool{}
	var buf []byte
	for it.Next() {
		e := it.Entry()
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		if need, err := s.NotInTier(ctx, d.Name, []chunkstore.ChunkID{e.ID}); err != nil || len(need) == 0 {
			if err != nil {
				return 0, 0, err
			}
			continue
		}
		rec, err := s.ReadRecord(ctx, e.ID, buf)
		if err != nil {
			return 0, 0, err
		}
		buf = rec.Data
		placed = append(placed, chunkstore.PackedChunk{ID: e.ID, Offset: int64(pack.Len()), Size: int64(len(rec.Data))})
		pack.Write(rec.Data)
	}
	if err := it.Err(); err != nil {
		return 0, 0, err
	}
	if len(placed) == 0 {
		return 0, 0, nil
	}
	name := fmt.Sprintf("pack-%d-%d", time.Now().UnixNano(), rand.Uint64())
	if err := writeDurably(filepath.Join(d.Dir, name), pack.Bytes()); err != nil {
		return 0, 0, err
	}
	return s.AddPack(ctx, chunkstore.Pack{Tier: d.Name, Object: name, KeyGen: 1, Size: int64(pack.Len())}, placed)
}

func writeDurably(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

package chunkstore_test

// TestAPIRace runs the chunk-level API all at once on one store, meant for
// -race: writers (some writing the same content), readers checking every
// byte, releases (Store.Release, and Tx.Release with the caller's record in
// one transaction), many of them while a reader of the manifest is open,
// imports from a second store and CommitEntries, a packer and mover into a
// tier, and the cleaner. A reader that opened a manifest must read it whole
// and right whatever is released, moved or cleaned meanwhile.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// apiRaceObjects are smaller than apiCrashObjects (the race detector makes
// chunking and compression slow) but share pieces the same way.
var apiRaceObjects = objectSet{key: 0x7ace, sharedBase: 2000, shared: 10, sharedSize: 64 << 10, pieces: 4, ownUp: 96 << 10}

// apiRaceContent is the content of a descriptor the test made itself.
func apiRaceContent(desc string) []byte {
	b, err := apiRaceObjects.content(desc)
	if err != nil {
		panic(err)
	}
	return b
}

func TestAPIRace(t *testing.T) {
	tier := chunkstoretest.NewDirTier(t, "cold")
	cfg := chunkstoretest.Config(t)
	cfg.MaxStreams = 2
	cfg.Remote = tier
	cfg.RemoteTimeout = 20 * time.Second
	cfg.RemoteReadahead = 128 << 10
	s := chunkstoretest.Open(t, cfg)
	src := chunkstoretest.New(t)
	ctx := t.Context()

	rounds := 16
	if testing.Short() {
		rounds = 8
	}
	pool := &apiCrashPool{live: map[chunkstore.ManifestID]string{}, gone: map[chunkstore.ManifestID]bool{}, moved: map[chunkstore.ManifestID]bool{}}
	var failed atomic.Bool
	fail := func(format string, args ...any) {
		t.Helper()
		failed.Store(true)
		t.Errorf(format, args...)
	}
	var countsMu sync.Mutex
	var counts struct {
		writes, imports, entries, releases, moveReleases, leasedReleases, txReleases, reads, notFound, moves, compactions, localDropped int
	}
	count := func(f func()) { countsMu.Lock(); f(); countsMu.Unlock() }
	record := func(desc string) chunkstore.CommitFunc {
		return func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
			return tx.Bucket().Put(apiKey(m.ID), []byte(desc))
		}
	}

	// release takes a live manifest out of the pool and releases it, in the
	// caller's transaction or not, with a reader open across the release
	// when withReader; the reader must read it whole and right.
	release := func(rng *rand.Rand, id chunkstore.ManifestID, desc string, withReader bool, why string) bool {
		if !pool.take(id) {
			return true // another releaser has it
		}
		want := apiRaceContent(desc)
		var r *chunkstore.Reader
		var head []byte
		if withReader {
			var err error
			if r, err = s.NewReader(ctx, id); err != nil {
				fail("reader of committed manifest %d: %v", id, err)
				return false
			}
			defer r.Close()
			head = make([]byte, rng.IntN(len(want)))
			if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, want[:len(head)]) {
				fail("manifest %d: its first %d bytes read wrong (%v)", id, len(head), err)
				return false
			}
		}
		inTx := rng.IntN(2) == 0
		var err error
		if inTx {
			err = s.Update(func(tx *chunkstore.Tx) error {
				if err := tx.Bucket().Delete(apiKey(id)); err != nil {
					return err
				}
				return tx.Release(id)
			})
		} else {
			if err = s.Update(func(tx *chunkstore.Tx) error { return tx.Bucket().Delete(apiKey(id)) }); err == nil {
				err = s.Release(ctx, id)
			}
		}
		if err != nil {
			fail("release of committed manifest %d: %v", id, err)
			return false
		}
		if r2, err := s.NewReader(ctx, id); !errors.Is(err, chunkstore.ErrNotFound) {
			if err == nil {
				r2.Close()
			}
			fail("new reader of released manifest %d: %v", id, err)
			return false
		}
		if err := s.Update(func(tx *chunkstore.Tx) error { return tx.Release(id) }); !errors.Is(err, chunkstore.ErrNotFound) {
			fail("releasing manifest %d twice: %v", id, err)
		}
		if r != nil {
			// Give the drainer, the mover and the cleaner a chance first.
			for range 1 + rng.IntN(4) {
				runtime.Gosched()
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
			rest, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(rest, want[len(head):]) {
				fail("manifest %d (%s; released in the caller's transaction: %v), open across its release: read %d+%d of %d bytes, %v (equal %v)", id, why, inTx, len(head), len(rest), len(want), err, bytes.Equal(rest, want[len(head):]))
				return false
			}
		}
		count(func() {
			counts.releases++
			if r != nil {
				counts.leasedReleases++
			}
			if inTx {
				counts.txReleases++
			}
		})
		return true
	}

	var producers, others sync.WaitGroup
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return failed.Load()
		}
	}

	// Writers; writer 2 often writes writer 0's content again.
	for w := range 3 {
		producers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for n := range rounds {
				if failed.Load() {
					return
				}
				seed := uint64(w)<<16 | uint64(n)
				if w == 2 && rng.IntN(2) == 0 {
					seed = uint64(n)
				}
				desc := strconv.FormatUint(seed, 10)
				data := apiRaceObjects.object(seed)
				wr := s.NewWriter(ctx)
				if _, err := wr.Write(data); err != nil {
					fail("write: %v", err)
					return
				}
				m, err := wr.CommitWith(ctx, record(desc))
				if err != nil {
					fail("commit: %v", err)
					return
				}
				if m.Size != int64(len(data)) {
					fail("manifest %d: %d bytes, wrote %d", m.ID, m.Size, len(data))
				}
				pool.add(m.ID, desc)
				count(func() { counts.writes++ })
			}
		})
	}

	// Importers: replicate from the second store; sometimes release the
	// import at once with a reader open (its holds may not be dropped yet),
	// and CommitEntries of held target manifests.
	for w := range 2 {
		producers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 12))
			for n := range rounds {
				if failed.Load() {
					return
				}
				seed := uint64(8+w)<<16 | uint64(n)
				desc := strconv.FormatUint(seed, 10)
				data := apiRaceObjects.object(seed)
				sw := src.NewWriter(ctx)
				sw.Write(data)
				sm, err := sw.Commit(ctx)
				if err != nil {
					fail("source commit: %v", err)
					return
				}
				m, err := apiRaceImport(ctx, rng, src, s, sm.ID, record(desc))
				if err != nil {
					fail("import: %v", err)
					return
				}
				if m.Size != int64(len(data)) {
					fail("import of %d bytes committed %d", len(data), m.Size)
				}
				pool.add(m.ID, desc)
				count(func() { counts.imports++ })
				if rng.IntN(3) == 0 && !release(rng, m.ID, desc, true, "just imported") {
					return
				}
				if err := src.Release(ctx, sm.ID); err != nil {
					fail("source release: %v", err)
				}

				// CommitEntries of one to three held manifests.
				var (
					all   []chunkstore.Entry
					descs []string
					its   []*chunkstore.Entries
				)
				for range 1 + rng.IntN(3) {
					id, d, ok := pool.pick(rng, nil)
					if !ok {
						break
					}
					it, err := s.Entries(ctx, id, 0)
					if errors.Is(err, chunkstore.ErrNotFound) && pool.isGone(id) {
						continue
					}
					if err != nil {
						fail("entries of committed manifest %d: %v", id, err)
						return
					}
					its = append(its, it)
					for it.Next() {
						all = append(all, it.Entry())
					}
					if err := it.Err(); err != nil {
						fail("entries of held manifest %d: %v", id, err)
						return
					}
					descs = append(descs, d)
				}
				d := strings.Join(descs, "+")
				if len(all) > 0 && len(descs) <= 6 && strings.Count(d, "+") < 6 {
					m, err := s.CommitEntries(ctx, all, record(d))
					if err != nil {
						fail("commit entries of held manifests: %v", err)
						return
					}
					pool.add(m.ID, d)
					count(func() { counts.entries++ })
				}
				for _, it := range its {
					it.Close()
				}
			}
		})
	}

	// The releaser keeps the pool small.
	others.Go(func() {
		rng := rand.New(rand.NewPCG(3, 13))
		for !stopped() {
			if pool.size() <= 6 {
				time.Sleep(time.Millisecond)
				continue
			}
			id, desc, _ := pool.pick(rng, nil)
			if !release(rng, id, desc, rng.IntN(3) != 0, "releaser") {
				return
			}
		}
	})

	// Readers, reading in pieces of random size.
	for w := range 2 {
		others.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 14))
			buf := make([]byte, 64<<10)
			for !stopped() {
				id, desc, ok := pool.pick(rng, nil)
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				var r *chunkstore.Reader
				var err error
				if rng.IntN(2) == 0 {
					r, err = s.NewReader(ctx, id)
				} else {
					err = s.View(func(tx *chunkstore.Tx) error {
						runtime.Gosched() // a release may commit meanwhile
						var err error
						r, err = tx.NewReader(ctx, id)
						return err
					})
				}
				if errors.Is(err, chunkstore.ErrNotFound) && pool.isGone(id) {
					count(func() { counts.notFound++ })
					continue
				}
				if err != nil {
					fail("reader of committed manifest %d: %v", id, err)
					return
				}
				want := apiRaceContent(desc)
				var got []byte
				for {
					n, err := r.Read(buf[:1+rng.IntN(len(buf))])
					got = append(got, buf[:n]...)
					if err == io.EOF {
						break
					}
					if err != nil {
						fail("manifest %d, opened while committed: read after %d bytes: %v", id, len(got), err)
						r.Close()
						return
					}
					if rng.IntN(4) == 0 {
						runtime.Gosched()
					}
				}
				r.Close()
				if !bytes.Equal(got, want) {
					fail("manifest %d (%s): read %d bytes that differ from the %d written", id, desc, len(got), len(want))
					return
				}
				count(func() { counts.reads++ })
			}
		})
	}

	// The packer and mover, keeping about half the live manifests local;
	// now and then a move races a release while a reader holds the manifest.
	others.Go(func() {
		rng := rand.New(rand.NewPCG(4, 15))
		for !stopped() {
			pool.mu.Lock()
			moved := 0
			for id := range pool.live {
				if pool.moved[id] {
					moved++
				}
			}
			local := len(pool.live) - moved
			pool.mu.Unlock()
			if local <= moved {
				time.Sleep(time.Millisecond)
				continue
			}
			id, desc, ok := pool.pick(rng, func(id chunkstore.ManifestID) bool { return !pool.moved[id] })
			if !ok {
				time.Sleep(time.Millisecond)
				continue
			}
			if _, _, err := tier.PackManifest(ctx, s, id); err != nil {
				if !pool.isGone(id) {
					fail("pack committed manifest %d: %v", id, err)
					return
				}
				continue
			}
			if rng.IntN(4) == 0 {
				done := make(chan error, 1)
				go func() { done <- s.Move(ctx, id) }()
				ok := release(rng, id, desc, true, "racing a move")
				if err := <-done; err != nil && !errors.Is(err, chunkstore.ErrNotFound) {
					fail("move of manifest %d, released meanwhile: %v (want it done or ErrNotFound)", id, err)
					return
				}
				if !ok {
					return
				}
				count(func() { counts.moveReleases++ })
				continue
			}
			if err := s.Move(ctx, id); err != nil {
				if !pool.isGone(id) {
					fail("move committed manifest %d, packed: %v", id, err)
					return
				}
				continue
			}
			pool.mu.Lock()
			pool.moved[id] = true
			pool.mu.Unlock()
			count(func() { counts.moves++ })
		}
	})

	// The cleaner.
	others.Go(func() {
		for !stopped() {
			rep, err := s.Clean(ctx, chunkstore.CleanOptions{Threshold: 0.05})
			if err != nil {
				fail("clean: %v", err)
				return
			}
			count(func() { counts.compactions += rep.Compacted; counts.localDropped += int(rep.LocalCopiesDropped) })
			if rep.Compacted == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})

	producers.Wait()
	close(stop)
	others.Wait()
	if failed.Load() {
		return
	}

	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Scrub(ctx, chunkstore.ScrubOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("scrub: %v: %s", err, rep)
	}
	checkAll := func(when string) {
		t.Helper()
		var logical int64
		n := 0
		if err := s.Manifests(ctx, func(m chunkstore.Manifest) error {
			desc, ok := pool.live[m.ID]
			if !ok {
				return fmt.Errorf("manifest %d is committed, and was released or never made", m.ID)
			}
			n++
			logical += m.Size
			return apiReadManifest(ctx, s, m.ID, apiRaceContent(desc))
		}); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if n != len(pool.live) {
			t.Fatalf("%s: %d manifests committed, %d live", when, n, len(pool.live))
		}
		keys, err := apiKeys(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != len(pool.live) {
			t.Fatalf("%s: %d records in the caller's namespace, %d manifests live", when, len(keys), len(pool.live))
		}
		for id, desc := range keys {
			if pool.live[id] != desc {
				t.Fatalf("%s: the caller's record of manifest %d says %q, live %q", when, id, desc, pool.live[id])
			}
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Manifests != int64(n) || st.LogicalBytes != logical {
			t.Fatalf("%s: counted %d manifests of %d bytes, %d live of %d bytes", when, st.Manifests, st.LogicalBytes, n, logical)
		}
		if err := apiCheckChunks(ctx, s, tier.Name); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	checkAll("after the run")
	for id := range pool.moved {
		if _, live := pool.live[id]; !live {
			continue
		}
		if m, err := s.Stat(ctx, id); err != nil || !m.Moved {
			t.Fatalf("manifest %d: moved, now %+v, %v", id, m, err)
		}
	}
	cl, err := s.Clean(ctx, chunkstore.CleanOptions{Threshold: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.StoredBytes != st.LiveBytes {
		t.Errorf("after a full clean: %d bytes stored, %d live (%s)", st.StoredBytes, st.LiveBytes, cl)
	}
	if rep, err := s.Scrub(ctx, chunkstore.ScrubOptions{}); err != nil || !rep.OK() || rep.LeakedBytes != 0 {
		t.Errorf("scrub after a full clean: %v: %s", err, rep)
	}
	checkAll("after a full clean")
	countsMu.Lock()
	defer countsMu.Unlock()
	if counts.leasedReleases == 0 || counts.txReleases == 0 || counts.moves == 0 || counts.imports == 0 || counts.entries == 0 || counts.reads == 0 {
		t.Errorf("some part never ran: %+v", counts)
	}
	t.Logf("%d writes, %d imports, %d CommitEntries, %d releases (%d with a reader open, %d in the caller's transaction), %d full reads (%d found released), %d moves (and %d raced with a release), %d compactions dropping %d local copies; %d live; %s",
		counts.writes, counts.imports, counts.entries, counts.releases, counts.leasedReleases, counts.txReleases, counts.reads, counts.notFound,
		counts.moves, counts.moveReleases, counts.compactions, counts.localDropped, len(pool.live), st)
}

// apiRaceImport replicates manifest id of src into dst: offer the IDs, send
// the missing records, append (in parts), commit with fn.
func apiRaceImport(ctx context.Context, rng *rand.Rand, src, dst *chunkstore.Store, id chunkstore.ManifestID, fn chunkstore.CommitFunc) (chunkstore.Manifest, error) {
	es, err := apiListEntries(ctx, src, id)
	if err != nil {
		return chunkstore.Manifest{}, err
	}
	im, err := dst.NewImport(ctx)
	if err != nil {
		return chunkstore.Manifest{}, err
	}
	defer im.Abort()
	records := func(ids []chunkstore.ChunkID) ([]chunkstore.Record, error) {
		var recs []chunkstore.Record
		for _, c := range ids {
			r, err := src.ReadRecord(ctx, c, nil)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r)
		}
		return recs, nil
	}
	offered := apiIDs(es)
	half := rng.IntN(2) == 0
	if half {
		offered = offered[:len(offered)/2]
	}
	missing, err := im.Need(ctx, offered)
	if err != nil {
		return chunkstore.Manifest{}, err
	}
	recs, err := records(missing)
	if err != nil {
		return chunkstore.Manifest{}, err
	}
	if err := im.PutRecords(ctx, recs); err != nil {
		return chunkstore.Manifest{}, err
	}
	for rest := es; len(rest) > 0; {
		k := 1 + rng.IntN(len(rest))
		err := im.Append(ctx, rest[:k])
		var me *chunkstore.MissingChunksError
		if half && errors.As(err, &me) {
			more, rerr := records(me.IDs)
			if rerr != nil {
				return chunkstore.Manifest{}, rerr
			}
			if err := im.PutRecords(ctx, more); err != nil {
				return chunkstore.Manifest{}, err
			}
			err = im.Append(ctx, rest[:k])
		}
		if err != nil {
			return chunkstore.Manifest{}, fmt.Errorf("append (half offered %v): %w", half, err)
		}
		rest = rest[k:]
	}
	return im.Commit(ctx, fn)
}

package chunkstore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// The stream limit: within it every stream's new records form one run per
// container file that no other stream's records interleave; past it streams
// share containers, are counted in Stats.StreamOverflows, and still read
// back exactly. None of these tests depend on timing: where a test needs
// streams to hold their containers at once, it waits for the pool to say so.

// chunkPlace is where one chunk's record lies on disk.
type chunkPlace struct {
	container uint64
	offset    int64
	size      int64
}

// manifestPlaces resolves every chunk of a committed manifest, in order, to
// its local record.
func manifestPlaces(t *testing.T, s *Store, id ManifestID) []chunkPlace {
	t.Helper()
	it, err := s.Entries(t.Context(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ChunkID
	for it.Next() {
		ids = append(ids, it.Entry().ID)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	it.Close()
	var places []chunkPlace
	err = s.view(func(tx *txn) error {
		for _, cid := range ids {
			e, ok, err := tx.entry(cid)
			if err != nil {
				return err
			}
			if !ok || !e.local {
				return fmt.Errorf("chunk %s of manifest %d has no local record", cid, id)
			}
			places = append(places, chunkPlace{container: e.container, offset: e.offset, size: e.size})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return places
}

// containerRun is a stretch of a container file that one manifest's
// records fill back to back.
type containerRun struct {
	container  uint64
	start, end int64
}

// runsOf merges a manifest's chunk places, in manifest order, into runs:
// a chunk continues the run when its record starts where the previous
// chunk's record ended in the same container.
func runsOf(places []chunkPlace) []containerRun {
	var runs []containerRun
	for _, p := range places {
		if n := len(runs); n > 0 && runs[n-1].container == p.container && runs[n-1].end == p.offset {
			runs[n-1].end += p.size
			continue
		}
		runs = append(runs, containerRun{container: p.container, start: p.offset, end: p.offset + p.size})
	}
	return runs
}

// interleaved reports whether some manifest's records in some container
// have another manifest's record between them.
func interleaved(placesByManifest map[ManifestID][]chunkPlace) bool {
	type span struct{ lo, hi int64 }
	spans := map[ManifestID]map[uint64]span{}
	for id, places := range placesByManifest {
		spans[id] = map[uint64]span{}
		for _, p := range places {
			sp, ok := spans[id][p.container]
			if !ok {
				sp = span{p.offset, p.offset}
			}
			spans[id][p.container] = span{min(sp.lo, p.offset), max(sp.hi, p.offset)}
		}
	}
	for id, byContainer := range spans {
		for other, places := range placesByManifest {
			if other == id {
				continue
			}
			for _, p := range places {
				if sp, ok := byContainer[p.container]; ok && p.offset > sp.lo && p.offset < sp.hi {
					return true
				}
			}
		}
	}
	return false
}

// heldByStreams is how many streams hold a container now.
func (p *containerPool) heldByStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.mu.active {
		n += c.users
	}
	return n
}

func (p *containerPool) openContainers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.open)
}

// waitHolding waits until n streams hold a container, failing if one of
// the writers failed instead (its store stage would never acquire one).
func waitHolding(t *testing.T, s *Store, n int, ws []*Writer) {
	t.Helper()
	for s.pool.heldByStreams() < n {
		for i, w := range ws {
			if err := w.failed(); err != nil {
				t.Fatalf("writer %d failed before holding a container: %v", i, err)
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func streamStats(t *testing.T, s *Store) Stats {
	t.Helper()
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestStreamsWithinLimitOwnRuns writes N streams of unique data at once with
// MaxStreams = N and small containers, so that each stream outgrows a few:
// every manifest's chunks lie in one back-to-back run per container, each
// container visited once, a container left only once full, and no run of
// one manifest overlaps another's.
func TestStreamsWithinLimitOwnRuns(t *testing.T) {
	const streams = 4
	cfg := testConfig(t) // 1 MiB containers, 256 KiB batches
	cfg.MaxStreams = streams
	s := openStore(t, cfg)
	ctx := t.Context()

	size := 3<<20 + 12345
	if testing.Short() {
		size = 2<<20 + 12345
	}
	data := make([][]byte, streams)
	ws := make([]*Writer, streams)
	for i := range streams {
		data[i] = randomData(uint64(100+i), size)
		ws[i] = s.NewWriter(ctx)
	}
	// Every stream writes its first bytes before any commits, so all of
	// them are in progress at once.
	var started sync.WaitGroup
	proceed := make(chan struct{})
	manifests := make([]Manifest, streams)
	var wg sync.WaitGroup
	for i := range streams {
		started.Add(1)
		wg.Go(func() {
			w, d := ws[i], data[i]
			_, err := w.Write(d[:1000])
			started.Done()
			if err != nil {
				t.Errorf("stream %d: %v", i, err)
				return
			}
			<-proceed
			// Several writes, so that batches and containers turn over.
			for off := 1000; off < len(d); off += 300 << 10 {
				if _, err := w.Write(d[off:min(off+300<<10, len(d))]); err != nil {
					t.Errorf("stream %d: %v", i, err)
					return
				}
			}
			if manifests[i], err = w.Commit(ctx); err != nil {
				t.Errorf("stream %d: commit: %v", i, err)
			}
		})
	}
	started.Wait()
	if st := streamStats(t, s); st.ActiveStreams != streams || st.MaxStreams != streams {
		t.Errorf("while writing: %d active streams of %d, want %d of %d", st.ActiveStreams, st.MaxStreams, streams, streams)
	}
	close(proceed)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	st := streamStats(t, s)
	if st.ActiveStreams != 0 || st.StreamOverflows != 0 {
		t.Errorf("after commit: %d active streams, %d overflows; want 0 and 0", st.ActiveStreams, st.StreamOverflows)
	}
	type owned struct {
		run containerRun
		id  ManifestID
	}
	byContainer := map[uint64][]owned{}
	for i, m := range manifests {
		runs := runsOf(manifestPlaces(t, s, m.ID))
		seen := map[uint64]bool{}
		for k, r := range runs {
			if seen[r.container] {
				t.Errorf("manifest %d: container %d holds more than one run of it: %v", m.ID, r.container, runs)
			}
			seen[r.container] = true
			// A stream moves on only when its container is full.
			if k < len(runs)-1 && r.end < cfg.ContainerSize {
				t.Errorf("manifest %d left container %d at %d bytes, before it was full (%d): %v", m.ID, r.container, r.end, cfg.ContainerSize, runs)
			}
			byContainer[r.container] = append(byContainer[r.container], owned{r, m.ID})
		}
		if len(runs) < 2 {
			t.Errorf("manifest %d (%d bytes) in %d container runs: want it to outgrow a container", m.ID, m.Size, len(runs))
		}
		if got := readAll(t, s, m.ID); !bytes.Equal(got, data[i]) {
			t.Errorf("stream %d reads back different bytes", i)
		}
	}
	for c, rs := range byContainer {
		slices.SortFunc(rs, func(a, b owned) int { return cmp.Compare(a.run.start, b.run.start) })
		for k := 1; k < len(rs); k++ {
			if rs[k].run.start < rs[k-1].run.end {
				t.Errorf("container %d: run of manifest %d [%d,%d) overlaps manifest %d's [%d,%d)", c,
					rs[k].id, rs[k].run.start, rs[k].run.end, rs[k-1].id, rs[k-1].run.start, rs[k-1].run.end)
			}
		}
	}
}

// TestStreamsOverLimitShare runs 2N streams with MaxStreams N, all holding a
// container at once: N get their own, N share (StreamOverflows counts them,
// exactly), the shared containers interleave two manifests, and every object
// still reads back exactly.
func TestStreamsOverLimitShare(t *testing.T) {
	const limit = 3
	const streams = 2 * limit
	cfg := testConfig(t)
	cfg.MaxStreams = limit
	// Large enough that no container fills: each stream keeps the one it
	// was first given, so the count of overflows is exact.
	cfg.ContainerSize = 64 << 20
	s := openStore(t, cfg)
	ctx := t.Context()

	// One full batch and a byte flushes a batch to the store stage, which
	// takes a container; the rest comes after every stream holds one.
	first := cfg.BatchBytes + 1
	size := first + 2*cfg.BatchBytes + 777
	data := make([][]byte, streams)
	ws := make([]*Writer, streams)
	for i := range streams {
		data[i] = randomData(uint64(200+i), size)
		ws[i] = s.NewWriter(ctx)
		if _, err := ws[i].Write(data[i][:first]); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	waitHolding(t, s, streams, ws)
	if st := streamStats(t, s); st.ActiveStreams != streams || st.StreamOverflows != limit {
		t.Errorf("all holding: %d active streams, %d overflows; want %d and %d", st.ActiveStreams, st.StreamOverflows, streams, limit)
	}
	if n := s.pool.openContainers(); n != limit {
		t.Errorf("%d open containers, want the limit, %d", n, limit)
	}

	// The rest concurrently: shared containers take the streams' batches
	// in whatever order they come.
	manifests := make([]Manifest, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			if _, err := ws[i].Write(data[i][first:]); err != nil {
				t.Errorf("stream %d: %v", i, err)
				return
			}
			var err error
			if manifests[i], err = ws[i].Commit(ctx); err != nil {
				t.Errorf("stream %d: commit: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	st := streamStats(t, s)
	if st.ActiveStreams != 0 || st.StreamOverflows != limit {
		t.Errorf("after commit: %d active streams, %d overflows; want 0 and %d", st.ActiveStreams, st.StreamOverflows, limit)
	}
	places := map[ManifestID][]chunkPlace{}
	containers := map[uint64]bool{}
	for i, m := range manifests {
		places[m.ID] = manifestPlaces(t, s, m.ID)
		for _, p := range places[m.ID] {
			containers[p.container] = true
		}
		if got := readAll(t, s, m.ID); !bytes.Equal(got, data[i]) {
			t.Errorf("stream %d reads back different bytes", i)
		}
	}
	if len(containers) != limit {
		t.Errorf("%d streams wrote to %d containers, want %d", streams, len(containers), limit)
	}
	// Each stream stored a batch before the others went on, and more after:
	// in a shared container the two streams' records interleave.
	if !interleaved(places) {
		t.Error("streams past the limit share containers, yet no manifest's records interleave with another's")
	}
}

// TestStreamLimitLoweredInFlight lowers the limit below the streams holding
// containers: they keep theirs and commit, a new stream shares (an
// overflow), and once all are done the open containers shrink to the new
// limit and the next stream gets an idle one of its own.
func TestStreamLimitLoweredInFlight(t *testing.T) {
	const streams = 3
	cfg := testConfig(t)
	cfg.MaxStreams = streams
	cfg.ContainerSize = 64 << 20
	s := openStore(t, cfg)
	ctx := t.Context()

	first := cfg.BatchBytes + 1
	data := make([][]byte, streams+1)
	ws := make([]*Writer, streams+1)
	for i := range streams {
		data[i] = randomData(uint64(300+i), first+5000)
		ws[i] = s.NewWriter(ctx)
		if _, err := ws[i].Write(data[i][:first]); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	waitHolding(t, s, streams, ws[:streams])

	if err := s.SetMaxStreams(1); err != nil {
		t.Fatal(err)
	}
	// A new stream past the lowered limit shares one of the busy containers.
	data[streams] = randomData(300+streams, first+5000)
	ws[streams] = s.NewWriter(ctx)
	if _, err := ws[streams].Write(data[streams][:first]); err != nil {
		t.Fatal(err)
	}
	waitHolding(t, s, streams+1, ws)
	if st := streamStats(t, s); st.MaxStreams != 1 || st.StreamOverflows != 1 || st.ActiveStreams != streams+1 {
		t.Errorf("after lowering to 1: limit %d, %d overflows, %d active; want 1, 1, %d", st.MaxStreams, st.StreamOverflows, st.ActiveStreams, streams+1)
	}

	ids := make([]ManifestID, len(ws))
	for i, w := range ws {
		if _, err := w.Write(data[i][first:]); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		m, err := w.Commit(ctx)
		if err != nil {
			t.Fatalf("stream %d: commit: %v", i, err)
		}
		ids[i] = m.ID
	}
	for i, id := range ids {
		if got := readAll(t, s, id); !bytes.Equal(got, data[i]) {
			t.Errorf("stream %d reads back different bytes", i)
		}
	}
	if n := s.pool.openContainers(); n > 1 {
		t.Errorf("%d containers still open for appending after all streams finished, want at most the limit, 1", n)
	}
	// Nothing is busy now: the next stream is within the limit again.
	put(t, s, randomData(399, first+5000))
	if st := streamStats(t, s); st.StreamOverflows != 1 || st.ActiveStreams != 0 {
		t.Errorf("after a stream within the limit: %d overflows, %d active; want 1 and 0", st.StreamOverflows, st.ActiveStreams)
	}
}

// TestSetMaxStreamsWhileWriting changes the limit up and down while writers
// run (run it under -race): every object reads back exactly, and the
// counters settle.
func TestSetMaxStreamsWhileWriting(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxStreams = 2
	s := openStore(t, cfg)
	ctx := t.Context()

	const writers = 6
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	type object struct {
		id   ManifestID
		data []byte
	}
	objects := make([][]object, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for r := range rounds {
				seed := uint64(1000 + i*rounds + r)
				// Half unique, half shared by all writers: dedup across
				// streams under changing limits too.
				d := append(randomData(seed, 400<<10), textData(uint64(r), 200<<10)...)
				w := s.NewWriter(ctx)
				if _, err := w.Write(d); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				m, err := w.Commit(ctx)
				if err != nil {
					t.Errorf("writer %d: commit: %v", i, err)
					return
				}
				objects[i] = append(objects[i], object{m.ID, d})
			}
		})
	}
	stop := make(chan struct{})
	limits := []int{1, 4, 2, 8, 1, 3}
	var setter sync.WaitGroup
	last := 0
	setter.Go(func() {
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			last = limits[k%len(limits)]
			if err := s.SetMaxStreams(last); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Stats(ctx); err != nil {
				t.Error(err)
				return
			}
			// Let the writers run between changes.
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(stop)
	setter.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for i, objs := range objects {
		for _, o := range objs {
			if got := readAll(t, s, o.id); !bytes.Equal(got, o.data) {
				t.Errorf("writer %d: manifest %d reads back different bytes", i, o.id)
			}
		}
	}
	st := streamStats(t, s)
	if st.ActiveStreams != 0 || st.MaxStreams != last {
		t.Errorf("after the writers: %d active streams, limit %d; want 0 and %d", st.ActiveStreams, st.MaxStreams, last)
	}
	if n := s.pool.openContainers(); n > last {
		t.Errorf("%d containers open for appending with nothing writing, limit %d", n, last)
	}
}

// TestSetMaxStreamsRejects refuses a limit below 1 and a closed store.
func TestSetMaxStreamsRejects(t *testing.T) {
	s := openStore(t, testConfig(t))
	for _, n := range []int{0, -1} {
		if err := s.SetMaxStreams(n); err == nil {
			t.Errorf("SetMaxStreams(%d) succeeded", n)
		}
	}
	if st := streamStats(t, s); st.MaxStreams != testConfig(t).MaxStreams {
		t.Errorf("a refused limit changed it: %d", st.MaxStreams)
	}
	s.Close()
	if err := s.SetMaxStreams(2); !errors.Is(err, ErrClosed) {
		t.Errorf("SetMaxStreams on a closed store: %v, want ErrClosed", err)
	}
}

// TestStreamEndsWhenCommitFindsFailure fails a stream's store stage after
// its last Write returned (as a disk error would): Commit reports it and
// aborts, so the stream is no longer counted and its container is free.
func TestStreamEndsWhenCommitFindsFailure(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	ctx := t.Context()

	w := s.NewWriter(ctx)
	data := randomData(500, 2*cfg.BatchBytes+1)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	waitHolding(t, s, 1, []*Writer{w})
	injected := errors.New("injected store-stage failure")
	w.setErr(injected)
	if _, err := w.Commit(ctx); !errors.Is(err, injected) {
		t.Fatalf("Commit after a failed batch: %v, want the batch's error", err)
	}
	if st := streamStats(t, s); st.ActiveStreams != 0 {
		t.Errorf("%d active streams after a failed commit, want 0", st.ActiveStreams)
	}
	if n := s.pool.heldByStreams(); n != 0 {
		t.Errorf("%d containers still held after a failed commit, want 0", n)
	}
}

package chunkstore

import (
	"sync"
	"testing"
)

// chunkContainers returns the containers holding a manifest's chunks.
func chunkContainers(t *testing.T, s *Store, m Manifest) map[uint64]bool {
	t.Helper()
	it, err := s.Entries(t.Context(), m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var ids []ChunkID
	for it.Next() {
		ids = append(ids, it.Entry().ID)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[uint64]bool{}
	if err := s.view(func(tx *txn) error {
		for _, id := range ids {
			e, ok, err := tx.entry(id)
			if err != nil || !ok {
				t.Fatalf("chunk %s: %v %v", id, ok, err)
			}
			out[e.container] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSmallWritesShareAContainer: concurrent single-batch writes append to
// one shared container (so their fsyncs can merge) and read back; a
// stream of several batches still gets a container of its own.
func TestSmallWritesShareAContainer(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	const n = 12
	ms := make([]Manifest, n)
	datas := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		datas[i] = randomData(uint64(100+i), 4<<10+i)
		wg.Go(func() { ms[i] = put(t, s, datas[i]) })
	}
	wg.Wait()
	shared := map[uint64]bool{}
	for i, m := range ms {
		for c := range chunkContainers(t, s, m) {
			shared[c] = true
		}
		if got := readAll(t, s, m.ID); string(got) != string(datas[i]) {
			t.Fatalf("small object %d reads back wrong", i)
		}
	}
	if len(shared) != 1 {
		t.Fatalf("%d small writes landed in %d containers, want one shared", n, len(shared))
	}

	big := put(t, s, randomData(200, 3*cfg.BatchBytes))
	for c := range chunkContainers(t, s, big) {
		if shared[c] {
			t.Fatalf("a stream of several batches appended to the small writes' container %d", c)
		}
	}
}

// TestSyncToCoversLaterCallers: an fsync covers everything appended
// before it started, so a caller whose records it covered does not run
// another.
func TestSyncToCoversLaterCallers(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	c, err := s.pool.acquireSmall()
	if err != nil {
		t.Fatal(err)
	}
	defer s.pool.release(c)
	a, err := c.append([]byte("aaaa"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.append([]byte("bbbb"))
	if err := c.syncTo(a + 4); err != nil {
		t.Fatal(err)
	}
	c.smu.Lock()
	synced := c.synced
	c.smu.Unlock()
	if synced != b+4 {
		t.Fatalf("the fsync for the first append covered up to %d, want everything appended (%d)", synced, b+4)
	}
	// Covered already: returns at once.
	if err := c.syncTo(b + 4); err != nil {
		t.Fatal(err)
	}
	d, _ := c.append([]byte("dddd"))
	if err := c.syncTo(d + 4); err != nil {
		t.Fatal(err)
	}
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.synced != d+4 {
		t.Fatalf("covered %d after a later append's sync, want %d", c.synced, d+4)
	}
}

package chunkstore

// Releases of manifests with more segments than one drain transaction
// drops (drainBatch) must drain whole, in one life of the store and across
// reopens.

import (
	"testing"
)

// A released manifest of more than drainBatch segments must be drained whole.
func TestLargeReleaseDrainsWhole(t *testing.T) {
	s := openStore(t, testConfig(t))
	small := put(t, s, randomData(1, 10000)) // one chunk, one segment
	ids := make([]ManifestID, 70)
	for i := range ids {
		ids[i] = small.ID
	}
	big, err := s.Concat(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), big.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	var segs, hdr int
	s.view(func(tx *txn) error {
		c := tx.segments.Cursor()
		p := u64key(uint64(big.ID))
		for k, _ := c.Seek(p); k != nil && string(k[:8]) == string(p); k, _ = c.Next() {
			segs++
		}
		if tx.manifests.Get(p) != nil {
			hdr = 1
		}
		return nil
	})
	if segs != 0 || hdr != 0 {
		t.Errorf("after Release+Drain: %d segments and header=%d of manifest %d left", segs, hdr, big.ID)
	}
	// Same through a Tx.Release (the gateway's path) and the drainer.
	big2, _ := s.Concat(t.Context(), ids)
	if err := s.Update(func(tx *Tx) error { return tx.Release(big2.ID) }); err != nil {
		t.Fatal(err)
	}
	s.Drain(t.Context())
	segs = 0
	s.view(func(tx *txn) error {
		c := tx.segments.Cursor()
		p := u64key(uint64(big2.ID))
		for k, _ := c.Seek(p); k != nil && string(k[:8]) == string(p); k, _ = c.Next() {
			segs++
		}
		return nil
	})
	if segs != 0 {
		t.Errorf("drainer: %d segments of manifest %d left", segs, big2.ID)
	}
}
func countSegs(s *Store, id ManifestID) (segs int) {
	s.view(func(tx *txn) error {
		c := tx.segments.Cursor()
		p := u64key(uint64(id))
		for k, _ := c.Seek(p); k != nil && string(k[:8]) == string(p); k, _ = c.Next() {
			segs++
		}
		return nil
	})
	return
}

func TestLargeReleaseDrainsAcrossReopen(t *testing.T) {
	cfg := testConfig(t)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	small := put(t, s, randomData(1, 10000))
	ids := make([]ManifestID, 200)
	for i := range ids {
		ids[i] = small.ID
	}
	big, err := s.Concat(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	s.Release(t.Context(), big.ID)
	s.Drain(t.Context())
	t.Logf("after release: %d segments", countSegs(s, big.ID))
	for i := 0; i < 3; i++ {
		s.Close()
		s, err = Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Drain(t.Context())
		t.Logf("after reopen %d: %d segments", i+1, countSegs(s, big.ID))
	}
	st, _ := s.Stats(t.Context())
	t.Logf("stats: %+v", st)
	s.Close()
}

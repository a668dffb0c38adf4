package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// tryPut writes data and commits, answering the error instead of failing.
func tryPut(s *Store, data []byte) (Manifest, error) {
	w := s.NewWriter(context.Background())
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		w.Abort()
		return Manifest{}, err
	}
	m, err := w.Commit(context.Background())
	if err != nil {
		w.Abort()
	}
	return m, err
}

// A write that would cross the quota fails whole (no manifest, no counted
// bytes); reads keep working; once deletes and a clean free space, writes
// go through again without anything else being done.
func TestQuotaRefusesWholeAndResumesAfterClean(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	base, err := s.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	// Room for about 3 MiB of incompressible records above what an empty
	// store occupies.
	if err := s.SetQuota(base + 3<<20); err != nil {
		t.Fatal(err)
	}
	var kept []Manifest
	var refused error
	for i := range 8 {
		m, err := tryPut(s, randomData(uint64(i), 1<<20))
		if err != nil {
			refused = err
			break
		}
		kept = append(kept, m)
	}
	var qe *QuotaError
	if !errors.Is(refused, ErrQuotaExceeded) || !errors.As(refused, &qe) {
		t.Fatalf("writes past the quota: got %v, want a QuotaError", refused)
	}
	if qe.Quota != base+3<<20 || qe.Used <= 0 {
		t.Fatalf("QuotaError %+v: want the quota and the use", qe)
	}
	if len(kept) < 2 {
		t.Fatalf("only %d writes fit under a 3 MiB quota", len(kept))
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Manifests != int64(len(kept)) || st.LogicalBytes != int64(len(kept))<<20 {
		t.Fatalf("after a refused write: %d manifests of %d bytes, want %d of %d", st.Manifests, st.LogicalBytes, len(kept), len(kept)<<20)
	}
	// Duplicate data needs no new records: it is admitted at the quota.
	if _, err := tryPut(s, randomData(0, 1<<20)); err != nil {
		t.Fatalf("a duplicate write at the quota: %v", err)
	}
	for i, m := range kept {
		if !bytes.Equal(readAll(t, s, m.ID), randomData(uint64(i), 1<<20)) {
			t.Fatalf("object %d reads back wrong at the quota", i)
		}
	}
	// Free two objects' space; the manifest of the duplicate keeps object 0.
	for _, m := range kept[1:] {
		if err := s.Release(t.Context(), m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Clean(t.Context(), CleanOptions{Threshold: 0.01}); err != nil {
		t.Fatal(err)
	}
	if _, err := tryPut(s, randomData(100, 1<<20)); err != nil {
		t.Fatalf("a write after delete and clean: %v", err)
	}
}

// Writers racing over the quota: each write either commits whole and reads
// back, or fails with ErrQuotaExceeded and leaves nothing; the use ends
// within one batch per writer of the quota.
func TestQuotaConcurrentWritersCrossing(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	base, err := s.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	quota := base + 6<<20
	s.SetQuota(quota)
	const writers = 4
	var mu sync.Mutex
	committed := map[ManifestID]uint64{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range 6 {
				seed := uint64(w*100 + i)
				m, err := tryPut(s, randomData(seed, 1<<20))
				if errors.Is(err, ErrQuotaExceeded) {
					continue
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				committed[m.ID] = seed
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(committed) == 0 || len(committed) >= writers*6 {
		t.Fatalf("%d of %d writes committed under the quota", len(committed), writers*6)
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Manifests != int64(len(committed)) {
		t.Fatalf("%d manifests, %d writes committed: a refused write left one", st.Manifests, len(committed))
	}
	for id, seed := range committed {
		if !bytes.Equal(readAll(t, s, id), randomData(seed, 1<<20)) {
			t.Fatalf("manifest %v reads back wrong", id)
		}
	}
	used, err := s.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	if over := used - quota; over > int64(writers*cfg.BatchBytes)+1<<20 {
		t.Fatalf("use %d is %d over the quota %d: more than a batch per writer", used, over, quota)
	}
}

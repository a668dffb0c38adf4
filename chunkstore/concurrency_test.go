package chunkstore

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentWritersCleanerDeletes runs writers that dedup against each
// other and against data being deleted, readers, deletes and the cleaner all
// at once, then verifies everything. Run it under -race.
func TestConcurrentWritersCleanerDeletes(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxStreams = 2 // four writers: streams share containers too
	s := openStore(t, cfg)
	ctx := t.Context()

	type object struct {
		id   ManifestID
		seed uint64
	}
	var (
		mu   sync.Mutex
		live []object
	)
	rounds := 16
	if testing.Short() {
		rounds = 8
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for n := range rounds {
				seed := uint64(w)<<16 | uint64(n)
				m := put(t, s, crashObject(seed))
				mu.Lock()
				live = append(live, object{m.ID, seed})
				var victim object
				if len(live) > 4 && rng.IntN(2) == 0 {
					i := rng.IntN(len(live))
					victim = live[i]
					live = append(live[:i], live[i+1:]...)
				}
				mu.Unlock()
				if victim.id != 0 {
					if err := s.Release(ctx, victim.id); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	// An aborted writer and a cancelled one leave nothing behind.
	wg.Go(func() {
		for n := range rounds {
			w := s.NewWriter(ctx)
			w.Write(crashObject(uint64(9000 + n)))
			w.Abort()
			cctx, cancel := context.WithCancel(ctx)
			w = s.NewWriter(cctx)
			w.Write(crashObject(uint64(9500 + n)))
			cancel()
			if _, err := w.Write(make([]byte, cfg.BatchBytes+cfg.MaxChunk)); err == nil {
				if _, err := w.Commit(cctx); err == nil {
					t.Error("a writer whose context was cancelled committed")
				}
			}
			w.Abort()
		}
	})
	cleaned := 0
	var cleanerWG sync.WaitGroup
	cleanerWG.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, err := s.Clean(ctx, CleanOptions{Threshold: 0.1})
			if err != nil {
				t.Error(err)
				return
			}
			cleaned += rep.Compacted
		}
	})
	cleanerWG.Go(func() {
		// Readers racing the cleaner's moves.
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			if len(live) == 0 {
				mu.Unlock()
				continue
			}
			o := live[len(live)-1]
			mu.Unlock()
			r, err := s.NewReader(ctx, o.id)
			if err != nil {
				continue // released meanwhile
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err == nil && !bytes.Equal(got, crashObject(o.seed)) {
				t.Errorf("manifest %d read back wrong during cleaning", o.id)
			}
		}
	})
	wg.Wait()
	close(stop)
	cleanerWG.Wait()

	for _, o := range live {
		if got := readAll(t, s, o.id); !bytes.Equal(got, crashObject(o.seed)) {
			t.Fatalf("manifest %d reads back wrong", o.id)
		}
	}
	if _, err := s.Clean(ctx, CleanOptions{Threshold: 1e-9}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Manifests != int64(len(live)) {
		t.Errorf("%d manifests counted, %d live", st.Manifests, len(live))
	}
	if st.StoredBytes != st.LiveBytes {
		t.Errorf("after a full clean %d bytes stored, %d live", st.StoredBytes, st.LiveBytes)
	}
	if cleaned == 0 {
		t.Error("the cleaner never compacted while writers ran: the test proved nothing about it")
	}
	t.Logf("%d objects live, %d containers compacted while writing; %s", len(live), cleaned, st)
	// openStore's cleanup scrubs: counts, index and files must agree.
}

package chunkstore

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// queued is how many transactions wait for the next commit group.
func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.queue)
}

// TestGroupCommitFailureIsolated holds a commit open until writer commits
// and Batch transactions, some failing, have queued behind it, so that
// they run as one group: the failing ones report their own error and
// leave nothing, the others commit whole (records, manifests, counters).
func TestGroupCommitFailureIsolated(t *testing.T) {
	s := openStore(t, testConfig(t))
	old := put(t, s, randomData(1, 8<<10))
	before, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")

	hold, held := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		first := true
		leaderDone <- s.Batch(func(tx *Tx) error {
			if first {
				first = false
				close(held)
				<-hold
			}
			return tx.Bucket().Put([]byte("leader"), []byte("x"))
		})
	}()
	<-held

	const n = 24
	type outcome struct {
		m   Manifest
		err error
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		fails := i%3 == 1
		key := []byte(fmt.Sprintf("k%02d", i))
		wg.Go(func() {
			switch i % 4 {
			case 0, 1: // a small object's writer
				w := s.NewWriter(t.Context())
				w.Write(randomData(uint64(100+i), 4<<10))
				m, err := w.CommitWith(t.Context(), func(tx *Tx, m Manifest) error {
					if err := tx.Bucket().Put(key, []byte(fmt.Sprint(m.ID))); err != nil {
						return err
					}
					if fails {
						return refused
					}
					return nil
				})
				out[i] = outcome{m, err}
			case 2: // a record alone
				out[i].err = s.Batch(func(tx *Tx) error {
					if err := tx.Bucket().Put(key, []byte("b")); err != nil {
						return err
					}
					if fails {
						return refused
					}
					return nil
				})
			case 3: // a release: of a manifest that is not there, when failing
				id := old.ID
				if fails {
					id = 1 << 40
				}
				out[i].err = s.Batch(func(tx *Tx) error {
					if err := tx.Bucket().Put(key, []byte("r")); err != nil {
						return err
					}
					return tx.Release(id)
				})
			}
		})
	}
	for s.commits.queued() < n {
		runtime.Gosched()
	}
	close(hold)
	wg.Wait()
	if err := <-leaderDone; err != nil {
		t.Fatalf("leader: %v", err)
	}

	released, writers := false, 0
	for i, o := range out {
		fails := i%3 == 1
		switch {
		case i%4 == 3 && !fails:
			// Only the first release of old succeeds; another finds it gone.
			if o.err == nil {
				if released {
					t.Errorf("k%02d: a manifest released twice", i)
				}
				released = true
			} else if !errors.Is(o.err, ErrNotFound) {
				t.Errorf("k%02d: %v", i, o.err)
			}
		case i%4 == 3 && fails:
			if !errors.Is(o.err, ErrNotFound) {
				t.Errorf("k%02d: releasing what is not there: %v", i, o.err)
			}
		case fails:
			if !errors.Is(o.err, refused) {
				t.Errorf("k%02d: %v, want its own error", i, o.err)
			}
		case o.err != nil:
			t.Errorf("k%02d: %v", i, o.err)
		case i%4 < 2:
			writers++
			if got := readAll(t, s, o.m.ID); len(got) != 4<<10 {
				t.Errorf("k%02d: manifest %d reads %d bytes", i, o.m.ID, len(got))
			}
		}
	}
	if !released {
		t.Error("no release of the old manifest committed")
	}
	s.View(func(tx *Tx) error {
		for i, o := range out {
			v := tx.Bucket().Get([]byte(fmt.Sprintf("k%02d", i)))
			if (o.err == nil) != (v != nil) {
				t.Errorf("k%02d: err %v, record %q", i, o.err, v)
			}
			if o.err == nil && i%4 < 2 && string(v) != fmt.Sprint(o.m.ID) {
				t.Errorf("k%02d: the record names %q, the writer committed %d", i, v, o.m.ID)
			}
		}
		if tx.Bucket().Get([]byte("leader")) == nil {
			t.Error("the leader's record is missing")
		}
		return nil
	})
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	after, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := before.Manifests + int64(writers) - 1; after.Manifests != want {
		t.Errorf("%d manifests, want %d (%d + %d written - 1 released)", after.Manifests, want, before.Manifests, writers)
	}
}

// TestGroupCommitRace runs writers, Batch records, releases and failing
// transactions concurrently, for the race detector and the scrub at
// cleanup: what commits is whole, what fails leaves nothing.
func TestGroupCommitRace(t *testing.T) {
	s := openStore(t, testConfig(t))
	refused := errors.New("refused")
	const workers, rounds = 6, 30
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				key := []byte(fmt.Sprintf("w%d-%03d", w, r))
				fails := (w+r)%5 == 0
				wr := s.NewWriter(t.Context())
				wr.Write(randomData(uint64(w*1000+r), 2<<10+r*64))
				m, err := wr.CommitWith(t.Context(), func(tx *Tx, m Manifest) error {
					if err := tx.Bucket().Put(key, []byte(fmt.Sprint(m.ID))); err != nil {
						return err
					}
					if fails {
						return refused
					}
					return nil
				})
				if fails != errors.Is(err, refused) || (!fails && err != nil) {
					t.Errorf("%s: %v", key, err)
					return
				}
				if fails || r%2 == 1 {
					continue
				}
				// Release every other one in a record's transaction.
				if err := s.Batch(func(tx *Tx) error {
					if err := tx.Bucket().Delete(key); err != nil {
						return err
					}
					return tx.Release(m.ID)
				}); err != nil {
					t.Errorf("%s: release: %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	s.View(func(tx *Tx) error {
		return tx.Bucket().ForEach(func(k, v []byte) error {
			want++
			var id ManifestID
			fmt.Sscan(string(v), &id)
			if _, err := tx.Stat(id); err != nil {
				t.Errorf("%s names manifest %d: %v", k, id, err)
			}
			return nil
		})
	})
	if st.Manifests != want {
		t.Errorf("%d manifests, %d records", st.Manifests, want)
	}
}

package chunkstore

import (
	"context"
	"math"
	"sync"
	"time"
)

// Releasing a manifest is two steps. The transaction that releases it
// (Tx.Release, in the caller's own transaction) marks it releasing: it is
// gone for new readers at once, and listed in the pending bucket. Its
// references are dropped afterwards, in bounded transactions, by the
// drainer, but only once no reader holds it:
//
//   - A lease is a reader's hold on a manifest (Reader, Entries). It is
//     taken inside a transaction that sees the manifest committed.
//   - A transaction that began before the release committed may still see
//     the manifest committed and take a lease after the release looked for
//     leases. So views that can take leases (Store.View, NewReader) register
//     with the release epoch they began in, and a release waits for every
//     view of an earlier epoch to end as well as for the last lease.
//
// A crash forgets leases and the drain queue; Open finds the releasing
// manifests in the pending bucket and drains them. Nothing here takes a
// lock that spans more than a few map operations.
type leases struct {
	mu       sync.Mutex
	epoch    uint64                // bumped by every committed release
	views    map[uint64]int        // open views by the epoch they began in
	held     map[ManifestID]int    // leases by manifest
	deferred map[ManifestID]uint64 // released, waiting: the release's epoch
	// drainable holds the released manifests that no reader can hold any
	// more: only those may be drained. Other work on a released manifest
	// (its holds, a move it was in) runs meanwhile and must skip the drain.
	drainable map[ManifestID]struct{}
	ready     func([]ManifestID) // hands drainable manifests to the drainer
}

func newLeases(ready func([]ManifestID)) *leases {
	return &leases{
		views:     map[uint64]int{},
		held:      map[ManifestID]int{},
		deferred:  map[ManifestID]uint64{},
		drainable: map[ManifestID]struct{}{},
		ready:     ready,
	}
}

// beginView registers a view that may take leases; call it before the
// bbolt transaction begins, and endView with its result when it ends.
func (l *leases) beginView() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.epoch
	l.views[e]++
	return e
}

func (l *leases) endView(e uint64) {
	l.mu.Lock()
	if l.views[e]--; l.views[e] == 0 {
		delete(l.views, e)
	}
	ready := l.readyLocked()
	l.mu.Unlock()
	l.hand(ready)
}

// take adds a lease on id. The caller has just seen id committed in a
// registered view (or in a write transaction).
func (l *leases) take(id ManifestID) {
	l.mu.Lock()
	l.held[id]++
	l.mu.Unlock()
}

// holds reports whether a lease on id is held, so that its segments stay
// even if it was released (Concat of a leased source).
func (l *leases) holds(id ManifestID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[id] > 0
}

func (l *leases) drop(id ManifestID) {
	l.mu.Lock()
	if l.held[id]--; l.held[id] <= 0 {
		delete(l.held, id)
	}
	ready := l.readyLocked()
	l.mu.Unlock()
	l.hand(ready)
}

// released records manifests whose release has committed and returns those
// that may be drained now; the rest are handed over when they may.
func (l *leases) released(ids []ManifestID) []ManifestID {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	for _, id := range ids {
		l.deferred[id] = l.epoch
	}
	return l.readyLocked()
}

func (l *leases) readyLocked() []ManifestID {
	if len(l.deferred) == 0 {
		return nil
	}
	oldest := uint64(math.MaxUint64)
	for e := range l.views {
		oldest = min(oldest, e)
	}
	var out []ManifestID
	for id, e := range l.deferred {
		if l.held[id] == 0 && oldest >= e {
			out = append(out, id)
			delete(l.deferred, id)
			l.drainable[id] = struct{}{}
		}
	}
	return out
}

// authorize makes released manifests drainable at once: at Open, when no
// reader can hold them.
func (l *leases) authorize(ids []ManifestID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.drainable[id] = struct{}{}
	}
}

// mayDrain reports whether released manifest id may be drained now.
func (l *leases) mayDrain(id ManifestID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.drainable[id]
	return ok
}

// drained forgets manifests whose drain has committed.
func (l *leases) drained(ids []ManifestID) {
	if len(ids) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		delete(l.drainable, id)
	}
}

func (l *leases) hand(ids []ManifestID) {
	if len(ids) > 0 {
		l.ready(ids)
	}
}

// drainer drops the references of released manifests (and the holds of
// committed imports, and finishes moves) in the background, so that a
// DELETE or an overwrite costs its client one transaction.
type drainer struct {
	s    *Store
	mu   sync.Mutex
	cond *sync.Cond
	// queue is the work handed over; busy is true while a batch of it runs.
	queue []ManifestID
	busy  bool
	stop  bool
	done  chan struct{}
}

func newDrainer(s *Store) *drainer {
	d := &drainer{s: s, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *drainer) add(ids []ManifestID) {
	d.mu.Lock()
	d.queue = append(d.queue, ids...)
	d.mu.Unlock()
	d.cond.Broadcast()
}

func (d *drainer) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.stop {
			d.cond.Wait()
		}
		if d.stop {
			d.mu.Unlock()
			return
		}
		batch := d.queue
		d.queue = nil
		d.busy = true
		d.mu.Unlock()

		if err := d.s.finishAll(context.Background(), batch); err != nil && !d.s.closed.Load() {
			// Left in the pending bucket: the next Open finishes them.
			d.s.log.Error("finishing released manifests; left for the next start", "manifests", len(batch), "err", err)
		}

		d.mu.Lock()
		d.busy = false
		d.mu.Unlock()
		d.cond.Broadcast()
	}
}

// wait returns when the drainer has nothing queued or running, or ctx ends.
func (d *drainer) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, d.cond.Broadcast)
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for (len(d.queue) > 0 || d.busy) && !d.stop {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.cond.Wait()
	}
	return nil
}

// close stops the drainer after the manifest it is on; what is queued stays
// in the pending bucket for the next Open.
func (d *drainer) close() {
	d.mu.Lock()
	d.stop = true
	d.mu.Unlock()
	d.cond.Broadcast()
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		d.s.log.Error("the drainer did not stop within a minute")
	}
}

// Drain waits until every released manifest that no reader holds has had
// its references dropped, so that Stats and Clean see the space as free.
// Releases wait for readers; Drain does not wait for those.
func (s *Store) Drain(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.drainer.wait(ctx)
}

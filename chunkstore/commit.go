package chunkstore

import (
	"errors"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commit: concurrent small write transactions (a writer's index
// transaction, Store.Batch) share one bbolt commit, hence one fsync of the
// index, instead of queueing for bbolt's writer lock one commit at a time.
//
// There is no timer. A transaction that finds no commit running leads: it
// takes every transaction queued so far (up to maxGroup), runs them one
// after another in one bolt.Tx, each in a txn of its own that it flushes
// before the next starts, and commits. Transactions that arrive meanwhile
// queue; when the commit is done the leader hands the lead to the first of
// them, which takes the whole queue in turn. One transaction alone costs
// what a plain update costs; under load, one fsync serves as many
// transactions as arrived during the previous one.
//
// The promises stay those of a transaction of its own:
//   - durable when acknowledged: a member learns its outcome only once the
//     group's commit (with its fsync) has returned, and a failed commit is
//     every member's error;
//   - isolated failure: bbolt has no savepoints, so when a member's function
//     fails the whole bolt.Tx is rolled back, that member gets its own error
//     (it saw the members before it, as it would have serially), and the
//     others run again, without it, in a fresh bolt.Tx. Nothing of a failed
//     member is ever committed. A grouped function may therefore run more
//     than once: it must keep its effects inside the transaction and assign
//     (not accumulate) whatever it reports to its caller.
//
// Proven by TestGroupCommitFailureIsolated, TestGroupCommitRace and the
// crash tests (TestCrashWriters) that now commit through it.

// maxGroup bounds how many transactions share one commit.
const maxGroup = 128

// grouped is one transaction waiting in, or run by, a commit group.
type grouped struct {
	fn                func(t *txn) error
	wake              chan bool // true: lead the next group; false: done, see err
	err               error
	released, drained []ManifestID
}

// committer queues grouped transactions (see above).
type committer struct {
	mu struct {
		sync.Mutex
		queue []*grouped
		busy  bool // a leader is running a group; the queue waits for it
	}
}

var errGroupPanic = errors.New("chunkstore: a transaction grouped with this one panicked")

// batch is update in a commit group: fn may run more than once (see
// above). It returns once the transaction is durable, or failed.
func (s *Store) batch(fn func(t *txn) error) error {
	g := &grouped{fn: fn, wake: make(chan bool, 1)}
	c := &s.commits
	c.mu.Lock()
	c.mu.queue = append(c.mu.queue, g)
	lead := !c.mu.busy
	c.mu.busy = true
	c.mu.Unlock()
	if !lead {
		lead = <-g.wake
	}
	if lead {
		s.lead()
		<-g.wake // g was in the group it led
	}
	if g.err != nil {
		return g.err
	}
	s.leases.drained(g.drained)
	if len(g.released) > 0 {
		s.drainer.add(s.leases.released(g.released))
	}
	return nil
}

// lead runs the group at the head of the queue, then hands the lead on.
func (s *Store) lead() {
	c := &s.commits
	c.mu.Lock()
	n := min(len(c.mu.queue), maxGroup)
	group := slices.Clone(c.mu.queue[:n])
	c.mu.queue = slices.Delete(c.mu.queue, 0, n)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if len(c.mu.queue) == 0 {
			c.mu.busy = false
			c.mu.Unlock()
			return
		}
		next := c.mu.queue[0]
		c.mu.Unlock()
		next.wake <- true
	}()
	s.commitGroup(group)
}

// commitGroup runs group's transactions in one bolt.Tx and tells each its
// outcome once the commit has returned.
func (s *Store) commitGroup(group []*grouped) {
	defer func() {
		if p := recover(); p != nil {
			// A request's panic must not leave the others waiting forever.
			for _, g := range group {
				g.err = errGroupPanic
				g.wake <- false
			}
			panic(p)
		}
	}()
	for len(group) > 0 {
		failed := -1
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, g := range group {
				t := newTxn(tx)
				err := g.fn(t)
				if err == nil {
					err = t.flush()
				}
				if err != nil {
					failed, g.err = i, err
					return err
				}
				g.released, g.drained = t.released, t.drained
			}
			return nil
		})
		if failed < 0 {
			for _, g := range group {
				g.err = err
				g.wake <- false
			}
			return
		}
		// Rolled back: the failed one is done, the others go again.
		group[failed].wake <- false
		group = slices.Delete(group, failed, failed+1)
	}
}

// Batch is Update with its commit shared with concurrent Batch calls and
// writer commits: one fsync for many small transactions. It returns once
// the transaction is durable (or failed, leaving nothing behind), as
// Update does. fn may run more than once: when a transaction grouped with
// it fails, the group is rolled back and run again without that one. So fn
// must keep its effects inside tx, and set (not accumulate) what it
// reports; its own error, when it fails, is returned as is.
func (s *Store) Batch(fn func(tx *Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.batch(func(t *txn) error { return fn(&Tx{s: s, t: t, writable: true}) })
}

package chunkstore

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Tx is a transaction of the store's database opened to the caller: its own
// namespace (Bucket) and the manifest operations that must be atomic with
// the caller's records. The gateway keeps its buckets and object versions
// there, so that an object version and its manifest become visible in one
// durable commit and a release happens in the transaction that drops the
// last record naming a manifest: there is nothing to reconcile after a
// crash. A Tx is valid only inside the function it is passed to.
type Tx struct {
	s        *Store
	t        *txn
	writable bool
}

var errReadOnlyTx = errors.New("chunkstore: a read-only transaction cannot change manifests")

// Bucket is the caller's namespace: a bbolt bucket that the store itself
// never reads or writes. Nested buckets and cursors work as in bbolt.
func (tx *Tx) Bucket() *bolt.Bucket { return tx.t.tx.Bucket(bucketApp) }

// Writable reports whether tx is a write transaction.
func (tx *Tx) Writable() bool { return tx.writable }

// Stat describes a committed manifest as this transaction sees it.
func (tx *Tx) Stat(id ManifestID) (Manifest, error) {
	h, err := tx.t.committed(id)
	return h.manifest(id), err
}

// Release deletes a committed manifest with this transaction: when it
// commits, the manifest is gone for new readers; its references are dropped
// once the last reader that holds it closes. Releasing a manifest twice, or
// one that is not committed, is ErrNotFound.
func (tx *Tx) Release(id ManifestID) error {
	if !tx.writable {
		return errReadOnlyTx
	}
	return tx.t.release(id)
}

// NewReader opens a committed manifest for reading, with a lease taken in
// this transaction: it stays readable until the reader is closed, whatever
// is released meanwhile. ctx governs the reader's reads.
func (tx *Tx) NewReader(ctx context.Context, id ManifestID) (*Reader, error) {
	m, err := tx.lease(id)
	if err != nil {
		return nil, err
	}
	return tx.s.newReader(ctx, m), nil
}

// Entries enumerates a committed manifest's entries from the one holding
// offset from, with a lease as NewReader takes.
func (tx *Tx) Entries(ctx context.Context, id ManifestID, from int64) (*Entries, error) {
	m, err := tx.lease(id)
	if err != nil {
		return nil, err
	}
	return tx.s.newEntries(ctx, m, from, true), nil
}

func (tx *Tx) lease(id ManifestID) (Manifest, error) {
	h, err := tx.t.committed(id)
	if err != nil {
		return Manifest{}, err
	}
	tx.s.leases.take(id)
	return h.manifest(id), nil
}

// View runs fn in a read transaction. Readers and enumerations opened in it
// hold their manifests (see Tx.NewReader).
func (s *Store) View(fn func(tx *Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	e := s.leases.beginView()
	defer s.leases.endView(e)
	return s.view(func(t *txn) error { return fn(&Tx{s: s, t: t}) })
}

// Update runs fn in a write transaction, committed durably when fn returns
// nil and rolled back when it returns an error.
func (s *Store) Update(fn func(tx *Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.update(func(t *txn) error { return fn(&Tx{s: s, t: t, writable: true}) })
}

// CommitFunc runs in the transaction that commits a manifest (Writer,
// Concat, Import), with the manifest it commits. Returning an error rolls
// the commit back: the manifest never becomes visible, and the write
// fails with that error. A Writer's commit is grouped with concurrent ones
// (commit.go), so fn may run more than once, in a fresh transaction each
// time: it must keep its effects inside tx and set, not accumulate, what it
// reports to its caller.
type CommitFunc func(tx *Tx, m Manifest) error

// then runs a CommitFunc, if any, in t.
func (s *Store) then(fn CommitFunc, t *txn, m Manifest) error {
	if fn == nil {
		return nil
	}
	return fn(&Tx{s: s, t: t, writable: true}, m)
}

// release marks a committed manifest releasing (see release.go).
func (t *txn) release(id ManifestID) error {
	h, err := t.committed(id)
	if err != nil {
		return err
	}
	t.d.logical -= h.size
	t.d.manifests--
	h.state = stateReleasing
	if err := t.putHeader(id, h); err != nil {
		return err
	}
	if err := t.markPending(id, pendDrain); err != nil {
		return err
	}
	t.released = append(t.released, id)
	return nil
}

// Release deletes a committed manifest in a transaction of its own and,
// unless a reader holds it, drops its references before returning.
func (s *Store) Release(ctx context.Context, id ManifestID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var ready []ManifestID
	err := s.freeing(func() error {
		return s.db.Update(func(btx *bolt.Tx) error {
			t := newTxn(btx)
			if err := t.release(id); err != nil {
				return err
			}
			return t.flush()
		})
	})
	if err != nil {
		return err
	}
	ready = s.leases.released([]ManifestID{id})
	for i, r := range ready {
		if err := s.finish(ctx, r); err != nil {
			// The release has committed: what is left of the drain goes
			// to the drainer rather than waiting for the next Open.
			s.drainer.add(ready[i:])
			return fmt.Errorf("manifest %d: %w", r, err)
		}
	}
	return nil
}

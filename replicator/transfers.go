package replicator

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// transfer is one version being received: an Import in the bucket's store.
// An Import is not safe for concurrent use, so every call on a transfer
// holds mu; a sender sends one call at a time anyway, and a duplicate
// (a retry racing its original) waits instead of corrupting the import.
type transfer struct {
	id     string
	bucket string

	mu       sync.Mutex
	im       *chunkstore.Import // nil once ended (committed, aborted, expired)
	lastUsed time.Time
}

// transferTable is the handler's open transfers, bounded so that a sender
// that never finishes cannot pin the target's memory or its chunks.
type transferTable struct {
	max int
	mu  struct {
		sync.Mutex
		byID   map[string]*transfer
		closed bool
	}
}

func newTransferTable(max int) *transferTable {
	tt := &transferTable{max: max}
	tt.mu.byID = make(map[string]*transfer)
	return tt
}

// add registers a new transfer of im, unless the table is full or closed
// (the caller then aborts im).
func (tt *transferTable) add(bucket string, im *chunkstore.Import, now time.Time) (tr *transfer, full bool) {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	tr = &transfer{id: hex.EncodeToString(b[:]), bucket: bucket, im: im, lastUsed: now}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	switch {
	case tt.mu.closed:
		return nil, false
	case len(tt.mu.byID) >= tt.max:
		return nil, true
	}
	tt.mu.byID[tr.id] = tr
	return tr, false
}

// acquire finds a live transfer and locks it; nil if there is none (never
// opened, ended, expired, or the handler closed). The caller unlocks with
// release.
func (tt *transferTable) acquire(id string) *transfer {
	tt.mu.Lock()
	tr := tt.mu.byID[id]
	tt.mu.Unlock()
	if tr == nil {
		return nil
	}
	tr.mu.Lock()
	if tr.im == nil { // ended between the lookup and the lock
		tr.mu.Unlock()
		return nil
	}
	return tr
}

func (tt *transferTable) release(tr *transfer, now time.Time) {
	tr.lastUsed = now
	tr.mu.Unlock()
}

// end removes a locked transfer from the table; the caller has committed
// or aborted its import.
func (tt *transferTable) end(tr *transfer) {
	tr.im = nil
	tt.mu.Lock()
	delete(tt.mu.byID, tr.id)
	tt.mu.Unlock()
}

// expire aborts the transfers idle since before cutoff, skipping busy ones
// (a call in progress is not idle), and returns how many it aborted.
func (tt *transferTable) expire(cutoff time.Time, abort func(tr *transfer)) int {
	tt.mu.Lock()
	var idle []*transfer
	for _, tr := range tt.mu.byID {
		idle = append(idle, tr)
	}
	tt.mu.Unlock()
	n := 0
	for _, tr := range idle {
		if !tr.mu.TryLock() {
			continue
		}
		if tr.im != nil && tr.lastUsed.Before(cutoff) {
			abort(tr)
			tt.end(tr)
			n++
		}
		tr.mu.Unlock()
	}
	return n
}

// close refuses new transfers and aborts every open one, waiting for calls
// in progress.
func (tt *transferTable) close(abort func(tr *transfer)) {
	tt.mu.Lock()
	tt.mu.closed = true
	all := make([]*transfer, 0, len(tt.mu.byID))
	for _, tr := range tt.mu.byID {
		all = append(all, tr)
	}
	tt.mu.Unlock()
	for _, tr := range all {
		tr.mu.Lock()
		if tr.im != nil {
			abort(tr)
			tt.end(tr)
		}
		tr.mu.Unlock()
	}
}

func (tt *transferTable) len() int {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return len(tt.mu.byID)
}

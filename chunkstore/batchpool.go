package chunkstore

import (
	"runtime"
	"sync"
	"time"
)

// batchPool recycles writer batches.
//
// Full-size batches (Config.BatchBytes + MaxChunk of input, and the records
// built from them) are kept on a short free list of their own rather than
// in a sync.Pool. A sync.Pool empties at every garbage collection, and a
// stream that then finds no batch grows a new one by doubling from 64 KiB
// and grows its record buffers by append: about twice the batch in garbage
// for each batch lost. Under a few busy streams that garbage made the
// collector run constantly while letting the heap reach twice the live
// batches: 600 MB of RSS for 213 MB of live heap with four 64 MiB PUTs.
// Kept here, a batch is reused at full size and the writers allocate
// almost nothing once warm.
//
// The free list holds at most keep batches; more are left to the
// collector. Batches idle for idleTrim are dropped, so a burst of streams
// does not pin its memory after it ends. Small batches (objects that never
// filled a first buffer) still go through a sync.Pool: they are cheap to
// make and a small object should not hold a full one.
type batchPool struct {
	full int // cap(buf) of a full-size batch
	head int // the MaxChunk of headroom before the input
	keep int

	mu      sync.Mutex
	free    []*batch
	used    time.Time // of the last get or put of a full batch
	trimmer *time.Timer
	closed  bool

	small sync.Pool
}

// idleTrim is how long the free list keeps batches nobody asked for.
const idleTrim = 30 * time.Second

// firstBatch is the size a new stream's buffer starts at: a small object
// costs no more. Past largeBatch of input the stream trades its buffer for
// a full-size one, so a large object grows it once, not by doubling.
const (
	firstBatch = 64 << 10
	largeBatch = 1 << 20
)

func newBatchPool(cfg Config) *batchPool {
	return &batchPool{
		full: cfg.BatchBytes + cfg.MaxChunk,
		head: cfg.MaxChunk,
		// Four idle batches cover the hand-offs of several steady streams
		// (a stream returns one batch as it asks for the next) and bound
		// what an idle store keeps: 4 x (BatchBytes+MaxChunk) of input plus
		// their record buffers.
		keep: 4,
	}
}

// getSmall returns a batch for a stream's first bytes.
func (p *batchPool) getSmall() *batch {
	if b, ok := p.small.Get().(*batch); ok {
		return b
	}
	return &batch{buf: make([]byte, p.head, p.head+min(firstBatch, p.full-p.head))}
}

// getFull returns a full-size batch, reused when one is free.
func (p *batchPool) getFull() *batch {
	p.mu.Lock()
	p.used = time.Now()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	buf, mapped := getBuf(p.full)
	b := &batch{buf: buf[:p.head], mapped: mapped}
	if mapped {
		// A batch some path forgot to put back is garbage like any other:
		// its buffer must not stay mapped for good.
		b.release = runtime.AddCleanup(b, releaseBuf, buf)
	}
	return b
}

// put recycles b; its contents are dropped.
func (p *batchPool) put(b *batch) {
	b.buf = b.buf[:p.head]
	b.chunks = b.chunks[:0]
	for k := range b.recs {
		b.recs[k] = b.recs[k][:0]
	}
	if cap(b.buf) < p.full {
		p.small.Put(b)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.free) >= p.keep {
		drop(b)
		return
	}
	p.free = append(p.free, b)
	p.used = time.Now()
	if p.trimmer == nil {
		p.trimmer = time.AfterFunc(idleTrim, p.trim)
	}
}

// trim drops the free list once it has been idle for idleTrim, and
// otherwise looks again when that much time will have passed.
func (p *batchPool) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if idle := time.Since(p.used); idle < idleTrim && len(p.free) > 0 && !p.closed {
		p.trimmer.Reset(idleTrim - idle)
		return
	}
	dropAll(p.free)
	p.free = p.free[:0]
	p.trimmer = nil
}

// idle reports how many full batches the free list holds (for tests).
func (p *batchPool) idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// close drops the free list and keeps it empty.
func (p *batchPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	dropAll(p.free)
	p.free = nil
	if p.trimmer != nil {
		p.trimmer.Stop()
		p.trimmer = nil
	}
}

// drop lets a full batch go: its buffer's memory back to the system now
// when it is off the heap, to the collector otherwise.
func drop(b *batch) {
	if b.mapped {
		b.release.Stop()
		releaseBuf(b.buf)
		b.buf, b.mapped = nil, false
	}
}

func dropAll(bs []*batch) {
	for i, b := range bs {
		drop(b)
		bs[i] = nil
	}
}

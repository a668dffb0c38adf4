package chunkstore

import (
	"runtime"
	"sync"
	"time"
)

// batchPool recycles writer batches.
//
// Full-size batches (Config.BatchBytes + MaxChunk of input, and the records
// built from them) are kept on a free list of their own rather than
// in a sync.Pool. A sync.Pool empties at every garbage collection, and a
// stream that then finds no batch grows a new one by doubling from 64 KiB
// and grows its record buffers by append: about twice the batch in garbage
// for each batch lost. Under a few busy streams that garbage made the
// collector run constantly while letting the heap reach twice the live
// batches: 600 MB of RSS for 213 MB of live heap with four 64 MiB PUTs.
// Kept here, a batch is reused at full size and the writers allocate
// almost nothing once warm.
//
// The free list keeps every batch put back, up to the most that were out
// at once (high): the free and the out together never exceed what the
// store's streams once held, so keeping them adds no batch to the peak.
// A batch taken from the free list is warm; a new one, or one whose
// memory went back to the system, is fresh pages that fault one by one as
// a socket read first fills them. With a free list of four, a 4-stream
// upload of 64 MiB objects took 49,000 page faults a GiB and 1.48 s of
// system CPU; keeping what was in use, 32,000 and 1.24 s, and 8% less CPU
// in all. The cost is resident memory: a batch on the free list keeps
// every page any use of it touched (peak RSS +10-20 MB in that upload and
// in a files upload of four 16 MiB parts in flight).
//
// Every idleTrim, the batches nobody took since the last look (the fewest
// the free list held meanwhile) are dropped, so a burst of streams does
// not pin its memory after it ends, even under a steady lighter load.
// Small batches (objects that never filled a first buffer) still go
// through a sync.Pool: they are cheap to make and a small object should
// not hold a full one.
type batchPool struct {
	full int // cap(buf) of a full-size batch
	head int // the MaxChunk of headroom before the input

	mu      sync.Mutex
	free    []*batch
	out     int // full batches handed out and not put back
	high    int // the most out at once since the last trim
	fewest  int // the shortest the free list was since the last trim
	trimmer *time.Timer
	closed  bool

	small sync.Pool
}

// idleTrim is how long a batch nobody asks for stays on the free list, at
// most twice this.
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
	p.out++
	p.high = max(p.high, p.out)
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.fewest = min(p.fewest, n-1)
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	buf, mapped := getBuf(p.full)
	b := &batch{buf: buf[:p.head], mapped: mapped}
	if mapped {
		// A batch some path forgot to put back is garbage like any other:
		// its buffer must not stay mapped for good.
		b.release = runtime.AddCleanup(b, p.lost, buf)
	}
	return b
}

// lost releases the buffer of a full batch that was never put back.
func (p *batchPool) lost(buf []byte) {
	p.mu.Lock()
	p.out--
	p.mu.Unlock()
	releaseBuf(buf)
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
	p.out--
	if p.closed || p.out+len(p.free) >= p.high {
		drop(b)
		return
	}
	p.free = append(p.free, b)
	if p.trimmer == nil {
		p.fewest = len(p.free)
		p.trimmer = time.AfterFunc(idleTrim, p.trim)
	}
}

// trim drops the batches the free list held throughout the last idleTrim
// (the oldest, at its bottom), and looks again after as long while any
// are left.
func (p *batchPool) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.fewest
	if p.closed {
		n = len(p.free)
	}
	dropAll(p.free[:n])
	p.free = append(p.free[:0], p.free[n:]...)
	clear(p.free[len(p.free):cap(p.free)])
	p.high = p.out + len(p.free)
	p.fewest = len(p.free)
	if len(p.free) == 0 || p.closed {
		p.trimmer = nil
		return
	}
	p.trimmer.Reset(idleTrim)
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

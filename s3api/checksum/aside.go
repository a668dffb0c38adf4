package checksum

import (
	"hash"
	"runtime"
	"sync"
	"sync/atomic"
)

// Hashing beside the stream. A body's MD5 (the ETag) is the longest of the
// hashes an upload's reading goroutine runs one after another: on these
// machines about 1.5 ns a byte, against 0.6 for the signed payload's
// SHA-256 and 0.1 for a CRC. A single upload waited on that goroutine
// while the other core had room (a 64 MiB PUT was read in 210 ms, with
// 60% of two cores busy). Hashed aside, the MD5 runs on other goroutines
// over copies of the bytes (a memmove, ~0.1 ns/B), beside the SHA-256
// and the reads: one stream's PUT went from 174 to 183 MB/s (medians of
// five alternating runs), and is then bound by the store's fsyncs and
// the client.
//
// It only pays when a core is idle, so only asideSlots bodies at a time
// are hashed aside (one fewer than the cores; none on one core): under
// several concurrent uploads the cores are busy anyway, and the copy
// would be pure cost.

// asideBuf is the unit handed to the hashing goroutine.
const asideBuf = 1 << 20

// asideBufs bounds how far the hashing may lag behind the reads.
const asideBufs = 4

var (
	asideInUse atomic.Int64
	asidePool  = sync.Pool{New: func() any { b := make([]byte, 0, asideBuf); return &b }}
)

func asideSlots() int64 { return int64(runtime.GOMAXPROCS(0) - 1) }

// aside computes h over what is written to it on other goroutines, in
// order, from copies: Write returns once p is copied. Sum waits for the
// hashing to catch up.
type aside struct {
	h    hash.Hash
	cur  *[]byte       // being filled; nil when none
	free chan struct{} // a token per buffer that may be out
	last chan struct{} // closed once all handed off so far is hashed
	slot *asideSlot
}

// asideSlot is one of the asideSlots, held until the body ends or, should
// a caller drop the reader before that, until the reader is collected.
type asideSlot struct{ released atomic.Bool }

func (s *asideSlot) release() {
	if s.released.CompareAndSwap(false, true) {
		asideInUse.Add(-1)
	}
}

// newAside returns an aside hasher for h, or nil when every slot is taken.
func newAside(h hash.Hash) *aside {
	if asideInUse.Add(1) > asideSlots() {
		asideInUse.Add(-1)
		return nil
	}
	done := make(chan struct{})
	close(done)
	return &aside{h: h, free: make(chan struct{}, asideBufs), last: done, slot: &asideSlot{}}
}

func (a *aside) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if a.cur == nil {
			a.free <- struct{}{} // waits while asideBufs are being hashed
			a.cur = asidePool.Get().(*[]byte)
			*a.cur = (*a.cur)[:0]
		}
		b := *a.cur
		k := copy(b[len(b):cap(b)], p)
		*a.cur = b[:len(b)+k]
		p = p[k:]
		if len(*a.cur) == cap(*a.cur) {
			a.handOff()
		}
	}
	return n, nil
}

// handOff hashes the current buffer on a goroutine of its own, after the
// previous one's: each ends when its buffer is hashed, so none outlives
// its work even when the body is abandoned.
func (a *aside) handOff() {
	buf, prev, next := a.cur, a.last, make(chan struct{})
	a.cur, a.last = nil, next
	go func() {
		<-prev
		a.h.Write(*buf)
		asidePool.Put(buf)
		<-a.free
		close(next)
	}()
}

// Sum hashes what is still buffered, waits for all of it, gives the slot
// back and returns h's sum appended to in.
func (a *aside) Sum(in []byte) []byte {
	if a.cur != nil {
		a.handOff()
	}
	<-a.last
	a.slot.release()
	return a.h.Sum(in)
}

// Size and BlockSize complete hash.Hash; Reset is not supported.
func (a *aside) Size() int      { return a.h.Size() }
func (a *aside) BlockSize() int { return a.h.BlockSize() }
func (a *aside) Reset()         { panic("checksum: aside hash cannot be reset") }

package tlsproxy

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// inFrame is a received session frame. buf, when non-nil, is the pool
// buffer that holds payload.
type inFrame struct {
	h       header
	payload []byte
	buf     []byte
}

// inbox is the receiving half of a session: it puts frames arriving on any
// link back in sequence order, drops duplicates (frames resent after a
// link loss that had in fact arrived), and delivers each frame exactly
// once. Frames ahead of a gap wait here; their bytes are bounded by the
// peer's resend cache, which it announced in the handshake.
type inbox struct {
	pool      *bufPool
	delivered atomic.Uint64 // every frame up to here was delivered: the cumulative ack
	mu        struct {
		sync.Mutex
		limit   int // data bytes allowed out of order
		next    uint64
		pending map[uint64]inFrame
		bytes   int
	}
}

func newInbox(pool *bufPool) *inbox {
	in := &inbox{pool: pool}
	in.mu.next = 1
	in.mu.pending = make(map[uint64]inFrame)
	in.mu.limit = maxPayload
	return in
}

// setPeerCache sizes the reorder bound from the peer's cache bound.
func (in *inbox) setPeerCache(n uint32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.limit = int(n) + maxPayload
}

// maxPendingFrames bounds control frames held out of order.
const maxPendingFrames = 1 << 16

// receive accepts one frame from a link and calls deliver, in sequence
// order and with the inbox locked, for every frame that became
// deliverable. deliver must not block. It returns the delivered data
// bytes.
func (in *inbox) receive(f inFrame, deliver func(inFrame)) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	seq := f.h.seq
	if seq < in.mu.next {
		in.free(f)
		return 0, nil
	}
	if seq > in.mu.next {
		if _, dup := in.mu.pending[seq]; dup {
			in.free(f)
			return 0, nil
		}
		if in.mu.bytes+len(f.payload) > in.mu.limit || len(in.mu.pending) >= maxPendingFrames {
			in.free(f)
			return 0, fmt.Errorf("%w: %d bytes out of order exceed the peer's cache bound %d", ErrProtocol, in.mu.bytes+len(f.payload), in.mu.limit)
		}
		in.mu.pending[seq] = f
		in.mu.bytes += len(f.payload)
		return 0, nil
	}
	n := 0
	for {
		if f.h.typ == frameData {
			n += len(f.payload)
		}
		deliver(f)
		in.mu.next++
		g, ok := in.mu.pending[in.mu.next]
		if !ok {
			break
		}
		delete(in.mu.pending, in.mu.next)
		in.mu.bytes -= len(g.payload)
		f = g
	}
	in.delivered.Store(in.mu.next - 1)
	return n, nil
}

func (in *inbox) free(f inFrame) {
	if f.buf != nil {
		in.pool.put(f.buf)
	}
}

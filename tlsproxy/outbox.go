package tlsproxy

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// outFrame is one session frame in the resend cache.
type outFrame struct {
	seq      uint64
	buf      []byte // encoded frame, header included; nil once freed
	pooled   bool   // buf came from the bufPool
	cost     int    // bytes charged against the cache bound (data payload)
	link     uint64 // link it was last handed to; 0 while queued
	inflight int    // link writers currently writing buf
	sent     int    // times handed to a link
	acked    bool
}

// work is what a link writer takes from the outbox in one go.
type work struct {
	frames  []*outFrame
	ack     bool          // send a cumulative ack
	ping    bool          // nothing to send for a keepalive interval
	goodbye chan struct{} // non-nil: send a goodbye, then close this
}

// maxBatch bounds the bytes one link writer takes at once, so the frames
// of a busy session spread over all its links.
const maxBatch = 256 << 10

// outbox is the sending half of a session: the resend cache. Frames get
// their sequence number here, wait until a link writer takes them, and
// stay until the peer acknowledges them. When a link is lost, the frames
// it had taken and that are not acknowledged go back to the queue, ahead of
// new frames, for the next link writer (on another link or after the
// reconnection). Data frames are charged against limit; pushData waits
// while the cache is full (back-pressure), so data is never dropped.
// Control frames are small, bounded by the stream count, and never wait.
type outbox struct {
	limit int
	pool  *bufPool
	stats *counters
	space sync.Cond // L is &mu.Mutex; broadcast when used shrinks or on close
	mu    struct {
		sync.Mutex
		used      int
		nextSeq   uint64
		acked     uint64
		frames    []*outFrame // unacknowledged, in seq order
		fresh     int         // frames[fresh:] were never taken
		retry     []*outFrame // frames of lost links, in seq order
		wakers    map[uint64]chan struct{}
		ackWanted bool
		goodbye   chan struct{} // non-nil: a goodbye is wanted; closed once written
		closed    bool
	}
}

func newOutbox(limit int, pool *bufPool, stats *counters) *outbox {
	o := &outbox{limit: limit, pool: pool, stats: stats}
	o.space.L = &o.mu.Mutex
	o.mu.nextSeq = 1
	o.mu.wakers = make(map[uint64]chan struct{})
	return o
}

// wakeLocked nudges every link writer.
func (o *outbox) wakeLocked() {
	for _, ch := range o.mu.wakers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// pushData queues a data frame whose payload is buf[headerLen:headerLen+n];
// buf comes from the pool and belongs to the outbox from now on. It waits
// while the cache is full and fails only when the session is closed.
func (o *outbox) pushData(stream uint32, buf []byte, n int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for !o.mu.closed && o.mu.used > 0 && o.mu.used+n > o.limit {
		o.space.Wait()
	}
	if o.mu.closed {
		return ErrClosed
	}
	f := &outFrame{seq: o.mu.nextSeq, buf: buf[:headerLen+n], pooled: true, cost: n}
	header{typ: frameData, stream: stream, seq: f.seq, length: uint32(n)}.encode(f.buf)
	o.appendLocked(f)
	o.mu.used += n
	return nil
}

// pushControl queues a control frame without waiting.
func (o *outbox) pushControl(typ frameType, stream uint32, payload []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mu.closed {
		return ErrClosed
	}
	f := &outFrame{seq: o.mu.nextSeq}
	f.buf = appendFrame(make([]byte, 0, headerLen+len(payload)), header{typ: typ, stream: stream, seq: f.seq}, payload)
	o.appendLocked(f)
	return nil
}

func (o *outbox) appendLocked(f *outFrame) {
	o.mu.nextSeq++
	o.mu.frames = append(o.mu.frames, f)
	o.wakeLocked()
}

// take hands the next frames to link writer l, waiting until there is
// something to send, l dies, or idle fires (then it asks for a ping).
func (o *outbox) take(l *link, idle <-chan time.Time) (work, error) {
	for {
		o.mu.Lock()
		if o.mu.goodbye != nil {
			ch := o.mu.goodbye
			o.mu.goodbye = nil
			o.mu.Unlock()
			return work{goodbye: ch}, nil
		}
		if o.mu.closed {
			o.mu.Unlock()
			return work{}, ErrClosed
		}
		var w work
		w.ack, o.mu.ackWanted = o.mu.ackWanted, false
		for budget := maxBatch; budget > 0; {
			var f *outFrame
			switch {
			case len(o.mu.retry) > 0:
				f = o.mu.retry[0]
				o.mu.retry = o.mu.retry[1:]
				if f.acked {
					continue
				}
			case o.mu.fresh < len(o.mu.frames):
				f = o.mu.frames[o.mu.fresh]
				o.mu.fresh++
			}
			if f == nil {
				break
			}
			f.link = l.id
			f.inflight++
			f.sent++
			if f.sent > 1 {
				o.stats.resends.Add(1)
			}
			w.frames = append(w.frames, f)
			budget -= len(f.buf)
		}
		o.mu.Unlock()
		if w.ack || len(w.frames) > 0 {
			return w, nil
		}
		select {
		case <-l.wake:
		case <-l.dead:
			return work{}, errLinkDead
		case <-idle:
			return work{ping: true}, nil
		}
	}
}

// release ends a writer's use of the frames it took.
func (o *outbox) release(fs []*outFrame) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range fs {
		f.inflight--
		if f.acked && f.inflight == 0 {
			o.freeLocked(f)
		}
	}
}

func (o *outbox) freeLocked(f *outFrame) {
	if f.pooled && f.buf != nil && !o.mu.closed {
		o.pool.put(f.buf)
	}
	f.buf = nil
}

// ack drops every frame up to seq from the cache.
func (o *outbox) ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if seq <= o.mu.acked || o.mu.closed {
		return nil
	}
	if o.mu.fresh < len(o.mu.frames) && o.mu.frames[o.mu.fresh].seq <= seq || seq >= o.mu.nextSeq {
		return fmt.Errorf("%w: ack %d of a frame never sent", ErrProtocol, seq)
	}
	i := 0
	for ; i < len(o.mu.frames) && o.mu.frames[i].seq <= seq; i++ {
		f := o.mu.frames[i]
		f.acked = true
		o.mu.used -= f.cost
		if f.inflight == 0 {
			o.freeLocked(f)
		}
		o.mu.frames[i] = nil
	}
	o.mu.frames = o.mu.frames[i:]
	o.mu.fresh -= i
	o.mu.acked = seq
	o.space.Broadcast()
	return nil
}

// addLink registers a link writer's wake channel.
func (o *outbox) addLink(l *link) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mu.wakers[l.id] = l.wake
	o.wakeLocked()
}

// linkDown requeues the unacknowledged frames handed to link id.
func (o *outbox) linkDown(id uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.mu.wakers, id)
	n := 0
	for _, f := range o.mu.frames[:o.mu.fresh] {
		if f.link == id {
			f.link = 0
			o.mu.retry = append(o.mu.retry, f)
			n++
		}
	}
	if n > 0 {
		slices.SortFunc(o.mu.retry, func(a, b *outFrame) int { return cmp.Compare(a.seq, b.seq) })
		o.wakeLocked()
	}
}

// requestAck asks some link writer to send a cumulative ack.
func (o *outbox) requestAck() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mu.ackWanted = true
	o.wakeLocked()
}

// requestGoodbye asks some link writer to send a goodbye; the returned
// channel is closed once it is written.
func (o *outbox) requestGoodbye() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan struct{})
	o.mu.goodbye = ch
	o.wakeLocked()
	return ch
}

// close wakes every waiter; pushes fail from now on. Buffers still cached
// are left to the garbage collector.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mu.closed = true
	o.mu.goodbye = nil
	o.space.Broadcast()
	o.wakeLocked()
}

// cached reports the frames and data bytes in the cache (tests, stats).
func (o *outbox) cached() (frames, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.mu.frames), o.mu.used
}

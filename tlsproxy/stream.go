package tlsproxy

import (
	"errors"
	"io"
	"net"
	"sync"
)

// appConn is an application connection: a local peer's (client side) or
// the target's (server side). Half-close needs CloseWrite.
type appConn interface {
	net.Conn
	CloseWrite() error
}

const (
	// streamWindow is the per-stream flow-control window: a sender never
	// has more than this many bytes of one stream that the receiver has
	// not yet written to its socket. It keeps one slow reader from holding
	// up the other streams of its session.
	streamWindow   = 4 << 20
	windowUpdateAt = streamWindow / 4
)

// stream is one application connection carried by a session. Two
// goroutines pump it: readLoop (socket → frames) and writeLoop (frames →
// socket). A fin half-closes one direction; a reset aborts both, and the
// application sees a TCP RST.
type stream struct {
	id     uint32
	sess   *session
	winCh  chan struct{} // the send window grew, or the stream was reset
	dataCh chan struct{} // data or fin arrived, or the stream was reset
	mu     struct {
		sync.Mutex
		conn      appConn // nil until attached (server: until the target is dialled)
		window    int     // bytes we may still send
		queue     []inFrame
		queued    int
		fin       bool // the peer sent fin
		reset     bool
		readDone  bool
		writeDone bool
		// wroteFin: we half-closed the socket (the peer's fin), so an
		// orderly close can no longer be told from a reset by its state.
		wroteFin bool
	}
}

func newStream(s *session, id uint32) *stream {
	st := &stream{
		id:     id,
		sess:   s,
		winCh:  make(chan struct{}, 1),
		dataCh: make(chan struct{}, 1),
	}
	st.mu.window = streamWindow
	return st
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// attach gives the stream its socket and starts pumping.
func (st *stream) attach(c appConn) {
	st.mu.Lock()
	if st.mu.reset {
		st.mu.Unlock()
		rst(c)
		return
	}
	st.mu.conn = c
	st.mu.Unlock()
	go st.readLoop()
	go st.writeLoop()
}

// rst closes c so that its peer sees a reset, not an orderly end.
func rst(c net.Conn) {
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	c.Close()
}

func (st *stream) isReset() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.mu.reset
}

// resetSeenAsEOF reports whether the EOF a read returned was a reset whose
// error a write consumed (see resetByPeer); only decidable while our side
// of the socket is still open.
func (st *stream) resetSeenAsEOF(c net.Conn) bool {
	st.mu.Lock()
	wroteFin := st.mu.wroteFin
	st.mu.Unlock()
	return !wroteFin && resetByPeer(c)
}

// abort resets the stream locally: the socket is reset and both pumps stop.
// It does not tell the peer (see fail).
func (st *stream) abort() {
	st.mu.Lock()
	if st.mu.reset {
		st.mu.Unlock()
		return
	}
	st.mu.reset = true
	q := st.mu.queue
	st.mu.queue, st.mu.queued = nil, 0
	c := st.mu.conn
	st.mu.Unlock()
	for _, f := range q {
		st.sess.in.free(f)
	}
	if c != nil {
		rst(c)
	}
	signal(st.winCh)
	signal(st.dataCh)
}

// fail resets the stream and tells the peer why.
func (st *stream) fail(reason string) {
	if st.isReset() {
		return
	}
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	_ = st.sess.out.pushControl(frameReset, st.id, []byte(reason))
	st.abort()
}

// remoteReset handles a reset from the peer.
func (st *stream) remoteReset(reason string) {
	st.sess.log.Debug("stream reset by peer", "session", st.sess.ident(), "stream", st.id, "reason", reason)
	st.abort()
}

// deliverData queues received bytes for writeLoop. It never blocks: the
// peer may not send more than the window.
func (st *stream) deliverData(f inFrame) {
	st.mu.Lock()
	switch {
	case st.mu.reset:
		st.mu.Unlock()
		st.sess.in.free(f)
		return
	case st.mu.fin, st.mu.queued+len(f.payload) > streamWindow:
		st.mu.Unlock()
		st.sess.in.free(f)
		st.sess.log.Warn("stream protocol violation", "session", st.sess.ident(), "stream", st.id, "reason", "data beyond fin or window")
		st.fail("data beyond fin or window")
		return
	}
	st.mu.queue = append(st.mu.queue, f)
	st.mu.queued += len(f.payload)
	st.mu.Unlock()
	signal(st.dataCh)
}

func (st *stream) deliverFin() {
	st.mu.Lock()
	st.mu.fin = true
	st.mu.Unlock()
	signal(st.dataCh)
}

func (st *stream) grant(n int) {
	st.mu.Lock()
	st.mu.window += n
	st.mu.Unlock()
	signal(st.winCh)
}

// waitWindow waits for send credit; false once the stream is reset.
func (st *stream) waitWindow() (int, bool) {
	for {
		st.mu.Lock()
		reset, w := st.mu.reset, st.mu.window
		st.mu.Unlock()
		if reset {
			return 0, false
		}
		if w > 0 {
			return min(w, maxPayload), true
		}
		<-st.winCh
	}
}

// readLoop carries what the application writes to the peer. It stops
// reading while the window or the session's resend cache is full: that is
// the back-pressure an application sees during an outage.
func (st *stream) readLoop() {
	defer st.finish(true)
	s := st.sess
	st.mu.Lock()
	c := st.mu.conn
	st.mu.Unlock()
	for {
		n, ok := st.waitWindow()
		if !ok {
			return
		}
		buf := s.pool.get()
		k, err := c.Read(buf[headerLen : headerLen+n])
		if k > 0 {
			st.mu.Lock()
			st.mu.window -= k
			st.mu.Unlock()
			if perr := s.out.pushData(st.id, buf, k); perr != nil {
				return // session closed; it resets the stream
			}
			s.stats.bytesOut.Add(int64(k))
		} else {
			s.pool.put(buf)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) && st.resetSeenAsEOF(c):
			if !st.isReset() {
				st.fail("connection reset (reported to a write first)")
			}
			return
		case errors.Is(err, io.EOF):
			_ = s.out.pushControl(frameFin, st.id, nil)
			return
		default:
			if !st.isReset() {
				st.fail("connection reset: " + err.Error())
			}
			return
		}
	}
}

// writeLoop writes what the peer sent to the application, returns window
// credit as it goes, and half-closes the socket after the peer's fin.
func (st *stream) writeLoop() {
	defer st.finish(false)
	s := st.sess
	credit := 0
	var bufs net.Buffers
	for {
		st.mu.Lock()
		for len(st.mu.queue) == 0 && !st.mu.fin && !st.mu.reset {
			st.mu.Unlock()
			<-st.dataCh
			st.mu.Lock()
		}
		if st.mu.reset {
			st.mu.Unlock()
			return
		}
		batch, fin, c := st.mu.queue, st.mu.fin, st.mu.conn
		st.mu.queue = nil
		st.mu.Unlock()

		n := 0
		bufs = bufs[:0]
		for _, f := range batch {
			bufs = append(bufs, f.payload)
			n += len(f.payload)
		}
		var err error
		if n > 0 {
			_, err = bufs.WriteTo(c)
		}
		for _, f := range batch {
			s.in.free(f)
		}
		if err != nil {
			if !st.isReset() {
				st.fail("write: " + err.Error())
			}
			return
		}
		st.mu.Lock()
		st.mu.queued -= n
		st.mu.Unlock()
		if fin {
			st.mu.Lock()
			st.mu.wroteFin = true
			st.mu.Unlock()
			if err := c.CloseWrite(); err != nil && !st.isReset() {
				st.fail("half-close: " + err.Error())
			}
			return
		}
		credit += n
		if credit >= windowUpdateAt {
			_ = s.out.pushControl(frameWindow, st.id, encodeWindow(uint32(credit)))
			credit = 0
		}
	}
}

// finish records that one pump stopped; the second one closes the socket
// and forgets the stream.
func (st *stream) finish(read bool) {
	st.mu.Lock()
	if read {
		st.mu.readDone = true
	} else {
		st.mu.writeDone = true
	}
	both, reset, c := st.mu.readDone && st.mu.writeDone, st.mu.reset, st.mu.conn
	st.mu.Unlock()
	if !both {
		return
	}
	if !reset {
		c.Close()
	}
	st.sess.removeStream(st.id)
}

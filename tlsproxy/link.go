package tlsproxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// link is one TLS connection carrying a session's frames. A session has
// one link per connection slot (Connections of them with multiconnect).
type link struct {
	id        uint64
	slot      uint8
	conn      *tls.Conn
	wire      *wireConn // under conn
	raw       net.Conn  // the TCP connection under wire, closed directly so a dead link never blocks on a TLS alert
	keepalive time.Duration
	timeout   time.Duration // silence longer than this means the link is dead
	wake      chan struct{}
	dead      chan struct{}
	once      sync.Once
}

func newLink(id uint64, slot uint8, conn *tls.Conn, wire *wireConn, keepalive time.Duration) *link {
	wire.startBatching()
	return &link{
		id:        id,
		slot:      slot,
		conn:      conn,
		wire:      wire,
		raw:       wire.Conn,
		keepalive: keepalive,
		timeout:   3 * keepalive,
		wake:      make(chan struct{}, 1),
		dead:      make(chan struct{}),
	}
}

// kill closes the link; both its loops then fail.
func (l *link) kill() {
	l.once.Do(func() {
		close(l.dead)
		l.raw.Close()
	})
}

var (
	errLinkDead    = errors.New("link closed")
	errGoodbyeSent = errors.New("goodbye sent")
)

// runLink runs l for s until the link fails, and reports why.
func (s *session) runLink(l *link) error {
	if err := s.addLink(l); err != nil {
		l.kill()
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- s.writeLoop(l) }()
	go func() { errc <- s.readLoop(l) }()
	err := <-errc
	l.kill()
	<-errc
	s.removeLink(l)
	if errors.Is(err, errGoodbye) {
		s.close(fmt.Errorf("%w: %w", ErrClosed, errGoodbye), false)
	}
	return err
}

// writeLoop sends what the outbox hands it, plus acks and keepalives. A
// write that makes no progress within the link timeout (black-holed link
// with full buffers) kills the link.
func (s *session) writeLoop(l *link) error {
	bw := bufio.NewWriterSize(l.conn, 64<<10)
	idle := time.NewTimer(l.keepalive)
	defer idle.Stop()
	var hb [headerLen]byte
	put := func(h header) error {
		h.encode(hb[:])
		_, err := bw.Write(hb[:])
		return err
	}
	for {
		w, err := s.out.take(l, idle.C)
		if err != nil {
			return err
		}
		if w.ack {
			err = put(header{typ: frameAck, seq: s.in.delivered.Load()})
		}
		if w.ping && err == nil {
			err = put(header{typ: framePing})
		}
		for _, f := range w.frames {
			if err != nil {
				break
			}
			_, err = bw.Write(f.buf)
		}
		if w.goodbye != nil && err == nil {
			err = put(header{typ: frameGoodbye})
		}
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = l.wire.flush(l.timeout)
		}
		s.out.release(w.frames)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if w.goodbye != nil {
			close(w.goodbye)
			return errGoodbyeSent
		}
		idle.Reset(l.keepalive)
	}
}

// readLoop receives frames. Silence longer than the link timeout (the
// peer pings when idle) means a dead or half-open link.
func (s *session) readLoop(l *link) error {
	br := bufio.NewReaderSize(l.conn, 64<<10)
	var hb [headerLen]byte
	for {
		if err := l.conn.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
			return err
		}
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		h, err := decodeHeader(hb[:])
		if err != nil {
			return err
		}
		switch h.typ {
		case frameAck:
			if err := s.out.ack(h.seq); err != nil {
				return err
			}
			continue
		case framePing:
			continue
		case frameGoodbye:
			return errGoodbye
		}
		if !h.typ.sequenced() {
			return fmt.Errorf("%w: unexpected %s frame on an open link", ErrProtocol, h.typ)
		}
		f := inFrame{h: h}
		if h.length > 0 {
			if h.typ == frameData {
				f.buf = s.pool.get()
				f.payload = f.buf[:h.length]
			} else {
				f.payload = make([]byte, h.length)
			}
			if _, err := io.ReadFull(br, f.payload); err != nil {
				s.in.free(f)
				return fmt.Errorf("read: %w", err)
			}
			if h.typ == frameWindow {
				if _, err := decodeWindow(f.payload); err != nil {
					return err
				}
			}
		}
		if err := s.receive(f); err != nil {
			return err
		}
	}
}

// wireConn sits between a tls.Conn and its TCP connection. It reads in
// large chunks and, once batching is on, gathers the TLS records of one
// writer batch and writes them at flush: without it every 16 KiB record
// costs a system call. flush gives each 64 KiB chunk its own deadline, so
// a slow link that makes progress is not mistaken for a dead one.
type wireConn struct {
	net.Conn
	r  *bufio.Reader
	mu struct {
		sync.Mutex
		buf   []byte
		batch bool
	}
}

const flushChunk = 64 << 10

func newWireConn(c net.Conn) *wireConn {
	return &wireConn{Conn: c, r: bufio.NewReaderSize(c, 256<<10)}
}

func (w *wireConn) Read(p []byte) (int, error) { return w.r.Read(p) }

func (w *wireConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.batch {
		w.mu.buf = append(w.mu.buf, p...)
		return len(p), nil
	}
	return w.Conn.Write(p)
}

// startBatching makes writes wait for flush; the handshake is over.
func (w *wireConn) startBatching() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.batch = true
}

// flush writes what was gathered; no progress for timeout is an error.
func (w *wireConn) flush(timeout time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.mu.buf
	for len(b) > 0 {
		n := min(len(b), flushChunk)
		if err := w.Conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		if _, err := w.Conn.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	w.mu.buf = w.mu.buf[:0]
	return nil
}

// Package linktest provides a TCP proxy that breaks links on command, the
// way a WAN does, for tests of what crosses a network (like httptest for
// HTTP servers): reset every connection, stall all traffic, black-hole the
// current connections, or refuse new ones for a while.
package linktest

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy that breaks links on command, the way a WAN does:
// reset every connection, stall all traffic, black-hole the current
// connections (stop forwarding, keep the sockets open, no RST), or refuse
// new connections for a while.
type Proxy struct {
	ln     net.Listener
	target string
	mu     struct {
		sync.Mutex
		pipes       map[*Link]bool
		stallUntil  time.Time
		refuseUntil time.Time
	}
	wg sync.WaitGroup
}

// Link is one proxied connection.
type Link struct {
	a, b   *net.TCPConn
	holed  chan struct{} // closed: black hole
	closed chan struct{}
	once   sync.Once
	hole   sync.Once
	refs   atomic.Int32 // forwarders still running
}

// Reset resets both sides of the connection (each sees an RST).
func (p *Link) Reset() {
	p.once.Do(func() {
		close(p.closed)
		rst(p.a)
		rst(p.b)
	})
}

// New starts a proxy on 127.0.0.1 forwarding to target; it stops at the
// end of the test.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	p.mu.pipes = make(map[*Link]bool)
	p.wg.Go(p.acceptLoop)
	t.Cleanup(p.Close)
	return p
}

// Addr is where to connect to reach the target through the proxy.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := time.Now().Before(p.mu.refuseUntil)
		p.mu.Unlock()
		if refuse {
			rst(c)
			continue
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			rst(c)
			continue
		}
		pp := &Link{a: c.(*net.TCPConn), b: d.(*net.TCPConn), holed: make(chan struct{}), closed: make(chan struct{})}
		pp.refs.Store(2)
		p.mu.Lock()
		p.mu.pipes[pp] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(pp, pp.b, pp.a) })
		p.wg.Go(func() { p.forward(pp, pp.a, pp.b) })
	}
}

func (p *Proxy) forward(pp *Link, dst, src *net.TCPConn) {
	defer func() {
		if pp.refs.Add(-1) == 0 {
			p.mu.Lock()
			delete(p.mu.pipes, pp)
			p.mu.Unlock()
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitStall(pp)
			select {
			case <-pp.holed: // swallow, stop reading, keep the sockets open
				<-pp.closed
				return
			case <-pp.closed:
				return
			default:
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				pp.Reset()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			dst.CloseWrite()
			return
		}
		if err != nil {
			pp.Reset()
			return
		}
	}
}

func (p *Proxy) waitStall(pp *Link) {
	for {
		p.mu.Lock()
		d := time.Until(p.mu.stallUntil)
		p.mu.Unlock()
		if d <= 0 {
			return
		}
		select {
		case <-time.After(d):
		case <-pp.closed:
			return
		}
	}
}

// Live returns the connections the proxy still forwards.
func (p *Proxy) Live() []*Link {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := make([]*Link, 0, len(p.mu.pipes))
	for pp := range p.mu.pipes {
		select {
		case <-pp.holed:
		default:
			ps = append(ps, pp)
		}
	}
	return ps
}

func (p *Proxy) all() []*Link {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := make([]*Link, 0, len(p.mu.pipes))
	for pp := range p.mu.pipes {
		ps = append(ps, pp)
	}
	return ps
}

// ResetAll resets every current connection (both sides see an RST).
func (p *Proxy) ResetAll() {
	for _, pp := range p.all() {
		pp.Reset()
	}
}

// Stall holds all traffic, current and new connections, for d.
func (p *Proxy) Stall(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.stallUntil = time.Now().Add(d)
}

// BlackHole stops forwarding on n current connections (all if n < 0)
// without closing them; new connections work.
func (p *Proxy) BlackHole(n int) {
	for i, pp := range p.Live() {
		if n >= 0 && i >= n {
			break
		}
		pp.BlackHole()
	}
}

// Refuse resets new connections for d.
func (p *Proxy) Refuse(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.refuseUntil = time.Now().Add(d)
}

// Down is an outage: everything is reset and new connections are refused
// for d.
func (p *Proxy) Down(d time.Duration) {
	p.Refuse(d)
	p.ResetAll()
}

func (p *Proxy) Close() {
	p.ln.Close()
	for _, pp := range p.all() {
		pp.Reset()
	}
	p.wg.Wait()
}

// rst closes c so that its peer sees a reset, not an orderly end.
func rst(c net.Conn) {
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	c.Close()
}

// BlackHole stops forwarding on the connection without closing it.
func (l *Link) BlackHole() { l.hole.Do(func() { close(l.holed) }) }

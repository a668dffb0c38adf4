package tlsproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy is a TCP proxy that breaks links on command, the way a WAN
// does: reset every connection, stall all traffic, black-hole the current
// connections (stop forwarding, keep the sockets open, no RST), or refuse
// new connections for a while.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     struct {
		sync.Mutex
		pipes       map[*pipe]bool
		stallUntil  time.Time
		refuseUntil time.Time
	}
	wg sync.WaitGroup
}

type pipe struct {
	a, b   *net.TCPConn
	holed  chan struct{} // closed: black hole
	closed chan struct{}
	once   sync.Once
	hole   sync.Once
	refs   atomic.Int32 // forwarders still running
}

func (p *pipe) reset() {
	p.once.Do(func() {
		close(p.closed)
		rst(p.a)
		rst(p.b)
	})
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	p := &cutProxy{ln: listen(t), target: target}
	p.mu.pipes = make(map[*pipe]bool)
	p.wg.Go(p.acceptLoop)
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) acceptLoop() {
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
		pp := &pipe{a: c.(*net.TCPConn), b: d.(*net.TCPConn), holed: make(chan struct{}), closed: make(chan struct{})}
		pp.refs.Store(2)
		p.mu.Lock()
		p.mu.pipes[pp] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(pp, pp.b, pp.a) })
		p.wg.Go(func() { p.forward(pp, pp.a, pp.b) })
	}
}

func (p *cutProxy) forward(pp *pipe, dst, src *net.TCPConn) {
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
				pp.reset()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			dst.CloseWrite()
			return
		}
		if err != nil {
			pp.reset()
			return
		}
	}
}

func (p *cutProxy) waitStall(pp *pipe) {
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

// snapshot returns the connections the proxy still forwards.
func (p *cutProxy) snapshot() []*pipe {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := make([]*pipe, 0, len(p.mu.pipes))
	for pp := range p.mu.pipes {
		select {
		case <-pp.holed:
		default:
			ps = append(ps, pp)
		}
	}
	return ps
}

func (p *cutProxy) all() []*pipe {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := make([]*pipe, 0, len(p.mu.pipes))
	for pp := range p.mu.pipes {
		ps = append(ps, pp)
	}
	return ps
}

// resetAll resets every current connection (both sides see an RST).
func (p *cutProxy) resetAll() {
	for _, pp := range p.all() {
		pp.reset()
	}
}

// stall holds all traffic, current and new connections, for d.
func (p *cutProxy) stall(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.stallUntil = time.Now().Add(d)
}

// blackHole stops forwarding on n current connections (all if n < 0)
// without closing them; new connections work.
func (p *cutProxy) blackHole(n int) {
	for i, pp := range p.snapshot() {
		if n >= 0 && i >= n {
			break
		}
		pp.hole.Do(func() { close(pp.holed) })
	}
}

// refuse resets new connections for d.
func (p *cutProxy) refuse(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.refuseUntil = time.Now().Add(d)
}

// down is an outage: everything is reset and new connections are refused
// for d.
func (p *cutProxy) down(d time.Duration) {
	p.refuse(d)
	p.resetAll()
}

func (p *cutProxy) close() {
	p.ln.Close()
	for _, pp := range p.all() {
		pp.reset()
	}
	p.wg.Wait()
}

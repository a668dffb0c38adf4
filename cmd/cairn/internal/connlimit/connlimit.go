// Package connlimit bounds the connections a server holds, so that one
// client cannot spend every file descriptor. A Listener closes, at once,
// a connection beyond its bounds, before the server spends anything on it.
// Within an address's share, the connections that are doing nothing (a
// request still unsent, a keep-alive between requests: "idle") give way to
// new ones, oldest first: a flood of half-sent requests from one address
// then churns through its own share, and a client of the same address that
// sends its request whole still gets in and is served.
package connlimit

import (
	"container/list"
	"net"
	"sync"
	"sync/atomic"
)

// Limits are a listener's bounds; 0 means unbounded.
type Limits struct {
	Total   int // open connections in all
	PerHost int // open connections from one client address
	// Evict lets idle connections give way to new ones (the server must
	// report Active and Idle); without it a connection beyond a bound is
	// refused.
	Evict bool
}

// Listener is a net.Listener under Limits.
type Listener struct {
	net.Listener
	lim Limits

	mu    sync.Mutex
	total int
	hosts map[string]*host
	shed  atomic.Int64
}

type host struct {
	open int
	idle *list.List // of *conn, oldest first
}

// Wrap puts ln under lim.
func Wrap(ln net.Listener, lim Limits) *Listener {
	return &Listener{Listener: ln, lim: lim, hosts: map[string]*host{}}
}

// Shed counts the connections closed to stay within the limits.
func (l *Listener) Shed() int64 { return l.shed.Load() }

// Accept returns the next connection within the limits. A new connection
// starts idle; Active and Idle (from http.Server.ConnState) say when it
// works and when it rests.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		nc := &conn{Conn: c, l: l, host: hostOf(c.RemoteAddr())}
		victim, ok := l.take(nc)
		if victim != nil {
			l.shed.Add(1)
			victim.reset()
		}
		if !ok {
			l.shed.Add(1)
			nc.reset()
			continue
		}
		return nc, nil
	}
}

// take makes room for c: it fits, or the oldest idle connection of its
// host (else of any host, for the total) makes way for it. It returns the
// connection to close, if any, and whether c may stay.
func (l *Listener) take(c *conn) (*conn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[c.host]
	if h == nil {
		h = &host{idle: list.New()}
		l.hosts[c.host] = h
	}
	var victim *conn
	switch {
	case l.lim.PerHost > 0 && h.open >= l.lim.PerHost:
		if victim = l.evict(h); victim == nil {
			l.forgetIfEmpty(c.host, h)
			return nil, false
		}
	case l.lim.Total > 0 && l.total >= l.lim.Total:
		for _, o := range l.hosts {
			if victim = l.evict(o); victim != nil {
				break
			}
		}
		if victim == nil {
			l.forgetIfEmpty(c.host, h)
			return nil, false
		}
	}
	l.total++
	h.open++
	c.counted = true
	if l.lim.Evict {
		c.elem = h.idle.PushBack(c)
	}
	return victim, true
}

// evict takes h's oldest idle connection off the books; the caller closes
// it.
func (l *Listener) evict(h *host) *conn {
	e := h.idle.Front()
	if e == nil {
		return nil
	}
	v := e.Value.(*conn)
	h.idle.Remove(e)
	v.elem = nil
	v.counted = false
	l.total--
	h.open--
	return v
}

func (l *Listener) forgetIfEmpty(name string, h *host) {
	if h.open == 0 {
		delete(l.hosts, name)
	}
}

// Active says c is serving a request: it is no longer one to give way.
func (l *Listener) Active(c net.Conn) { l.setIdle(c, false) }

// Idle says c waits for a request.
func (l *Listener) Idle(c net.Conn) { l.setIdle(c, true) }

func (l *Listener) setIdle(nc net.Conn, idle bool) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[c.host]
	if h == nil || !c.counted {
		return
	}
	if c.elem != nil {
		h.idle.Remove(c.elem)
		c.elem = nil
	}
	if idle {
		c.elem = h.idle.PushBack(c)
	}
}

func (l *Listener) give(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.counted {
		return // evicted: already off the books
	}
	c.counted = false
	h := l.hosts[c.host]
	if c.elem != nil {
		h.idle.Remove(c.elem)
		c.elem = nil
	}
	l.total--
	h.open--
	l.forgetIfEmpty(c.host, h)
}

// Open says how many connections are counted, in all and from host.
func (l *Listener) Open(hostName string) (total, fromHost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.hosts[hostName]; h != nil {
		fromHost = h.open
	}
	return l.total, fromHost
}

func hostOf(a net.Addr) string {
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// conn gives its place back when closed.
type conn struct {
	net.Conn
	l       *Listener
	host    string
	elem    *list.Element // in its host's idle list, while idle (l.mu)
	counted bool          // on the books (l.mu)
	once    sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.give(c) })
	return err
}

// reset closes with an RST: no TIME_WAIT for a flood's sockets.
func (c *conn) reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// CloseWrite passes a half close through (net/http uses it).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap gives code that needs the socket (TCP state) the connection.
func (c *conn) Unwrap() net.Conn { return c.Conn }

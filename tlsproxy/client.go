package tlsproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// errSessionLost: the server no longer knows the session (it expired
// there, or the server restarted); the client starts a new one.
var errSessionLost = errors.New("session lost")

// Client is the secure connect client: it listens for plain TCP from
// backup tools and carries each connection as a stream of one session to
// the server, over Connections TLS links.
type Client struct {
	cfg     ClientConfig
	log     *slog.Logger
	cred    credential
	tlsConf *tls.Config
	pool    *bufPool
	stats   counters
	linkIDs atomic.Uint64
	// establishing serialises opening a session, so the other links of a
	// multiconnect session attach to it rather than open their own.
	establishing sync.Mutex
	mu           struct {
		sync.Mutex
		sess *session
	}
}

// NewClient loads the credential and trust anchor. It does not connect or
// listen; Run does.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cred, err := loadCredential(cfg.Credential)
	if err != nil {
		return nil, fmt.Errorf("tlsproxy: %w", err)
	}
	trust, err := newServerTrust(cfg, cred)
	if err != nil {
		return nil, fmt.Errorf("tlsproxy: %w", err)
	}
	serverName := cfg.ServerName
	if serverName == "" {
		serverName, _, _ = net.SplitHostPort(cfg.Server)
	}
	return &Client{
		cfg:     cfg,
		log:     cfg.Logger,
		cred:    cred,
		tlsConf: clientTLS(cred, trust, serverName),
		pool:    newBufPool(),
	}, nil
}

// Run listens, connects, and carries connections until ctx is done (then
// it ends the session and returns nil), or until the server is not
// trusted or refuses this client (then it returns an error wrapping
// ErrUntrustedServer or ErrRefused). Network failures are retried with
// backoff for as long as it takes.
func (c *Client) Run(ctx context.Context) error {
	ln := c.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", c.cfg.Listen); err != nil {
			return fmt.Errorf("tlsproxy: listen: %w", err)
		}
	}
	c.log.Info("secure connect client listening", "addr", ln.Addr().String(), "server", c.cfg.Server,
		"client", c.cred.name, "connections", c.cfg.Connections)
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		ln.Close()
	})
	wg.Go(func() { c.acceptLoop(ctx, ln) })
	for slot := range c.cfg.Connections {
		wg.Go(func() {
			if err := c.maintain(ctx, uint8(slot)); err != nil {
				cancel(err)
			}
		})
	}
	<-ctx.Done()
	c.closeSession(true)
	wg.Wait()
	c.closeSession(false)
	if parent.Err() != nil {
		return nil
	}
	return context.Cause(ctx)
}

func (c *Client) closeSession(goodbye bool) {
	c.mu.Lock()
	sess := c.mu.sess
	c.mu.sess = nil
	c.mu.Unlock()
	if sess != nil {
		sess.close(ErrClosed, goodbye)
	}
}

// session returns the current session, starting a new (not yet
// established) one if there is none or the last one ended.
func (c *Client) session(ctx context.Context) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.sess == nil || c.mu.sess.closed() {
		p := sessionParams{outageLimit: c.cfg.OutageLimit, keepalive: c.cfg.Keepalive, cacheBytes: c.cfg.CacheBytes}
		sess := newSession(ctx, roleClient, p, c.log, c.pool, &c.stats)
		sess.onClose = func(s *session, err error) {
			if id, _, est := s.identity(); est {
				c.log.Info("session closed", "session", id, "reason", err)
			}
		}
		c.mu.sess = sess
	}
	return c.mu.sess
}

func (c *Client) acceptLoop(ctx context.Context, ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("accept failed", "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			continue
		}
		err = c.session(ctx).openLocal(conn)
		if errors.Is(err, ErrClosed) && ctx.Err() == nil {
			err = c.session(ctx).openLocal(conn) // the session just ended; use the next
		}
		if err != nil {
			c.log.Warn("connection refused", "peer", conn.RemoteAddr().String(), "reason", err)
			rst(conn)
		}
	}
}

// maintain keeps connection slot up: connect, run the link until it
// fails, reconnect with backoff. It returns an error only when the server
// is not trusted or refuses us.
func (c *Client) maintain(ctx context.Context, slot uint8) error {
	backoff := minBackoff
	failures := 0
	for ctx.Err() == nil {
		sess := c.session(ctx)
		l, err := c.connect(ctx, sess, slot)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, ErrUntrustedServer), errors.Is(err, ErrRefused):
				c.log.Error("secure connect refused", "server", c.cfg.Server, "slot", slot, "reason", err.Error())
				return err
			case errors.Is(err, errSessionLost):
				c.log.Warn("session lost, starting a new one; its connections are reset", "slot", slot, "reason", err.Error())
				sess.close(err, false)
				continue
			}
			failures++
			lvl := slog.LevelDebug
			if failures == 1 {
				lvl = slog.LevelWarn
			}
			c.log.Log(ctx, lvl, "connect failed", "server", c.cfg.Server, "slot", slot, "attempt", failures, "err", err, "retry_in", backoff)
			d := backoff/2 + rand.N(backoff)
			backoff = min(2*backoff, maxBackoff)
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
			continue
		}
		backoff, failures = minBackoff, 0
		err = sess.runLink(l)
		if ctx.Err() == nil && !sess.closed() {
			c.log.Warn("link lost", "slot", slot, "session", sess.ident(), "err", err)
		}
	}
	return nil
}

// connect dials the server, authenticates both ways, and opens or
// attaches to sess on the new link.
func (c *Client) connect(ctx context.Context, sess *session, slot uint8) (*link, error) {
	if _, _, est := sess.identity(); !est {
		c.establishing.Lock()
		defer c.establishing.Unlock()
		if sess.closed() {
			return nil, fmt.Errorf("%w: session closed while waiting", errSessionLost)
		}
	}
	d := net.Dialer{Timeout: dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", c.cfg.Server)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*link, error) {
		raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
	wire := newWireConn(raw)
	tc := tls.Client(wire, c.tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		if isRemoteAlert(err) {
			err = fmt.Errorf("%w: %v", ErrRefused, err)
		}
		return fail(fmt.Errorf("tls handshake: %w", err))
	}

	id, secret, established := sess.identity()
	hel := hello{slot: slot, cache: uint32(c.cfg.CacheBytes)}
	if !established {
		hel.kind, hel.target = helloNew, c.cfg.Target
	} else {
		hel.kind, hel.session = helloAttach, id
		hel.counter = sess.attachCounter.Add(1)
		hel.ack = sess.in.delivered.Load()
		if hel.mac, err = attachProof(secret, id, hel.counter, slot, tc.ConnectionState()); err != nil {
			return fail(err)
		}
	}
	if err := writeFrame(tc, frameHello, 0, hel.encode()); err != nil {
		return fail(fmt.Errorf("hello: %w", err))
	}
	h, p, err := readFrame(tc)
	if err != nil {
		if isRemoteAlert(err) {
			err = fmt.Errorf("%w: %v", ErrRefused, err)
		}
		return fail(fmt.Errorf("hello: %w", err))
	}
	switch h.typ {
	case frameRefuse:
		c.stats.refused.Add(1)
		r, _ := decodeRefuse(p)
		if r.fatal {
			return fail(fmt.Errorf("%w: %s", ErrRefused, r.reason))
		}
		return fail(fmt.Errorf("%w: server: %s", errSessionLost, r.reason))
	case frameWelcome:
	default:
		return fail(fmt.Errorf("%w: %s frame instead of welcome", ErrProtocol, h.typ))
	}
	w, _ := decodeWelcome(p)
	if !established {
		sess.establish(w.session, w.secret, w.cache)
		sess.attached(slot)
		c.log.Info("session opened", "session", w.session, "server", c.cfg.Server, "slot", slot,
			"tls", tls.VersionName(tc.ConnectionState().Version))
	} else {
		if w.session != id {
			return fail(fmt.Errorf("%w: welcome for another session", ErrProtocol))
		}
		if sess.attached(slot) {
			// The slot's link came back; a slot's first link joining the
			// session (multiconnect) is not a reconnect.
			c.stats.reconnects.Add(1)
			c.log.Info("session resumed", "session", id, "slot", slot, "counter", hel.counter)
		} else {
			c.log.Debug("link joined", "session", id, "slot", slot)
		}
	}
	if err := sess.out.ack(w.ack); err != nil {
		return fail(err)
	}
	_ = raw.SetDeadline(time.Time{})
	return newLink(c.linkIDs.Add(1), slot, tc, wire, c.cfg.Keepalive), nil
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	var st Stats
	c.stats.fill(&st)
	c.mu.Lock()
	sess := c.mu.sess
	c.mu.Unlock()
	if sess != nil && !sess.closed() {
		if _, _, est := sess.identity(); est {
			st.Sessions = 1
		}
		st.Links, st.Streams = sess.counts()
	}
	return st
}

package tlsproxy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the secure connect server: it accepts TLS links from clients
// holding a credential it issued, and forwards their streams to an
// allowed target (the gateway's S3 port).
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	auth    *authority
	cert    tls.Certificate
	tlsConf *tls.Config
	targets []string // canonical AllowedTargets; [0] is the default
	pool    *bufPool
	stats   counters
	linkIDs atomic.Uint64
	shakes  *handshakeLimiter
	logs    *logLimiter // for what strangers can make the server say
	mu      struct {
		sync.Mutex
		sessions map[sessionID]*session
	}
}

// NewServer loads the CA and server certificate from cfg.Dir, creating
// them (RSA 4096) on first use, or loads cfg.CertFile/KeyFile. It does not
// listen; Run does.
func NewServer(cfg ServerConfig) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, pool: newBufPool(),
		shakes: newHandshakeLimiter(cfg.HandshakeRate, cfg.HandshakeBurst), logs: newLogLimiter(time.Second)}
	s.mu.sessions = make(map[sessionID]*session)
	for _, t := range cfg.AllowedTargets {
		c, _ := canonicalTarget(t) // validated
		s.targets = append(s.targets, c)
	}
	auth, created, err := openAuthority(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s.auth = auth
	if created {
		s.log.Info("created secure connect CA", "dir", cfg.Dir, "fingerprint", s.CAFingerprint())
	}
	if cfg.CertFile != "" {
		s.cert, err = tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsproxy: server certificate: %w", err)
		}
		if s.cert.Leaf == nil {
			if s.cert.Leaf, err = x509.ParseCertificate(s.cert.Certificate[0]); err != nil {
				return nil, fmt.Errorf("tlsproxy: server certificate: %w", err)
			}
		}
	} else {
		s.cert, err = auth.serverCert(defaultHosts(cfg.Hosts))
		if err != nil {
			return nil, fmt.Errorf("tlsproxy: server certificate: %w", err)
		}
	}
	s.tlsConf = serverTLS(s.cert, auth)
	return s, nil
}

// CAFingerprint is the SHA-256 fingerprint of the CA in Dir ("SHA256:<hex>"),
// the value for `cairn connect --fingerprint` when the server uses the
// generated certificate.
func (s *Server) CAFingerprint() string { return Fingerprint(s.auth.cert.Raw) }

// CertFingerprint is the fingerprint of the server certificate itself: the
// pin to use with the user's own certificate.
func (s *Server) CertFingerprint() string { return Fingerprint(s.cert.Certificate[0]) }

// Issue creates a credential for client name (RSA 4096, signed by the CA),
// records it in Dir/clients, and returns it. Issuing again for a name
// revokes the previous credential. It may run in another process than Run.
func (s *Server) Issue(name string) (ClientCredential, error) {
	c, err := s.auth.issue(name)
	if err != nil {
		return c, fmt.Errorf("tlsproxy: issue: %w", err)
	}
	s.log.Info("issued client credential", "client", name, "serial", c.Serial)
	return c, nil
}

// Revoke removes the record of name's credential; its holder is refused
// at the next handshake (live links are not cut).
func (s *Server) Revoke(name string) error {
	if err := s.auth.revoke(name); err != nil {
		return fmt.Errorf("tlsproxy: %w", err)
	}
	s.cutRevoked()
	return nil
}

// revokeCheck is how often a running server checks its live sessions
// against the credential records, so that a credential revoked by another
// process (cairn admin secure-connect revoke) ends its sessions at once.
const revokeCheck = 500 * time.Millisecond

// cutRevoked ends every session whose client credential is no longer the
// one on record. The client's next connection then fails its handshake.
func (s *Server) cutRevoked() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.mu.sessions))
	for _, sess := range s.mu.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		if sess.closed() || s.auth.onRecord(sess.client, sess.owner) {
			continue
		}
		id, _, _ := sess.identity()
		s.log.Warn("client credential revoked: session ended, its connections reset", "client", sess.client, "session", id)
		go sess.close(ErrRevoked, true)
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	var st Stats
	s.stats.fill(&st)
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.mu.sessions))
	for _, sess := range s.mu.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	names := make(map[string]bool)
	for _, sess := range sessions {
		l, n := sess.counts()
		st.Links += l
		st.Streams += n
		names[sess.client] = true
	}
	st.Sessions, st.Clients = len(sessions), len(names)
	return st
}

// Run accepts clients until ctx is done, then ends every session (their
// application connections are reset) and returns nil.
func (s *Server) Run(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("tlsproxy: listen: %w", err)
		}
	}
	s.log.Info("secure connect listening", "addr", ln.Addr().String(), "targets", s.targets, "ca_fingerprint", s.CAFingerprint())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		ln.Close()
	})
	wg.Go(func() {
		t := time.NewTicker(revokeCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.cutRevoked()
			}
		}
	})
	var runErr error
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, net.ErrClosed) {
				runErr = fmt.Errorf("tlsproxy: accept: %w", err)
				cancel()
				break
			}
			s.log.Warn("accept failed", "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		if !s.shakes.allow(raw.RemoteAddr(), time.Now()) {
			s.stats.refused.Add(1)
			s.logs.log(s.log, slog.LevelWarn, "handshakes over the rate limit: connection closed", "peer", raw.RemoteAddr().String(),
				"limit_per_second", s.cfg.HandshakeRate)
			raw.Close()
			continue
		}
		wg.Go(func() { s.serveConn(ctx, raw) })
	}
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.mu.sessions))
	for _, sess := range s.mu.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	var cw sync.WaitGroup
	for _, sess := range sessions {
		cw.Go(func() { sess.close(ErrClosed, true) })
	}
	cw.Wait()
	wg.Wait()
	return runErr
}

// serveConn authenticates one TLS connection, reads its hello, and runs it
// as a link of a new or existing session.
func (s *Server) serveConn(ctx context.Context, raw net.Conn) {
	peer := raw.RemoteAddr().String()
	wire := newWireConn(raw)
	tc := tls.Server(wire, s.tlsConf)
	_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		var op *net.OpError
		if errors.As(err, &op) || errors.Is(err, io.EOF) || ctx.Err() != nil {
			// The network, or the client (which did not trust us), ended it.
			s.logs.log(s.log, slog.LevelInfo, "TLS handshake failed", "peer", peer, "err", err)
			return
		}
		s.stats.refused.Add(1)
		s.logs.log(s.log, slog.LevelWarn, "client refused", "peer", peer, "reason", err.Error())
		return
	}
	cs := tc.ConnectionState()
	leaf := cs.PeerCertificates[0]
	name, owner := leaf.Subject.CommonName, sha256.Sum256(leaf.Raw)
	h, p, err := readFrame(tc)
	if err == nil && h.typ != frameHello {
		err = fmt.Errorf("%w: %s frame before hello", ErrProtocol, h.typ)
	}
	if err != nil {
		s.log.Warn("hello failed", "peer", peer, "client", name, "err", err)
		raw.Close()
		return
	}
	hel, _ := decodeHello(p) // validated by readFrame
	refuse := func(fatal bool, reason string) {
		s.stats.refused.Add(1)
		s.log.Warn("client refused", "peer", peer, "client", name, "reason", reason)
		_ = writeFrame(tc, frameRefuse, 0, refusal{fatal: fatal, reason: reason}.encode())
		raw.Close()
	}

	var sess *session
	var wel welcome
	switch hel.kind {
	case helloNew:
		target, err := s.resolveTarget(hel.target)
		if err != nil {
			refuse(true, err.Error())
			return
		}
		sess = s.newSession(ctx, name, owner, target, hel.cache)
		wel.session, wel.secret, _ = sess.identity()
		s.log.Info("session opened", "session", wel.session, "client", name, "peer", peer, "target", target,
			"tls", tls.VersionName(cs.Version))
	case helloAttach:
		var reason string
		if sess, reason = s.checkAttach(hel, owner, cs); reason != "" {
			refuse(false, reason)
			return
		}
		if err := sess.out.ack(hel.ack); err != nil {
			refuse(false, err.Error())
			return
		}
		wel.session = hel.session
		wel.ack = sess.in.delivered.Load()
		s.stats.reconnects.Add(1)
		s.log.Info("session resumed", "session", hel.session, "client", name, "peer", peer, "slot", hel.slot, "counter", hel.counter)
	}
	wel.cache = uint32(s.cfg.CacheBytes)
	if err := writeFrame(tc, frameWelcome, 0, wel.encode()); err != nil {
		raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	l := newLink(s.linkIDs.Add(1), hel.slot, tc, wire, s.cfg.Keepalive)
	err = sess.runLink(l)
	if ctx.Err() == nil && !sess.closed() {
		s.log.Info("link lost", "session", wel.session, "client", name, "slot", hel.slot, "err", err)
	}
}

// resolveTarget maps a client's requested target to an allowed one.
func (s *Server) resolveTarget(req string) (string, error) {
	if req == "" {
		return s.targets[0], nil
	}
	c, err := canonicalTarget(req)
	if err != nil {
		return "", fmt.Errorf("target not allowed: %w", err)
	}
	if !slices.Contains(s.targets, c) {
		return "", fmt.Errorf("target not allowed: %s", c)
	}
	return c, nil
}

// checkAttach decides whether a hello may attach a link to a session; a
// non-empty reason refuses it.
func (s *Server) checkAttach(hel hello, owner [32]byte, cs tls.ConnectionState) (*session, string) {
	s.mu.Lock()
	sess := s.mu.sessions[hel.session]
	s.mu.Unlock()
	if sess == nil || sess.closed() {
		return nil, "unknown session " + hel.session.String()
	}
	if sess.owner != owner {
		return nil, "session belongs to another client"
	}
	_, secret, _ := sess.identity()
	want, err := attachProof(secret, hel.session, hel.counter, hel.slot, cs)
	if err != nil {
		return nil, err.Error()
	}
	if !hmac.Equal(want[:], hel.mac[:]) {
		return nil, "bad resume proof"
	}
	if !sess.acceptCounter(hel.counter) {
		return nil, fmt.Sprintf("replayed resume: counter %d already used", hel.counter)
	}
	return sess, ""
}

func (s *Server) newSession(ctx context.Context, name string, owner [32]byte, target string, peerCache uint32) *session {
	p := sessionParams{outageLimit: s.cfg.OutageLimit, keepalive: s.cfg.Keepalive, cacheBytes: s.cfg.CacheBytes}
	sess := newSession(ctx, roleServer, p, s.log, s.pool, &s.stats)
	sess.client, sess.owner, sess.target = name, owner, target
	var id sessionID
	var secret [32]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	sess.establish(id, secret, peerCache)
	d := net.Dialer{Timeout: dialTimeout}
	sess.dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", target) }
	sess.onClose = func(_ *session, err error) {
		s.mu.Lock()
		delete(s.mu.sessions, id)
		s.mu.Unlock()
		s.log.Info("session closed", "session", id, "client", name, "reason", err)
	}
	s.mu.Lock()
	s.mu.sessions[id] = sess
	s.mu.Unlock()
	return sess
}

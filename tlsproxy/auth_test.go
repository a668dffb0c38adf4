package tlsproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/tlsproxy/linktest"
)

// runToError runs c until it returns (bounded by liveness).
func runToError(t *testing.T, c *Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), liveness)
	defer cancel()
	err := c.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("client kept running; want it to give up")
	}
	return err
}

func TestServerVerification(t *testing.T) {
	fx := getFixture(t)
	be := startBackend(t)
	srv, saddr, _ := runServer(t, be.addr, nil)
	otherCA, err := os.ReadFile(filepath.Join(fx.otherDir, caCertFile))
	if err != nil {
		t.Fatal(err)
	}
	certs, _, _ := splitPEM(otherCA)
	otherPin := Fingerprint(certs[0].Raw)

	bad := []struct {
		name   string
		edit   func(*ClientConfig)
		reason string
	}{
		{"CA file of another server", func(c *ClientConfig) { c.Fingerprint, c.CAFile = "", filepath.Join(fx.otherDir, caCertFile) }, "certificate signed by unknown authority"},
		{"fingerprint of another server", func(c *ClientConfig) { c.Fingerprint = otherPin }, "fingerprint mismatch"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c, _, rec := startClient(t, saddr, srv.CAFingerprint(), tc.edit)
			if err := runToError(t, c); !errors.Is(err, ErrUntrustedServer) {
				t.Fatalf("Run = %v, want ErrUntrustedServer", err)
			}
			rec.wait(t, "secure connect refused", tc.reason)
		})
	}

	good := []struct {
		name string
		edit func(*ClientConfig)
	}{
		{"CA fingerprint", nil},
		{"server fingerprint", func(c *ClientConfig) { c.Fingerprint = srv.CertFingerprint() }},
		{"CA file and hostname", func(c *ClientConfig) { c.Fingerprint, c.CAFile = "", filepath.Join(fx.dir, caCertFile) }},
		{"CA in the credential", func(c *ClientConfig) { c.Fingerprint = "" }},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			cl, caddr, _ := runClient(t, saddr, srv.CAFingerprint(), tc.edit)
			var p atomic.Int64
			if err := download(t.Context(), httpVia(caddr), 1, 1000, &p); err != nil {
				t.Fatal(err)
			}
			_ = cl
		})
	}
}

func TestUnknownClientRefused(t *testing.T) {
	fx := getFixture(t)
	be := startBackend(t)

	t.Run("credential from another CA", func(t *testing.T) {
		srv, saddr, srec := runServer(t, be.addr, nil)
		c, _, crec := startClient(t, saddr, srv.CAFingerprint(), func(c *ClientConfig) { c.Credential = fx.stranger })
		if err := runToError(t, c); !errors.Is(err, ErrRefused) {
			t.Fatalf("Run = %v, want ErrRefused", err)
		}
		srec.wait(t, "client refused", "not issued by this server")
		crec.wait(t, "secure connect refused")
		if srv.Stats().Sessions != 0 {
			t.Fatal("a session was opened for an unknown client")
		}
	})

	t.Run("revoked credential", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, fx.dir, dir)
		srv, saddr, srec := runServer(t, be.addr, func(c *ServerConfig) { c.Dir = dir })
		if err := srv.Revoke("bob"); err != nil {
			t.Fatal(err)
		}
		c, _, _ := startClient(t, saddr, srv.CAFingerprint(), func(c *ClientConfig) { c.Credential = fx.bob })
		if err := runToError(t, c); !errors.Is(err, ErrRefused) {
			t.Fatalf("Run = %v, want ErrRefused", err)
		}
		srec.wait(t, "client refused", `client "bob" has no credential on record`)
	})

	t.Run("no certificate", func(t *testing.T) {
		srv, saddr, srec := runServer(t, be.addr, nil)
		_ = srv
		conn, err := tls.Dial("tcp", saddr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			_, err = readFrameConn(conn)
			conn.Close()
		}
		if err == nil {
			t.Fatal("server accepted a client without a certificate")
		}
		srec.wait(t, "client refused", "certificate")
	})
}

func readFrameConn(c *tls.Conn) (header, error) {
	c.SetDeadline(time.Now().Add(liveness))
	if err := writeFrame(c, frameHello, 0, hello{kind: helloNew}.encode()); err != nil {
		return header{}, err
	}
	h, _, err := readFrame(c)
	return h, err
}

func TestForbiddenTargetRefused(t *testing.T) {
	be := startBackend(t)
	srv, saddr, srec := runServer(t, be.addr, nil)
	c, _, crec := startClient(t, saddr, srv.CAFingerprint(), func(c *ClientConfig) { c.Target = "127.0.0.1:22" })
	if err := runToError(t, c); !errors.Is(err, ErrRefused) {
		t.Fatalf("Run = %v, want ErrRefused", err)
	}
	srec.wait(t, "client refused", "target not allowed: 127.0.0.1:22")
	crec.wait(t, "secure connect refused", "target not allowed")
}

// TestResumeReplayRefused attaches a link to a live session by hand, then
// replays that attach: verbatim on a new connection (the proof is bound
// to the TLS connection), with a valid proof but the same counter, and
// with another client's certificate. All are refused with a logged
// reason, and the real client's session carries on.
func TestResumeReplayRefused(t *testing.T) {
	fx := getFixture(t)
	be := startBackend(t)
	srv, saddr, srec := runServer(t, be.addr, nil)
	cl, caddr, _ := runClient(t, saddr, srv.CAFingerprint(), nil)
	waitFor(t, "session", func() bool { return srv.Stats().Sessions == 1 && cl.Stats().Links == 1 })
	cl.mu.Lock()
	sess := cl.mu.sess
	cl.mu.Unlock()
	id, secret, _ := sess.identity()
	bobClient, _, _ := startClient(t, saddr, srv.CAFingerprint(), func(c *ClientConfig) { c.Credential = fx.bob })

	// attach dials with conf and sends the attach hello build makes for
	// that connection; it returns the hello bytes and the answer type.
	attach := func(conf *tls.Config, build func(tls.ConnectionState) []byte) ([]byte, frameType) {
		t.Helper()
		conn, err := tls.Dial("tcp", saddr, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(liveness))
		msg := build(conn.ConnectionState())
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		h, _, err := readFrame(conn)
		if err != nil {
			t.Fatal(err)
		}
		return msg, h.typ
	}
	proofFor := func(counter uint64) func(tls.ConnectionState) []byte {
		return func(cs tls.ConnectionState) []byte {
			mac, err := attachProof(secret, id, counter, 9, cs)
			if err != nil {
				t.Fatal(err)
			}
			hel := hello{kind: helloAttach, slot: 9, cache: DefaultCacheBytes, session: id, counter: counter, mac: mac}
			return appendFrame(nil, header{typ: frameHello}, hel.encode())
		}
	}

	counter := sess.attachCounter.Add(1)
	captured, typ := attach(cl.tlsConf, proofFor(counter))
	if typ != frameWelcome {
		t.Fatalf("genuine attach answered %s", typ)
	}
	if _, typ := attach(cl.tlsConf, func(tls.ConnectionState) []byte { return captured }); typ != frameRefuse {
		t.Fatalf("verbatim replay answered %s", typ)
	}
	srec.wait(t, "client refused", "bad resume proof")
	if _, typ := attach(cl.tlsConf, proofFor(counter)); typ != frameRefuse {
		t.Fatalf("replayed counter answered %s", typ)
	}
	srec.wait(t, "client refused", "replayed resume: counter")
	if _, typ := attach(bobClient.tlsConf, proofFor(sess.attachCounter.Add(1))); typ != frameRefuse {
		t.Fatalf("attach with another client's certificate answered %s", typ)
	}
	srec.wait(t, "client refused", "session belongs to another client")

	var p atomic.Int64
	if err := download(t.Context(), httpVia(caddr), 5, 1<<20, &p); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Sessions != 1 {
		t.Fatalf("server has %d sessions, want the original one", st.Sessions)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTLS12Resume: with a server limited to TLS 1.2, links still come up
// and resume (the attach proof needs the TLS exporter, which 1.2 has with
// extended master secret).
func TestTLS12Resume(t *testing.T) {
	fx := getFixture(t)
	be := startBackend(t)
	log, rec := newLogRecorder(t, "server")
	ln := listen(t)
	srv, err := NewServer(ServerConfig{Listener: ln, Dir: fx.dir, AllowedTargets: []string{be.addr}, Keepalive: testKeepalive, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.tlsConf.MaxVersion = tls.VersionTLS12
	runBackground(t, "server", srv.Run)
	proxy := linktest.New(t, ln.Addr().String())
	cl, caddr, _ := runClient(t, proxy.Addr(), srv.CAFingerprint(), nil)
	hc := httpVia(caddr)
	var p atomic.Int64
	if err := download(t.Context(), hc, 7, 1<<20, &p); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "session opened", "TLS 1.2")
	proxy.ResetAll()
	waitFor(t, "resume", func() bool { st := cl.Stats(); return st.Reconnects >= 1 && st.Links == 1 })
	if err := download(t.Context(), hc, 8, 1<<20, &p); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "session resumed")
}

// TestOwnServerCertificate: the user's own certificate and key serve TLS;
// client credentials still come from the CA in Dir.
func TestOwnServerCertificate(t *testing.T) {
	fx := getFixture(t)
	be := startBackend(t)
	srv, saddr, _ := runServer(t, be.addr, func(c *ServerConfig) {
		c.CertFile, c.KeyFile = filepath.Join(fx.otherDir, serverCertFile), filepath.Join(fx.otherDir, serverKeyFile)
	})
	if srv.CertFingerprint() == srv.CAFingerprint() {
		t.Fatal("fingerprints should differ")
	}
	_, caddr, _ := runClient(t, saddr, srv.CertFingerprint(), nil)
	var p atomic.Int64
	if err := download(t.Context(), httpVia(caddr), 9, 1<<20, &p); err != nil {
		t.Fatal(err)
	}
	// The CA in Dir did not sign this certificate: pinning it must fail.
	c, _, rec := startClient(t, saddr, srv.CAFingerprint(), nil)
	if err := runToError(t, c); !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("Run = %v, want ErrUntrustedServer", err)
	}
	rec.wait(t, "secure connect refused", "fingerprint mismatch")
}

// TestRevokeCutsLiveTunnel: a credential revoked while its client is
// connected (the record removed as another process, cairn admin, does)
// ends the client's session at once: the transfer in flight fails, the
// server holds no session, and the client's reconnection is refused.
func TestRevokeCutsLiveTunnel(t *testing.T) {
	fx := getFixture(t)
	be := startBackend(t)
	dir := t.TempDir()
	copyDir(t, fx.dir, dir)
	// A keepalive long enough that no link is replaced during the test:
	// the only way the tunnel can end is the revocation.
	srv, saddr, srec := runServer(t, be.addr, func(c *ServerConfig) { c.Dir, c.Keepalive = dir, 20*time.Second })
	c, caddr, _ := startClient(t, saddr, srv.CAFingerprint(), func(c *ClientConfig) { c.Credential, c.Keepalive = fx.bob, 20*time.Second })
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(t.Context()) }()

	var progress atomic.Int64
	upErr := make(chan error, 1)
	go func() { upErr <- upload(t.Context(), httpVia(caddr), 1, 8<<30, &progress) }()
	waitFor(t, "the upload to flow through a session", func() bool {
		st := srv.Stats()
		return progress.Load() > 4<<20 && st.Sessions == 1 && st.Links == 1
	})
	time.Sleep(time.Second) // well into it, on the one link
	if err := os.Remove(srv.auth.recordPath("bob")); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	select {
	case err := <-upErr:
		if err == nil {
			t.Fatal("the upload finished after the revocation")
		}
		t.Logf("upload cut %v after the revocation: %v", time.Since(cut).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("the upload went on after the revocation")
	}
	srec.wait(t, "client credential revoked: session ended, its connections reset", "bob")
	waitFor(t, "no session", func() bool { return srv.Stats().Sessions == 0 })
	select {
	case err := <-runErr:
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("client Run = %v, want ErrRefused", err)
		}
	case <-time.After(liveness):
		t.Fatal("the revoked client kept running")
	}
}

// TestHandshakeFloodShed: handshakes from one source beyond the rate are
// closed before they cost a signature, the log says so about once a second
// rather than once a connection, and a client gets through once the flood
// stops.
func TestHandshakeFloodShed(t *testing.T) {
	be := startBackend(t)
	srv, saddr, srec := runServer(t, be.addr, func(c *ServerConfig) { c.HandshakeRate, c.HandshakeBurst = 5, 5 })
	shed := 0
	for range 100 {
		conn, err := tls.Dial("tcp", saddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			shed++ // closed before the server said a word
			continue
		}
		conn.Close()
	}
	if shed < 80 {
		t.Fatalf("only %d of 100 handshakes in a burst were shed", shed)
	}
	srec.mu.Lock()
	lines := 0
	for _, r := range *srec.records {
		if strings.HasPrefix(r, "handshakes over the rate limit") || strings.HasPrefix(r, "client refused") || strings.HasPrefix(r, "TLS handshake failed") {
			lines++
		}
	}
	srec.mu.Unlock()
	if lines > 10 {
		t.Fatalf("%d log lines for one flood", lines)
	}
	time.Sleep(time.Second) // the bucket refills
	_, caddr, _ := runClient(t, saddr, srv.CAFingerprint(), nil)
	var progress atomic.Int64
	if err := upload(t.Context(), httpVia(caddr), 3, 1<<20, &progress); err != nil {
		t.Fatalf("a client after the flood: %v", err)
	}
	t.Logf("%d of 100 shed, %d log lines", shed, lines)
}

// TestFreshMulticonnectNoReconnects: a new tunnel of 4 connections reports
// no reconnect: a slot's first link is not one.
func TestFreshMulticonnectNoReconnects(t *testing.T) {
	be := startBackend(t)
	srv, saddr, _ := runServer(t, be.addr, nil)
	c, caddr, _ := runClient(t, saddr, srv.CAFingerprint(), func(c *ClientConfig) { c.Connections = 4 })
	var progress atomic.Int64
	if err := upload(t.Context(), httpVia(caddr), 4, 4<<20, &progress); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 links", func() bool { return srv.Stats().Links == 4 })
	if st := c.Stats(); st.Reconnects != 0 {
		t.Fatalf("a fresh 4-connection tunnel reports %d reconnects", st.Reconnects)
	}
}

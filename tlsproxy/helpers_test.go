package tlsproxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test timing: links die after 3 silent keepalives.
const (
	testKeepalive = 200 * time.Millisecond
	liveness      = 60 * time.Second // a bound that only a hang exceeds
)

// fixture holds the certificates every test shares: RSA 4096 keys take
// about a second each, so they are made once per test binary.
type fixture struct {
	dir      string // server Dir: CA, server cert, clients alice and bob
	alice    string // credential files
	bob      string
	otherDir string // another server's Dir (another CA)
	stranger string // a credential issued by the other CA
	root     string
}

// fixtureRoot is made by TestMain; fixtures fills it on first use.
var fixtureRoot string

var fixtures = sync.OnceValues(func() (*fixture, error) {
	root := fixtureRoot
	var err error
	fx := &fixture{root: root, dir: filepath.Join(root, "server"), otherDir: filepath.Join(root, "other")}
	issue := func(dir, name string) (string, error) {
		s, err := NewServer(ServerConfig{Dir: dir, AllowedTargets: []string{"127.0.0.1:1"}})
		if err != nil {
			return "", err
		}
		c, err := s.Issue(name)
		if err != nil {
			return "", err
		}
		path := filepath.Join(root, name+".pem")
		return path, c.WriteFile(path)
	}
	if fx.alice, err = issue(fx.dir, "alice"); err != nil {
		return nil, err
	}
	if fx.bob, err = issue(fx.dir, "bob"); err != nil {
		return nil, err
	}
	if fx.stranger, err = issue(fx.otherDir, "stranger"); err != nil {
		return nil, err
	}
	return fx, nil
})

func TestMain(m *testing.M) {
	var err error
	if fixtureRoot, err = os.MkdirTemp("", "tlsproxy-fixture-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(fixtureRoot)
	os.Exit(code)
}

func getFixture(t testing.TB) *fixture {
	t.Helper()
	fx, err := fixtures()
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// logRecorder keeps every log record for assertions and echoes it to the
// test output.
type logRecorder struct {
	slog.Handler
	mu      *sync.Mutex
	records *[]string
}

func newLogRecorder(t testing.TB, who string) (*slog.Logger, *logRecorder) {
	r := &logRecorder{
		Handler: slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}),
		mu:      new(sync.Mutex),
		records: new([]string),
	}
	return slog.New(r).With("who", who), r
}

func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	*r.records = append(*r.records, b.String())
	r.mu.Unlock()
	return r.Handler.Handle(ctx, rec)
}

func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{Handler: r.Handler.WithAttrs(as), mu: r.mu, records: r.records}
}

func (r *logRecorder) WithGroup(name string) slog.Handler {
	return &logRecorder{Handler: r.Handler.WithGroup(name), mu: r.mu, records: r.records}
}

// find returns the first record with message msg containing every sub.
func (r *logRecorder) find(msg string, subs ...string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, s := range *r.records {
		if !strings.HasPrefix(s, msg) {
			continue
		}
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				continue next
			}
		}
		return s, true
	}
	return "", false
}

// wait waits (bounded) for a record like find's.
func (r *logRecorder) wait(t testing.TB, msg string, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for time.Now().Before(deadline) {
		if s, ok := r.find(msg, subs...); ok {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log %q with %q", msg, subs)
	return ""
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// runServer starts a Server on 127.0.0.1 forwarding to target.
func runServer(t testing.TB, target string, edit func(*ServerConfig)) (*Server, string, *logRecorder) {
	t.Helper()
	fx := getFixture(t)
	log, rec := newLogRecorder(t, "server")
	ln := listen(t)
	cfg := ServerConfig{
		Listener:       ln,
		Dir:            fx.dir,
		AllowedTargets: []string{target},
		OutageLimit:    time.Minute,
		Keepalive:      testKeepalive,
		Logger:         log,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runBackground(t, "server", s.Run)
	return s, ln.Addr().String(), rec
}

// startClient makes a Client of server (fingerprint pinned) listening on
// 127.0.0.1; the caller runs it.
func startClient(t testing.TB, server, pin string, edit func(*ClientConfig)) (*Client, string, *logRecorder) {
	t.Helper()
	fx := getFixture(t)
	log, rec := newLogRecorder(t, "client")
	ln := listen(t)
	cfg := ClientConfig{
		Server:      server,
		Listener:    ln,
		Fingerprint: pin,
		Credential:  fx.alice,
		OutageLimit: time.Minute,
		Keepalive:   testKeepalive,
		Logger:      log,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, ln.Addr().String(), rec
}

// runClient is startClient plus Run in the background.
func runClient(t testing.TB, server, pin string, edit func(*ClientConfig)) (*Client, string, *logRecorder) {
	t.Helper()
	c, addr, rec := startClient(t, server, pin, edit)
	runBackground(t, "client", c.Run)
	return c, addr, rec
}

// runBackground runs fn until the test ends, then cancels it and checks
// it returned nil.
func runBackground(t testing.TB, what string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s Run: %v", what, err)
			}
		case <-time.After(liveness):
			t.Errorf("%s Run did not return", what)
		}
	})
}

// waitFor polls cond (bounded by liveness).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// genReader yields size bytes from a seeded generator.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
}

func newGen(seed uint64, size int64) *genReader {
	var s [32]byte
	copy(s[:], strconv.FormatUint(seed, 10))
	return &genReader{rng: rand.NewChaCha8(s), left: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.left -= int64(n)
	return n, nil
}

// progressReader counts bytes read through it.
type progressReader struct {
	r io.Reader
	n *atomic.Int64
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

// backend is the HTTP server behind the tunnel: PUT /upload answers
// "<sha256 hex> <length>"; GET /download?size=N&seed=S streams generated
// bytes and sends their SHA-256 in the X-Sha256 trailer.
type backend struct {
	addr      string
	uploadErr chan error // errors of interrupted uploads
}

func startBackend(t testing.TB) *backend {
	t.Helper()
	b := &backend{uploadErr: make(chan error, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			select {
			case b.uploadErr <- err:
			default:
			}
			return
		}
		fmt.Fprintf(w, "%s %d", hex.EncodeToString(h.Sum(nil)), n)
	})
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
		seed, _ := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
		w.Header().Set("Trailer", "X-Sha256")
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), newGen(seed, size)); err != nil {
			return
		}
		w.Header().Set("X-Sha256", hex.EncodeToString(h.Sum(nil)))
	})
	ln := listen(t)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b.addr = ln.Addr().String()
	return b
}

// httpVia returns an HTTP client whose every connection goes to addr.
func httpVia(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		DisableCompression: true,
	}}
}

// upload PUTs size generated bytes and checks the backend got them exactly.
func upload(ctx context.Context, hc *http.Client, seed uint64, size int64, progress *atomic.Int64) error {
	want := sha256.New()
	body := io.TeeReader(progressReader{newGen(seed, size), progress}, want)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://backend/upload", body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if w := fmt.Sprintf("%s %d", hex.EncodeToString(want.Sum(nil)), size); string(got) != w {
		return fmt.Errorf("backend received %q, sent %q", got, w)
	}
	return nil
}

// download GETs size generated bytes and checks them against the trailer.
func download(ctx context.Context, hc *http.Client, seed uint64, size int64, progress *atomic.Int64) error {
	url := fmt.Sprintf("http://backend/download?size=%d&seed=%d", size, seed)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, progressReader{resp.Body, progress})
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("received %d bytes, want %d", n, size)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), resp.Trailer.Get("X-Sha256"); got != want {
		return fmt.Errorf("received sha256 %s, backend sent %s", got, want)
	}
	return nil
}

// isReset reports whether err is what an application sees on an RST.
func isReset(err error) bool {
	return err != nil && !errors.Is(err, io.EOF) &&
		(strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

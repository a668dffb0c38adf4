package s3api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/cairn-backup/cairn/s3api/sigv2"
	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// Config configures the S3 handler.
type Config struct {
	// Region is the region clients sign for; "us-east-1" when empty.
	Region string
	// GroupRegions are the names of the non-default storage groups:
	// GetBucketLocation answers them, so clients may sign for them too.
	GroupRegions []string
	// Domain enables virtual-host-style requests: Host "bucket.<Domain>[:port]"
	// addresses bucket. Path-style requests always work.
	Domain string
	// Secret returns the secret key of an access key, false when unknown.
	Secret func(accessKey string) (string, bool)
	// Admin, when set, serves every path under /_cairn/ once SigV4
	// authentication succeeded (bucket names cannot contain '_', so the
	// prefix never shadows a bucket). The request's Body is the verified
	// payload; AccessKey(r.Context()) names the caller.
	Admin http.Handler
	// BearerPath is the one path under /_cairn/ (a Prometheus scrape,
	// whose client cannot sign) that also accepts GET with
	// "Authorization: Bearer <token>" in place of SigV4; Admin serves it
	// and finds BearerAuthenticated(r.Context()) true. No other path, and
	// no other method, is served without SigV4. "" disables it.
	BearerPath string
	// BearerToken is the token BearerPath accepts, compared in constant
	// time; when empty every bearer request is refused (AccessDenied).
	BearerToken string
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Observe, when set, is called once per request, after its access-log
	// line, with the same figures: for metrics. It runs on the request's
	// goroutine, so it must be cheap and must not block.
	Observe func(RequestStats)
	// Now is the clock for signature skew and default dates; nil = time.Now.
	Now func() time.Time
	// IdleTimeout ends a request whose client neither sends nor takes a
	// byte for this long (a stalled upload, a reader that stopped reading),
	// so that it cannot hold a writer's memory or a reader's chunks forever.
	// Transfers of any length run as long as bytes move. 0 means 2 minutes;
	// negative disables it.
	IdleTimeout time.Duration
	// MinRate is the slowest a client may send a body, in bytes a second,
	// measured over each IdleTimeout: a client that keeps a request open
	// with a byte now and then (never idle, never done) is cut off with
	// RequestTimeout. 0 means 1 KiB/s; negative disables it.
	MinRate int64
}

// DefaultConfig returns a Config with the defaults filled in; Secret must
// still be set.
func DefaultConfig() Config {
	return Config{Region: "us-east-1", Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	if c.Secret == nil {
		return errors.New("s3api: Config.Secret is nil: no request could authenticate")
	}
	if strings.ContainsAny(c.Domain, "/: ") {
		return errors.New("s3api: Config.Domain must be a bare host name (no scheme, port or path)")
	}
	return nil
}

// handler serves the S3 API for one Backend.
type handler struct {
	cfg    Config
	b      Backend
	auth   *sigv4.Verifier
	authV2 *sigv2.Verifier
	log    *slog.Logger
	now    func() time.Time
	router *mux.Router
	// bufs recycles the buffers that stream object bodies to clients.
	bufs sync.Pool
}

// NewHandler returns the S3 API over b. The handler is safe for concurrent use.
func NewHandler(cfg Config, b Backend) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("s3api: nil Backend")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.MinRate == 0 {
		cfg.MinRate = 1 << 10
	}
	cfg.Domain = strings.ToLower(strings.TrimSuffix(cfg.Domain, "."))
	h := &handler{
		cfg: cfg,
		b:   b,
		auth: &sigv4.Verifier{
			Region:      cfg.Region,
			AlsoRegions: cfg.GroupRegions,
			Secret:      cfg.Secret,
			Now:         cfg.Now,
		},
		log: cfg.Logger,
		now: cfg.Now,
	}
	h.authV2 = &sigv2.Verifier{Secret: cfg.Secret, Now: cfg.Now, HostBucket: h.hostBucket}
	h.router = h.routes()
	return h, nil
}

// reqState is what one request accumulates on its way through the handler.
// It travels in the request's context so that handlers, writeError and the
// access log share it without package-level state.
type reqState struct {
	id     string
	bucket string
	key    string
	auth   *sigv4.Auth
	// body counts what was read of the request body; linger says to read
	// what the client may still send after the answer (settleBody).
	body   *countingReader
	linger bool
	// err is the error that ended the request, set by writeError (or by a
	// handler that failed after the status was sent); the access log prints it.
	err error
	// code is the S3 error code answered, "" on success.
	code string
	// admin says the request is for the admin API (/_cairn/...), whose
	// errors are JSON.
	admin bool
	// op is the S3 operation of the route that took the request (its
	// name), "" until routed.
	op string
	// form is a browser form upload's form, read up to its file
	// (post.go); nil for every other request.
	form *postForm
	// What authorization found (authz.go): an unsigned request, a caller
	// that may not overwrite, the caller's owner identity, and the
	// request's condition keys (gathered once).
	anonymous          bool
	noOverwrite        bool
	ownerID, ownerName string
	conds              []Condition
	// acl is the ACL a write's headers set (aclgrants.go), nil for none.
	acl *ACLRequest
}

// The access log's code and status for a request whose client went away
// before it was answered (nginx's 499).
const (
	codeClientGone   = "ClientGone"
	statusClientGone = 499
)

type stateKey struct{}

func state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	// Handlers only run under ServeHTTP, which always sets the state; a
	// fresh one keeps a direct call (a test) from crashing.
	return &reqState{}
}

// AccessKey returns the access key a request authenticated with, for
// backends and the Admin handler that need the caller's identity.
func AccessKey(ctx context.Context) (string, bool) {
	st, ok := ctx.Value(stateKey{}).(*reqState)
	if !ok || st.auth == nil || st.anonymous {
		return "", false
	}
	return st.auth.AccessKey, true
}

// RequestID returns the request's x-amz-request-id, so that a backend's own
// log lines can be matched to the access log.
func RequestID(ctx context.Context) string {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return st.id
	}
	return ""
}

// ServeHTTP assigns the request ID, authenticates, resolves bucket and key,
// dispatches, and writes the one access-log line.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &reqState{id: newRequestID()}
	rw := &statusWriter{ResponseWriter: w}
	hdr := w.Header()
	hdr.Set("x-amz-request-id", st.id)
	hdr.Set("x-amz-id-2", newHostID())
	hdr.Set("Server", "Cairn")
	// A copy of the request from here on: net/http keeps the one it
	// passed, and reads its Body to learn whether the handler read the
	// body. Replaced there (by the idle reader), an Expect: 100-continue
	// request refused unread would leave net/http draining a body the
	// client never sends, the error unsent.
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	in := &countingReader{ReadCloser: r.Body}
	r.Body = in
	st.body = in
	if h.cfg.IdleTimeout > 0 {
		rc := http.NewResponseController(w)
		rw.idle = func() { _ = rc.SetWriteDeadline(time.Now().Add(h.cfg.IdleTimeout)) }
		r.Body = &idleReader{ReadCloser: r.Body, renew: func() { _ = rc.SetReadDeadline(time.Now().Add(h.cfg.IdleTimeout)) },
			window: h.cfg.IdleTimeout, minBytes: int64(float64(max(h.cfg.MinRate, 0)) * h.cfg.IdleTimeout.Seconds()), rate: h.cfg.MinRate, start: time.Now()}
		// One more idle period for what net/http writes after the handler
		// (its final flush, which on a stalled client must fail rather than
		// block for ever); the next request's writes renew it again.
		defer rw.idle()
	}

	func() {
		// A panicking backend must not take the connection down without a
		// word: the client gets InternalError and the log the request ID.
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			if rw.status == 0 {
				h.writeError(rw, r, err)
			}
			st.err, st.code = err, ErrInternalError.Code
		}()
		h.serve(rw, r, st)
	}()

	status := rw.status
	switch {
	case status == 0 && st.code == codeClientGone:
		status = statusClientGone
	case status == 0:
		status = http.StatusOK
	}
	dur := time.Since(start)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("bucket", st.bucket),
		slog.String("key", st.key),
		slog.Int("status", status),
		slog.Int64("bytes_in", in.n),
		slog.Int64("bytes_out", rw.bytes),
		slog.Duration("duration", dur),
		slog.String("req_id", st.id),
	}
	level := slog.LevelInfo
	if st.err != nil {
		attrs = append(attrs, slog.String("code", st.code), slog.Any("err", st.err))
		if st.code == ErrInternalError.Code {
			// The one place an unexpected error is logged, with the ID the
			// client saw in its error response.
			level = slog.LevelError
		}
	}
	h.log.LogAttrs(r.Context(), level, "s3 request", attrs...)
	if h.cfg.Observe != nil {
		h.cfg.Observe(RequestStats{Operation: h.operation(r, st), Status: status, Duration: dur, BytesIn: in.n, BytesOut: rw.bytes})
	}
	if st.linger {
		lingerBody(rw, in)
	}
	if rw.status == 0 && st.code == codeClientGone {
		// Nothing was written, and returning would make net/http answer
		// 200 OK: a client that only stalled (an idle timeout) would read
		// that its failed upload succeeded. Drop the connection instead.
		panic(http.ErrAbortHandler)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, st *reqState) {
	bucket, key, vhost := h.resolve(r)
	st.bucket, st.key = bucket, key
	st.admin = !vhost && (r.URL.Path == "/_cairn" || strings.HasPrefix(r.URL.Path, "/_cairn/"))

	if st.admin && h.cfg.BearerPath != "" && r.URL.Path == h.cfg.BearerPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if token, ok := bearerToken(r); ok {
			if err := h.checkBearer(token); err != nil {
				h.writeError(w, r, err)
				return
			}
			h.serveAdmin(w, r.WithContext(context.WithValue(r.Context(), bearerKey{}, true)), st)
			return
		}
	}
	if !st.admin && bucket != "" {
		// Browsers send a CORS preflight unsigned; an actual request
		// gets its Access-Control-* headers before anything can fail, so
		// that the page can read an error too (cors.go).
		if r.Method == http.MethodOptions {
			h.preflight(w, r)
			return
		}
		h.applyCORS(w, r, bucket)
	}
	var (
		auth *sigv4.Auth
		err  error
	)
	if !st.admin && isPostObject(r, st) {
		auth, err = h.authenticateForm(r, st) // signed in its form fields (post.go)
	} else {
		auth, err = h.authenticate(r)
	}
	if _, authz := h.b.(Authorizer); authz && !st.admin && errors.Is(err, sigv4.ErrAnonymous) {
		// An unsigned request goes on as the anonymous principal, whom
		// only a bucket policy or an ACL can grant anything (authz.go).
		auth, err = &sigv4.Auth{Body: r.Body, DecodedLength: r.ContentLength, Trailer: func() http.Header { return nil }}, nil
		st.anonymous = true
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	st.auth = auth

	if st.admin {
		r.Body = readCloser{auth.Body, r.Body}
		h.serveAdmin(w, r, st)
		return
	}
	if sub := unsupportedSubresource(r.URL.Query(), st.key != "", r.Method); sub != "" {
		h.writeError(w, r, ErrNotImplemented.WithMessagef("The %s subresource is not implemented by Cairn.", sub))
		return
	}
	if st.key != "" {
		// Encryption headers, parsed once for every object operation (sse.go).
		if r, err = withSSE(r); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	h.router.ServeHTTP(w, r)
}

// serveAdmin hands an authenticated request under /_cairn/ to Config.Admin.
func (h *handler) serveAdmin(w http.ResponseWriter, r *http.Request, st *reqState) {
	if h.cfg.Admin == nil {
		h.writeError(w, r, ErrNotImplemented.WithMessage("The admin API is not enabled on this server."))
		return
	}
	st.bucket, st.key = "", ""
	h.cfg.Admin.ServeHTTP(w, r)
}

// resolve finds the bucket and key a request addresses: from the Host when
// it is "<bucket>.<Domain>" (virtual-host style), else from the path.
// The path is the decoded one: S3 keys are the decoded path, so "%2F" and
// "/" name the same key, as on S3.
func (h *handler) resolve(r *http.Request) (bucket, key string, vhost bool) {
	if b := h.hostBucket(r.Host); b != "" {
		return b, strings.TrimPrefix(r.URL.Path, "/"), true
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key, false
}

// hostBucket returns the bucket of a virtual-host-style Host, "" otherwise.
func (h *handler) hostBucket(host string) string {
	if h.cfg.Domain == "" {
		return ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	b, ok := strings.CutSuffix(host, "."+h.cfg.Domain)
	if !ok {
		return ""
	}
	return b
}

// readCloser gives a verified payload the Close of the original body.
type readCloser struct {
	r io.Reader
	c io.Closer
}

func (rc readCloser) Read(p []byte) (int, error) { return rc.r.Read(p) }
func (rc readCloser) Close() error               { return rc.c.Close() }

// statusWriter records the status and the bytes written for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	idle   func() // renews the write deadline; nil when there is none
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.idle != nil {
		w.idle()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// idleReader renews the connection's read deadline before each read of a
// request body.
// countingReader counts the request body's bytes, for the access log.
type countingReader struct {
	io.ReadCloser
	n   int64
	eof bool // the body ended (or failed): nothing is left to drain
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	c.eof = c.eof || err != nil
	return n, err
}

// Reading the rest of a refused body. A request refused with its body
// half read (a quota reached mid-upload, a failed write) used to be
// answered and the connection closed while the client was still sending:
// the client's next writes met a reset, which on its side throws away the
// answer it had not read yet, so it saw "connection reset by peer" and
// retried, never the S3 error. net/http itself discards only 256 KiB. So
// the rest of such a body is read and dropped before the answer, up to
// drainBytes or drainTime (an upload of gigabytes is not worth reading to
// say no: past those the connection closes as before). A body not started
// on an Expect: 100-continue request is not asked for (reading it would
// send 100 Continue); the answer goes first, and then whatever the client
// sends anyway (its wait for 100 Continue ran out on a busy machine) is
// read while it keeps coming, lingerIdle at a time. Nor is the body of a
// client cut off for sending too slowly (RequestTimeout) read.
const (
	drainBytes = 64 << 20
	drainTime  = 5 * time.Second
	lingerIdle = 500 * time.Millisecond
)

// settleBody reads the rest of a refused request's body before its error
// is written, or reports that the body was never asked for and the
// client may send it all the same (lingerBody, after the answer).
func settleBody(w http.ResponseWriter, r *http.Request, body *countingReader, code string) (linger bool) {
	if body == nil || body.eof || r.ContentLength == 0 || code == ErrRequestTimeout.Code {
		return false
	}
	if body.n == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return true
	}
	discardBody(w, body, drainTime)
	return false
}

// lingerBody flushes the answer and reads what the client still sends,
// until it pauses for lingerIdle.
func lingerBody(w http.ResponseWriter, body *countingReader) {
	if err := http.NewResponseController(w).Flush(); err != nil {
		return
	}
	discardBody(w, body, lingerIdle)
}

// discardBody reads body until its end, drainBytes, drainTime, or a read
// that waits longer than idle. It reads below the idle reader, which
// would push the deadline on at every read; net/http sets the next
// request's own.
func discardBody(w http.ResponseWriter, body *countingReader, idle time.Duration) {
	rc := http.NewResponseController(w)
	end := time.Now().Add(drainTime)
	buf := make([]byte, 32<<10)
	for left := int64(drainBytes); left > 0; {
		next := time.Now().Add(idle)
		if next.After(end) {
			next = end
		}
		if err := rc.SetReadDeadline(next); err != nil {
			return
		}
		n, err := body.Read(buf[:min(int64(len(buf)), left)])
		left -= int64(n)
		if err != nil {
			return
		}
	}
}

type idleReader struct {
	io.ReadCloser
	renew func()
	// The rate check: at least minBytes in every window.
	window   time.Duration
	minBytes int64
	rate     int64     // bytes a second, for the message
	start    time.Time // of the current window
	n        int64     // bytes read in it
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.renew()
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	if now := time.Now(); r.minBytes > 0 && err == nil && now.Sub(r.start) >= r.window {
		if r.n < r.minBytes {
			return n, ErrRequestTimeout.WithMessagef("The client sent %d bytes of the body in %v, slower than the %d bytes a second the server requires.",
				r.n, now.Sub(r.start).Round(time.Millisecond), r.rate)
		}
		r.start, r.n = now, 0
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newRequestID returns 16 upper-case hex digits, the shape of S3's IDs.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// newHostID returns an x-amz-id-2 value. S3's identifies the serving host;
// ours is random, which is all clients need to quote it back.
func newHostID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// copyBufSize is the unit in which object bodies go to the client: large
// enough that a GET costs few syscalls, small enough to keep per-request
// memory bounded.
const copyBufSize = 256 << 10

func (h *handler) copyBuf() *[]byte {
	if b, ok := h.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBufSize)
	return &b
}

func (h *handler) putCopyBuf(b *[]byte) { h.bufs.Put(b) }

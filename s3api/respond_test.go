package s3api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api/checksum"
	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// TestS3Error covers every sentinel of sigv4 and checksum, and the standard
// library errors a request can end with.
func TestS3Error(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   string
		status int
	}{
		{sigv4.ErrAccessDenied, "AccessDenied", 403},
		{sigv4.ErrAnonymous, "AccessDenied", 403},
		{sigv4.ErrSignatureDoesNotMatch, "SignatureDoesNotMatch", 403},
		{&sigv4.SignatureError{AccessKey: "AK"}, "SignatureDoesNotMatch", 403},
		{sigv4.ErrInvalidAccessKeyID, "InvalidAccessKeyId", 403},
		{sigv4.ErrRequestTimeTooSkewed, "RequestTimeTooSkewed", 403},
		{&sigv4.SkewError{MaxSkew: time.Minute}, "RequestTimeTooSkewed", 403},
		{sigv4.ErrAuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", 400},
		{sigv4.ErrAuthorizationQueryParametersError, "AuthorizationQueryParametersError", 400},
		{sigv4.ErrSignatureVersionNotSupported, "InvalidRequest", 400},
		{sigv4.ErrXAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400},
		{sigv4.ErrIncompleteBody, "IncompleteBody", 400},
		{sigv4.ErrMalformedChunkedEncoding, "InvalidRequest", 400},
		{sigv4.ErrMissingContentLength, "MissingContentLength", 411},
		{sigv4.ErrInvalidArgument, "InvalidArgument", 400},
		{checksum.ErrBadDigest, "BadDigest", 400},
		{checksum.ErrInvalidDigest, "InvalidDigest", 400},
		{checksum.ErrChecksumMismatch, "BadDigest", 400},
		{&checksum.MismatchError{Algorithm: checksum.CRC32}, "BadDigest", 400},
		{checksum.ErrInvalidAlgorithm, "InvalidRequest", 400},
		{checksum.ErrInvalidChecksum, "InvalidRequest", 400},
		{checksum.ErrMultipleChecksums, "InvalidRequest", 400},
		{checksum.ErrMissingTrailer, "InvalidRequest", 400},
		{io.ErrUnexpectedEOF, "IncompleteBody", 400},
		{&http.MaxBytesError{Limit: 1}, "MaxMessageLengthExceeded", 400},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			for _, err := range []error{tc.err, fmt.Errorf("wrapped: %w", tc.err)} {
				e := s3Error(err)
				if e == nil || e.Code != tc.code || e.Status != tc.status {
					t.Fatalf("s3Error(%v) = %+v, want %s %d", err, e, tc.code, tc.status)
				}
			}
		})
	}
	if e := s3Error(errors.New("disk on fire")); e != nil {
		t.Fatalf("an unknown error mapped to %v", e)
	}
}

// logCapture collects log records as text.
type logCapture struct {
	buf bytes.Buffer
}

func (l *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logCapture) lines() []string {
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

// failingBackend answers HeadBucket with an unexpected error.
type failingBackend struct {
	Backend
	err error
}

func (f failingBackend) HeadBucket(ctx context.Context, name string) (BucketInfo, error) {
	return BucketInfo{}, f.err
}

func TestWriteErrorInternal(t *testing.T) {
	var logs logCapture
	e := newEnv(t, failingBackend{Backend: newFakeBackend(), err: errors.New("disk on fire")}, func(c *Config) { c.Logger = logs.logger() })
	resp, body := e.do("GET", "/bkt?location", nil, nil)
	wantStatus(t, resp, body, 500, "InternalError")
	id := resp.Header.Get("x-amz-request-id")
	if !contains(body, "<RequestId>"+id+"</RequestId>") || contains(body, "disk on fire") {
		t.Errorf("body %s (the cause must stay in the log)", body)
	}
	lines := logs.lines()
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs.buf.String())
	}
	for _, want := range []string{"level=ERROR", "req_id=" + id, `err="disk on fire"`, "status=500", "method=GET", "bucket=bkt"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line lacks %s: %s", want, lines[0])
		}
	}

	// HEAD errors carry no body.
	resp, body = e.do("HEAD", "/bkt", nil, nil)
	if resp.StatusCode != 500 || len(body) != 0 {
		t.Errorf("HEAD error: %d %q", resp.StatusCode, body)
	}
}

func TestAccessLog(t *testing.T) {
	var logs logCapture
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.Logger = logs.logger() })
	e.mustBucket("bkt")
	e.mustPut("bkt", "dir/k", "12345")
	logs.buf.Reset()
	resp, _ := e.do("GET", "/bkt/dir/k", nil, nil)
	lines := logs.lines()
	if len(lines) != 1 {
		t.Fatalf("%d lines:\n%s", len(lines), logs.buf.String())
	}
	for _, want := range []string{"level=INFO", "method=GET", "bucket=bkt", "key=dir/k", "status=200", "bytes_in=0", "bytes_out=5", "duration=", "req_id=" + resp.Header.Get("x-amz-request-id")} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line lacks %s: %s", want, lines[0])
		}
	}
	// A PUT's body counts in.
	logs.buf.Reset()
	e.do("PUT", "/bkt/up", []byte("1234567"), nil)
	if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], "bytes_in=7") {
		t.Errorf("a PUT of 7 bytes logs: %v", l)
	}
	logs.buf.Reset()
	e.do("GET", "/bkt/missing", nil, nil)
	if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], "level=INFO") || !strings.Contains(l[0], "code=NoSuchKey") || !strings.Contains(l[0], "status=404") {
		t.Errorf("client error line: %v", l)
	}
}

// TestClientGone checks that a request whose client went away gets no body.
func TestClientGone(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	req := httptest.NewRequest("GET", "http://"+e.srv.Listener.Addr().String()+"/bkt/k", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signWith(t, req, testAccessKey, testSecret)
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	rec := httptest.NewRecorder()
	// Nothing is written and the connection is dropped (net/http's
	// ErrAbortHandler): returning would make net/http answer 200 OK.
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("a gone client: the handler ended with %v, want http.ErrAbortHandler", v)
			}
		}()
		e.handler.ServeHTTP(rec, req.WithContext(ctx))
	}()
	if rec.Body.Len() != 0 {
		t.Fatalf("a gone client got %q", rec.Body.String())
	}
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	seen := map[string]bool{}
	for range 20 {
		resp, _ := e.do("GET", "/", nil, nil)
		id := resp.Header.Get("x-amz-request-id")
		if len(id) != 16 || seen[id] || resp.Header.Get("x-amz-id-2") == "" {
			t.Fatalf("request id %q (seen %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// panickyBackend panics in ListBuckets.
type panickyBackend struct{ Backend }

func (panickyBackend) ListBuckets(ctx context.Context) ([]BucketInfo, error) { panic("bug") }

func TestBackendPanic(t *testing.T) {
	var logs logCapture
	e := newEnv(t, panickyBackend{newFakeBackend()}, func(c *Config) { c.Logger = logs.logger() })
	resp, body := e.do("GET", "/", nil, nil)
	wantStatus(t, resp, body, 500, "InternalError")
	if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], "level=ERROR") || !strings.Contains(l[0], "panic: bug") {
		t.Fatalf("log: %v", l)
	}
}

package s3api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// corruptingTransport flips one byte of every PUT body at offset at, as a
// faulty link or proxy would.
type corruptingTransport struct {
	next http.RoundTripper
	at   int64
}

func (c corruptingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Body != nil {
		r = r.Clone(r.Context())
		r.Body = &flipReader{r: r.Body, at: c.at}
	}
	return c.next.RoundTrip(r)
}

type flipReader struct {
	r   io.ReadCloser
	off int64
	at  int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

// TestCorruptionInTransit: the SDK's default upload over TLS carries an
// unsigned payload and a CRC32 trailer; a byte flipped on the way must be
// BadDigest and must store nothing.
func TestCorruptionInTransit(t *testing.T) {
	e := newTLSEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	opts := e.client.Options()
	opts.HTTPClient = &http.Client{Transport: corruptingTransport{next: e.srv.Client().Transport, at: 1000}}
	opts.RetryMaxAttempts = 1
	bad := s3.New(opts)
	_, err := bad.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(make([]byte, 64<<10))})
	if apiCode(err) != "BadDigest" {
		t.Fatalf("corrupted upload: %v", err)
	}
	_, err = e.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err == nil {
		t.Fatal("a corrupted upload was stored")
	}
}

func TestPresigned(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	ps := s3.NewPresignClient(e.client)
	ctx := t.Context()
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("shared")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader([]byte("via url")))
	for k, vs := range put.SignedHeader {
		req.Header[k] = vs
	}
	resp, body := e.send(req)
	wantStatus(t, resp, body, 200, "")
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(get.Method, get.URL, nil)
	resp, body = e.send(req)
	if resp.StatusCode != 200 || string(body) != "via url" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, body)
	}
}

// lazyBackend acknowledges writes without reading the body.
type lazyBackend struct{ *fakeBackend }

func (lazyBackend) PutObject(ctx context.Context, in PutObjectInput) (ObjectInfo, error) {
	return ObjectInfo{ETag: "0"}, nil
}

// lossyBackend reads the body but reports a read error without %w, so the
// cause is lost in its error.
type lossyBackend struct{ *fakeBackend }

func (lossyBackend) PutObject(ctx context.Context, in PutObjectInput) (ObjectInfo, error) {
	if _, err := io.Copy(io.Discard, in.Body); err != nil {
		return ObjectInfo{}, fmt.Errorf("store: %v", err)
	}
	return ObjectInfo{ETag: "0"}, nil
}

func TestBackendBodyHandling(t *testing.T) {
	e := newEnv(t, lazyBackend{newFakeBackend()})
	resp, body := e.do("PUT", "/bkt/k", []byte("data"), nil)
	wantStatus(t, resp, body, 500, "InternalError")

	e = newEnv(t, lossyBackend{newFakeBackend()})
	resp, body = e.do("PUT", "/bkt/k", []byte("data"), http.Header{"Content-Md5": {contentMD5([]byte("other"))}})
	wantStatus(t, resp, body, 400, "BadDigest")
}

func TestPayloadResult(t *testing.T) {
	p := &payload{}
	if err := p.result(nil); err == nil {
		t.Error("unread payload accepted")
	}
	p.eof = true
	if err := p.result(nil); err != nil {
		t.Error(err)
	}
	boom := errors.New("boom")
	if err := p.result(boom); err != boom {
		t.Errorf("backend error lost: %v", err)
	}
	p.fail(io.ErrUnexpectedEOF)
	if err := p.result(boom); !errors.Is(err, ErrIncompleteBody) {
		t.Errorf("payload error did not win: %v", err)
	}
}

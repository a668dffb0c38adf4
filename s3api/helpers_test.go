package s3api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	testRegion    = "us-east-1"
	testAccessKey = "AKIACAIRNTEST"
	testSecret    = "cairn-test-secret-key"
)

func testSecrets(ak string) (string, bool) {
	if ak == testAccessKey {
		return testSecret, true
	}
	return "", false
}

// testEnv is a handler over a fake backend behind a real HTTP server on
// 127.0.0.1, with an SDK client and a raw-request signer pointed at it.
type testEnv struct {
	t       testing.TB
	backend Backend
	fake    *fakeBackend // nil when backend is not a fakeBackend
	handler http.Handler
	srv     *httptest.Server
	client  *s3.Client
}

type envOption func(*Config)

// newEnv starts a plain-HTTP server. Over plain HTTP the SDK sends its
// default CRC32 as a header and signs the payload hash.
func newEnv(t testing.TB, b Backend, opts ...envOption) *testEnv {
	return startEnv(t, b, false, opts...)
}

// newTLSEnv starts an HTTPS server. Over TLS the SDK streams uploads as
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer, its default.
func newTLSEnv(t testing.TB, b Backend, opts ...envOption) *testEnv {
	return startEnv(t, b, true, opts...)
}

func startEnv(t testing.TB, b Backend, useTLS bool, opts ...envOption) *testEnv {
	t.Helper()
	cfg := Config{
		Region: testRegion,
		Secret: testSecrets,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := NewHandler(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	e := &testEnv{t: t, backend: b, handler: h, srv: srv}
	e.fake, _ = b.(*fakeBackend)
	e.client = s3.New(s3.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		HTTPClient:   srv.Client(),
		// What config.LoadDefaultConfig resolves by default; s3.New alone
		// would leave them unset and send no checksums at all.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	return e
}

// do sends a request signed with SigV4 (header auth, payload hash signed)
// and returns the response with its body read.
func (e *testEnv) do(method, path string, body []byte, hdr http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signWith(e.t, req, testAccessKey, testSecret)
	return e.send(req)
}

// signWith signs req in place with SigV4; X-Amz-Content-Sha256 must be set.
func signWith(t testing.TB, req *http.Request, ak, secret string) {
	t.Helper()
	sign(t, req, ak, secret, testRegion)
}

// signRegion signs req with the test key for another region.
func signRegion(t testing.TB, req *http.Request, region string) {
	t.Helper()
	sign(t, req, testAccessKey, testSecret, region)
}

func sign(t testing.TB, req *http.Request, ak, secret, region string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: ak, SecretAccessKey: secret}
	hash := req.Header.Get("X-Amz-Content-Sha256")
	// S3 signs the path as sent: no second round of URI escaping.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(t.Context(), creds, req, hash, "s3", region, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) send(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, data
}

// mustBucket creates a bucket through the handler.
func (e *testEnv) mustBucket(name string) {
	e.t.Helper()
	if _, err := e.client.CreateBucket(e.t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		e.t.Fatal(err)
	}
}

// mustPut stores an object through the handler.
func (e *testEnv) mustPut(bucket, key, data string) *s3.PutObjectOutput {
	e.t.Helper()
	out, err := e.client.PutObject(e.t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(data))})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// errorCode extracts <Code> from an S3 error document.
func errorCode(body []byte) string {
	var doc errorDoc
	if err := decodeXML(body, &doc); err != nil {
		return ""
	}
	return doc.Code
}

func wantStatus(t testing.TB, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if code != "" {
		if got := errorCode(body); got != code {
			t.Fatalf("error code %q, want %q; body %s", got, code, body)
		}
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

package s3api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestConfigValidate(t *testing.T) {
	if _, err := NewHandler(Config{}, newFakeBackend()); err == nil || !strings.Contains(err.Error(), "Secret") {
		t.Errorf("no Secret: %v", err)
	}
	if _, err := NewHandler(Config{Secret: testSecrets, Domain: "http://x"}, newFakeBackend()); err == nil {
		t.Error("a Domain with a scheme was accepted")
	}
	if _, err := NewHandler(Config{Secret: testSecrets}, nil); err == nil {
		t.Error("nil backend accepted")
	}
	if _, err := NewHandler(DefaultConfig(), newFakeBackend()); err == nil {
		t.Error("DefaultConfig without Secret accepted")
	}
}

// TestVirtualHost drives the SDK in virtual-host style: every request goes
// to 127.0.0.1, with Host "<bucket>.s3.cairn.test".
func TestVirtualHost(t *testing.T) {
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.Domain = "s3.cairn.test" })
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	addr := e.srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := s3.New(s3.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String("http://s3.cairn.test:" + port),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		HTTPClient:   &http.Client{Transport: tr},
	})
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("_cairn/a//b"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	if e.fake.lastPut.Bucket != "vhost" || e.fake.lastPut.Key != "_cairn/a//b" {
		t.Fatalf("vhost put reached %q %q", e.fake.lastPut.Bucket, e.fake.lastPut.Key)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("vhost list: %v %+v", err, out)
	}
	// Path style still works on the same server.
	if _, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vhost"), Key: aws.String("_cairn/a//b")}); err != nil {
		t.Fatal(err)
	}
}

func TestAdmin(t *testing.T) {
	var gotKey, gotBody, gotPath string
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey, _ = AccessKey(r.Context())
		b, _ := io.ReadAll(r.Body)
		gotBody, gotPath = string(b), r.URL.Path
		w.WriteHeader(http.StatusTeapot)
	})
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.Admin = admin })
	resp, _ := e.do("POST", "/_cairn/quota", []byte(`{"limit":1}`), nil)
	if resp.StatusCode != http.StatusTeapot || gotKey != testAccessKey || gotBody != `{"limit":1}` || gotPath != "/_cairn/quota" {
		t.Fatalf("admin: %d key %q body %q path %q", resp.StatusCode, gotKey, gotBody, gotPath)
	}
	// Unauthenticated admin requests never reach it.
	gotPath = ""
	req, _ := http.NewRequest("GET", e.srv.URL+"/_cairn/quota", nil)
	resp, body := e.send(req)
	// The admin API's refusals are JSON, like its answers.
	wantAdminError(t, resp, body, 403, "AccessDenied")
	if gotPath != "" {
		t.Fatal("anonymous request reached the admin handler")
	}
	// Without an Admin handler the prefix is not implemented.
	e2 := newEnv(t, newFakeBackend())
	resp, body = e2.do("GET", "/_cairn/quota", nil, nil)
	wantAdminError(t, resp, body, 501, "NotImplemented")
}

func wantAdminError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct{ Error, Code string }
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e.Code != code || e.Error == "" {
		t.Fatalf("status %d (%s), body %s; want %d and JSON with code %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, status, code)
	}
}

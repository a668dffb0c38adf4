package replicator

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/cairn-backup/cairn/chunkstore"
)

// TestPeerSignsRequests re-signs what the server received, over the
// headers the request says it signed, and compares: every request is
// SigV4 (s3, UNSIGNED-PAYLOAD) with the replica's credentials, and says
// its body's length (the handler reads a body of known length in one go).
func TestPeerSignsRequests(t *testing.T) {
	var mu sync.Mutex
	var problems []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if p := checkSignature(r); p != "" {
			problems = append(problems, r.URL.Path+": "+p)
		}
		if r.ContentLength < 0 {
			problems = append(problems, r.URL.Path+": body sent chunked, without its length")
		}
		switch r.URL.Path {
		case PathPrefix + "hello":
			writeJSON(w, Hello{Protocol: ProtocolVersion, RecordFormat: RecordFormat})
		case PathPrefix + "transfers":
			writeJSON(w, transferBody{ID: "t1"})
		default:
			writeBinary(w, http.StatusOK, nil)
		}
	}))
	defer srv.Close()
	p := NewPeer(srv.URL, "AKREPLICA", "secret", "eu-west-1", srv.Client(), PeerOptions{})
	ctx := t.Context()
	if _, err := p.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.NewTransfer(ctx, "replica"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Need(ctx, "t1", []chunkstore.ChunkID{{1}, {2}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

// checkSignature says what is wrong with r's signature, or "".
func checkSignature(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKREPLICA/") || !strings.Contains(auth, "/eu-west-1/s3/aws4_request") {
		return "authorization " + auth
	}
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != unsignedPayload {
		return "payload hash " + got
	}
	_, signed, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return "no SignedHeaders"
	}
	signed, _, _ = strings.Cut(signed, ",")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err.Error()
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	again.ContentLength = r.ContentLength
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			again.Header.Set(h, r.Header.Get(h))
		}
	}
	again.Header.Del("X-Amz-Date")
	creds := aws.Credentials{AccessKeyID: "AKREPLICA", SecretAccessKey: "secret"}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, again, unsignedPayload, "s3", "eu-west-1", at); err != nil {
		return err.Error()
	}
	if again.Header.Get("Authorization") != auth {
		return "signature does not verify: got " + auth + ", want " + again.Header.Get("Authorization")
	}
	return ""
}

// TestPeerReadsS3Errors: an answer from the gateway's S3 layer (the
// handler never saw the request) still gives a PeerError with its code.
func TestPeerReadsS3Errors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message></Error>`))
	}))
	defer srv.Close()
	_, err := NewPeer(srv.URL, "k", "s", "us-east-1", srv.Client(), PeerOptions{}).NewTransfer(t.Context(), "replica")
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Status != 403 || pe.Code != "SignatureDoesNotMatch" {
		t.Fatalf("%v, want 403 SignatureDoesNotMatch", err)
	}
}

// TestPeerLinkErrorIsNotPeerError: a broken link is not an answer.
func TestPeerLinkErrorIsNotPeerError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := NewPeer(url, "k", "s", "us-east-1", nil, PeerOptions{}).Hello(t.Context())
	var pe *PeerError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("%v, want a transport error", err)
	}
}

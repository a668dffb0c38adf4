package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The example credentials of AWS's SigV4 documentation.
const (
	testAccessKey = "AKIAIOSFODNN7EXAMPLE"
	testSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion    = "us-east-1"
)

var testCreds = aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}

// testTime is the signing time of hand-signed requests; verifiers in those
// tests run at testTime unless a test moves the clock.
var testTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func testSecrets(ak string) (string, bool) {
	if ak == testAccessKey {
		return testSecret, true
	}
	return "", false
}

func newTestVerifier(now time.Time) *Verifier {
	return &Verifier{Region: testRegion, Secret: testSecrets, Now: func() time.Time { return now }}
}

// s3Signer signs as the S3 client does: no second escaping of the path.
func s3Signer() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// signRequest signs req with aws-sdk-go-v2's SigV4 signer at when.
func signRequest(t testing.TB, req *http.Request, payloadHash string, when time.Time) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := s3Signer().SignHTTP(context.Background(), testCreds, req, payloadHash, "s3", testRegion, when); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// overTheWire returns req as a server sees it: written in HTTP/1.1 wire
// form and read back with net/http's own parser, so that RequestURI, Host,
// header canonicalisation and Content-Length are what a handler gets.
func overTheWire(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("reading request back: %v", err)
	}
	return sr
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// chunkedBody describes a hand-built aws-chunked body. Signatures are
// computed from the spec: data chunks with aws-sdk-go-v2's StreamSigner
// (its event-stream string to sign with empty headers is exactly the
// chunk string to sign), the trailer here from the documented form.
type chunkedBody struct {
	chunks  [][]byte
	trailer [][2]string // name, value
	mode    chunkMode
}

func (cb chunkedBody) contentSHA256() string {
	switch cb.mode {
	case signedChunks:
		return streamingPayload
	case signedChunksTrailer:
		return streamingPayloadTrailer
	}
	return streamingUnsignedTrailer
}

func (cb chunkedBody) decodedLength() int {
	n := 0
	for _, c := range cb.chunks {
		n += len(c)
	}
	return n
}

// encode builds the wire body for the request signature seed.
func (cb chunkedBody) encode(t testing.TB, seed string, when time.Time) []byte {
	t.Helper()
	signed := cb.mode != unsignedChunksTrailer
	var ss *v4.StreamSigner
	prev := seed
	if signed {
		seedBytes, err := hex.DecodeString(seed)
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		ss = v4.NewStreamSigner(testCreds, "s3", testRegion, seedBytes)
	}
	var b bytes.Buffer
	for _, c := range append(cb.chunks, nil) {
		fmt.Fprintf(&b, "%x", len(c))
		if signed {
			sig, err := ss.GetSignature(context.Background(), nil, c, when)
			if err != nil {
				t.Fatalf("chunk signature: %v", err)
			}
			prev = hex.EncodeToString(sig)
			b.WriteString(";chunk-signature=" + prev)
		}
		b.WriteString("\r\n")
		if len(c) > 0 {
			b.Write(c)
			b.WriteString("\r\n")
		}
	}
	if cb.mode == signedChunks {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var canon strings.Builder
	for _, kv := range cb.trailer {
		b.WriteString(kv[0] + ":" + kv[1] + "\r\n")
		canon.WriteString(kv[0] + ":" + kv[1] + "\n")
	}
	if signed {
		b.WriteString("x-amz-trailer-signature:" + trailerSignature(when, prev, canon.String()) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// trailerSignature computes HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n date\n
// scope\n prev\n hex(sha256(canonical trailer))") from the spec.
func trailerSignature(when time.Time, prev, canonical string) string {
	when = when.UTC()
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	date := when.Format(dateFormat)
	key := mac(mac(mac(mac([]byte("AWS4"+testSecret), date), testRegion), "s3"), "aws4_request")
	sum := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + when.Format(timeFormat) + "\n" + date + "/" + testRegion + "/s3/aws4_request\n" + prev + "\n" + hex.EncodeToString(sum[:])
	return hex.EncodeToString(mac(key, sts))
}

// damage spoils a chunked request. edit rewrites the encoded body; it must
// change the body's length the same way whatever the signatures are,
// because Content-Length is signed before the signatures exist. cut > 0
// drops the connection after cut body bytes (Content-Length stays).
type damage struct {
	edit func(body []byte) []byte
	cut  int
}

// chunkedRequest returns a PUT of cb signed at when, as the server sees it.
func chunkedRequest(t testing.TB, cb chunkedBody, when time.Time, d damage) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/chunked%20object.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(cb.decodedLength()))
	if len(cb.trailer) > 0 {
		names := make([]string, len(cb.trailer))
		for i, kv := range cb.trailer {
			names[i] = kv[0]
		}
		req.Header.Set("X-Amz-Trailer", strings.Join(names, ","))
	}
	dummy := cb.encode(t, strings.Repeat("0", 64), when)
	if d.edit != nil {
		dummy = d.edit(dummy)
	}
	req.ContentLength = int64(len(dummy))
	signRequest(t, req, cb.contentSHA256(), when)
	auth := req.Header.Get("Authorization")
	seed := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	body := cb.encode(t, seed, when)
	if d.edit != nil {
		body = d.edit(body)
	}
	if len(body) != len(dummy) {
		t.Fatalf("damage.edit changed the length by signature: %d vs %d", len(body), len(dummy))
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	raw := wire.Bytes()
	if d.cut > 0 {
		raw = raw[:len(raw)-len(body)+d.cut]
	}
	sr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("reading request back: %v", err)
	}
	return sr
}

// readAllChunks reads r with reads of size n and returns the bytes and the
// first error other than io.EOF.
func readAllChunks(r io.Reader, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, n)
	for {
		m, err := r.Read(buf)
		out = append(out, buf[:m]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

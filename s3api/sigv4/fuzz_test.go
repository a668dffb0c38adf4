package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fuzzChain is the signing chain of the fuzz targets' signed bodies.
func fuzzChain() *chainState {
	cred := credential{accessKey: testAccessKey, date: "20240301", region: testRegion, service: "s3"}
	return &chainState{key: signingKey(testSecret, cred), amzDate: "20240301T120000Z", scope: cred.scope(),
		seed: strings.Repeat("ab", 32)}
}

// encodeChunks is a second, independent encoder for the fuzz target: it
// signs payload cut into chunks of size n under cs.
func encodeChunks(cs *chainState, mode chunkMode, payload []byte, n int, trailer string) []byte {
	signed := mode != unsignedChunksTrailer
	prev := cs.seed
	sign := func(sts string) string {
		m := hmac.New(sha256.New, cs.key)
		m.Write([]byte(sts))
		return hex.EncodeToString(m.Sum(nil))
	}
	var b bytes.Buffer
	for {
		c := payload[:min(n, len(payload))]
		payload = payload[len(c):]
		fmt.Fprintf(&b, "%x", len(c))
		if signed {
			prev = sign("AWS4-HMAC-SHA256-PAYLOAD\n" + cs.amzDate + "\n" + cs.scope + "\n" + prev + "\n" + emptySHA256 + "\n" + sha256Hex(c))
			b.WriteString(";chunk-signature=" + prev)
		}
		b.WriteString("\r\n")
		if len(c) == 0 {
			break
		}
		b.Write(c)
		b.WriteString("\r\n")
	}
	if mode == signedChunks {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	if trailer != "" {
		b.WriteString(trailer + "\r\n")
	}
	if signed {
		canon := ""
		if trailer != "" {
			canon = trailer + "\n"
		}
		b.WriteString("x-amz-trailer-signature:" + sign("AWS4-HMAC-SHA256-TRAILER\n"+cs.amzDate+"\n"+cs.scope+"\n"+prev+"\n"+sha256Hex([]byte(canon))) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// FuzzChunkedReader feeds the aws-chunked decoder arbitrary bodies (op bit
// 7 clear) and valid signed bodies with one byte changed (op bit 7 set).
// It must never panic, never return more bytes than the body held or the
// declared length allows, never loop without progress, keep its buffer
// proportional to the bytes it was sent, fail only with its sentinels, and
// for a damaged signed body either fail or return exactly the payload.
func FuzzChunkedReader(f *testing.F) {
	cs := fuzzChain()
	payload := []byte("The quick brown fox jumps over the lazy dog; 0123456789")
	for mode := range chunkMode(3) {
		body := encodeChunks(cs, mode, payload, 16, "x-amz-checksum-crc32:AAAAAA==")
		f.Add(body, uint8(mode), uint16(7), int32(len(payload)))
		f.Add(body, uint8(mode), uint16(4096), int32(-1))
		f.Add(payload, uint8(mode)|0x80, uint16(9), int32(100))
	}
	f.Add([]byte("ffffffffffffffff;chunk-signature="+strings.Repeat("0", 64)+"\r\n"), uint8(0), uint16(10), int32(-1))
	f.Add([]byte("1000000\r\nabc"), uint8(2), uint16(10), int32(-1))
	f.Add([]byte("0\r\n\r\n"), uint8(2), uint16(1), int32(0))
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\n"), uint8(2), uint16(2), int32(3))

	f.Fuzz(func(t *testing.T, data []byte, op uint8, readSize uint16, declared int32) {
		mode := chunkMode(op&0x7f) % 3
		tamper := op&0x80 != 0
		body := data
		if tamper {
			// data is the payload; readSize picks the chunk size and the
			// byte to change, declared the change.
			body = encodeChunks(cs, mode, data, 1+int(readSize%97), "x-amz-checksum-sha256:"+sha256Hex(data)[:44])
			if i := int(readSize) % len(body); declared&0xff != 0 {
				body = bytes.Clone(body)
				body[i] ^= byte(declared)
			}
			declared = int32(len(data))
		}
		decl := int64(declared)
		if decl < 0 {
			decl = -1
		}
		cr := newChunkedReader(bytes.NewReader(body), mode, cs, decl, nil)
		buf := make([]byte, 1+int(readSize%8192))
		var out []byte
		var err error
		for reads := 0; ; reads++ {
			var n int
			n, err = cr.Read(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Read returned %d for a %d-byte buffer", n, len(buf))
			}
			out = append(out, buf[:n]...)
			if err != nil {
				break
			}
			if n == 0 || reads > len(body)+2 {
				t.Fatalf("Read made no progress (%d bytes, read %d)", n, reads)
			}
		}
		if len(out) > len(body) {
			t.Fatalf("decoded %d bytes from a %d-byte body", len(out), len(body))
		}
		if decl >= 0 && int64(len(out)) > decl {
			t.Fatalf("decoded %d bytes, more than the declared %d", len(out), decl)
		}
		if err == io.EOF && decl >= 0 && int64(len(out)) != decl {
			t.Fatalf("EOF after %d bytes, declared %d", len(out), decl)
		}
		if limit := 2*len(body) + minChunkBuffer; cap(cr.buf) > limit {
			t.Fatalf("chunk buffer of %d bytes for a %d-byte body", cap(cr.buf), len(body))
		}
		if err != io.EOF && !errors.Is(err, ErrMalformedChunkedEncoding) && !errors.Is(err, ErrIncompleteBody) && !errors.Is(err, ErrSignatureDoesNotMatch) {
			t.Fatalf("error outside the sentinels: %v", err)
		}
		if cr.Trailer() != nil && err != io.EOF {
			t.Fatalf("Trailer() = %v after %v", cr.Trailer(), err)
		}
		if again, err2 := cr.Read(buf); again != 0 || err2 != err {
			t.Fatalf("Read after the end: %d, %v; want 0, %v", again, err2, err)
		}
		if tamper && mode != unsignedChunksTrailer && err == io.EOF && !bytes.Equal(out, data) {
			t.Fatalf("a damaged signed body decoded to %q, want %q or an error", out, data)
		}
	})
}

// FuzzParseAuthorization feeds the Authorization header parser, and
// Authenticate, arbitrary header values: no panic, a parse that succeeds
// yields well-formed parts that survive a round trip, and Authenticate
// fails with one of the sentinels (no value found by a fuzzer verifies).
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240301/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + strings.Repeat("0a", 32),
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		"AWS4-HMAC-SHA256 Credential=a/b/c/20240301/eu-west-1/s3/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("F", 64),
		"AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=",
		"AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3/aws4_request, Credential=x",
		"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
		"AWS4-ECDSA-P256-SHA256 Credential=AKID/20240301/s3/aws4_request",
		"AWS4-HMAC-SHA256",
		"",
	} {
		f.Add(s)
	}
	v := newTestVerifier(testTime)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAuthorization(s)
		if err == nil {
			if len(a.signature) != 64 || strings.ToLower(a.signature) != a.signature {
				t.Fatalf("signature %q", a.signature)
			}
			if len(a.signedHeaders) == 0 || a.cred.accessKey == "" || a.cred.region == "" || a.cred.service == "" || len(a.cred.date) != 8 {
				t.Fatalf("parsed %+v", a)
			}
			for _, h := range a.signedHeaders {
				if !isLowerToken(h) {
					t.Fatalf("signed header %q", h)
				}
			}
			again := algorithm + " Credential=" + a.cred.accessKey + "/" + a.cred.scope() +
				", SignedHeaders=" + strings.Join(a.signedHeaders, ";") + ", Signature=" + a.signature
			b, err := parseAuthorization(again)
			if err != nil || fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("round trip of %q: %+v, %v; was %+v", again, b, err, a)
			}
		} else if !errors.Is(err, ErrAuthorizationHeaderMalformed) {
			t.Fatalf("parse error outside the sentinel: %v", err)
		}

		req, rerr := http.NewRequest(http.MethodGet, "http://localhost/bucket/key", nil)
		if rerr != nil {
			t.Fatal(rerr)
		}
		req.Header.Set("X-Amz-Date", "20240301T120000Z")
		req.Header["Authorization"] = []string{s}
		_, err = v.Authenticate(req)
		for _, sentinel := range []error{ErrAuthorizationHeaderMalformed, ErrSignatureVersionNotSupported, ErrInvalidAccessKeyID,
			ErrSignatureDoesNotMatch, ErrAccessDenied, ErrInvalidArgument} {
			if errors.Is(err, sentinel) {
				return
			}
		}
		t.Fatalf("Authenticate with Authorization %q: %v", s, err)
	})
}

package sigv4

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAWSDocStreamingExample replays the example of "Signature Calculations
// for the Authorization Header: Transferring Payload in Multiple Chunks":
// a PUT of 66560 'a's in chunks of 64 KiB and 1 KiB, seed signature
// 4f232c43..., chunk signatures ad80c730..., 0055627c..., b6c6ea8a....
func TestAWSDocStreamingExample(t *testing.T) {
	a64k, a1k := bytes.Repeat([]byte{'a'}, 65536), bytes.Repeat([]byte{'a'}, 1024)
	body := "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" + string(a64k) + "\r\n" +
		"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" + string(a1k) + "\r\n" +
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
	newReq := func(body string) *http.Request {
		r, err := http.NewRequest(http.MethodPut, "https://s3.amazonaws.com/examplebucket/chunkObject.txt", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Content-Sha256", streamingPayload)
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
		r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
			"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
			"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
		r.ContentLength = 66824
		return overTheWire(t, r)
	}
	v := newTestVerifier(time.Date(2013, 5, 24, 0, 5, 0, 0, time.UTC))
	a, err := v.Authenticate(newReq(body))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	got, err := io.ReadAll(a.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	if !bytes.Equal(got, append(a64k, a1k...)) || a.DecodedLength != 66560 || a.ContentEncoding != "" {
		t.Fatalf("decoded %d bytes, DecodedLength %d, ContentEncoding %q", len(got), a.DecodedLength, a.ContentEncoding)
	}

	// One 'a' turned 'b' in the second chunk: that chunk's signature fails
	// and none of its bytes come out.
	bad := []byte(body)
	bad[len(body)-200] = 'b'
	a, err = v.Authenticate(newReq(string(bad)))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	got, err = io.ReadAll(a.Body)
	if !errors.Is(err, ErrSignatureDoesNotMatch) || len(got) != 65536 {
		t.Fatalf("tampered second chunk: %d bytes, err %v; want 65536 bytes and ErrSignatureDoesNotMatch", len(got), err)
	}
	if !strings.Contains(err.Error(), "chunk 1 ") {
		t.Errorf("error %q does not name chunk 1", err)
	}
}

// TestAWSDocTrailerChain checks the chain of "Signature calculations for
// trailing headers (chunked uploads)": seed 106e2a8a..., final chunk
// 2ca2aba2..., trailer x-amz-checksum-crc32c:sOO8/Q== signed 63bddb24....
// It pins the trailer's canonical form (name:value\n) to AWS's numbers.
func TestAWSDocTrailerChain(t *testing.T) {
	a64k, a1k := bytes.Repeat([]byte{'a'}, 65536), bytes.Repeat([]byte{'a'}, 1024)
	body := "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n" + string(a64k) + "\r\n" +
		"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n" + string(a1k) + "\r\n" +
		"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n" +
		"x-amz-checksum-crc32c:sOO8/Q==\r\n" +
		"x-amz-trailer-signature:63bddb248ad2590c92712055f51b8e78ab024eead08276b24f010b0efd74843f\r\n\r\n"
	cred := credential{accessKey: testAccessKey, date: "20130524", region: "us-east-1", service: "s3"}
	cs := &chainState{key: signingKey(testSecret, cred), amzDate: "20130524T000000Z", scope: cred.scope(),
		seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"}
	cr := newChunkedReader(strings.NewReader(body), signedChunksTrailer, cs, 66560, []string{"x-amz-checksum-crc32c"})
	got, err := io.ReadAll(cr)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if len(got) != 66560 {
		t.Fatalf("decoded %d bytes", len(got))
	}
	if tr := cr.Trailer(); tr.Get("x-amz-checksum-crc32c") != "sOO8/Q==" {
		t.Fatalf("trailer %v", tr)
	}
	// The same chain in the layout of AWS's example text: an empty line
	// before the trailer, bare LFs, no line end at the very end.
	odd := strings.Replace(body, "\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n", "\r\n\r\nx-amz-checksum-crc32c:sOO8/Q==\n", 1)
	odd = strings.TrimSuffix(odd, "\r\n\r\n")
	cr = newChunkedReader(strings.NewReader(odd), signedChunksTrailer, cs, 66560, []string{"x-amz-checksum-crc32c"})
	if got, err := io.ReadAll(cr); err != nil || len(got) != 66560 || cr.Trailer().Get("x-amz-checksum-crc32c") != "sOO8/Q==" {
		t.Fatalf("documented layout: %d bytes, %v, trailer %v", len(got), err, cr.Trailer())
	}

	// The documented CRC32C is that of the payload.
	sum := crc32.Checksum(got, crc32.MakeTable(crc32.Castagnoli))
	if enc := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}); enc != "sOO8/Q==" {
		t.Fatalf("crc32c of the payload is %s", enc)
	}
}

func TestChunkedSigned(t *testing.T) {
	payload := randomBytes(1, 200_000)
	crc := crc32.ChecksumIEEE(payload)
	crcB64 := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	split := func(p []byte, sizes ...int) [][]byte {
		var out [][]byte
		for _, n := range sizes {
			out = append(out, p[:n])
			p = p[n:]
		}
		if len(p) > 0 {
			out = append(out, p)
		}
		return out
	}
	plain := chunkedBody{chunks: split(payload, 65536, 65536, 65536), mode: signedChunks}
	trailer := chunkedBody{chunks: split(payload, 65536, 8192, 100_000), mode: signedChunksTrailer,
		trailer: [][2]string{{"x-amz-checksum-crc32", crcB64}}}
	unsigned := chunkedBody{chunks: split(payload, 150_000), mode: unsignedChunksTrailer,
		trailer: [][2]string{{"x-amz-checksum-crc32", crcB64}}}
	empty := chunkedBody{mode: signedChunks}
	emptyTrailer := chunkedBody{mode: signedChunksTrailer}

	for _, tc := range []struct {
		name string
		cb   chunkedBody
		want []byte
	}{
		{"signed", plain, payload},
		{"signed trailer", trailer, payload},
		{"unsigned trailer", unsigned, payload},
		{"empty", empty, nil},
		{"empty with trailer section", emptyTrailer, nil},
	} {
		for _, readSize := range []int{1, 4096, 1 << 20} {
			t.Run(tc.name, func(t *testing.T) {
				v := newTestVerifier(testTime)
				a, err := v.Authenticate(chunkedRequest(t, tc.cb, testTime, damage{}))
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if a.Trailer() != nil {
					t.Errorf("Trailer before EOF: %v", a.Trailer())
				}
				got, err := readAllChunks(a.Body, readSize)
				if err != nil {
					t.Fatalf("reading with %d-byte reads: %v", readSize, err)
				}
				if !bytes.Equal(got, tc.want) {
					t.Fatalf("decoded %d bytes, want %d", len(got), len(tc.want))
				}
				if a.DecodedLength != int64(len(tc.want)) {
					t.Errorf("DecodedLength %d", a.DecodedLength)
				}
				if len(tc.cb.trailer) > 0 && a.Trailer().Get("X-Amz-Checksum-Crc32") != crcB64 {
					t.Errorf("Trailer() = %v", a.Trailer())
				}
				if n, err := a.Body.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Errorf("Read after EOF: %d, %v", n, err)
				}
			})
		}
	}
}

func TestChunkedErrors(t *testing.T) {
	payload := randomBytes(2, 150_000)
	chunks := [][]byte{payload[:65536], payload[65536:131072], payload[131072:]}
	signed := chunkedBody{chunks: chunks, mode: signedChunks}
	trailer := chunkedBody{chunks: chunks, mode: signedChunksTrailer, trailer: [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}}
	unsigned := chunkedBody{chunks: chunks, mode: unsignedChunksTrailer, trailer: [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}}
	firstSig := len("10000;chunk-signature=")

	flip := func(at func(b []byte) int) func([]byte) []byte {
		return func(b []byte) []byte {
			b = bytes.Clone(b)
			i := at(b)
			if b[i] == '0' {
				b[i] = '1'
			} else {
				b[i] = '0'
			}
			return b
		}
	}
	index := func(s string, plus int) func([]byte) int {
		return func(b []byte) int { return bytes.Index(b, []byte(s)) + plus }
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}

	for _, tc := range []struct {
		name     string
		cb       chunkedBody
		d        damage
		want     error
		released int // decoded bytes Body may hand out before failing
	}{
		{name: "tampered chunk data", cb: signed, d: damage{edit: flip(func(b []byte) int { return 88 + 200 })},
			want: ErrSignatureDoesNotMatch, released: 0},
		{name: "tampered second chunk", cb: signed, d: damage{edit: flip(func(b []byte) int { return 88 + 65536 + 2 + 88 + 200 })},
			want: ErrSignatureDoesNotMatch, released: 65536},
		{name: "tampered chunk signature", cb: signed, d: damage{edit: flip(func(b []byte) int { return firstSig + 10 })},
			want: ErrSignatureDoesNotMatch, released: 0},
		{name: "tampered final chunk signature", cb: signed, d: damage{edit: flip(index("\r\n0;chunk-signature=", 25))},
			want: ErrSignatureDoesNotMatch, released: len(payload)},
		{name: "chunks swapped", cb: chunkedBody{chunks: [][]byte{payload[:100], payload[100:200]}, mode: signedChunks},
			d:    damage{edit: func(b []byte) []byte { b = bytes.Clone(b); copy(b[89:], payload[100:200]); return b }},
			want: ErrSignatureDoesNotMatch},
		{name: "truncated in chunk data", cb: signed, d: damage{cut: 70000}, want: ErrIncompleteBody, released: 65536},
		{name: "truncated in chunk header", cb: signed, d: damage{cut: 65536 + 88 + 10}, want: ErrIncompleteBody, released: 65536},
		{name: "connection lost before final chunk", cb: signed, d: damage{cut: len(signed.encode(t, strings.Repeat("0", 64), testTime)) - 86},
			want: ErrIncompleteBody, released: len(payload)},
		{name: "no final chunk, honest length", cb: signed, d: damage{edit: func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("\r\n0;chunk-signature="))
			return b[:i+2]
		}}, want: ErrIncompleteBody, released: len(payload)},
		{name: "data after final chunk", cb: signed, d: damage{edit: func(b []byte) []byte { return append(bytes.Clone(b), "junk"...) }},
			want: ErrMalformedChunkedEncoding, released: len(payload)},
		{name: "chunk longer than its size", cb: signed, d: damage{edit: replace("10000;", "0fff0;")},
			want: ErrSignatureDoesNotMatch},
		{name: "oversize chunk header", cb: signed, d: damage{edit: func(b []byte) []byte {
			return append([]byte("1000001;chunk-signature="+strings.Repeat("a", 64)+"\r\n"), b[len("10000;chunk-signature=")+64+2:]...)
		}}, want: ErrMalformedChunkedEncoding},
		{name: "size not hex", cb: signed, d: damage{edit: replace("10000;", "1000x;")}, want: ErrMalformedChunkedEncoding},
		{name: "size too long", cb: signed, d: damage{edit: replace("10000;", "000000000000000010000;")}, want: ErrMalformedChunkedEncoding},
		{name: "no chunk-signature", cb: signed, d: damage{edit: replace(";chunk-signature=", ";chunk-signaturX=")}, want: ErrMalformedChunkedEncoding},
		{name: "signature not hex", cb: signed, d: damage{edit: func(b []byte) []byte { b = bytes.Clone(b); b[firstSig] = 'z'; return b }},
			want: ErrMalformedChunkedEncoding},
		{name: "LF only after header", cb: signed, d: damage{edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("\r\n"))
			return append(append(bytes.Clone(b[:i]), '\n', 'x'), b[i+2:]...)
		}}, want: ErrMalformedChunkedEncoding},
		{name: "header line too long", cb: signed, d: damage{edit: func(b []byte) []byte {
			return append([]byte(strings.Repeat("1", 5000)), b...)
		}}, want: ErrMalformedChunkedEncoding},
		{name: "no CRLF after data", cb: signed, d: damage{edit: func(b []byte) []byte {
			b = bytes.Clone(b)
			b[firstSig+64+2+65536] = 'x'
			return b
		}}, want: ErrMalformedChunkedEncoding, released: 65536},
		{name: "wrong trailer signature", cb: trailer, d: damage{edit: flip(index("x-amz-trailer-signature:", 30))},
			want: ErrSignatureDoesNotMatch, released: len(payload)},
		{name: "tampered trailer value", cb: trailer, d: damage{edit: replace("AAAAAA==", "AAAAAB==")},
			want: ErrSignatureDoesNotMatch, released: len(payload)},
		{name: "missing trailer signature", cb: trailer, d: damage{edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return append(append(bytes.Clone(b[:i]), b[i+len("x-amz-trailer-signature:")+66:]...), strings.Repeat("\r\n", 47)...)
		}}, want: ErrMalformedChunkedEncoding, released: len(payload)},
		{name: "unannounced trailer", cb: trailer, d: damage{edit: replace("x-amz-checksum-crc32:", "x-amz-checksum-sha1:")},
			want: ErrMalformedChunkedEncoding, released: len(payload)},
		{name: "unsigned truncated", cb: unsigned, d: damage{cut: 1000}, want: ErrIncompleteBody, released: 1000 - 7},
		{name: "unsigned bad size", cb: unsigned, d: damage{edit: replace("10000\r\n", "1000g\r\n")}, want: ErrMalformedChunkedEncoding},
		{name: "unsigned trailer with signature", cb: unsigned, d: damage{edit: replace("x-amz-checksum-crc32:AAAAAA==\r\n", "x-amz-trailer-signature:AAAAAA\r\n")},
			want: ErrMalformedChunkedEncoding, released: len(payload)},
		{name: "unsigned trailer malformed", cb: unsigned, d: damage{edit: replace("x-amz-checksum-crc32:", "x-amz-checksum-crc32 ")},
			want: ErrMalformedChunkedEncoding, released: len(payload)},
		{name: "unsigned chunk longer than its size", cb: unsigned, d: damage{edit: replace("10000\r\n", "0fffe\r\n")},
			want: ErrMalformedChunkedEncoding, released: 0xfffe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(testTime)
			r := chunkedRequest(t, tc.cb, testTime, tc.d)
			a, err := v.Authenticate(r)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			got, err := readAllChunks(a.Body, 32<<10)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.cb.mode != unsignedChunksTrailer && len(got) > tc.released || !bytes.Equal(got, payload[:len(got)]) {
				t.Fatalf("released %d bytes before failing (at most %d verified ones allowed)", len(got), tc.released)
			}
			if a.Trailer() != nil {
				t.Errorf("Trailer() after a failure: %v", a.Trailer())
			}
			if _, again := a.Body.Read(make([]byte, 10)); again != err {
				t.Errorf("second Read: %v, want the same error", again)
			}
			t.Logf("%v", err)
		})
	}
}

func TestChunkedDecodedLength(t *testing.T) {
	payload := randomBytes(3, 1000)
	cb := chunkedBody{chunks: [][]byte{payload[:600], payload[600:]}, mode: signedChunks}
	for _, tc := range []struct {
		name   string
		length string
		want   error
	}{
		{"larger than the body", "1001", ErrIncompleteBody},
		{"smaller than the body", "999", ErrIncompleteBody},
		{"first chunk already too long", "500", ErrIncompleteBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/b/k", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Decoded-Content-Length", tc.length)
			dummy := cb.encode(t, strings.Repeat("0", 64), testTime)
			req.ContentLength = int64(len(dummy))
			signRequest(t, req, streamingPayload, testTime)
			auth := req.Header.Get("Authorization")
			req.Body = io.NopCloser(bytes.NewReader(cb.encode(t, auth[len(auth)-64:], testTime)))
			a, err := newTestVerifier(testTime).Authenticate(overTheWire(t, req))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if _, err := io.ReadAll(a.Body); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("missing for signed streaming", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/b/k", bytes.NewReader(cb.encode(t, strings.Repeat("0", 64), testTime)))
		signRequest(t, req, streamingPayload, testTime)
		if _, err := newTestVerifier(testTime).Authenticate(overTheWire(t, req)); !errors.Is(err, ErrMissingContentLength) {
			t.Fatalf("err = %v, want ErrMissingContentLength", err)
		}
	})
	t.Run("not a number", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/b/k", bytes.NewReader(cb.encode(t, strings.Repeat("0", 64), testTime)))
		req.Header.Set("X-Amz-Decoded-Content-Length", "-5")
		signRequest(t, req, streamingPayload, testTime)
		if _, err := newTestVerifier(testTime).Authenticate(overTheWire(t, req)); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("err = %v, want ErrInvalidArgument", err)
		}
	})
}

func TestStripAWSChunked(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"aws-chunked":         "",
		"aws-chunked,gzip":    "gzip",
		"gzip, aws-chunked":   "gzip",
		"gzip,AWS-Chunked,br": "gzip,br",
		"identity":            "identity",
	} {
		if got := stripAWSChunked(in); got != want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestChunkSignatureMatchesSpec checks the StreamSigner the tests sign with
// against the documented chunk string to sign, so the hand-built bodies
// test the spec and not merely agreement with one SDK.
func TestChunkSignatureMatchesSpec(t *testing.T) {
	cred := credential{accessKey: testAccessKey, date: "20130524", region: "us-east-1", service: "s3"}
	key := signingKey(testSecret, cred)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" +
		"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n" + emptySHA256 + "\n" +
		sha256Hex(bytes.Repeat([]byte{'a'}, 65536))
	if got := hex.EncodeToString(hmacSHA256(key, sts)); got != "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648" {
		t.Fatalf("chunk signature %s", got)
	}
}

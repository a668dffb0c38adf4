package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// benchRequest returns a signed aws-chunked PUT of a 64 MiB payload cut in
// chunkSize chunks (its body consumed by nothing yet) and the wire body.
func benchRequest(b *testing.B, mode chunkMode, chunkSize int) (*http.Request, []byte) {
	payload := randomBytes(9, 64<<20)
	cb := chunkedBody{mode: mode}
	for p := payload; len(p) > 0; {
		n := min(chunkSize, len(p))
		cb.chunks = append(cb.chunks, p[:n])
		p = p[n:]
	}
	if mode != signedChunks {
		cb.trailer = [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}
	}
	r := chunkedRequest(b, cb, testTime, damage{})
	body, err := io.ReadAll(r.Body)
	if err != nil {
		b.Fatal(err)
	}
	return r, body
}

// benchDecode authenticates r with body and reads the payload with reads
// of readSize, as io.Copy (32 KiB) or a chunker with a larger buffer would.
func benchDecode(b *testing.B, r *http.Request, body []byte, readSize int) {
	v := newTestVerifier(testTime)
	buf := make([]byte, readSize)
	b.SetBytes(int64(64 << 20))
	b.ReportAllocs()
	for b.Loop() {
		rr := *r
		rr.Body = io.NopCloser(bytes.NewReader(body))
		a, err := v.Authenticate(&rr)
		if err != nil {
			b.Fatal(err)
		}
		var n int
		for {
			m, err := a.Body.Read(buf)
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != 64<<20 {
			b.Fatalf("decoded %d bytes", n)
		}
	}
}

// BenchmarkChunkedSigned: STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB chunks
// (what SDKs that sign chunks send). Each chunk is hashed, its HMAC
// checked, and then handed out.
func BenchmarkChunkedSigned(b *testing.B) {
	r, body := benchRequest(b, signedChunks, 64<<10)
	for _, rs := range []int{32 << 10, 256 << 10} {
		b.Run("read="+strconv.Itoa(rs>>10)+"KiB", func(b *testing.B) { benchDecode(b, r, body, rs) })
	}
}

// BenchmarkChunkedSignedTrailer: the same with a signed trailer.
func BenchmarkChunkedSignedTrailer(b *testing.B) {
	r, body := benchRequest(b, signedChunksTrailer, 64<<10)
	benchDecode(b, r, body, 32<<10)
}

// BenchmarkChunkedUnsignedTrailer: STREAMING-UNSIGNED-PAYLOAD-TRAILER as
// aws-sdk-go-v2 sends it (one chunk of the whole object) and in 64 KiB
// chunks (as the aws CLI and the buffered SDK path do).
func BenchmarkChunkedUnsignedTrailer(b *testing.B) {
	for _, cs := range []int{64 << 20, 64 << 10} {
		name := "chunk=" + strings.TrimSuffix(strconv.Itoa(cs>>10)+"KiB", "")
		r, body := benchRequest(b, unsignedChunksTrailer, cs)
		b.Run(name, func(b *testing.B) { benchDecode(b, r, body, 32<<10) })
	}
}

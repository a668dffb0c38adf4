package checksum

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
)

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustMD5(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

func sum(a Algorithm, b []byte) []byte {
	h := a.New()
	h.Write(b)
	return h.Sum(nil)
}

// TestCheckValues pins each algorithm to its catalogue check value (the
// CRC of "123456789") and the SHAs to crypto/.
func TestCheckValues(t *testing.T) {
	check := []byte("123456789")
	s1, s256, s512 := sha1.Sum(check), sha256.Sum256(check), sha512.Sum512(check)
	for _, tc := range []struct {
		alg  Algorithm
		want []byte
	}{
		{CRC32, binary.BigEndian.AppendUint32(nil, 0xcbf43926)},
		{CRC32C, binary.BigEndian.AppendUint32(nil, 0xe3069283)},
		{CRC64NVME, binary.BigEndian.AppendUint64(nil, 0xae8b14860a799888)},
		{SHA1, s1[:]},
		{SHA256, s256[:]},
		{SHA512, s512[:]},
	} {
		if got := sum(tc.alg, check); !bytes.Equal(got, tc.want) || len(got) != tc.alg.Size() {
			t.Errorf("%s(123456789) = %x, want %x", tc.alg, got, tc.want)
		}
	}
	// The CRC32C of AWS's trailer example: 66560 'a's.
	if got := Encode(sum(CRC32C, bytes.Repeat([]byte{'a'}, 66560))); got != "sOO8/Q==" {
		t.Errorf("CRC32C of AWS's example is %s, want sOO8/Q==", got)
	}
	for _, a := range Algorithms() {
		if got := Encode(sum(a, nil)); a.Size() <= 8 && got != Encode(make([]byte, a.Size())) {
			t.Errorf("%s of nothing is %s, want zero", a, got)
		}
	}
}

// TestCRC64NVMEMatchesStdlib checks the slicing-by-8 implementation against
// hash/crc64 with the same polynomial, at every alignment and in pieces.
func TestCRC64NVMEMatchesStdlib(t *testing.T) {
	tab := crc64.MakeTable(crc64NVMEPoly)
	data := randomBytes(1, 10_000)
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 2047, 2048, 4099, 10_000} {
		for _, off := range []int{0, 1, 3} {
			if off+n > len(data) {
				continue
			}
			p := data[off : off+n]
			h := CRC64NVME.New()
			h.Write(p[:n/3])
			h.Write(p[n/3:])
			if got, want := h.(interface{ Sum64() uint64 }).Sum64(), crc64.Checksum(p, tab); got != want {
				t.Fatalf("n=%d off=%d: %x, hash/crc64 says %x", n, off, got, want)
			}
		}
	}
	h := CRC64NVME.New()
	h.Write(data)
	h.Reset()
	h.Write(data[:5])
	if !bytes.Equal(h.Sum(nil), sum(CRC64NVME, data[:5])) {
		t.Fatal("Reset does not restart")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Algorithm{"crc32": CRC32, "CRC32C": CRC32C, "Crc64Nvme": CRC64NVME, "sha1": SHA1, "SHA256": SHA256} {
		if got, err := Parse(in); got != want || err != nil {
			t.Errorf("Parse(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "MD5", "XXHASH3", "crc64", "sha-256", "CRC32 "} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalidAlgorithm) {
			t.Errorf("Parse(%q): %v, want ErrInvalidAlgorithm", in, err)
		}
	}
	if CRC64NVME.Header() != "x-amz-checksum-crc64nvme" || CRC32C.Header() != "x-amz-checksum-crc32c" {
		t.Error("Header")
	}
	if _, err := Decode(CRC32, "AAAAAAAA"); !errors.Is(err, ErrInvalidChecksum) {
		t.Errorf("Decode of 6 bytes as CRC32: %v", err)
	}
	if _, err := Decode(SHA1, "not base64!"); !errors.Is(err, ErrInvalidChecksum) {
		t.Errorf("Decode of junk: %v", err)
	}
}

// sdkChecksums runs PutObject of body with each algorithm through the
// real aws-sdk-go-v2 S3 client against a plain-HTTP server, which makes
// the SDK send the checksum it computed as an x-amz-checksum-* header,
// and returns those values.
func sdkChecksums(t *testing.T, body []byte) map[Algorithm]string {
	t.Helper()
	var mu sync.Mutex
	got := map[Algorithm]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for _, a := range Algorithms() {
			if v := r.Header.Get(a.Header()); v != "" {
				mu.Lock()
				got[a] = v
				mu.Unlock()
			}
		}
	}))
	defer srv.Close()
	client := newClient(t, srv)
	for _, a := range Algorithms() {
		if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"),
			Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithm(a)}); err != nil {
			t.Fatalf("PutObject with %s: %v", a, err)
		}
	}
	return got
}

func newClient(t *testing.T, srv *httptest.Server) *s3.Client {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")),
		config.WithHTTPClient(srv.Client()),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithLogger(logging.Nop{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

// TestMatchesSDK: what the SDK computes and sends is what this package computes.
func TestMatchesSDK(t *testing.T) {
	for _, n := range []int{1, 1000, 100_003} {
		body := randomBytes(uint64(n), n)
		sdk := sdkChecksums(t, body)
		if len(sdk) != len(Algorithms()) {
			t.Fatalf("the SDK sent %d checksums: %v", len(sdk), sdk)
		}
		for a, v := range sdk {
			if ours := Encode(sum(a, body)); ours != v {
				t.Errorf("%d bytes, %s: SDK %s, ours %s", n, a, v, ours)
			}
		}
	}
}

func TestComposite(t *testing.T) {
	parts := [][]byte{randomBytes(1, 5<<10), randomBytes(2, 5<<10), randomBytes(3, 77)}
	var sums [][]byte
	var concat []byte
	for _, p := range parts {
		s := sha256.Sum256(p)
		sums = append(sums, s[:])
		concat = append(concat, s[:]...)
	}
	whole := sha256.Sum256(concat)
	if got, want := Composite(SHA256, sums), Encode(whole[:])+"-3"; got != want {
		t.Fatalf("Composite = %s, want %s", got, want)
	}
	c := []byte{}
	for _, p := range parts {
		c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(p))
	}
	if got, want := Composite(CRC32, [][]byte{c[:4], c[4:8], c[8:]}), Encode(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(c)))+"-3"; got != want {
		t.Fatalf("Composite CRC32 = %s, want %s", got, want)
	}
	if CRC64NVME.Composite() || !SHA1.Composite() || SHA256.FullObject() || !CRC32C.FullObject() {
		t.Fatal("Composite/FullObject flags")
	}
}

// TestCombine: the FULL_OBJECT CRC combined from the parts is the CRC of
// the whole object computed directly.
func TestCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, a := range []Algorithm{CRC32, CRC32C, CRC64NVME} {
		for trial := range 20 {
			var parts []Part
			var whole []byte
			for i := range 1 + r.IntN(6) {
				n := r.IntN(3000)
				if trial == 0 && i == 0 {
					n = 0
				}
				p := randomBytes(uint64(trial*10+i), n)
				whole = append(whole, p...)
				parts = append(parts, Part{Sum: sum(a, p), Size: int64(n)})
			}
			got, err := Combine(a, parts)
			if err != nil {
				t.Fatal(err)
			}
			if want := sum(a, whole); !bytes.Equal(got, want) {
				t.Fatalf("%s of %d parts: combined %x, direct %x", a, len(parts), got, want)
			}
		}
		// Large parts: the lengths go through x^(8n) by squaring.
		big := randomBytes(9, 9<<20)
		got, _ := Combine(a, []Part{{sum(a, big[:5<<20]), 5 << 20}, {sum(a, big[5<<20:]), 4 << 20}})
		if !bytes.Equal(got, sum(a, big)) {
			t.Fatalf("%s of two MiB parts differs", a)
		}
		if got, _ := Combine(a, nil); !bytes.Equal(got, sum(a, nil)) {
			t.Fatalf("%s of no parts: %x", a, got)
		}
	}
	if _, err := Combine(SHA256, nil); !errors.Is(err, ErrInvalidAlgorithm) {
		t.Fatalf("Combine SHA256: %v", err)
	}
	if _, err := Combine(CRC32, []Part{{Sum: []byte{1, 2}, Size: 3}}); !errors.Is(err, ErrInvalidChecksum) {
		t.Fatalf("Combine with a short sum: %v", err)
	}
}

func TestFromHeaders(t *testing.T) {
	crc := Encode(sum(CRC32, []byte("x")))
	sha := Encode(sum(SHA256, []byte("x")))
	for _, tc := range []struct {
		name      string
		h         map[string]string
		alg       Algorithm
		value     string
		inTrailer bool
		err       error
	}{
		{name: "none", h: map[string]string{"Content-Type": "x"}},
		{name: "header value", h: map[string]string{"x-amz-checksum-crc32": crc, "x-amz-sdk-checksum-algorithm": "CRC32"}, alg: CRC32, value: crc},
		{name: "sha256 header", h: map[string]string{"X-Amz-Checksum-Sha256": sha}, alg: SHA256, value: sha},
		{name: "trailer", h: map[string]string{"x-amz-trailer": "x-amz-checksum-crc64nvme", "x-amz-sdk-checksum-algorithm": "CRC64NVME"}, alg: CRC64NVME, inTrailer: true},
		{name: "trailer among others", h: map[string]string{"x-amz-trailer": "x-amz-meta-foo, X-Amz-Checksum-CRC32C"}, alg: CRC32C, inTrailer: true},
		{name: "announced only", h: map[string]string{"x-amz-checksum-algorithm": "sha1"}, alg: SHA1},
		{name: "mode and type are options", h: map[string]string{"x-amz-checksum-mode": "ENABLED", "x-amz-checksum-type": "FULL_OBJECT"}},
		{name: "two values", h: map[string]string{"x-amz-checksum-crc32": crc, "x-amz-checksum-sha256": sha}, err: ErrMultipleChecksums},
		{name: "value and trailer", h: map[string]string{"x-amz-checksum-crc32": crc, "x-amz-trailer": "x-amz-checksum-crc32"}, err: ErrMultipleChecksums},
		{name: "announcement disagrees", h: map[string]string{"x-amz-checksum-crc32": crc, "x-amz-sdk-checksum-algorithm": "SHA256"}, err: ErrMultipleChecksums},
		{name: "unknown value header", h: map[string]string{"x-amz-checksum-md5": crc}, err: ErrInvalidAlgorithm},
		{name: "unknown announcement", h: map[string]string{"x-amz-sdk-checksum-algorithm": "MD5"}, err: ErrInvalidAlgorithm},
		{name: "unknown trailer", h: map[string]string{"x-amz-trailer": "x-amz-checksum-xxh3"}, err: ErrInvalidAlgorithm},
		{name: "bad value", h: map[string]string{"x-amz-checksum-crc32": sha}, err: ErrInvalidChecksum},
		{name: "not base64", h: map[string]string{"x-amz-checksum-sha256": "%%%"}, err: ErrInvalidChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			alg, value, inTrailer, err := FromHeaders(h)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if alg != tc.alg || value != tc.value || inTrailer != tc.inTrailer {
				t.Fatalf("got %q %q %v, want %q %q %v", alg, value, inTrailer, tc.alg, tc.value, tc.inTrailer)
			}
		})
	}
	h := http.Header{"X-Amz-Checksum-Crc32": {crc, crc}}
	if _, _, _, err := FromHeaders(h); !errors.Is(err, ErrMultipleChecksums) {
		t.Fatalf("repeated header: %v", err)
	}
}

// errAfter returns its data, then err.
type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReader(t *testing.T) {
	body := randomBytes(3, 200_000)
	md5OK := Encode(mustMD5(body))
	crcOK := Encode(sum(CRC32, body))
	trailerAfterEOF := func(value string) (io.Reader, func() http.Header) {
		done := false
		br := bytes.NewReader(body)
		src := func(p []byte) (int, error) {
			n, err := br.Read(p)
			if err == io.EOF {
				done = true
			}
			return n, err
		}
		return readerFunc(src), func() http.Header {
			if !done {
				return nil // as sigv4's Auth.Trailer before EOF
			}
			return http.Header{"X-Amz-Checksum-Crc32": {value}}
		}
	}
	for _, tc := range []struct {
		name     string
		md5      string
		alg      Algorithm
		expected string
		trailer  string // value sent in the trailer; "-" for no trailer func
		newErr   error
		readErr  error
		msg      string
	}{
		{name: "nothing to check", trailer: "-"},
		{name: "md5 ok", md5: md5OK, trailer: "-"},
		{name: "md5 and crc32 ok", md5: md5OK, alg: CRC32, expected: crcOK, trailer: "-"},
		{name: "crc32 computed only", alg: "crc32", trailer: "-"},
		{name: "crc32 from trailer", alg: CRC32, trailer: crcOK},
		{name: "md5 tampered", md5: Encode(mustMD5([]byte("other"))), trailer: "-", readErr: ErrBadDigest},
		{name: "md5 malformed", md5: "bm90IG1kNQ==", trailer: "-", newErr: ErrInvalidDigest},
		{name: "md5 not base64", md5: "??", trailer: "-", newErr: ErrInvalidDigest},
		{name: "crc32 tampered", alg: CRC32, expected: Encode(sum(CRC32, []byte("x"))), trailer: "-",
			readErr: ErrChecksumMismatch, msg: "The CRC32 you specified did not match the calculated checksum."},
		{name: "crc32 tampered in trailer", alg: CRC32, trailer: "AAAAAA==", readErr: ErrChecksumMismatch},
		{name: "trailer lacks the checksum", alg: CRC32, trailer: "", readErr: ErrMissingTrailer},
		{name: "trailer value malformed", alg: CRC32, trailer: "AAAA", readErr: ErrInvalidChecksum},
		{name: "expected value malformed", alg: SHA256, expected: crcOK, trailer: "-", newErr: ErrInvalidChecksum},
		{name: "unknown algorithm", alg: "MD4", trailer: "-", newErr: ErrInvalidAlgorithm},
		{name: "value without algorithm", expected: crcOK, trailer: "-", newErr: ErrInvalidAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var src io.Reader = bytes.NewReader(body)
			var trailer func() http.Header
			if tc.trailer != "-" {
				src, trailer = trailerAfterEOF(tc.trailer)
			}
			r, err := NewReader(src, tc.md5, tc.alg, tc.expected, trailer)
			if !errors.Is(err, tc.newErr) || (tc.newErr == nil) != (err == nil) {
				t.Fatalf("NewReader: %v, want %v", err, tc.newErr)
			}
			if err != nil {
				return
			}
			got, err := io.ReadAll(r)
			if !errors.Is(err, tc.readErr) || (tc.readErr == nil) != (err == nil) {
				t.Fatalf("reading: %v, want %v", err, tc.readErr)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Fatalf("message %q, want %q", err, tc.msg)
			}
			if !bytes.Equal(got, body) || r.N() != int64(len(body)) {
				t.Fatalf("passed through %d bytes", len(got))
			}
			if _, again := r.Read(make([]byte, 8)); (tc.readErr == nil && again != io.EOF) || (tc.readErr != nil && again != err) {
				t.Fatalf("Read after the end: %v", again)
			}
			if tc.readErr == nil {
				if !bytes.Equal(r.MD5(), mustMD5(body)) {
					t.Fatalf("MD5 %x", r.MD5())
				}
				if a, v := r.Checksum(); tc.alg != "" && (v != crcOK || a != CRC32) {
					t.Fatalf("Checksum() = %s %s", a, v)
				}
			}
		})
	}

	// Errors from the body (sigv4's, a dropped connection) pass through
	// unchanged and stop the checks.
	boom := errors.New("signature does not match")
	r, _ := NewReader(&errAfter{bytes.NewReader(body), boom}, md5OK, CRC32, crcOK, nil)
	if _, err := io.ReadAll(r); err != boom {
		t.Fatalf("body error: %v", err)
	}
	var me *MismatchError
	r, _ = NewReader(strings.NewReader("abc"), "", SHA1, Encode(sum(SHA1, []byte("abd"))), nil)
	if _, err := io.ReadAll(r); !errors.As(err, &me) || me.Algorithm != SHA1 || me.Computed != Encode(sum(SHA1, []byte("abc"))) {
		t.Fatalf("MismatchError: %#v", err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

package conformance

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// seeded is size bytes of deterministic pseudo-random data: the bytes at
// any offset depend only on the seed and the offset, so the data can be
// generated in any order, re-read (it seeks, for the SDK's checksum pass)
// and compared without being held in memory.
type seeded struct {
	seed uint64
	size int64
	off  int64
}

const seededBlock = 64 << 10

func newSeeded(seed uint64, size int64) *seeded { return &seeded{seed: seed, size: size} }

// ReadAt fills p from offset off.
func (s *seeded) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := 0
	var blk [seededBlock]byte
	for n < len(p) && off < s.size {
		b := off / seededBlock
		fillBlock(blk[:], s.seed, uint64(b))
		in := off % seededBlock
		end := int64(seededBlock)
		if rem := s.size - b*seededBlock; rem < end {
			end = rem
		}
		c := copy(p[n:], blk[in:end])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func fillBlock(p []byte, seed, block uint64) {
	r := rand.NewPCG(seed, block)
	for i := 0; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.Uint64())
	}
}

func (s *seeded) Read(p []byte) (int, error) {
	n, err := s.ReadAt(p, s.off)
	s.off += int64(n)
	return n, err
}

func (s *seeded) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.off
	case io.SeekEnd:
		off += s.size
	}
	if off < 0 {
		return 0, errors.New("seeded: negative offset")
	}
	s.off = off
	return off, nil
}

// seededBytes returns size seeded bytes in memory (small payloads only).
func seededBytes(seed uint64, size int) []byte {
	b := make([]byte, size)
	newSeeded(seed, int64(size)).ReadAt(b, 0)
	return b
}

// writeSeededFile writes size seeded bytes to path and returns their SHA-256.
func writeSeededFile(t testing.TB, path string, seed uint64, size int64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(newSeeded(seed, size), size)); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func md5b64(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// multipartETag is S3's ETag of a multipart object: the MD5 of the
// concatenated binary MD5s of the parts, a dash, and the part count.
func multipartETag(parts ...[]byte) string {
	var all []byte
	for _, p := range parts {
		s := md5.Sum(p)
		all = append(all, s[:]...)
	}
	return fmt.Sprintf("%s-%d", md5hex(all), len(parts))
}

// unquote strips the quotes S3 puts around ETags.
func unquote(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

// The additional checksum algorithms S3 defines.
var checksumAlgorithms = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

func newHash(alg string) hash.Hash {
	switch alg {
	case "CRC32":
		return crc32.NewIEEE()
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "CRC64NVME":
		// The reversed NVMe polynomial, as hash/crc64 expects it.
		return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5))
	case "SHA1":
		return sha1.New()
	case "SHA256":
		return sha256.New()
	}
	panic("unknown checksum algorithm " + alg)
}

// checksumRaw returns the raw checksum of b under alg.
func checksumRaw(alg string, b []byte) []byte {
	h := newHash(alg)
	h.Write(b)
	return h.Sum(nil)
}

// checksumB64 returns the base64 checksum of b under alg, as S3 sends it.
func checksumB64(alg string, b []byte) string {
	return base64.StdEncoding.EncodeToString(checksumRaw(alg, b))
}

// compositeChecksum is a COMPOSITE multipart checksum: the checksum of the
// concatenated raw part checksums, a dash, and the part count.
func compositeChecksum(alg string, parts ...[]byte) string {
	var all []byte
	for _, p := range parts {
		all = append(all, checksumRaw(alg, p)...)
	}
	return fmt.Sprintf("%s-%d", checksumB64(alg, all), len(parts))
}

// rawRequest is a hand-made S3 request, for what the SDK will not send.
type rawRequest struct {
	method string
	path   string // /bucket/key, escaped as it goes on the wire
	query  url.Values
	header map[string]string
	body   []byte
	// payloadHash overrides the signed x-amz-content-sha256 (default: the
	// body's SHA-256).
	payloadHash string
	// signTime overrides the signing time (default: now).
	signTime time.Time
	// anonymous sends the request unsigned.
	anonymous bool
	// accessKey and secretKey override the target's credentials.
	accessKey, secretKey string
}

// do sends r to the target, signed with SigV4 unless anonymous, and returns
// the response with its body read.
func (r rawRequest) do(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := r.send(t.Context())
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return resp, body
}

func (r rawRequest) send(ctx context.Context) (*http.Response, []byte, error) {
	u := tgt.endpoint + r.path
	if len(r.query) > 0 {
		u += "?" + strings.ReplaceAll(r.query.Encode(), "+", "%20")
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, bytes.NewReader(r.body))
	if err != nil {
		return nil, nil, err
	}
	req.ContentLength = int64(len(r.body))
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if !r.anonymous {
		ph := r.payloadHash
		if ph == "" {
			ph = sha256hex(r.body)
		}
		req.Header.Set("X-Amz-Content-Sha256", ph)
		ak, sk := tgt.accessKey, tgt.secretKey
		if r.accessKey != "" {
			ak, sk = r.accessKey, r.secretKey
		}
		st := r.signTime
		if st.IsZero() {
			st = time.Now()
		}
		creds := aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, ph, "s3", tgt.region, st); err != nil {
			return nil, nil, err
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// s3Error is the XML body of an S3 error response.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	Resource  string   `xml:"Resource"`
}

// wantRawError fails t unless resp is an S3 error with the status and code,
// a well-formed XML body with Code, Message and RequestId, and an
// x-amz-request-id header equal to the body's RequestId.
func wantRawError(t testing.TB, resp *http.Response, body []byte, status int, code, what string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: HTTP %d; want %d (body %q)", what, resp.StatusCode, status, truncate(body, 500))
	}
	if code == "" {
		return
	}
	var e s3Error
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: error body is not S3 error XML: %v (body %q)", what, err, truncate(body, 500))
		return
	}
	if e.Code != code {
		t.Errorf("%s: error Code %q; want %q (message %q)", what, e.Code, code, e.Message)
	}
	if e.Message == "" {
		t.Errorf("%s: error body has no Message", what)
	}
	if e.RequestID == "" {
		t.Errorf("%s: error body has no RequestId", what)
	}
	hid := resp.Header.Get("X-Amz-Request-Id")
	if hid == "" {
		t.Errorf("%s: no x-amz-request-id header", what)
	} else if e.RequestID != "" && e.RequestID != hid {
		t.Errorf("%s: body RequestId %q differs from x-amz-request-id %q", what, e.RequestID, hid)
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// objectPath is /bucket/key with the key escaped as the SDK does it.
func objectPath(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + bucket + "/" + strings.Join(segs, "/")
}

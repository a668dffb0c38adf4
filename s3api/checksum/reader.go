package checksum

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"net/http"
	"runtime"
)

// Reader passes a payload through and checks it: it always computes the
// MD5 (the ETag of a simple PUT), and the additional checksum when there
// is one. When the body ends it compares Content-MD5 and the expected
// checksum and, if either differs, returns ErrBadDigest or a
// *MismatchError (ErrChecksumMismatch) instead of io.EOF, so a caller
// that copies it into storage sees the failure before committing. Errors
// from the body pass through unchanged. After the end every Read returns
// the same io.EOF or error. A Reader is not safe for concurrent use.
type Reader struct {
	r        io.Reader
	md5      hash.Hash
	h        hash.Hash // nil without an additional checksum
	alg      Algorithm
	wantMD5  []byte // nil without Content-MD5
	expected string // base64; "" when it comes from trailer or is not known
	trailer  func() http.Header
	n        int64

	aside *aside // the MD5 when it is hashed aside (HashAside)

	md5Sum []byte
	sum    []byte
	err    error
}

// HashAside asks for the MD5 to be computed on another goroutine, beside
// the reads (aside.go), when a core is free for it; call it before the
// first Read, for a large body.
func (r *Reader) HashAside() {
	if r.aside != nil || r.n > 0 {
		return
	}
	if a := newAside(r.md5); a != nil {
		r.aside, r.md5 = a, a
		// A caller that drops the reader before its end gives the slot
		// back when the reader is collected.
		runtime.AddCleanup(r, (*asideSlot).release, a.slot)
	}
}

// NewReader wraps body. contentMD5 is the Content-MD5 header ("" for
// none); a malformed one is ErrInvalidDigest. alg is the additional
// checksum ("" for none) and expected its base64 value, or "" to take it
// from trailer() once body has returned io.EOF (pass sigv4's Auth.Trailer
// when FromHeaders said inTrailer; the value must then be there, else
// ErrMissingTrailer), or to only compute it when trailer is nil.
func NewReader(body io.Reader, contentMD5 string, alg Algorithm, expected string, trailer func() http.Header) (*Reader, error) {
	r := &Reader{r: body, md5: md5.New(), alg: alg, expected: expected, trailer: trailer}
	if contentMD5 != "" {
		b, err := base64.StdEncoding.DecodeString(contentMD5)
		if err != nil || len(b) != md5.Size {
			return nil, fmt.Errorf("Content-MD5 %q is not base64 of 16 bytes: %w", contentMD5, ErrInvalidDigest)
		}
		r.wantMD5 = b
	}
	if alg == "" {
		if expected != "" {
			return nil, fmt.Errorf("checksum value %q without an algorithm: %w", expected, ErrInvalidAlgorithm)
		}
		return r, nil
	}
	a, err := Parse(string(alg))
	if err != nil {
		return nil, err
	}
	r.alg = a
	if expected != "" {
		if _, err := Decode(r.alg, expected); err != nil {
			return nil, err
		}
	}
	r.h = r.alg.New()
	return r, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.n += int64(n)
		r.md5.Write(p[:n])
		if r.h != nil {
			r.h.Write(p[:n])
		}
	}
	switch {
	case err == io.EOF:
		r.err = r.finish()
		return n, r.err
	case err != nil:
		r.err = err
		if r.aside != nil {
			r.aside.slot.release()
		}
	}
	return n, err
}

// finish compares the sums once the body has ended.
func (r *Reader) finish() error {
	r.md5Sum = r.md5.Sum(nil)
	if r.wantMD5 != nil && !bytes.Equal(r.md5Sum, r.wantMD5) {
		return fmt.Errorf("body of %d bytes has MD5 %s, Content-MD5 says %s: %w",
			r.n, Encode(r.md5Sum), Encode(r.wantMD5), ErrBadDigest)
	}
	if r.h == nil {
		return io.EOF
	}
	r.sum = r.h.Sum(nil)
	expected := r.expected
	if expected == "" && r.trailer != nil {
		expected = r.trailer().Get(r.alg.Header())
		if expected == "" {
			return fmt.Errorf("x-amz-trailer announced %s, the trailer does not carry it: %w", r.alg.Header(), ErrMissingTrailer)
		}
	}
	if expected == "" {
		return io.EOF
	}
	want, err := Decode(r.alg, expected)
	if err != nil {
		return err
	}
	if !bytes.Equal(want, r.sum) {
		return &MismatchError{Algorithm: r.alg, Expected: expected, Computed: Encode(r.sum)}
	}
	return io.EOF
}

// MD5 is the body's MD5; valid after the body has ended.
func (r *Reader) MD5() []byte { return r.md5Sum }

// Checksum is the additional checksum and its base64 value; valid after
// the body has ended, ("", "") without one.
func (r *Reader) Checksum() (Algorithm, string) {
	if r.sum == nil {
		return "", ""
	}
	return r.alg, Encode(r.sum)
}

// N is the number of bytes read so far.
func (r *Reader) N() int64 { return r.n }

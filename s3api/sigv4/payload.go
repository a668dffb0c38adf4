package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
)

// payloadReader passes a non-chunked body through. It holds the body to its
// Content-Length (a short body is ErrIncompleteBody, bytes past it are not
// read, as net/http's server does) and, for a hex x-amz-content-sha256,
// hashes it and answers the final Read with ErrXAmzContentSHA256Mismatch
// instead of io.EOF when the sum differs.
type payloadReader struct {
	r    io.Reader
	n    int64 // bytes read so far
	want int64 // Content-Length, -1 if unknown
	sha  hash.Hash
	sum  [32]byte // expected SHA-256 when sha != nil
	err  error    // sticky: io.EOF or the failure
}

func newPayloadReader(r io.Reader, contentLength int64, sum *[32]byte) *payloadReader {
	p := &payloadReader{r: r, want: contentLength}
	if p.want < 0 {
		p.want = -1
	}
	if sum != nil {
		p.sha = sha256.New()
		p.sum = *sum
	}
	return p
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.want >= 0 {
		left := p.want - p.n
		if left == 0 {
			p.err = p.finish()
			return 0, p.err
		}
		if int64(len(b)) > left {
			b = b[:left]
		}
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.sha != nil {
		p.sha.Write(b[:n])
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		p.err = p.finish()
	case errors.Is(err, io.ErrUnexpectedEOF):
		// net/http's server reports a body shorter than its
		// Content-Length this way.
		p.err = fmt.Errorf("body ended after %d of %d bytes: %w", p.n, p.want, ErrIncompleteBody)
	default:
		p.err = fmt.Errorf("reading body: %w", err)
	}
	return n, p.err
}

func (p *payloadReader) finish() error {
	if p.want >= 0 && p.n < p.want {
		return fmt.Errorf("body ended after %d of %d bytes (Content-Length): %w", p.n, p.want, ErrIncompleteBody)
	}
	if p.sha != nil {
		var got [32]byte
		p.sha.Sum(got[:0])
		if subtle.ConstantTimeCompare(got[:], p.sum[:]) != 1 {
			return fmt.Errorf("body of %d bytes has SHA-256 %x, x-amz-content-sha256 says %x: %w", p.n, got, p.sum, ErrXAmzContentSHA256Mismatch)
		}
	}
	return io.EOF
}

package s3api

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/cairn-backup/cairn/s3api/checksum"
)

// maxObjectSize is the largest single PUT (and part) S3 accepts: 5 GiB.
const maxObjectSize = 5 << 30

// payload is the verified body of an object or part write. sigv4 has removed
// the aws-chunked framing and checks chunk signatures and the payload hash;
// checksum.Reader computes the MD5 (the ETag) and any x-amz-checksum-* and
// compares them with what the client sent. Every mismatch surfaces from
// Read as an *Error instead of io.EOF, so a backend that stops at the first
// read error can never commit a corrupt object.
type payload struct {
	cr   *checksum.Reader
	size int64 // declared decoded length; -1 when unknown
	n    int64 // bytes read so far
	eof  bool
	err  error // the first read error, translated
}

// openPayload checks a write's length headers and wraps its verified body.
func (h *handler) openPayload(r *http.Request) (*payload, error) {
	auth := state(r).auth
	size := auth.DecodedLength
	if size < 0 && !strings.HasPrefix(r.Header.Get("x-amz-content-sha256"), "STREAMING-") && r.ContentLength >= 0 {
		size = r.ContentLength
	}
	// net/http reports an HTTP/1 request with neither Content-Length nor
	// Transfer-Encoding as an empty body; S3 refuses it rather than store
	// an empty object by accident. (A chunked transfer of unknown length
	// is accepted: backup tools stream.)
	if r.ProtoMajor == 1 && len(r.TransferEncoding) == 0 && r.Header.Get("Content-Length") == "" {
		return nil, ErrMissingContentLength
	}
	if size > maxObjectSize {
		return nil, ErrEntityTooLarge
	}
	alg, value, inTrailer, err := checksum.FromHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	var trailer func() http.Header
	if inTrailer {
		trailer = auth.Trailer
	}
	md5, err := contentMD5Header(r.Header)
	if err != nil {
		return nil, err
	}
	cr, err := checksum.NewReader(auth.Body, md5, alg, value, trailer)
	if err != nil {
		return nil, err
	}
	if size >= hashAsideFrom {
		cr.HashAside()
	}
	return &payload{cr: cr, size: size}, nil
}

// hashAsideFrom is the body size from which the MD5 is hashed beside the
// reads (checksum.Reader.HashAside): a small body is read before a
// hand-off would pay.
const hashAsideFrom = 8 << 20

func (p *payload) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.cr.Read(b)
	p.n += int64(n)
	if p.n > maxObjectSize {
		// Only a body of unknown length can get here: a declared one is
		// checked up front and sigv4 holds the body to its declaration.
		return n, p.fail(ErrEntityTooLarge)
	}
	switch {
	case err == io.EOF:
		p.eof = true
	case err != nil:
		return n, p.fail(err)
	}
	return n, err
}

// fail records the first read error, as the *Error the client should see,
// and returns it.
func (p *payload) fail(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = s3Error(err)
	}
	if e != nil {
		err = e
	}
	p.err = err
	return err
}

// digest is the Digest a backend reads once the body returned io.EOF.
func (p *payload) digest() Digest {
	d := Digest{MD5: p.cr.MD5()}
	if alg, v := p.cr.Checksum(); alg != "" {
		d.Checksum = Checksum{Algorithm: string(alg), Value: v, Type: "FULL_OBJECT"}
	}
	return d
}

// result decides the outcome of a write once the backend returned: a
// payload error wins over whatever the backend made of it (the backend may
// have wrapped it beyond recognition), and a write the backend acknowledged
// without reading the body to its end is refused, because nothing verified
// the digests of the bytes it did not read.
func (p *payload) result(backendErr error) error {
	if p.err != nil {
		return p.err
	}
	if backendErr != nil {
		return backendErr
	}
	if !p.eof {
		return errors.New("backend acknowledged a write without reading its body to the end")
	}
	return nil
}

// readSmallBody reads the verified body of a request that carries a small
// document (XML), checking Content-MD5 or x-amz-checksum-* when sent.
// requireDigest is DeleteObjects' rule: S3 refuses it without Content-MD5
// or a checksum header.
func (h *handler) readSmallBody(r *http.Request, limit int64, requireDigest bool) ([]byte, error) {
	auth := state(r).auth
	alg, value, inTrailer, err := checksum.FromHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	md5, err := contentMD5Header(r.Header)
	if err != nil {
		return nil, err
	}
	// An algorithm announced without a value (x-amz-sdk-checksum-algorithm
	// alone) verifies nothing, so it does not count.
	if requireDigest && md5 == "" && value == "" && !inTrailer {
		return nil, ErrMissingContentMD5
	}
	var trailer func() http.Header
	if inTrailer {
		trailer = auth.Trailer
	}
	cr, err := checksum.NewReader(auth.Body, md5, alg, value, trailer)
	if err != nil {
		return nil, err
	}
	return readAll(cr, limit)
}

// contentMD5Header returns the Content-MD5 header. A header sent empty is not a
// header left out: it promises a digest and gives none, which S3 answers
// with InvalidDigest rather than storing the body unchecked.
func contentMD5Header(h http.Header) (string, error) {
	vs, ok := h["Content-Md5"]
	if !ok {
		return "", nil
	}
	if len(vs) != 1 || strings.TrimSpace(vs[0]) == "" {
		return "", ErrInvalidDigest
	}
	return vs[0], nil
}

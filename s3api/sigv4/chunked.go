package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
)

const (
	// maxSignedChunk bounds a signed chunk, which must be held whole until
	// its signature checks out. SDKs send 64 KiB (Java, CLI: 64-128 KiB);
	// 16 MiB leaves room for tuned clients without letting one request
	// pin much memory.
	maxSignedChunk = 16 << 20
	// maxUnsignedChunk bounds an unsigned chunk, which streams through
	// without buffering: aws-sdk-go-v2 sends the whole object as one
	// chunk, so the bound is S3's largest single PUT (5 GiB).
	maxUnsignedChunk = 5 << 30
	// lineBuffer is the bufio size and so the longest chunk header or
	// trailer line accepted ("10000;chunk-signature=<64 hex>" is 86 bytes).
	lineBuffer = 4 << 10
	// maxTrailers bounds the number of trailing headers.
	maxTrailers = 16
	// minChunkBuffer is the first allocation for a signed chunk's bytes;
	// the buffer then doubles as bytes arrive, so memory follows what the
	// client actually sent, not what a chunk header claims.
	minChunkBuffer = 64 << 10
)

type chunkMode int

const (
	signedChunks          chunkMode = iota // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	signedChunksTrailer                    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	unsignedChunksTrailer                  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

// chainState is what the chunk signatures chain from: the signing key, the
// request's timestamp and scope, and its signature (the seed).
type chainState struct {
	key     []byte
	amzDate string
	scope   string
	seed    string // lower-case hex
}

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[trailer-name:value\r\n ... [x-amz-trailer-signature:sig\r\n]] \r\n
//
// In the signed modes each chunk is read whole and its signature (HMAC of
// "AWS4-HMAC-SHA256-PAYLOAD\n date\n scope\n prev-sig\n sha256(”)\n
// sha256(chunk)") checked before any of its bytes are returned; the trailer
// is signed as "AWS4-HMAC-SHA256-TRAILER\n date\n scope\n prev-sig\n
// sha256(trailer lines as name:value\n)". In the unsigned mode data streams
// through as it arrives. Nothing allocates per chunk.
type chunkedReader struct {
	br        *bufio.Reader
	signed    bool
	trailers  bool
	declared  int64    // x-amz-decoded-content-length, -1 if unknown
	announced []string // x-amz-trailer names; nil accepts any trailer

	decoded int64 // data bytes announced by the chunk headers so far
	chunk   int   // index of the chunk being read, for messages

	// Signed modes.
	mac    hash.Hash // HMAC-SHA256 under the signing key
	sha    hash.Hash
	prefix []byte   // "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n"
	middle []byte   // "\n" sha256("") "\n"
	prev   [64]byte // previous signature, lower-case hex
	sig    [32]byte // the current chunk's claimed signature
	sum    [32]byte // scratch for sums
	sumHex [64]byte

	buf []byte // verified bytes of the current signed chunk
	off int    // of buf already returned

	left     int64 // unsigned mode: bytes of the current chunk still to read
	needCRLF bool  // the CRLF after a data chunk is still to be read

	got http.Header // the trailer, once read
	err error       // sticky; io.EOF once the body ended well
}

func newChunkedReader(body io.Reader, mode chunkMode, cs *chainState, declared int64, announced []string) *chunkedReader {
	c := &chunkedReader{
		br:        bufio.NewReaderSize(body, lineBuffer),
		signed:    mode != unsignedChunksTrailer,
		trailers:  mode != signedChunks,
		declared:  declared,
		announced: announced,
	}
	if c.signed {
		c.mac = hmac.New(sha256.New, cs.key)
		c.sha = sha256.New()
		c.prefix = []byte("AWS4-HMAC-SHA256-PAYLOAD\n" + cs.amzDate + "\n" + cs.scope + "\n")
		c.middle = []byte("\n" + emptySHA256 + "\n")
		copy(c.prev[:], cs.seed)
	}
	return c
}

// Trailer is Auth.Trailer.
func (c *chunkedReader) Trailer() http.Header {
	if c.err == io.EOF {
		return c.got
	}
	return nil
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.off < len(c.buf) {
			n := copy(p, c.buf[c.off:])
			c.off += n
			return n, nil
		}
		if c.left > 0 {
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.left -= int64(n)
			if err == io.EOF && c.left == 0 {
				err = nil // the CRLF check will report the missing rest
			}
			if err != nil {
				c.err = c.readError(err, "chunk data")
				return n, c.err
			}
			return n, nil
		}
		n, err := c.next(p)
		if err != nil {
			c.err = err
			return 0, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// next reads the next chunk header. For a signed data chunk it also reads
// and verifies the data, into p when it fits (no copy) or into c.buf; it
// returns how many verified bytes it put in p. For an unsigned chunk it
// sets c.left. For the final chunk it reads the trailer and the end of the
// body and returns io.EOF or the failure.
func (c *chunkedReader) next(p []byte) (int, error) {
	if c.needCRLF {
		if err := c.readCRLF(); err != nil {
			return 0, err
		}
		c.needCRLF = false
		c.chunk++
	}
	line, err := c.readLine()
	if err != nil {
		return 0, err
	}
	size, err := c.parseHeader(line)
	if err != nil {
		return 0, err
	}
	if size == 0 {
		return 0, c.finish()
	}
	if c.declared >= 0 && c.decoded+size > c.declared {
		return 0, fmt.Errorf("chunk %d of %d bytes takes the body past x-amz-decoded-content-length %d: %w", c.chunk, size, c.declared, ErrIncompleteBody)
	}
	c.decoded += size
	c.needCRLF = true
	if !c.signed {
		c.left = size
		return 0, nil
	}
	var data []byte
	if int64(len(p)) >= size {
		data = p[:size]
		if _, err := io.ReadFull(c.br, data); err != nil {
			return 0, c.readError(err, "chunk data")
		}
	} else if data, err = c.fill(int(size)); err != nil {
		return 0, err
	}
	if err := c.verify(data); err != nil {
		return 0, err
	}
	if int64(len(p)) >= size {
		return int(size), nil
	}
	c.buf, c.off = data, 0
	return 0, nil
}

// fill reads n bytes into c.buf, growing it only as the bytes arrive.
func (c *chunkedReader) fill(n int) ([]byte, error) {
	c.buf, c.off = c.buf[:0], 0
	for len(c.buf) < n {
		if len(c.buf) == cap(c.buf) {
			c.buf = slices.Grow(c.buf, min(n, max(minChunkBuffer, 2*cap(c.buf)))-len(c.buf))
		}
		m, err := c.br.Read(c.buf[len(c.buf):min(n, cap(c.buf))])
		c.buf = c.buf[:len(c.buf)+m]
		if err != nil && len(c.buf) < n {
			c.buf = c.buf[:0]
			return nil, c.readError(err, "chunk data")
		}
	}
	return c.buf, nil
}

// verify checks the current chunk's signature over data and advances the chain.
func (c *chunkedReader) verify(data []byte) error {
	c.sha.Reset()
	c.sha.Write(data)
	hex.Encode(c.sumHex[:], c.sha.Sum(c.sum[:0]))
	c.mac.Reset()
	c.mac.Write(c.prefix)
	c.mac.Write(c.prev[:])
	c.mac.Write(c.middle)
	c.mac.Write(c.sumHex[:])
	if !hmac.Equal(c.mac.Sum(c.sum[:0]), c.sig[:]) {
		return fmt.Errorf("chunk %d (%d bytes at decoded offset %d): chunk-signature does not match: %w",
			c.chunk, len(data), c.decoded-int64(len(data)), ErrSignatureDoesNotMatch)
	}
	hex.Encode(c.prev[:], c.sig[:])
	return nil
}

// parseHeader parses "hex-size[;chunk-signature=sig]" and stores the signature.
func (c *chunkedReader) parseHeader(line []byte) (int64, error) {
	sizeHex, ext, hasExt := bytes.Cut(line, []byte(";"))
	if len(sizeHex) == 0 || len(sizeHex) > 16 {
		return 0, fmt.Errorf("chunk %d: header %q has no valid size: %w", c.chunk, clip(line), ErrMalformedChunkedEncoding)
	}
	limit := int64(maxUnsignedChunk)
	if c.signed {
		limit = maxSignedChunk
	}
	var size int64
	for _, d := range sizeHex {
		v, ok := unhex(d)
		if !ok {
			return 0, fmt.Errorf("chunk %d: size %q is not hex: %w", c.chunk, clip(sizeHex), ErrMalformedChunkedEncoding)
		}
		if size = size<<4 | int64(v); size > limit {
			return 0, fmt.Errorf("chunk %d: size 0x%s exceeds the %d-byte chunk limit: %w", c.chunk, clip(sizeHex), limit, ErrMalformedChunkedEncoding)
		}
	}
	if !c.signed {
		return size, nil // chunk extensions carry nothing here
	}
	const key = "chunk-signature="
	if !hasExt || !bytes.HasPrefix(ext, []byte(key)) {
		return 0, fmt.Errorf("chunk %d: header %q has no chunk-signature: %w", c.chunk, clip(line), ErrMalformedChunkedEncoding)
	}
	sig := ext[len(key):]
	if len(sig) != 64 {
		return 0, fmt.Errorf("chunk %d: chunk-signature %q is not 64 hex digits: %w", c.chunk, clip(sig), ErrMalformedChunkedEncoding)
	}
	if _, err := hex.Decode(c.sig[:], sig); err != nil {
		return 0, fmt.Errorf("chunk %d: chunk-signature %q is not hex: %w", c.chunk, clip(sig), ErrMalformedChunkedEncoding)
	}
	return size, nil
}

// finish handles everything after the final chunk's header: its
// signature, the decoded length, the trailer, the end of the body.
func (c *chunkedReader) finish() error {
	if c.signed {
		if err := c.verify(nil); err != nil {
			return err
		}
	}
	if c.declared >= 0 && c.decoded != c.declared {
		return fmt.Errorf("decoded body is %d bytes, x-amz-decoded-content-length says %d: %w", c.decoded, c.declared, ErrIncompleteBody)
	}
	if c.trailers {
		if err := c.readTrailer(); err != nil {
			return err
		}
	} else if err := c.readFinalCRLF(); err != nil {
		return err
	}
	// Anything after the end is an error: it would be data nobody signed.
	switch _, err := c.br.ReadByte(); {
	case err == nil:
		return fmt.Errorf("data after the final chunk: %w", ErrMalformedChunkedEncoding)
	case err != io.EOF:
		return c.readError(err, "the end of the body")
	}
	return io.EOF
}

// readTrailer reads "name:value" lines up to an empty line, checks that
// each was announced in x-amz-trailer and, when signed, checks
// x-amz-trailer-signature, which must come last.
func (c *chunkedReader) readTrailer() error {
	h := http.Header{}
	var sig []byte
	if c.signed {
		c.sha.Reset()
	}
	for n := 0; ; n++ {
		line, err := c.readTrailerLine()
		if errors.Is(err, io.EOF) {
			// The body ended cleanly where a trailer line or the closing
			// empty line was due: tolerated, a client that omits the last
			// line end loses nothing (the signed trailer still needs its
			// signature below, an announced checksum is still required
			// by whoever reads Trailer).
			break
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if n == 0 && !c.atEOF() {
				// AWS's trailer example puts an empty line between the
				// final chunk and the trailer (the CRLF of the final
				// chunk's empty data); accept that layout too.
				continue
			}
			break
		}
		if sig != nil {
			return fmt.Errorf("trailer line %q after x-amz-trailer-signature: %w", clip(line), ErrMalformedChunkedEncoding)
		}
		if n >= maxTrailers {
			return fmt.Errorf("more than %d trailer lines: %w", maxTrailers, ErrMalformedChunkedEncoding)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		name, value = bytes.ToLower(bytes.TrimSpace(name)), bytes.TrimSpace(value)
		if !ok || !isLowerToken(string(name)) {
			return fmt.Errorf("trailer line %q is not name:value: %w", clip(line), ErrMalformedChunkedEncoding)
		}
		if string(name) == "x-amz-trailer-signature" {
			if !c.signed {
				return fmt.Errorf("x-amz-trailer-signature in an unsigned-payload trailer: %w", ErrMalformedChunkedEncoding)
			}
			if len(value) != 64 {
				return fmt.Errorf("x-amz-trailer-signature %q is not 64 hex digits: %w", clip(value), ErrMalformedChunkedEncoding)
			}
			sig = value
			continue
		}
		if c.announced != nil && !slices.Contains(c.announced, string(name)) {
			return fmt.Errorf("trailer %q was not announced in x-amz-trailer: %w", name, ErrMalformedChunkedEncoding)
		}
		h.Add(string(name), string(value))
		if c.signed {
			c.sha.Write(name)
			c.sha.Write([]byte{':'})
			c.sha.Write(value)
			c.sha.Write([]byte{'\n'})
		}
	}
	if c.signed {
		if sig == nil {
			return fmt.Errorf("signed trailer without x-amz-trailer-signature: %w", ErrMalformedChunkedEncoding)
		}
		if _, err := hex.Decode(c.sig[:], sig); err != nil {
			return fmt.Errorf("x-amz-trailer-signature %q is not hex: %w", clip(sig), ErrMalformedChunkedEncoding)
		}
		hex.Encode(c.sumHex[:], c.sha.Sum(c.sum[:0]))
		// The string to sign is "AWS4-HMAC-SHA256-TRAILER\n date\n scope\n
		// prev-sig\n hex(sha256(trailer))", as the SDKs sign it. The worked
		// example in AWS's documentation was computed with the PAYLOAD
		// label instead, and clients written from it exist; that 5-line
		// form is accepted too. It cannot be confused with a chunk's
		// 6-line string to sign, so nothing signed for one verifies as
		// the other.
		if !c.trailerSignatureIs("AWS4-HMAC-SHA256-TRAILER") && !c.trailerSignatureIs("AWS4-HMAC-SHA256-PAYLOAD") {
			return fmt.Errorf("x-amz-trailer-signature does not match the trailer: %w", ErrSignatureDoesNotMatch)
		}
	}
	c.got = h
	return nil
}

// trailerSignatureIs checks c.sig against the trailer string to sign with
// the given label; c.sumHex holds the trailer's hash.
func (c *chunkedReader) trailerSignatureIs(label string) bool {
	c.mac.Reset()
	c.mac.Write([]byte(label))
	c.mac.Write(c.prefix[len("AWS4-HMAC-SHA256-PAYLOAD"):]) // "\n" date "\n" scope "\n"
	c.mac.Write(c.prev[:])
	c.mac.Write([]byte{'\n'})
	c.mac.Write(c.sumHex[:])
	return hmac.Equal(c.mac.Sum(c.sum[:0]), c.sig[:])
}

// atEOF reports whether the body has nothing left.
func (c *chunkedReader) atEOF() bool {
	_, err := c.br.Peek(1)
	return err != nil
}

// readLine reads a CRLF-terminated line and returns it without the CRLF.
// The slice is valid until the next read.
func (c *chunkedReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("chunk %d: header line longer than %d bytes: %w", c.chunk, lineBuffer, ErrMalformedChunkedEncoding)
	case err != nil && len(line) == 0 && err == io.EOF:
		return nil, fmt.Errorf("body ended before chunk %d (no final 0-size chunk): %w", c.chunk, ErrIncompleteBody)
	case err != nil:
		return nil, c.readError(err, "a chunk header")
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("chunk %d: header line %q does not end in CRLF: %w", c.chunk, clip(line), ErrMalformedChunkedEncoding)
	}
	return line[:len(line)-2], nil
}

// readTrailerLine is readLine for trailer lines, which may end in a bare LF
// (some clients write them so; the signature covers name:value only). It
// returns an error wrapping io.EOF if the body ends where a line should start.
func (c *chunkedReader) readTrailerLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("trailer line longer than %d bytes: %w", lineBuffer, ErrMalformedChunkedEncoding)
	case err == io.EOF && len(line) == 0:
		return nil, fmt.Errorf("body ended in the trailer: %w: %w", ErrIncompleteBody, io.EOF)
	case err == io.EOF:
		return line, nil // the last line may lack its line end
	case err != nil:
		return nil, c.readError(err, "the trailer")
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// readCRLF reads the CRLF that ends a data chunk. (ReadByte, not
// io.ReadFull into a local array, which would escape and allocate per chunk.)
func (c *chunkedReader) readCRLF() error {
	for _, want := range [2]byte{'\r', '\n'} {
		b, err := c.br.ReadByte()
		if err != nil {
			return c.readError(err, "the CRLF after a chunk")
		}
		if b != want {
			return fmt.Errorf("chunk %d: data is not followed by CRLF (chunk longer than its size?): %w", c.chunk, ErrMalformedChunkedEncoding)
		}
	}
	return nil
}

// readFinalCRLF reads the CRLF after the final chunk's header (its empty
// data). A body that ends right there is accepted: the final chunk's
// signature already closed the chain.
func (c *chunkedReader) readFinalCRLF() error {
	if c.atEOF() {
		return nil
	}
	for _, want := range [2]byte{'\r', '\n'} {
		b, err := c.br.ReadByte()
		if err != nil {
			return c.readError(err, "the final CRLF")
		}
		if b != want {
			return fmt.Errorf("final chunk is not followed by CRLF: %w", ErrMalformedChunkedEncoding)
		}
	}
	return nil
}

// readError classifies an error from the underlying body: an early end is
// ErrIncompleteBody, anything else (a dropped connection, a size limit) is
// passed on wrapped.
func (c *chunkedReader) readError(err error, while string) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("body ended in %s (chunk %d): %w", while, c.chunk, ErrIncompleteBody)
	}
	return fmt.Errorf("reading %s (chunk %d): %w", while, c.chunk, err)
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// clip shortens attacker-supplied bytes quoted in an error message.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

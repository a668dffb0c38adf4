package cloudtier

// What the targets (azure.go, s3.go) share at the edge with their service:
// how long they retry, the shape of the errors they return once they give
// up, how a prefix and a name become an object key, and the body they hand
// to an SDK.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Retry bounds, for both SDKs. An operation is tried at most retryAttempts
// times; the pauses between tries grow exponentially from retryBase, with
// jitter, and are capped at retryMaxDelay. With these figures an operation
// that keeps failing gives up in 10 to 15 seconds (measured by the fault
// tests in target_test.go), so a dead service is reported, not waited on
// for minutes; the caller's context can shorten that, never lengthen it.
// What is retried is said where each SDK is configured (NewAzure, NewS3).
const (
	retryAttempts = 6 // 1 try + 5 retries
	retryBase     = 250 * time.Millisecond
	retryMaxDelay = 4 * time.Second
	// s3MaxBackoff caps aws-sdk-go-v2's backoff, which is random in
	// [0, 2^attempt s) before the cap (it has no base to set).
	s3MaxBackoff = 3 * time.Second
)

// maxPut is the largest object Put takes: S3's PutObject limit (5 GiB),
// under Azure's Put Blob limit (5000 MiB). Packs are 16 to 64 MiB.
const maxPut = 5 << 30

// opError is how a target fails: which target, which operation on which
// object, and what the service (or the network) said, in a few words. The
// SDK's own error stays in the chain for errors.As; ErrNotFound joins it
// when the service said the object (or its container or bucket) is absent.
type opError struct {
	target   string // Target.String()
	op       string // put, get, delete, list
	name     string // the object name (for list, the prefix), relative to the target's prefix
	msg      string
	err      error
	notFound bool
}

func (e *opError) Error() string {
	return fmt.Sprintf("%s: %s %q: %s", e.target, e.op, e.name, e.msg)
}

func (e *opError) Unwrap() []error {
	if e.notFound {
		return []error{ErrNotFound, e.err}
	}
	return []error{e.err}
}

// ctxMessage words a context's end, or returns "".
func ctxMessage(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out (" + context.DeadlineExceeded.Error() + ")"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return ""
}

// cleanPrefix checks a configured prefix and gives it a trailing slash: a
// prefix is a directory of the container or bucket, so "cairn" and
// "cairn/" are the same one.
func cleanPrefix(field, p string) (string, error) {
	if p == "" {
		return "", nil
	}
	switch {
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%s %q: must not start with '/' (write a/b/, not /a/b/)", field, p)
	case strings.Contains(p, "//"):
		return "", fmt.Errorf("%s %q: has an empty path segment (\"//\")", field, p)
	case strings.ContainsAny(p, "\\?#\x00\r\n"):
		return "", fmt.Errorf("%s %q: use letters, digits and '/', '-', '_', '.'; no '\\', '?', '#' or control characters", field, p)
	case len(p) > 512:
		return "", fmt.Errorf("%s: %d bytes long; keep it under 512", field, len(p))
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p, nil
}

// checkName checks an object name given to a target.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty object name")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return fmt.Errorf("object name %q starts or ends with '/'", name)
	case len(name) > 512:
		return fmt.Errorf("object name of %d bytes; keep it under 512", len(name))
	}
	return nil
}

// checkPut checks Put's arguments other than the name.
func checkPut(size int64, md5 []byte) error {
	switch {
	case size < 0:
		return fmt.Errorf("negative size %d", size)
	case size > maxPut:
		return fmt.Errorf("size %d: larger than one put takes (%d)", size, int64(maxPut))
	case len(md5) != 16:
		return fmt.Errorf("md5 of %d bytes, want 16", len(md5))
	}
	return nil
}

// putBody checks Put's arguments and gives the body the SDKs take.
func putBody(name string, body io.ReadSeeker, size int64, md5 []byte) (*section, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := checkPut(size, md5); err != nil {
		return nil, err
	}
	return newSection(body, size)
}

// section is the next size bytes of a ReadSeeker, itself a ReadSeeker that
// starts at 0: the SDKs seek it to learn its length, to hash it (SigV4 over
// plain HTTP signs the payload's SHA-256) and to rewind it for a retry.
type section struct {
	r          io.ReadSeeker
	base, size int64
	off        int64 // next byte to read, in [0, size]
	synced     bool  // r is at base+off
}

// newSection is body from where it stands, size bytes long. It fails if
// body holds fewer than size bytes from there.
func newSection(body io.ReadSeeker, size int64) (*section, error) {
	base, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	end, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if end-base < size {
		return nil, fmt.Errorf("body holds %d bytes, size says %d", end-base, size)
	}
	return &section{r: body, base: base, size: size}, nil
}

func (s *section) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if !s.synced {
		if _, err := s.r.Seek(s.base+s.off, io.SeekStart); err != nil {
			return 0, err
		}
		s.synced = true
	}
	if rest := s.size - s.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.r.Read(p)
	s.off += int64(n)
	if errors.Is(err, io.EOF) {
		if s.off < s.size {
			return n, fmt.Errorf("body ended at byte %d of %d: %w", s.off, s.size, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	return n, err
}

func (s *section) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, fmt.Errorf("seek: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek to %d", offset)
	}
	if offset != s.off {
		s.off, s.synced = offset, false
	}
	return offset, nil
}

// readCloser translates the errors of a GetRange body as the call's own.
type readCloser struct {
	io.ReadCloser
	wrap func(error) error
}

func (r *readCloser) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.wrap(err)
	}
	return n, err
}

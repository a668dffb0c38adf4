package cloudtier

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is a Target's answer for an object it does not hold.
var ErrNotFound = errors.New("cloudtier: no such object")

// Target is a cloud object store: one Azure container or S3 bucket, under
// a prefix. Names are relative to the prefix. Implementations retry what
// the service throttles or fails transiently (with backoff and jitter) and
// wrap errors with the operation, the object name and the endpoint.
type Target interface {
	// Put stores a whole object of size bytes read from body; it is
	// visible, and durable, only once Put returns nil. md5 is the MD5 of
	// the bytes: the service checks what it received against it, so a nil
	// error means the service holds exactly these bytes.
	Put(ctx context.Context, name string, body io.ReadSeeker, size int64, md5 []byte) error
	// GetRange reads n bytes at off of an object (n < 0: to its end). It
	// fails with ErrNotFound (wrapped) when the object is absent.
	GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
	// Delete removes an object; one that is absent is not an error.
	Delete(ctx context.Context, name string) error
	// List calls fn for every object whose name starts with prefix, in
	// name order.
	List(ctx context.Context, prefix string, fn func(name string, size int64) error) error
	// String describes the target for admins and errors: kind, endpoint,
	// container or bucket, prefix (never a credential).
	String() string
}

package replicator

import (
	"context"
	"encoding/json"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Target is the replica side as the handler needs it; the gateway
// implements it over its buckets and object versions.
type Target interface {
	// Store is the chunk store of the replica bucket's storage group. An
	// error wrapping *TargetError says why not (no such bucket: 404; not a
	// replica of this peer: 403).
	Store(ctx context.Context, bucket string) (*chunkstore.Store, error)
	// CommitFunc turns an op (opaque to this package: the source gateway's
	// description of an object version) into the function that records the
	// version in the transaction committing its manifest. It returns
	// ErrAlreadyApplied if the op was applied before, and the returned
	// function may too (a race with another commit of the same op): the
	// handler then answers success, so a repeated commit is harmless.
	CommitFunc(ctx context.Context, bucket string, op json.RawMessage) (chunkstore.CommitFunc, error)
	// Apply applies an op that carries no data (a delete, a delete marker,
	// a tag change). It must be idempotent; ErrAlreadyApplied counts as
	// success.
	Apply(ctx context.Context, bucket string, op json.RawMessage) error
}

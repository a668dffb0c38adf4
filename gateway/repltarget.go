package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/replicator"
	"github.com/cairn-backup/cairn/s3api"
)

// The replica side: the gateway as a replicator.Target. Versions arrive
// with their source's version ID (seq), time, ETag, metadata and tags, so
// that a GET of the replica answers what a GET of the source does; each
// operation is idempotent (a version already there is not written twice, a
// delete of one gone is done).

type replTarget struct {
	g *Gateway
	// seeding: a seed import, which a replica waiting for its seed takes.
	seeding bool
}

var _ replicator.Target = replTarget{}

func targetError(status int, code, format string, args ...any) error {
	return &replicator.TargetError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// replicaGroup resolves a replica bucket's group, refusing a bucket that is
// not a replica and a group at its quota.
func (t replTarget) replicaGroup(bucket string, writing bool) (*group, error) {
	gr, err := t.g.bucketGroup(bucket)
	if err != nil {
		return nil, targetError(http.StatusNotFound, "NoSuchBucket", "there is no bucket %s here", bucket)
	}
	if _, ok := t.g.replicas.Load(bucket); !ok {
		return nil, targetError(http.StatusForbidden, "NotAReplica", "bucket %s here is not a replica: set the replication again to claim it", bucket)
	}
	if _, ok := t.g.seedPending.Load(bucket); ok && !t.seeding {
		return nil, seedPendingError(bucket)
	}
	if writing {
		if err := gr.store.AtQuota(); err != nil {
			var qe *chunkstore.QuotaError
			errors.As(err, &qe)
			if qe != nil {
				return nil, targetError(http.StatusInsufficientStorage, "QuotaExceeded", "storage group %q of replica bucket %s is at its quota: %s used of %s", gr.name, bucket, iec(qe.Used), iec(qe.Quota))
			}
			return nil, err
		}
	}
	return gr, nil
}

func (t replTarget) Store(ctx context.Context, bucket string) (*chunkstore.Store, error) {
	gr, err := t.replicaGroup(bucket, true)
	if err != nil {
		return nil, err
	}
	return gr.store, nil
}

func decodeOp(doc json.RawMessage) (replOp, error) {
	var op replOp
	if err := json.Unmarshal(doc, &op); err != nil {
		return op, targetError(http.StatusBadRequest, "MalformedOperation", "replication operation: %v", err)
	}
	if (op.Op == replPut || op.Op == replDrop || op.Op == replTags || op.Op == replLock) && (op.Key == "" || len(op.Seq) != seqLen) {
		return op, targetError(http.StatusBadRequest, "MalformedOperation", "replication operation %q without a key and version", op.Op)
	}
	return op, nil
}

func (t replTarget) CommitFunc(ctx context.Context, bucket string, doc json.RawMessage) (chunkstore.CommitFunc, error) {
	op, err := decodeOp(doc)
	if err != nil {
		return nil, err
	}
	if op.Op != replPut || op.Rec == nil || op.Rec.DeleteMarker {
		return nil, targetError(http.StatusBadRequest, "MalformedOperation", "a transfer commits a version with data, not %q", op.Op)
	}
	gr, err := t.replicaGroup(bucket, false)
	if err != nil {
		return nil, err
	}
	exists := false
	err = gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, bucket)
		if err == nil {
			exists = k.ver.Get(composite(op.Key, op.Seq)) != nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, replicator.ErrAlreadyApplied
	}
	return func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		if m.Size != op.Rec.Size {
			return targetError(http.StatusBadRequest, "SizeMismatch", "%s: the data is %d bytes, the version says %d", op.Key, m.Size, op.Rec.Size)
		}
		k, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		rec := *op.Rec
		rec.Manifest = m.ID
		return k.putReplicated(op.Key, op.Seq, rec)
	}, nil
}

// putReplicated inserts a version at its source seq; a null version
// replaces the key's null version, as it did at the source.
func (k *bkt) putReplicated(key string, seq []byte, rec versionRecord) error {
	if k.ver.Get(composite(key, seq)) != nil {
		return nil
	}
	if rec.ID == nullVersion {
		if err := k.dropNull(key); err != nil {
			return err
		}
	}
	return k.put(key, seq, rec)
}

func (t replTarget) Apply(ctx context.Context, bucket string, doc json.RawMessage) error {
	op, err := decodeOp(doc)
	if err != nil {
		return err
	}
	switch op.Op {
	case opClaim:
		return t.claim(ctx, bucket, op.Source, op.Seed, op.Since, op.Lock)
	case opRelease:
		return t.release(bucket)
	case opPromote:
		return t.promote(bucket, op)
	case opActivate:
		return t.activate(bucket)
	case opDemote:
		return t.demote(bucket, op)
	}
	gr, err := t.replicaGroup(bucket, op.Op == replPut)
	if err != nil {
		return err
	}
	return updateIn(gr, bucket, func(_ *chunkstore.Tx, k *bkt) error {
		switch op.Op {
		case replPut: // a delete marker
			if op.Rec == nil || !op.Rec.DeleteMarker {
				return targetError(http.StatusBadRequest, "MalformedOperation", "a version with data comes in a transfer")
			}
			return k.putReplicated(op.Key, op.Seq, *op.Rec)
		case replDrop:
			b := k.ver.Get(composite(op.Key, op.Seq))
			if b == nil {
				return nil
			}
			v := version{seq: bytes.Clone(op.Seq)}
			if err := decode(b, &v.rec); err != nil {
				return err
			}
			// The source dropped it: past its retention, or through
			// GOVERNANCE with bypass. What the source could never drop
			// (COMPLIANCE, a legal hold) the replica refuses too.
			k.bypassGovernance = true
			if err := k.drop(op.Key, v); err != nil {
				return lockRefused(op.Key, err)
			}
			return nil
		case replLock:
			if op.Rec == nil {
				return targetError(http.StatusBadRequest, "MalformedOperation", "a lock change without its record")
			}
			return lockRefused(op.Key, k.applyReplicatedLock(op.Key, op.Seq, *op.Rec))
		case replTags:
			ck := composite(op.Key, op.Seq)
			b := k.ver.Get(ck)
			if b == nil {
				return nil
			}
			var rec versionRecord
			if err := decode(b, &rec); err != nil {
				return err
			}
			rec.Meta.Tags = op.Tags
			enc, err := encode(rec)
			if err != nil {
				return err
			}
			return k.ver.Put(ck, enc)
		}
		return targetError(http.StatusBadRequest, "MalformedOperation", "unknown replication operation %q", op.Op)
	})
}

// claim makes bucket a replica of source: a new bucket (in the default
// group), or one that is already its replica, or an empty one. A bucket
// that holds objects, or replicates from elsewhere, is refused. seed says
// the replica is to wait for a seed exported after since.
func (t replTarget) claim(ctx context.Context, bucket, source string, seed bool, since time.Time, lock *lockRecord) error {
	// An existing bucket, whoever owns it, is checked below: empty, or
	// already this source's replica.
	err := t.g.CreateBucket(ctx, bucket, "")
	if err != nil && !errors.Is(err, s3api.ErrBucketAlreadyOwnedByYou) && !errors.Is(err, s3api.ErrBucketAlreadyExists) {
		return targetError(http.StatusBadRequest, "InvalidBucket", "replica bucket %s: %v", bucket, err)
	}
	if cur, ok := t.g.replicas.Load(bucket); ok {
		if cur == source {
			return t.markSeed(bucket, seed, since)
		}
		return targetError(http.StatusConflict, "ReplicaInUse", "bucket %s here is the replica of %s already", bucket, cur)
	}
	err = t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if first, _ := k.ver.Cursor().First(); first != nil {
			return targetError(http.StatusConflict, "BucketNotEmpty", "bucket %s here holds objects: a replica starts empty (or from a seed)", bucket)
		}
		if k.rec.Replication != nil {
			return targetError(http.StatusConflict, "ReplicaInUse", "bucket %s here replicates to another site itself", bucket)
		}
		k.rec.ReplicaOf = source
		k.rec.Versioning = string(s3api.VersioningEnabled)
		if lock != nil {
			// The source's object lock configuration, so that a replica
			// made writable (released, or promoted by a reversal) goes
			// on applying it. Never unset: lock cannot be disabled.
			k.rec.Lock = lock
		}
		k.rec.SeedPending, k.rec.SeedSince = seed, since
		return k.saveInfo()
	})
	if err != nil {
		return err
	}
	if seed {
		t.g.seedPending.Store(bucket, true)
	}
	t.g.replicas.Store(bucket, source)
	t.g.log.Info("bucket is now a replica", "bucket", bucket, "source", source, "at", time.Now().UTC())
	return nil
}

// release makes a replica an ordinary bucket again.
func (t replTarget) release(bucket string) error {
	if _, ok := t.g.replicas.Load(bucket); !ok {
		return nil
	}
	err := t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		k.rec.ReplicaOf = ""
		return k.saveInfo()
	})
	if err != nil {
		return err
	}
	t.g.replicas.Delete(bucket)
	t.g.log.Info("bucket is no longer a replica", "bucket", bucket)
	return nil
}

// markSeed makes a replica wait for a seed exported after since (a --seed
// relationship set again), unless it waits already.
func (t replTarget) markSeed(bucket string, seed bool, since time.Time) error {
	if !seed {
		return nil
	}
	if _, ok := t.g.seedPending.Load(bucket); ok {
		return nil
	}
	err := t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		k.rec.SeedPending, k.rec.SeedSince = true, since
		return k.saveInfo()
	})
	if err == nil {
		t.g.seedPending.Store(bucket, true)
	}
	return err
}

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// Reverse replication (failback): the source bucket becomes the replica of
// its replica, which becomes the writable source, without a write lost or
// two writable copies at any moment. The seeds' manual procedure loses data
// when a step is done out of order; here each step is recorded in the
// source bucket's record before the next, so a crash or a cut resumes
// where it stopped (at start-up, on its own), and each step at the peer is
// idempotent:
//
//	frozen     the source takes no write: its commits are refused (503
//	           SlowDown, retryable) in the transaction that would make
//	           them, so nothing is accepted after the freeze; then the
//	           final sync empties its log
//	promoted   the replica was promoted: a source now, replicating back to
//	           this bucket through the remote it knows this site by, but
//	           refusing writes (503) until activated
//	activating this bucket became the replica of the promoted one, in one
//	           transaction that drops its own relationship and log; the
//	           peer is told to take writes
//
// Writable copies: the source until the freeze, none while the roles move
// (writes get 503, which backup tools retry), the promoted replica after
// activation. --abort, before this bucket has become a replica, demotes
// the peer and unfreezes the source.

// reverseMaxLag is the oldest a pending change may be for a relationship
// to count as in sync for a reversal.
const reverseMaxLag = 5 * time.Second

// reverseRecord is a reversal in progress, in the source bucket's record.
type reverseRecord struct {
	Phase string `json:"phase"` // reverseFrozen, reversePromoted, reverseActivating
	// Back is the remote, at the replica's site, that names this site: the
	// promoted bucket replicates back through it.
	Back string `json:"back"`
	// Peer is the promoted bucket as its relationship names it (what this
	// bucket becomes the replica of).
	Peer string `json:"peer,omitempty"`
	// Remote and Bucket are the replica's, kept once the relationship
	// that named them is gone (activating).
	Remote string `json:"remote,omitempty"`
	Bucket string `json:"bucket,omitempty"`
}

const (
	reverseFrozen     = "frozen"
	reversePromoted   = "promoted"
	reverseActivating = "activating"
)

// Operations at the peer for a reversal.
const (
	opPromote  = "promote"  // become the source: Rec names the bucket to replicate back to
	opActivate = "activate" // take writes
	opDemote   = "demote"   // an aborted reversal: be the replica again
)

// ReverseResult says how a reversal ended.
type ReverseResult struct {
	Bucket       string  `json:"bucket"`
	Remote       string  `json:"remote"`
	NowReplicaOf string  `json:"now_replica_of,omitempty"`
	Aborted      bool    `json:"aborted,omitempty"`
	Seconds      float64 `json:"seconds"`
}

// frozenError is what a write to a bucket whose roles are moving gets.
func frozenError(bucket string) error {
	return s3api.ErrSlowDown.WithMessagef("The bucket %s is switching roles with its replica; retry in a moment (then write to whichever site is the source).", bucket)
}

// ReverseReplication reverses bucket's relationship, or (abort) undoes a
// reversal that has not yet made this bucket a replica.
func (g *Gateway) ReverseReplication(ctx context.Context, bucket, back string, abort bool) (ReverseResult, error) {
	start := time.Now()
	var rec *replRecord
	var rev *reverseRecord
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		rec, rev = k.rec.Replication, k.rec.Reverse
		return nil
	})
	if err != nil {
		return ReverseResult{}, mapErr(err)
	}
	if abort {
		return g.abortReverse(ctx, bucket, rec, rev, start)
	}
	if rev == nil {
		if rec == nil {
			return ReverseResult{}, noReplication(bucket)
		}
		if back == "" {
			return ReverseResult{}, badRequest("name the remote that the replica's site knows this site by: --back NAME (cairn admin remote add there)")
		}
		s := g.sender(bucket)
		if s == nil {
			return ReverseResult{}, noReplication(bucket)
		}
		st, err := s.status()
		if err != nil {
			return ReverseResult{}, err
		}
		// In sync: sending as it should, nothing older than a moment
		// pending (writers may be at work: the freeze stops them, and
		// the final sync sends what they wrote).
		if st.PendingChanges > 0 && (st.State != "idle" && st.State != "sending" || st.LagSeconds > reverseMaxLag.Seconds()) {
			return ReverseResult{}, conflict("NotInSync", "bucket %s is not in sync with %s at %s: %d changes (%s) pending for %.0fs, %s; run cairn admin replication run %s first",
				bucket, rec.Bucket, rec.Remote, st.PendingChanges, iec(st.PendingBytes), st.LagSeconds, st.State, bucket)
		}
		c, ok := g.remotes.get(rec.Remote)
		if !ok {
			return ReverseResult{}, badRequest("remote %s is not configured", rec.Remote)
		}
		hello, err := g.peer(c, 0).Hello(ctx)
		if err != nil {
			return ReverseResult{}, probeError(c, err)
		}
		rev = &reverseRecord{Phase: reverseFrozen, Back: back, Peer: hello.Server + " bucket " + rec.Bucket, Remote: rec.Remote, Bucket: rec.Bucket}
		if hello.Server == "" {
			rev.Peer = "remote " + rec.Remote + " bucket " + rec.Bucket
		}
		if err := g.saveReverse(bucket, rev); err != nil {
			return ReverseResult{}, err
		}
		g.log.Info("reversal: writes frozen", "bucket", bucket, "remote", rec.Remote, "replica", rec.Bucket)
	}
	if err := g.continueReverse(ctx, bucket); err != nil {
		return ReverseResult{}, err
	}
	return ReverseResult{Bucket: bucket, Remote: rev.Remote, NowReplicaOf: rev.Peer, Seconds: time.Since(start).Seconds()}, nil
}

// saveReverse records the reversal's phase (nil: done) in the bucket's
// record, and what writes get meanwhile.
func (g *Gateway) saveReverse(bucket string, rev *reverseRecord) error {
	err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		k.rec.Reverse = rev
		return k.saveInfo()
	})
	if err != nil {
		return mapErr(err)
	}
	if rev != nil && rev.Phase != reverseActivating {
		g.frozen.Store(bucket, true)
	} else {
		g.frozen.Delete(bucket)
	}
	return nil
}

// continueReverse takes a reversal from its recorded phase to the end.
func (g *Gateway) continueReverse(ctx context.Context, bucket string) error {
	g.reverseMu.Lock()
	defer g.reverseMu.Unlock()
	for {
		var rev *reverseRecord
		err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
			rev = k.rec.Reverse
			return nil
		})
		if err != nil {
			return mapErr(err)
		}
		if rev == nil {
			return nil
		}
		c, ok := g.remotes.get(rev.Remote)
		if !ok {
			return fmt.Errorf("reversal of %s: remote %s is not configured", bucket, rev.Remote)
		}
		p := g.peer(c, 0)
		switch rev.Phase {
		case reverseFrozen:
			// The final sync: nothing commits here any more, so the
			// log only shrinks.
			if _, err := g.RunReplication(ctx, bucket); err != nil {
				return fmt.Errorf("reversal of %s: the final sync: %w", bucket, err)
			}
			op, err := json.Marshal(replOp{Op: opPromote, Source: g.sourceName(bucket), Back: rev.Back, Dest: bucket, Lock: g.lockRecordOf(bucket)})
			if err != nil {
				return err
			}
			if err := p.Apply(ctx, rev.Bucket, op); err != nil {
				return fmt.Errorf("reversal of %s: promoting %s at %s: %w", bucket, rev.Bucket, rev.Remote, err)
			}
			rev.Phase = reversePromoted
			if err := g.saveReverse(bucket, rev); err != nil {
				return err
			}
			g.log.Info("reversal: the replica is promoted", "bucket", bucket, "replica", rev.Bucket)
		case reversePromoted:
			// This bucket becomes the replica, in one transaction.
			g.stopSender(bucket)
			err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
				k.rec.Replication = nil
				if err := k.dropReplLog(); err != nil {
					return err
				}
				k.rec.ReplicaOf = rev.Peer
				rev.Phase = reverseActivating
				k.rec.Reverse = rev
				return k.saveInfo()
			})
			if err != nil {
				return mapErr(err)
			}
			g.replSources.Delete(bucket)
			g.replicas.Store(bucket, rev.Peer)
			g.frozen.Delete(bucket)
			g.log.Info("reversal: this bucket is now a replica", "bucket", bucket, "of", rev.Peer)
		case reverseActivating:
			op, _ := json.Marshal(replOp{Op: opActivate})
			if err := p.Apply(ctx, rev.Bucket, op); err != nil {
				return fmt.Errorf("reversal of %s: activating %s at %s: %w", bucket, rev.Bucket, rev.Remote, err)
			}
			if err := g.saveReverse(bucket, nil); err != nil {
				return err
			}
			g.log.Info("reversal done", "bucket", bucket, "source_now", rev.Peer)
		default:
			return fmt.Errorf("reversal of %s: unknown phase %q", bucket, rev.Phase)
		}
	}
}

// abortReverse undoes a reversal that has not made this bucket a replica:
// the peer is demoted (if it was promoted), then writes resume here.
func (g *Gateway) abortReverse(ctx context.Context, bucket string, rec *replRecord, rev *reverseRecord, start time.Time) (ReverseResult, error) {
	if rev == nil {
		return ReverseResult{}, conflict("NoReversal", "bucket %s is not being reversed", bucket)
	}
	if rev.Phase == reverseActivating {
		return ReverseResult{}, conflict("ReversalTooFar", "bucket %s is the replica of %s already: the reversal can only finish (cairn admin replication reverse %s)", bucket, rev.Peer, bucket)
	}
	g.reverseMu.Lock()
	defer g.reverseMu.Unlock()
	c, ok := g.remotes.get(rev.Remote)
	if !ok {
		return ReverseResult{}, badRequest("remote %s is not configured", rev.Remote)
	}
	op, _ := json.Marshal(replOp{Op: opDemote, Source: g.sourceName(bucket)})
	if err := g.peer(c, 0).Apply(ctx, rev.Bucket, op); err != nil {
		return ReverseResult{}, fmt.Errorf("aborting the reversal of %s: demoting %s at %s: %w", bucket, rev.Bucket, rev.Remote, err)
	}
	if err := g.saveReverse(bucket, nil); err != nil {
		return ReverseResult{}, err
	}
	g.log.Info("reversal aborted: writes resume", "bucket", bucket)
	return ReverseResult{Bucket: bucket, Remote: rev.Remote, Aborted: true, Seconds: time.Since(start).Seconds()}, nil
}

// resumeReversals finishes, in the background, the reversals a stop cut
// short (buckets), retrying while the peer cannot be reached.
func (g *Gateway) resumeReversals(ctx context.Context, buckets []string) {
	for _, b := range buckets {
		go func() {
			for wait := time.Second; ctx.Err() == nil; wait = min(2*wait, time.Minute) {
				err := g.continueReverse(ctx, b)
				if err == nil {
					return
				}
				g.log.Warn("reversal not finished; retrying", "bucket", b, "err", err, "retry_in", wait)
				select {
				case <-ctx.Done():
				case <-time.After(wait + time.Duration(rand.Int64N(int64(wait/4)))):
				}
			}
		}()
	}
}

// The peer's side of a reversal (replTarget.Apply).

// promote makes replica bucket a source replicating back to op.Dest
// through remote op.Back, refusing writes until activated.
func (t replTarget) promote(bucket string, op replOp) error {
	back, dst := op.Back, op.Dest
	if _, ok := t.g.remotes.get(back); !ok {
		return targetError(http.StatusBadRequest, "NoSuchRemote", "there is no remote %s here to replicate %s back through (cairn admin remote add %s ... at this site)", back, bucket, back)
	}
	// Frozen before the record says promoted: a client never sees the
	// bucket between the two (neither a replica nor frozen).
	_, wasFrozen := t.g.frozen.LoadOrStore(bucket, true)
	err := t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.ReplicaOf == "" && k.rec.Promoting && k.rec.Replication != nil && k.rec.Replication.Bucket == dst {
			return nil // promoted already: the answer was lost
		}
		if k.rec.ReplicaOf != op.Source {
			return targetError(http.StatusConflict, "NotTheReplica", "bucket %s here is not the replica of %s", bucket, op.Source)
		}
		k.rec.ReplicaOf, k.rec.Promoting = "", true
		if op.Lock != nil {
			k.rec.Lock = op.Lock // the new source applies the old one's object lock
		}
		k.rec.Replication = &replRecord{Remote: back, Bucket: dst, Rules: []replRule{{ID: "reverse", Enabled: true, DeleteMarkers: true, Filter: true}}}
		return k.saveInfo()
	})
	if err != nil {
		if !wasFrozen {
			t.g.frozen.Delete(bucket)
		}
		return err
	}
	t.g.replicas.Delete(bucket)
	t.g.replSources.Store(bucket, true)
	return nil
}

// activate lets a promoted bucket take writes and starts its sender.
func (t replTarget) activate(bucket string) error {
	var rec *replRecord
	err := t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		rec = k.rec.Replication
		if !k.rec.Promoting {
			return nil
		}
		k.rec.Promoting = false
		return k.saveInfo()
	})
	if err != nil {
		return err
	}
	if rec == nil {
		return targetError(http.StatusConflict, "NotPromoted", "bucket %s here was not promoted", bucket)
	}
	t.g.frozen.Delete(bucket)
	if t.g.sender(bucket) == nil {
		return t.g.startSender(bucket, *rec)
	}
	return nil
}

// demote undoes a promotion that was not activated.
func (t replTarget) demote(bucket string, op replOp) error {
	err := t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.ReplicaOf == op.Source {
			return nil // never promoted, or demoted already
		}
		if !k.rec.Promoting {
			return targetError(http.StatusConflict, "Activated", "bucket %s here takes writes already: the reversal cannot be undone", bucket)
		}
		k.rec.ReplicaOf, k.rec.Promoting, k.rec.Replication = op.Source, false, nil
		if err := k.dropReplLog(); err != nil {
			return err
		}
		return k.saveInfo()
	})
	if err != nil {
		return err
	}
	// A replica again before it is unfrozen: never writable between.
	t.g.replicas.Store(bucket, op.Source)
	t.g.replSources.Delete(bucket)
	t.g.frozen.Delete(bucket)
	return nil
}

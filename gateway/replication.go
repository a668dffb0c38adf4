package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// Replication relationships, as admins set them (cairn admin replication
// ...) and as S3 clients do (PutBucketReplication, s3replication.go): a
// source bucket here, a replica bucket on a remote. Setting one claims the
// replica bucket at the remote (made if missing, versioned, read-only to
// its S3 clients from then on) before anything is logged here.

// ReplicationSpec is a relationship to set (POST AdminReplicationPath).
type ReplicationSpec struct {
	Bucket        string `json:"bucket"`
	Remote        string `json:"remote"`
	ReplicaBucket string `json:"replica_bucket"`
	Prefix        string `json:"prefix,omitempty"`
	// DeleteMarkers replicates delete markers (S3's
	// DeleteMarkerReplication); deletes of versions always replicate.
	DeleteMarkers bool   `json:"delete_markers"`
	Schedule      string `json:"schedule,omitempty"`
	Bandwidth     int64  `json:"bandwidth,omitempty"`
	// Existing sends the versions the bucket holds already too (S3's
	// ExistingObjectReplication); otherwise only what is written from now.
	Existing bool `json:"existing,omitempty"`
	// Seed: the replica starts from a seed (cairn admin seed export, then
	// import there), exported after this call; changes wait for it.
	Seed bool `json:"seed,omitempty"`
}

// ReplicationRun is what a manual run sent.
type ReplicationRun struct {
	Bucket       string  `json:"bucket"`
	Versions     int64   `json:"versions"`
	Operations   int64   `json:"operations"`
	LogicalBytes int64   `json:"logical_bytes"`
	BytesSent    int64   `json:"bytes_sent"`
	Seconds      float64 `json:"seconds"`
}

// AddReplication sets a relationship from the admin's spec.
func (g *Gateway) AddReplication(ctx context.Context, spec ReplicationSpec) error {
	if spec.ReplicaBucket == "" {
		return badRequest("name the replica bucket at remote %s (--bucket)", spec.Remote)
	}
	if p := s3api.BucketNameProblem(spec.ReplicaBucket); p != "" {
		return badRequest("replica bucket %q: %s", spec.ReplicaBucket, p)
	}
	if spec.Schedule != "" {
		if _, _, err := parseWindow(spec.Schedule); err != nil {
			return badRequest("%v", err)
		}
	}
	if spec.Bandwidth < 0 {
		return badRequest("bandwidth must not be negative")
	}
	if spec.Seed && spec.Existing {
		return badRequest("--seed and --existing: a seed carries what the bucket holds; give one")
	}
	return g.setReplication(ctx, spec.Bucket, spec.Seed, replRecord{
		Remote: spec.Remote, Bucket: spec.ReplicaBucket, Schedule: spec.Schedule, Bandwidth: spec.Bandwidth,
		Rules: []replRule{{ID: "cairn", Enabled: true, Prefix: spec.Prefix, DeleteMarkers: spec.DeleteMarkers, Filter: true, Existing: spec.Existing}},
	})
}

// setReplication checks a relationship, claims the replica and records it,
// replacing any the bucket had; versions written before it are not sent
// (S3's rule: existing objects need a batch copy, or a seed).
func (g *Gateway) setReplication(ctx context.Context, bucket string, seed bool, rec replRecord) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	c, ok := g.remotes.get(rec.Remote)
	if !ok {
		return badRequest("there is no remote %q (cairn admin remote add NAME --endpoint URL ...)", rec.Remote)
	}
	var vers s3api.Versioning
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		vers = k.versioning()
		return nil
	})
	if err != nil {
		return mapErr(err)
	}
	if vers != s3api.VersioningEnabled {
		return s3api.ErrReplicationRequiresVersioning
	}
	var old *replRecord
	var lock *lockRecord
	if err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error { old, lock = k.rec.Replication, k.rec.Lock; return nil }); err != nil {
		return mapErr(err)
	}
	// The replica first: a relationship whose replica refuses is not set.
	claim, err := json.Marshal(replOp{Op: opClaim, Source: g.sourceName(bucket), Seed: seed, Since: time.Now().UTC(), Lock: lock})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := g.peer(c, 0).Apply(cctx, rec.Bucket, claim); err != nil {
		return badRequest("remote %s could not take bucket %s as a replica of %s: %v", rec.Remote, rec.Bucket, bucket, err)
	}
	err = g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		k.rec.Replication = &rec
		return k.saveInfo()
	})
	if err != nil {
		return mapErr(err)
	}
	g.replSources.Store(bucket, true)
	g.log.Info("replication set", "bucket", bucket, "remote", rec.Remote, "replica", rec.Bucket)
	if old != nil && (old.Remote != rec.Remote || old.Bucket != rec.Bucket) {
		g.releaseReplica(ctx, bucket, *old) // the replica it had is an ordinary bucket again
	}
	if slices.ContainsFunc(rec.Rules, func(r replRule) bool { return r.Enabled && r.Existing }) {
		n, err := g.logExisting(ctx, bucket)
		if err != nil {
			return fmt.Errorf("queueing the existing versions of %s: %w", bucket, err)
		}
		g.log.Info("replication: existing versions queued", "bucket", bucket, "versions", n)
	}
	return g.startSender(bucket, rec)
}

// logExisting queues every version the bucket holds (that a rule selects)
// as a change, a batch per transaction: the sender sends what the replica
// lacks, which for a replica seeded from this bucket is little.
func (g *Gateway) logExisting(ctx context.Context, bucket string) (int, error) {
	var after []byte
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
			var err error
			after, err = k.nextVersions(after, func(key string, seq []byte, rec versionRecord) error {
				total++
				return k.logChange(replPut, key, seq, rec)
			})
			return err
		})
		if err != nil || after == nil {
			return total, err
		}
	}
}

// RemoveReplication ends a bucket's relationship: its log is dropped and
// the replica, told, becomes an ordinary bucket at the remote (best
// effort: an unreachable remote keeps it read-only until told again).
func (g *Gateway) RemoveReplication(ctx context.Context, bucket string) error {
	g.stopSender(bucket)
	var rec *replRecord
	err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		rec = k.rec.Replication
		if rec == nil {
			return nil
		}
		k.rec.Replication = nil
		if err := k.dropReplLog(); err != nil {
			return err
		}
		return k.saveInfo()
	})
	if err != nil {
		return mapErr(err)
	}
	if rec == nil {
		return s3api.ErrReplicationConfigurationNotFound
	}
	g.replSources.Delete(bucket)
	g.releaseReplica(ctx, bucket, *rec)
	g.log.Info("replication removed", "bucket", bucket)
	return nil
}

// releaseReplica tells a replica it is an ordinary bucket again (best
// effort: an unreachable remote keeps it read-only until told again).
func (g *Gateway) releaseReplica(ctx context.Context, bucket string, rec replRecord) {
	c, ok := g.remotes.get(rec.Remote)
	if !ok {
		return
	}
	doc, _ := json.Marshal(replOp{Op: opRelease})
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := g.peer(c, 0).Apply(cctx, rec.Bucket, doc); err != nil {
		g.log.Warn("the replica could not be told it is one no more", "bucket", bucket, "remote", rec.Remote, "replica", rec.Bucket, "err", err)
	}
}

// PauseReplication pauses or resumes a relationship, durably.
func (g *Gateway) PauseReplication(bucket string, paused bool) error {
	var rec replRecord
	err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Replication == nil {
			return noReplication(bucket)
		}
		k.rec.Replication.Paused = paused
		rec = *k.rec.Replication
		return k.saveInfo()
	})
	if err != nil {
		return mapErr(err)
	}
	if s := g.sender(bucket); s != nil {
		s.mu.Lock()
		s.rec = rec
		s.mu.Unlock()
		s.kickSelf()
	}
	return nil
}

func noReplication(bucket string) error {
	return &AdminError{Status: http.StatusNotFound, Code: "NoSuchReplication", Message: fmt.Sprintf("bucket %s does not replicate (cairn admin replication ls lists what does)", bucket)}
}

// Replications lists every relationship with its status.
func (g *Gateway) Replications() ([]ReplicationStatus, error) {
	out := []ReplicationStatus{}
	for _, s := range g.senderList() {
		st, err := s.status()
		if err != nil && !errors.Is(err, s3api.ErrNoSuchBucket) {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// RunReplication sends everything bucket's log holds now, window or not,
// and answers what it sent once the log is empty (or ctx ends, or the
// sender hits an error: it goes on trying after that on its own).
func (g *Gateway) RunReplication(ctx context.Context, bucket string) (ReplicationRun, error) {
	s := g.sender(bucket)
	if s == nil {
		return ReplicationRun{}, noReplication(bucket)
	}
	start := time.Now()
	s.mu.Lock()
	s.manual++
	before := s.st
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.manual--
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		drained := s.drained
		s.mu.Unlock()
		s.kickSelf()
		select {
		case <-ctx.Done():
			return ReplicationRun{}, ctx.Err()
		case <-drained:
		case <-time.After(time.Second):
			st, err := s.status()
			if err != nil {
				return ReplicationRun{}, err
			}
			if st.LastErrorTime.After(start) && st.State != "sending" {
				return ReplicationRun{}, fmt.Errorf("replication of %s to %s: %s (it keeps trying on its own)", bucket, st.Remote, st.LastError)
			}
			continue
		}
		st, err := s.status()
		if err != nil {
			return ReplicationRun{}, err
		}
		if st.PendingChanges > 0 {
			continue // written meanwhile
		}
		return ReplicationRun{
			Bucket: bucket, Versions: st.Versions - before.Versions, Operations: st.Operations - before.Operations,
			LogicalBytes: st.LogicalBytes - before.LogicalBytes, BytesSent: st.BytesSent - before.BytesSent,
			Seconds: time.Since(start).Seconds(),
		}, nil
	}
}

// startSenders starts a sender for every bucket that replicates.
func (g *Gateway) startSenders() {
	g.replSources.Range(func(key, _ any) bool {
		bucket := key.(string)
		var rec *replRecord
		err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
			rec = k.rec.Replication
			return nil
		})
		if err == nil && rec != nil {
			err = g.startSender(bucket, *rec)
		}
		if err != nil {
			g.log.Warn("replication not started", "bucket", bucket, "err", err)
		}
		return true
	})
}

// closeSenders stops every sender.
func (g *Gateway) closeSenders() {
	for _, s := range g.senderList() {
		g.stopSender(s.bucket)
	}
}

// siteName names this gateway to its replicas: the host name.
func (g *Gateway) siteName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "a Cairn gateway"
	}
	return "Cairn at " + h
}

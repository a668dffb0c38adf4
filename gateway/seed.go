package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/replicator"
)

// Seeding, the gateway's side (the format and the work are package
// replicator's): a bucket's versions are enumerated for an export, and an
// import claims the replica bucket for the seed's source before it puts
// anything in. The order that loses nothing:
//
//  1. at the source, set the relationship with --seed: changes are logged
//     from then on, and the replica (claimed, empty) refuses them until a
//     seed is imported, so they wait in the source's log;
//  2. export (at the source), carry the disk, import (at the replica):
//     the import refuses a seed exported before the relationship was set;
//  3. the relationship then sends its log: what changed since the export.

// SeedStatus is the seed export or import in progress, if any.
type SeedStatus struct {
	Running  bool                    `json:"running"`
	Op       string                  `json:"op,omitempty"` // export, import
	Bucket   string                  `json:"bucket,omitempty"`
	Dir      string                  `json:"dir,omitempty"`
	Progress replicator.SeedProgress `json:"progress"`
}

// SeedResult is what an export or import did.
type SeedResult struct {
	Header   replicator.SeedHeader   `json:"header"`
	Progress replicator.SeedProgress `json:"progress"`
	Seconds  float64                 `json:"seconds"`
}

// seedState holds the run in progress: one at a time.
type seedState struct {
	mu sync.Mutex
	st SeedStatus
}

func (s *seedState) start(op, bucket, dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Running {
		return conflict("SeedRunning", "a seed %s of bucket %s is running: wait for it (cairn admin seed status)", s.st.Op, s.st.Bucket)
	}
	s.st = SeedStatus{Running: true, Op: op, Bucket: bucket, Dir: dir}
	return nil
}

func (s *seedState) progress(p replicator.SeedProgress) {
	s.mu.Lock()
	s.st.Progress = p
	s.mu.Unlock()
}

func (s *seedState) stop() {
	s.mu.Lock()
	s.st.Running = false
	s.mu.Unlock()
}

// SeedStatus says where the seed run in progress is.
func (g *Gateway) SeedStatus() SeedStatus {
	g.seedSt.mu.Lock()
	defer g.seedSt.mu.Unlock()
	return g.seedSt.st
}

// sourceName is how a replica knows this bucket as its source.
func (g *Gateway) sourceName(bucket string) string { return g.siteName() + " bucket " + bucket }

// SeedVersions enumerates a bucket's versions for an export, a thousand
// per read transaction.
func (g *Gateway) SeedVersions(ctx context.Context, bucket string, fn func(op json.RawMessage, m chunkstore.ManifestID, hasData bool) error) error {
	type item struct {
		op   json.RawMessage
		m    chunkstore.ManifestID
		data bool
	}
	var after []byte
	for {
		var items []item
		err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
			var err error
			after, err = k.nextVersions(after, func(key string, seq []byte, rec versionRecord) error {
				if !replicable(rec) {
					// As replication does (replsend.go): the replica
					// could not open it.
					g.event(events.ReplicationSSERefused, bucket, fmt.Sprintf("bucket %s: %s (version %s) is encrypted with %s and is left out of the seed: a replica cannot open data sealed under this site's keys", bucket, key, rec.ID, rec.SSE.Mode))
					return nil
				}
				op, err := json.Marshal(replOp{Op: replPut, Key: key, Seq: seq, Rec: replicaRecord(rec)})
				items = append(items, item{op, rec.Manifest, !rec.DeleteMarker})
				return err
			})
			return err
		})
		if err != nil {
			return mapErr(err)
		}
		for _, it := range items {
			if err := fn(it.op, it.m, it.data); err != nil {
				return err
			}
		}
		if after == nil {
			return nil
		}
	}
}

// ExportSeed writes a bucket's seed to dir, a directory on this server.
func (g *Gateway) ExportSeed(ctx context.Context, bucket, dir string) (SeedResult, error) {
	if !filepath.IsAbs(dir) {
		return SeedResult{}, badRequest("seed directory %q: give an absolute path on the server", dir)
	}
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return SeedResult{}, err
	}
	if err := g.seedSt.start("export", bucket, dir); err != nil {
		return SeedResult{}, err
	}
	defer g.seedSt.stop()
	start := time.Now()
	var last replicator.SeedProgress
	hdr, err := replicator.ExportSeed(ctx, gr.store, g, bucket, g.sourceName(bucket), dir, func(p replicator.SeedProgress) {
		last = p
		g.seedSt.progress(p)
	})
	if err != nil {
		return SeedResult{}, badRequest("%v", err)
	}
	last.Versions, last.LogicalBytes, last.Chunks, last.RecordBytes = hdr.Versions, hdr.LogicalBytes, hdr.Chunks, hdr.RecordBytes
	g.log.Info("seed exported", "bucket", bucket, "dir", dir, "versions", hdr.Versions, "chunks", hdr.Chunks, "bytes", hdr.RecordBytes)
	return SeedResult{Header: hdr, Progress: last, Seconds: time.Since(start).Seconds()}, nil
}

// ImportSeed puts a seed into bucket, the replica of the seed's source:
// claimed here for it if it is new (or empty), or the replica a --seed
// relationship claimed, which takes changes again once the import is done.
func (g *Gateway) ImportSeed(ctx context.Context, bucket, dir string) (SeedResult, error) {
	if !filepath.IsAbs(dir) {
		return SeedResult{}, badRequest("seed directory %q: give an absolute path on the server", dir)
	}
	hdr, err := replicator.ReadSeedHeader(dir)
	if err != nil {
		return SeedResult{}, badRequest("%v", err)
	}
	if err := g.seedSt.start("import", bucket, dir); err != nil {
		return SeedResult{}, err
	}
	defer g.seedSt.stop()
	t := replTarget{g: g, seeding: true}
	if err := t.claimForSeed(ctx, bucket, hdr); err != nil {
		return SeedResult{}, err
	}
	start := time.Now()
	p, err := replicator.ImportSeed(ctx, dir, t, bucket, g.seedSt.progress)
	if err != nil {
		return SeedResult{}, fmt.Errorf("seed import into %s: %w", bucket, err)
	}
	if err := t.seedDone(bucket); err != nil {
		return SeedResult{}, err
	}
	g.log.Info("seed imported", "bucket", bucket, "dir", dir, "versions", p.Versions, "skipped", p.Skipped, "chunks", p.Chunks)
	return SeedResult{Header: hdr, Progress: p, Seconds: time.Since(start).Seconds()}, nil
}

// claimForSeed makes bucket the replica of the seed's source, or checks
// that it is: a --seed relationship's replica takes only a seed exported
// after the relationship was set.
func (t replTarget) claimForSeed(ctx context.Context, bucket string, hdr replicator.SeedHeader) error {
	cur, ok := t.g.replicas.Load(bucket)
	if !ok {
		return t.claim(ctx, bucket, hdr.Source, false, time.Time{}, nil)
	}
	if cur != hdr.Source {
		return conflict("ReplicaInUse", "bucket %s here is the replica of %s; the seed is of %s", bucket, cur, hdr.Source)
	}
	var since time.Time
	err := t.g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.SeedPending {
			since = k.rec.SeedSince
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !since.IsZero() && hdr.Created.Before(since) {
		return conflict("SeedTooOld", "the seed in %s was exported at %s, before the replication was set at %s: what changed between is in neither; export it again",
			hdr.Bucket, hdr.Created.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	return nil
}

// seedDone lets a replica that waited for its seed take changes again.
func (t replTarget) seedDone(bucket string) error {
	err := t.g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if !k.rec.SeedPending {
			return nil
		}
		k.rec.SeedPending, k.rec.SeedSince = false, time.Time{}
		return k.saveInfo()
	})
	if err == nil {
		t.g.seedPending.Delete(bucket)
	}
	return err
}

func seedPendingError(bucket string) error {
	return targetError(http.StatusConflict, "SeedPending", "replica bucket %s waits for its seed: import it here (cairn admin seed import --from DIR --bucket %s)", bucket, bucket)
}

package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Stats are the figures `cairn admin stats` prints.
type Stats struct {
	Groups  []GroupStats  `json:"groups"`
	Buckets []BucketStats `json:"buckets"`
	// Tiers are the cloud tiers and their movers: backlog, failures.
	Tiers []TierStatus `json:"tiers,omitempty"`
}

// GroupStats are one storage group's chunk store figures (chunkstore.Stats,
// under stable JSON names).
type GroupStats struct {
	Name         string `json:"name"`
	Dir          string `json:"dir"`
	LogicalBytes int64  `json:"logical_bytes"` // what clients wrote, every version and part
	UniqueBytes  int64  `json:"unique_bytes"`  // after dedup, before compression
	StoredBytes  int64  `json:"stored_bytes"`  // container files, dead records included
	LiveBytes    int64  `json:"live_bytes"`    // the referenced part of StoredBytes
	LaterBytes   int64  `json:"later_bytes"`   // the S2 part of StoredBytes the cleaner makes zstd (zstd-later)
	IndexBytes   int64  `json:"index_bytes"`
	// LocalBytes and TieredBytes split UniqueBytes by where the copies
	// are: on the group's disks, in a cloud tier (both, for chunks in both).
	LocalBytes  int64 `json:"local_bytes"`
	TieredBytes int64 `json:"tiered_bytes"`
	Chunks      int64 `json:"chunks"`
	Manifests   int64 `json:"manifests"`
	Containers  int64 `json:"containers"`
	// Ratio is logical bytes per byte on disk (containers and index).
	Ratio float64 `json:"ratio"`
}

func groupStats(name, dir string, st chunkstore.Stats) GroupStats {
	return GroupStats{
		Name: name, Dir: dir,
		LogicalBytes: st.LogicalBytes, UniqueBytes: st.UniqueBytes, StoredBytes: st.StoredBytes,
		LiveBytes: st.LiveBytes, LaterBytes: st.LaterBytes, IndexBytes: st.IndexBytes, Chunks: st.Chunks,
		LocalBytes: st.LocalBytes, TieredBytes: st.TieredBytes,
		Manifests: st.Manifests, Containers: st.Containers, Ratio: st.ReductionRatio(),
	}
}

// BucketStats are one bucket's figures, from meta.db.
type BucketStats struct {
	Name          string `json:"name"`
	Group         string `json:"group"`
	Versioning    string `json:"versioning,omitempty"`
	Objects       int64  `json:"objects"`        // current objects (delete markers hidden)
	Versions      int64  `json:"versions"`       // every version that holds data, current ones included
	DeleteMarkers int64  `json:"delete_markers"` // delete markers
	LogicalBytes  int64  `json:"logical_bytes"`  // bytes of the current objects
	VersionBytes  int64  `json:"version_bytes"`  // bytes of every version
	Uploads       int64  `json:"uploads"`        // multipart uploads in progress
	PartBytes     int64  `json:"part_bytes"`     // bytes of their parts
}

// Stats reads every group's and every bucket's figures. Each bucket is read
// in its own short transaction so that a large tree does not hold one read
// transaction open for long.
func (g *Gateway) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	for _, gr := range g.groupList() {
		name := gr.name
		st, err := gr.store.Stats(ctx)
		if err != nil {
			return Stats{}, fmt.Errorf("group %s: %w", name, err)
		}
		out.Groups = append(out.Groups, groupStats(name, gr.dir, st))
	}
	buckets, err := g.ListBuckets(ctx)
	if err != nil {
		return Stats{}, err
	}
	for _, b := range buckets {
		if err := ctx.Err(); err != nil {
			return Stats{}, err
		}
		var bs BucketStats
		err := g.viewBucket(b.Name, func(_ *chunkstore.Tx, k *bkt) error {
			bs = BucketStats{Name: b.Name, Group: k.rec.Group, Versioning: k.rec.Versioning}
			return k.count(&bs)
		})
		if err != nil {
			// Deleted since ListBuckets: leave it out.
			continue
		}
		out.Buckets = append(out.Buckets, bs)
	}
	if out.Tiers, err = g.Tiers(ctx); err != nil {
		return Stats{}, err
	}
	return out, nil
}

func (k *bkt) count(bs *BucketStats) error {
	err := k.ver.ForEach(func(ck, v []byte) error {
		var r versionRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		if r.DeleteMarker {
			bs.DeleteMarkers++
			return nil
		}
		bs.Versions++
		bs.VersionBytes += r.Size
		key, seq, err := splitComposite(ck)
		if err != nil {
			return err
		}
		if cur := k.cur.Get([]byte(key)); cur != nil && string(cur) == string(seq) {
			bs.Objects++
			bs.LogicalBytes += r.Size
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := k.upl.ForEach(func(_, _ []byte) error { bs.Uploads++; return nil }); err != nil {
		return err
	}
	return k.prt.ForEach(func(_, v []byte) error {
		var p partRecord
		if err := decode(v, &p); err != nil {
			return err
		}
		bs.PartBytes += p.Size
		return nil
	})
}

// CleanResult is what one cleaner run over every group did.
type CleanResult struct {
	Groups         []GroupClean `json:"groups"`
	BytesReclaimed int64        `json:"bytes_reclaimed"`
}

// GroupClean is one group's cleaner report (chunkstore.CleanReport).
type GroupClean struct {
	Name           string `json:"name"`
	BytesReclaimed int64  `json:"bytes_reclaimed"`
	Candidates     int    `json:"candidates"` // containers at or above the dead threshold, or to recompress
	Compacted      int    `json:"compacted"`
	Recompressed   int    `json:"recompressed"` // of them, S2 records made zstd (zstd-later)
	Skipped        int    `json:"skipped"`
	ChunksDropped  int64  `json:"chunks_dropped"`
	BytesMoved     int64  `json:"bytes_moved"`
}

// Clean runs the cleaner on every group, one after the other, so that the
// disks of one group are not competing with another's compaction.
func (g *Gateway) Clean(ctx context.Context) (CleanResult, error) {
	var out CleanResult
	defer g.cleanSt.set(CleanStatus{})
	for _, gr := range g.groupList() {
		name := gr.name
		g.cleanSt.set(CleanStatus{Running: true, Group: name, BytesReclaimed: out.BytesReclaimed})
		base := out.BytesReclaimed
		rep, err := g.cleanGroup(ctx, gr, "by the admin", chunkstore.CleanOptions{Progress: func(p chunkstore.CleanProgress) {
			g.cleanSt.set(CleanStatus{Running: true, Group: name, Done: p.Done, Total: p.Total, BytesReclaimed: base + p.BytesReclaimed})
		}})
		if err != nil {
			return out, err
		}
		g.log.Info("cleaned", "group", name, "reclaimed", rep.BytesReclaimed)
		out.Groups = append(out.Groups, GroupClean{
			Name: name, BytesReclaimed: rep.BytesReclaimed, Candidates: rep.Candidates, Compacted: rep.Compacted,
			Skipped: rep.Skipped, ChunksDropped: rep.ChunksDropped, BytesMoved: rep.BytesMoved, Recompressed: rep.Recompressed,
		})
		out.BytesReclaimed += rep.BytesReclaimed
	}
	return out, nil
}

// CleanStatus is the cleaner run in progress, if any: which group, how many
// of its candidate containers are done, and what was reclaimed so far.
type CleanStatus struct {
	Running        bool   `json:"running"`
	Group          string `json:"group,omitempty"`
	Done           int    `json:"done"`
	Total          int    `json:"total"`
	BytesReclaimed int64  `json:"bytes_reclaimed"`
}

// cleanState holds the CleanStatus of the run in progress, and each
// group's cleaner totals since the gateway started (for metrics).
type cleanState struct {
	mu     sync.Mutex
	st     CleanStatus
	totals map[string]cleanTotals
}

// cleanTotals count one group's cleaner runs since the gateway started.
type cleanTotals struct {
	runs, failures, reclaimed int64
}

// count records one group's finished run.
func (c *cleanState) count(group string, reclaimed int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.totals == nil {
		c.totals = map[string]cleanTotals{}
	}
	t := c.totals[group]
	t.runs++
	if err != nil {
		t.failures++
	}
	t.reclaimed += reclaimed
	c.totals[group] = t
}

// total is a group's cleanTotals.
func (c *cleanState) total(group string) cleanTotals {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.totals[group]
}

func (c *cleanState) set(st CleanStatus) {
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
}

// CleanStatus says where the cleaner run in progress is.
func (g *Gateway) CleanStatus() CleanStatus {
	g.cleanSt.mu.Lock()
	defer g.cleanSt.mu.Unlock()
	return g.cleanSt.st
}

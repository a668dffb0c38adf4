package chunkstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Stats are a store's figures.
type Stats struct {
	LogicalBytes int64 // bytes of committed manifests: what clients wrote
	UniqueBytes  int64 // plaintext bytes of the chunks they reference
	Chunks       int64 // referenced chunks
	Manifests    int64 // committed manifests
	// LocalBytes and TieredBytes split UniqueBytes by where copies are:
	// plaintext bytes of referenced chunks with a local copy, and with a
	// copy in a tier (a chunk with both counts in both).
	LocalBytes  int64
	TieredBytes int64
	// Packs, PackBytes and PackLiveBytes describe the tiers' packs: how
	// many, their size, and the part that referenced chunks use.
	Packs         int64
	PackBytes     int64
	PackLiveBytes int64
	// StoredBytes is the container files' committed length, dead records
	// included (the cleaner reclaims those).
	StoredBytes int64
	// LiveBytes is the part of StoredBytes that referenced chunks occupy.
	LiveBytes int64
	// LaterBytes is the part of StoredBytes that is S2 records the cleaner
	// is to make zstd (CompressZstdLater).
	LaterBytes int64
	IndexBytes int64 // the index database file
	Containers int64
	// ActiveStreams is the writes in progress now: Writers from their first
	// byte, and Imports, until they commit or abort.
	ActiveStreams int64
	// MaxStreams is the stream limit in force (Config.MaxStreams, or what
	// SetMaxStreams set since): how many streams may append to containers
	// of their own at once.
	MaxStreams int
	// StreamOverflows counts, since Open, the times a stream was handed a
	// container another stream was appending to because MaxStreams
	// containers were busy (a stream that outgrows a shared container and
	// shares again counts again): their chunks interleave, which slows
	// restores.
	StreamOverflows int64
}

// DedupRatio is logical bytes per unique byte.
func (s Stats) DedupRatio() float64 { return ratio(s.LogicalBytes, s.UniqueBytes) }

// CompressionRatio is unique bytes per live stored byte.
func (s Stats) CompressionRatio() float64 { return ratio(s.UniqueBytes, s.LiveBytes) }

// ReductionRatio is logical bytes per byte on disk (containers and index).
func (s Stats) ReductionRatio() float64 { return ratio(s.LogicalBytes, s.StoredBytes+s.IndexBytes) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (s Stats) String() string {
	out := fmt.Sprintf("logical %d, unique %d, stored %d (live %d), index %d; dedup %.2fx, compression %.2fx, overall %.2fx",
		s.LogicalBytes, s.UniqueBytes, s.StoredBytes, s.LiveBytes, s.IndexBytes, s.DedupRatio(), s.CompressionRatio(), s.ReductionRatio())
	out += fmt.Sprintf("; streams %d active of %d, %d overflows", s.ActiveStreams, s.MaxStreams, s.StreamOverflows)
	if s.Packs > 0 {
		out += fmt.Sprintf("; local %d, tiered %d in %d packs of %d bytes (%d live)", s.LocalBytes, s.TieredBytes, s.Packs, s.PackBytes, s.PackLiveBytes)
	}
	return out
}

// Stats reads the store's figures.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := s.check(ctx); err != nil {
		return st, err
	}
	// Read apart from the index: they are the pool's, counted in memory.
	st.ActiveStreams, st.StreamOverflows, st.MaxStreams = s.pool.streamFigures()
	err := s.view(func(t *txn) error {
		c := decodeCounters(t.meta.Get(keyCounters))
		st.LogicalBytes, st.UniqueBytes, st.Chunks, st.Manifests = c.logical, c.unique, c.chunks, c.manifests
		st.LocalBytes, st.TieredBytes = c.local, c.remote
		if err := t.packs.ForEach(func(_, v []byte) error {
			p, err := decodePackRow(v)
			st.Packs++
			st.PackBytes += p.Size
			st.PackLiveBytes += p.live
			return err
		}); err != nil {
			return err
		}
		var err error
		if st.LaterBytes, err = t.laterTotal(); err != nil {
			return err
		}
		return t.containers.ForEach(func(_, v []byte) error {
			cs, err := decodeContainerStat(v)
			st.StoredBytes += cs.committed
			st.LiveBytes += cs.live
			st.Containers++
			return err
		})
	})
	if err != nil {
		return st, err
	}
	if fi, err := os.Stat(filepath.Join(s.cfg.Dir, "index.db")); err == nil {
		st.IndexBytes = fi.Size()
	}
	return st, nil
}

package cloudtier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/chunkstore"
)

// A tier's cleaner gives back the cloud space of data no one needs:
//
//   - a pack none of whose records is referenced is dropped and deleted;
//   - a sparse pack (live records under Threshold of its size) is repacked:
//     its live records go into new packs, then it is dropped and deleted;
//   - an object under the pack prefix that no store records (a pack whose
//     upload or whose drop a crash cut short) is deleted, as are probe
//     objects left behind.
//
// A pack dropped is deleted from the tier one clean later, not at once: a
// reader that looked its chunks up before the drop may still be reading
// it (CleanOptions.Deferred, CleanReport.Dropping).
//
// It must not run beside a Sender of the same tier (a pack just uploaded is
// not recorded yet): a tier's mover runs both. It assumes one gateway per
// tier prefix, which is what the prefix is for.

// CleanOptions tune a tier clean.
type CleanOptions struct {
	// Threshold is the live fraction under which a pack is repacked (0:
	// DefaultRepackThreshold; negative: never repack).
	Threshold float64
	// PackSize is the size of the packs a repack writes.
	PackSize int64
	// SpoolDir is where a repack seals its packs.
	SpoolDir string
	// Deferred are the objects the previous clean dropped
	// (CleanReport.Dropping), deleted now.
	Deferred []string
}

// DefaultRepackThreshold repacks packs that are more than half dead.
const DefaultRepackThreshold = 0.5

// CleanReport is what a tier clean did.
type CleanReport struct {
	Dropped    int   `json:"dropped"`  // dead packs deleted
	Repacked   int   `json:"repacked"` // sparse packs rewritten and deleted
	NewPacks   int64 `json:"new_packs"`
	Orphans    int   `json:"orphans"`      // unrecorded objects deleted
	PackBytes  int64 `json:"pack_bytes"`   // plaintext of the packs dropped and repacked
	OrphanSize int64 `json:"orphan_bytes"` // of the orphans deleted
	Rewritten  int64 `json:"rewritten"`    // live record bytes repacked
	// Deleted counts the objects of packs dropped by the clean before.
	Deleted int `json:"deleted"`
	// Dropping are the objects of the packs dropped now, for the next
	// clean to delete.
	Dropping []string `json:"-"`
}

// Clean cleans tier t for stores, every store that may have packs in it.
func Clean(ctx context.Context, t *Tier, stores []*chunkstore.Store, o CleanOptions) (CleanReport, error) {
	var rep CleanReport
	if o.Threshold == 0 {
		o.Threshold = DefaultRepackThreshold
	}
	for _, name := range o.Deferred {
		if err := t.Target.Delete(ctx, name); err != nil {
			return rep, fmt.Errorf("cloudtier: tier %s: %w", t.Name, err)
		}
		rep.Deleted++
	}
	for _, s := range stores {
		if err := cleanStore(ctx, t, s, o, &rep); err != nil {
			return rep, err
		}
	}
	recorded := map[string]bool{}
	for _, name := range rep.Dropping {
		recorded[name] = true // not orphans: deleted by the next clean
	}
	for _, s := range stores {
		err := s.Packs(ctx, func(p chunkstore.PackInfo) error {
			if p.Tier == t.Name {
				recorded[p.Object] = true
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	for _, prefix := range []string{packPrefix, probePrefix} {
		var orphans []string
		var sizes []int64
		err := t.Target.List(ctx, prefix, func(name string, size int64) error {
			if !recorded[name] && strings.HasPrefix(name, prefix) {
				orphans = append(orphans, name)
				sizes = append(sizes, size)
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("cloudtier: tier %s: %w", t.Name, err)
		}
		for i, name := range orphans {
			if err := t.Target.Delete(ctx, name); err != nil {
				return rep, fmt.Errorf("cloudtier: tier %s: %w", t.Name, err)
			}
			rep.Orphans++
			rep.OrphanSize += sizes[i]
		}
	}
	return rep, nil
}

func cleanStore(ctx context.Context, t *Tier, s *chunkstore.Store, o CleanOptions, rep *CleanReport) error {
	var dead, sparse []chunkstore.PackInfo
	err := s.Packs(ctx, func(p chunkstore.PackInfo) error {
		switch {
		case p.Tier != t.Name:
		case p.LiveBytes == 0:
			dead = append(dead, p)
		case o.Threshold > 0 && float64(p.LiveBytes) < o.Threshold*float64(p.Size):
			sparse = append(sparse, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(sparse) > 0 {
		snd := NewSender(s, t, o.SpoolDir, o.PackSize)
		defer snd.Close()
		for _, p := range sparse {
			_, recs, err := s.PackContents(ctx, p.ID)
			if err != nil {
				return err
			}
			var ids []chunkstore.ChunkID
			for _, r := range recs {
				if r.Referenced && !r.Elsewhere {
					ids = append(ids, r.ID)
					rep.Rewritten += r.Size
				}
			}
			if err := snd.AddChunks(ctx, ids); err != nil {
				return fmt.Errorf("cloudtier: repack %s: %w", p.Object, err)
			}
		}
		if err := snd.Flush(ctx); err != nil {
			return fmt.Errorf("cloudtier: repack: %w", err)
		}
		rep.NewPacks += snd.Stats().Packs
	}
	for _, p := range append(dead, sparse...) {
		err := s.DropPack(ctx, p.ID)
		var inUse *chunkstore.PackInUseError
		if errors.As(err, &inUse) {
			continue // needed again meanwhile: the next clean looks again
		}
		if err != nil {
			return err
		}
		rep.Dropping = append(rep.Dropping, p.Object)
		if p.LiveBytes == 0 {
			rep.Dropped++
		} else {
			rep.Repacked++
		}
		rep.PackBytes += p.Size
	}
	return nil
}

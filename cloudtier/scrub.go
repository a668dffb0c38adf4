package cloudtier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/chunkstore"
)

// ScrubOptions tune a tier scrub.
type ScrubOptions struct {
	// ReadData reads every pack whole, opening each sealed package and
	// checking each record's CRC; without it only indexes are read.
	ReadData bool
	// Progress, if set, is called after each pack.
	Progress func(ScrubProgress)
}

// ScrubProgress is where a tier scrub is.
type ScrubProgress struct {
	Packs, TotalPacks int
	BytesRead         int64
}

// ScrubReport is what a tier scrub found.
type ScrubReport struct {
	Packs     int   // recorded packs checked
	BytesRead int64 // of pack data (with ReadData)
	Catalog   int   // catalog records read
	// Problems name each damaged, missing or inconsistent object.
	Problems []string
	// Orphans are pack objects no store records (tier clean removes them).
	Orphans int
}

// OK says the scrub found no problem.
func (r ScrubReport) OK() bool { return len(r.Problems) == 0 }

func (r ScrubReport) String() string {
	s := fmt.Sprintf("%d packs checked, %d bytes of data read, %d catalog records, %d orphans, %d problems",
		r.Packs, r.BytesRead, r.Catalog, r.Orphans, len(r.Problems))
	for i, p := range r.Problems {
		if i == 20 {
			s += fmt.Sprintf("\n  ... and %d more", len(r.Problems)-i)
			break
		}
		s += "\n  " + p
	}
	return s
}

// scrubRead is how much of a pack one read of a data scrub covers.
const scrubRead = 4 << 20

// Scrub checks what the tier holds for stores: every recorded pack's index
// opens and names, at each recorded place, the chunk the store says is
// there; with ReadData every sealed package opens and every record's CRC
// holds; the catalog reads whole. An error is returned only when the scrub
// cannot go on (the tier unreachable); damage is reported in Problems.
func Scrub(ctx context.Context, t *Tier, stores []*chunkstore.Store, o ScrubOptions) (ScrubReport, error) {
	var rep ScrubReport
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }
	sizes := map[string]int64{}
	err := t.Target.List(ctx, packPrefix, func(name string, size int64) error {
		sizes[name] = size
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cloudtier: tier %s: %w", t.Name, err)
	}
	type packOf struct {
		s *chunkstore.Store
		p chunkstore.PackInfo
	}
	var packs []packOf
	for _, s := range stores {
		err := s.Packs(ctx, func(p chunkstore.PackInfo) error {
			if p.Tier == t.Name {
				packs = append(packs, packOf{s, p})
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	recorded := map[string]bool{}
	for i, po := range packs {
		p := po.p
		recorded[p.Object] = true
		size, ok := sizes[p.Object]
		if !ok {
			problem("pack %s (%d bytes) is recorded but not in the tier", p.Object, p.Size)
			continue
		}
		idx, err := ReadPackIndex(ctx, t.Target, t.Keys, p.Object, size)
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				return rep, err
			}
			problem("%v", err)
			continue
		}
		rep.Packs++
		if idx.DataSize != p.Size || idx.KeyGen != p.KeyGen {
			problem("pack %s: index says %d bytes of key generation %d; the store recorded %d, %d", p.Object, idx.DataSize, idx.KeyGen, p.Size, p.KeyGen)
		}
		_, recs, err := po.s.PackContents(ctx, p.ID)
		if err != nil {
			return rep, err
		}
		byOffset := make(map[int64]IndexEntry, len(idx.Entries))
		for _, e := range idx.Entries {
			byOffset[e.Offset] = e
		}
		for _, r := range recs {
			e, ok := byOffset[r.Offset]
			if !ok || e.Size != r.Size || e.MAC != t.Keys.ChunkMAC(r.ID) {
				problem("pack %s: the index does not hold chunk %s at %d+%d", p.Object, r.ID, r.Offset, r.Size)
			}
		}
		if o.ReadData {
			scrubData(ctx, t, p.Pack, idx, &rep, problem)
		}
		if o.Progress != nil {
			o.Progress(ScrubProgress{Packs: i + 1, TotalPacks: len(packs), BytesRead: rep.BytesRead})
		}
	}
	for name := range sizes {
		if !recorded[name] && strings.HasPrefix(name, packPrefix) {
			rep.Orphans++
		}
	}
	err = NewCatalog(t).Read(ctx, func(CatalogRecord) error {
		rep.Catalog++
		return nil
	})
	if errors.Is(err, ErrDamaged) {
		problem("%v", err)
	} else if err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// scrubData opens a pack's data range by range and checks each record.
func scrubData(ctx context.Context, t *Tier, p chunkstore.Pack, idx PackIndex, rep *ScrubReport, problem func(string, ...any)) {
	next := 0 // the next index entry to check
	for off := int64(0); off < p.Size; off += scrubRead {
		n := min(scrubRead, p.Size-off)
		start, plain, err := openRange(ctx, t, p, off, n)
		if err != nil {
			problem("pack %s: %v", p.Object, err)
			return
		}
		rep.BytesRead += n
		end := start + int64(len(plain))
		for ; next < len(idx.Entries) && idx.Entries[next].Offset+idx.Entries[next].Size <= end; next++ {
			e := idx.Entries[next]
			if e.Offset < start {
				// A record across two reads: read it on its own.
				_, b, err := openRange(ctx, t, p, e.Offset, e.Size)
				if err != nil {
					problem("pack %s: %v", p.Object, err)
					return
				}
				plainAt := b[e.Offset-(e.Offset/sioPayload)*sioPayload:]
				checkRecord(p, e, plainAt[:e.Size], problem)
				continue
			}
			checkRecord(p, e, plain[e.Offset-start:e.Offset-start+e.Size], problem)
		}
	}
}

func checkRecord(p chunkstore.Pack, e IndexEntry, b []byte, problem func(string, ...any)) {
	if _, err := chunkstore.ParseRecord(b); err != nil {
		problem("pack %s: record at %d+%d: %v", p.Object, e.Offset, e.Size, err)
	}
}

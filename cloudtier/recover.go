package cloudtier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/chunkstore"
)

// AdoptReport is what Adopt found.
type AdoptReport struct {
	Packs   int      // packs whose index was read
	Chunks  int      // needed chunks found in them
	Damaged []string // packs whose index did not open, with why
}

// Adopt records in store, for a recovery, the tier's copies of the chunks
// in need (chunk ID to plaintext length, from the catalog's manifests): it
// reads every pack's index and adopts each pack that holds some of them
// (chunkstore.Store.AdoptPack). Packs the store has recorded already (a
// recovery that was cut short) are skipped. A pack whose index does not
// open (ErrDamaged) is reported, not fatal: the versions that needed it
// then fail to commit, and are listed as not recoverable; any other error
// stops Adopt. progress, if set, is called
// after each pack.
func Adopt(ctx context.Context, store *chunkstore.Store, t *Tier, need map[chunkstore.ChunkID]uint32, progress func(AdoptReport)) (AdoptReport, error) {
	var rep AdoptReport
	byMAC := make(map[[32]byte]chunkstore.ChunkID, len(need))
	for id := range need {
		byMAC[t.Keys.ChunkMAC(id)] = id
	}
	have := map[string]bool{}
	err := store.Packs(ctx, func(p chunkstore.PackInfo) error {
		if p.Tier == t.Name {
			have[p.Object] = true
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	type obj struct {
		name string
		size int64
	}
	var packs []obj
	err = t.Target.List(ctx, packPrefix, func(name string, size int64) error {
		if strings.HasPrefix(name, packPrefix) && !have[name] {
			packs = append(packs, obj{name, size})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cloudtier: list packs: %w", err)
	}
	for _, o := range packs {
		idx, err := ReadPackIndex(ctx, t.Target, t.Keys, o.name, o.size)
		if errors.Is(err, ErrDamaged) {
			rep.Damaged = append(rep.Damaged, err.Error())
			continue
		}
		if err != nil {
			// Not the pack's fault (the network, the service): the
			// recovery stops, to be run again, rather than pass it by.
			return rep, err
		}
		rep.Packs++
		var chunks []chunkstore.AdoptedChunk
		for _, e := range idx.Entries {
			id, ok := byMAC[e.MAC]
			if !ok {
				continue
			}
			chunks = append(chunks, chunkstore.AdoptedChunk{
				PackedChunk: chunkstore.PackedChunk{ID: id, Offset: e.Offset, Size: e.Size}, RawLen: need[id]})
		}
		if len(chunks) > 0 {
			p := chunkstore.Pack{Tier: t.Name, Object: o.name, KeyGen: idx.KeyGen, Size: idx.DataSize}
			if _, _, err := store.AdoptPack(ctx, p, chunks); err != nil {
				return rep, fmt.Errorf("cloudtier: adopt pack %s: %w", o.name, err)
			}
			rep.Chunks += len(chunks)
		}
		if progress != nil {
			progress(rep)
		}
	}
	return rep, nil
}

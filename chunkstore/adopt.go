package chunkstore

import (
	"context"
	"fmt"
)

// Disaster recovery rebuilds a store from a tier alone: the tier's packs
// hold the records, its catalog the manifests. AdoptPack records a pack the
// store did not write, with copies of chunks the store has never seen, and
// CommitMoved commits a manifest of such chunks as moved (it needs no
// local copy), so that the recovered objects read through from the tier at
// once.

// AdoptedChunk is a chunk whose record lies in an adopted pack.
type AdoptedChunk struct {
	PackedChunk
	RawLen uint32 // the chunk's plaintext length
}

// AdoptPack records a pack already in a tier and a remote copy of each of
// chunks in it, creating the chunks the store lacks. A created chunk has no
// reference until a manifest names it (CommitMoved), so a recovery adopts
// only the chunks its manifests name. The caller adopts a pack once (a
// recovery cut short lists Packs to see which it has). It returns the
// pack's ID and how many chunks it created.
func (s *Store) AdoptPack(ctx context.Context, p Pack, chunks []AdoptedChunk) (PackID, int, error) {
	if err := s.check(ctx); err != nil {
		return 0, 0, err
	}
	if err := p.validate(); err != nil {
		return 0, 0, err
	}
	for _, c := range chunks {
		if c.Offset < 0 || c.Size <= recordHeaderSize || c.Offset+c.Size > p.Size {
			return 0, 0, fmt.Errorf("chunkstore: chunk %s at %d+%d lies outside pack %q of %d bytes", c.ID, c.Offset, c.Size, p.Object, p.Size)
		}
	}
	var (
		id      uint64
		created int
	)
	err := s.update(func(t *txn) error {
		var err error
		if id, err = t.packs.NextSequence(); err != nil {
			return err
		}
		if err := t.packs.Put(u64key(id), packRow{Pack: p}.encode()); err != nil {
			return err
		}
		for _, c := range chunks {
			loc := remoteLoc{pack: id, offset: c.Offset, size: c.Size}
			e, ok, err := t.entry(c.ID)
			if err != nil {
				return err
			}
			if !ok {
				if err := t.set(c.ID, nil, &entry{rawLen: c.RawLen, remotes: []remoteLoc{loc}}); err != nil {
					return err
				}
				created++
				continue
			}
			if e.rawLen != c.RawLen {
				return fmt.Errorf("chunkstore: chunk %s of %d bytes; pack %q says %d: %w", c.ID, e.rawLen, p.Object, c.RawLen, ErrCorrupt)
			}
			if len(e.remotes) >= maxRemotes {
				continue
			}
			old := e
			e.remotes = append(append([]remoteLoc(nil), e.remotes...), loc)
			if err := t.set(c.ID, &old, &e); err != nil {
				return err
			}
		}
		return nil
	})
	return PackID(id), created, err
}

// CommitMoved commits a manifest of entries whose chunks all have a copy in
// a tier, as moved: its references need no local copy, so reads go to the
// tier for chunks that have none. A chunk absent from the store fails it
// with *MissingChunksError, one without a remote copy with
// *NotInTierError; either changes nothing. fn runs in the same
// transaction. At most maxImportBatch entries.
func (s *Store) CommitMoved(ctx context.Context, entries []Entry, fn CommitFunc) (Manifest, error) {
	if err := s.check(ctx); err != nil {
		return Manifest{}, err
	}
	if len(entries) > maxImportBatch {
		return Manifest{}, fmt.Errorf("chunkstore: %d entries: at most %d in a moved manifest", len(entries), maxImportBatch)
	}
	if len(entries) == 0 {
		return s.emptyManifest(fn)
	}
	var m Manifest
	err := s.update(func(t *txn) error {
		es, absent, _, err := resolveEntries(t, entries)
		if err != nil {
			return err
		}
		if len(absent) > 0 {
			return &MissingChunksError{IDs: absent}
		}
		var noRemote []ChunkID
		for _, e := range es {
			ce, _, err := t.entry(e.id)
			if err != nil {
				return err
			}
			if len(ce.remotes) == 0 && len(noRemote) < maxNotInTier {
				noRemote = append(noRemote, e.id)
			}
		}
		id, err := t.newManifestID()
		if err != nil {
			return err
		}
		if len(noRemote) > 0 {
			return &NotInTierError{Manifest: id, Chunks: noRemote}
		}
		h := manifestHeader{state: statePending, flags: flagMoved, created: s.now().UnixNano()}
		if err := t.putSegments(id, &h, es); err != nil {
			return err
		}
		h.state = stateCommitted
		t.d.logical += h.size
		t.d.manifests++
		m = h.manifest(id)
		if err := s.then(fn, t, m); err != nil {
			return err
		}
		return t.putHeader(id, h)
	})
	return m, err
}

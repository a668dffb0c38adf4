package chunkstore

import (
	"bytes"
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
	id, _, created, err := s.addPack(ctx, p, chunks, true)
	return id, created, err
}

// CommitMoved commits a manifest of entries whose chunks all have a copy in
// a tier, as moved: its references need no local copy, so reads go to the
// tier for chunks that have none. A chunk absent from the store fails it
// with *MissingChunksError, one without a remote copy with
// *NotInTierError; either changes nothing. fn runs in the same
// transaction. At most maxImportBatch entries.
func (s *Store) CommitMoved(ctx context.Context, entries []Entry, fn CommitFunc) (Manifest, error) {
	return s.commitEntries(ctx, entries, fn, true)
}

// checkRemote fails with *NotInTierError when a chunk of es has no remote
// copy.
func (t *txn) checkRemote(id ManifestID, es []segEntry) error {
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
	if len(noRemote) > 0 {
		return &NotInTierError{Manifest: id, Chunks: noRemote}
	}
	return nil
}

// Recall gives a moved manifest its local copies back (S3's RestoreObject):
// every chunk without a local copy is read from its tier, verified, and
// written locally, and the manifest's references count as local again, so
// that reads no longer go to the tier. The tier keeps its copies: a Move
// later releases the local ones without sending anything. A manifest that
// is not moved is left as it is. A recall cut short by a crash leaves the
// manifest moved; the records it wrote are dead space for the cleaner.
func (s *Store) Recall(ctx context.Context, id ManifestID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var h manifestHeader
	err := s.view(func(t *txn) error {
		var err error
		h, err = t.committed(id)
		return err
	})
	if err != nil || h.flags&flagMoved == 0 {
		return err
	}
	im, err := s.NewImport(ctx)
	if err != nil {
		return err
	}
	defer im.Abort()
	// Bring the records home, a batch at a time, each held by the import
	// until the references are local.
	it := s.newEntries(ctx, h.manifest(id), 0, false)
	defer it.Close()
	var ids []ChunkID
	var recs []Record
	flush := func() error {
		var missing []ChunkID
		err := s.view(func(t *txn) error {
			for _, cid := range ids {
				if !hasLocal(t.index.Get(cid[:])) {
					missing = append(missing, cid)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		ids = ids[:0]
		recs = recs[:0]
		for _, cid := range missing {
			r, err := s.ReadRecord(ctx, cid, nil)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		if len(recs) == 0 {
			return nil
		}
		return im.PutRecords(ctx, recs)
	}
	for it.Next() {
		ids = append(ids, it.Entry().ID)
		if len(ids) == 256 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		h, err := t.committed(id)
		if err != nil {
			return err
		}
		if h.flags&flagMoved == 0 || h.flags&flagMoving != 0 {
			return nil
		}
		prefix := u64key(uint64(id))
		c := t.segments.Cursor()
		var es []segEntry
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if es, _, err = decodeSegment(v, es); err != nil {
				return fmt.Errorf("manifest %d: %w", id, err)
			}
			for _, se := range es {
				e, ok, err := t.entry(se.id)
				if err != nil {
					return err
				}
				if !ok || !e.local {
					return fmt.Errorf("manifest %d: chunk %s has no local copy to recall: %w", id, se.id, ErrCorrupt)
				}
				old := e
				e.localRefs++
				if err := t.set(se.id, &old, &e); err != nil {
					return err
				}
			}
		}
		h.flags &^= flagMoved
		return t.putHeader(id, h)
	})
}

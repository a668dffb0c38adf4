package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// Replication, seeding and tier recalls build manifests from chunk IDs and
// records that arrive from elsewhere rather than from a byte stream. An
// Import is such a manifest under construction: pending (rolled back at
// open after a crash) until Commit, with the chunks it has been told about
// held (import holds count as references, so the cleaner cannot take them)
// until it ends. The sender's loop:
//
//	missing := im.Need(ids)       // the target holds what it has
//	im.PutRecords(records of missing)
//	im.Append(entries)            // in order; cannot miss a chunk now
//	im.Commit(fn)
//
// Every step is one transaction and may be repeated: a sender that lost its
// connection asks Need again and sends what is still missing.

// MissingChunksError names chunks a manifest needs that the store does not
// have: the sender should send their records (PutRecords) and retry.
type MissingChunksError struct {
	IDs []ChunkID
}

func (e *MissingChunksError) Error() string {
	return fmt.Sprintf("%d chunks are not in the store (first %s)", len(e.IDs), e.IDs[0])
}

// Is makes errors.Is(err, ErrNotFound) true for it.
func (e *MissingChunksError) Is(target error) bool { return target == ErrNotFound }

// maxImportBatch bounds the IDs, records or entries of one call, so that
// one transaction stays small.
const maxImportBatch = 64 << 10

// Missing returns those of ids the store does not have, counting a chunk no
// manifest references as missing: the cleaner may drop it at any moment, so
// it is never reported present and then gone. (Import.Need holds what it
// reports present.)
func (s *Store) Missing(ctx context.Context, ids []ChunkID) ([]ChunkID, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []ChunkID
	err := s.view(func(t *txn) error {
		for _, id := range ids {
			e, ok, err := t.entry(id)
			if err != nil {
				return err
			}
			if !ok || e.refs == 0 {
				out = append(out, id)
			}
		}
		return nil
	})
	return out, err
}

// Import is a manifest being assembled from chunk IDs. It is not safe for
// concurrent use.
type Import struct {
	s     *Store
	id    ManifestID
	hdr   manifestHeader
	holds uint64 // hold rows written
	cont  *openContainer
	done  bool
}

// NewImport starts an import: a pending manifest of no entries.
func (s *Store) NewImport(ctx context.Context) (*Import, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	im := &Import{s: s}
	err := s.update(func(t *txn) error {
		id, err := t.newManifestID()
		if err != nil {
			return err
		}
		im.id = id
		im.hdr = manifestHeader{state: statePending, created: s.now().UnixNano()}
		if err := t.markPending(id, pendDrain); err != nil {
			return err
		}
		return t.putHeader(id, im.hdr)
	})
	if err != nil {
		return nil, err
	}
	// An import appends records like a Writer: it is a stream until it
	// commits or aborts (which the pending manifest obliges its caller to).
	s.pool.activeStreams.Add(1)
	return im, nil
}

// ID is the manifest the import builds.
func (im *Import) ID() ManifestID { return im.id }

// Size is the logical size appended so far.
func (im *Import) Size() int64 { return im.hdr.size }

func (im *Import) check(ctx context.Context, n int) error {
	if im.done {
		return errors.New("chunkstore: import already committed or aborted")
	}
	if n > maxImportBatch {
		return fmt.Errorf("chunkstore: %d items in one call: at most %d", n, maxImportBatch)
	}
	return im.s.check(ctx)
}

// hold takes a hold on each of ids (indexed) and records it.
func (im *Import) hold(t *txn, ids []ChunkID) error {
	for len(ids) > 0 {
		n := min(len(ids), maxSegEntries)
		v := make([]byte, 0, n*32)
		for _, id := range ids[:n] {
			if err := t.ref(id, 1, true); err != nil {
				return err
			}
			v = append(v, id[:]...)
		}
		im.holds++
		if err := t.holds.Put(pairKey(uint64(im.id), int64(im.holds)), v); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// Need returns those of ids the store lacks, and holds the others until the
// import ends, in one transaction: what Need reports present stays present.
func (im *Import) Need(ctx context.Context, ids []ChunkID) ([]ChunkID, error) {
	if err := im.check(ctx, len(ids)); err != nil {
		return nil, err
	}
	var missing []ChunkID
	holds := im.holds
	err := im.s.update(func(t *txn) error {
		missing = missing[:0]
		var present []ChunkID
		for _, id := range ids {
			if t.index.Get(id[:]) == nil {
				missing = append(missing, id)
			} else {
				present = append(present, id)
			}
		}
		return im.hold(t, present)
	})
	if err != nil {
		im.holds = holds
		return nil, err
	}
	return missing, nil
}

// PutRecords stores records that arrived from elsewhere, each verified
// against its chunk ID (CRC, codec, BLAKE3 of the plaintext) before
// anything is written: one bad record fails the call, naming it, and
// changes nothing. Chunks the store has locally are not written again.
// Every record's chunk is held until the import ends.
func (im *Import) PutRecords(ctx context.Context, recs []Record) error {
	if err := im.check(ctx, len(recs)); err != nil {
		return err
	}
	s := im.s
	errs := make([]error, len(recs))
	parallel(len(recs), func(_, lo, hi int) {
		// A sealed record is checked as far as it can be without its
		// key: CRC and header (verify, as stored).
		bufs := chunkBufs{checkID: true, asStored: true}
		for i := lo; i < hi; i++ {
			r, err := ParseRecord(recs[i].Data)
			if err == nil && (r.ID != recs[i].ID || r.Codec != recs[i].Codec || r.RawLen != recs[i].RawLen) {
				err = fmt.Errorf("record header says chunk %s (%s, %d bytes), not %s: %w", r.ID, r.Codec, r.RawLen, recs[i].ID, ErrCorrupt)
			}
			if err == nil {
				_, err = s.verify(recs[i].ID, recs[i].Data, &bufs)
			}
			if err != nil {
				errs[i] = fmt.Errorf("record %d of %d (chunk %s): %w", i+1, len(recs), recs[i].ID, err)
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chunkstore: refusing records: %w", err)
	}
	holds := im.holds
	s.lastWrite.Store(s.now().UnixNano()) // a replica's writes count as writes (later.go)
	err := s.withGate(func() error {
		// Under the gate: what classify finds local stays until the hold lands.
		var fresh []int
		err := s.view(func(t *txn) error {
			seen := map[ChunkID]bool{}
			for i, r := range recs {
				if !seen[r.ID] && !hasLocal(t.index.Get(r.ID[:])) {
					fresh = append(fresh, i)
				}
				seen[r.ID] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		var locs []entry
		var end int64
		if len(fresh) > 0 {
			if im.cont == nil {
				if im.cont, err = s.pool.acquire(); err != nil {
					return err
				}
			}
			bufs := make([][]byte, len(fresh))
			var size int64
			for k, i := range fresh {
				bufs[k] = recs[i].Data
				size += int64(len(bufs[k]))
			}
			if err := s.admit(size); err != nil {
				return err
			}
			base, err := im.cont.append(bufs...)
			if err != nil {
				return err
			}
			if err := im.cont.sync(); err != nil {
				return err
			}
			end = base
			for _, i := range fresh {
				locs = append(locs, entry{container: im.cont.id, offset: end, size: int64(len(recs[i].Data)), rawLen: recs[i].RawLen})
				end += int64(len(recs[i].Data))
			}
		}
		err = s.update(func(t *txn) error {
			for k, i := range fresh {
				if err := t.place(recs[i].ID, locs[k]); err != nil {
					return err
				}
			}
			if len(locs) > 0 {
				t.contDelta(locs[0].container).committed = end
				if s.codecs.write.Load().later {
					// S2 records from elsewhere (a replica's source writes
					// zstd-later too) are this store's cleaner's to make zstd.
					for _, i := range fresh {
						if recs[i].Codec == CodecS2 && !recs[i].Sealed {
							t.addLater(locs[0].container, int64(len(recs[i].Data)))
						}
					}
				}
			}
			ids := make([]ChunkID, len(recs))
			for i, r := range recs {
				ids[i] = r.ID
			}
			return im.hold(t, ids)
		})
		if im.cont != nil && s.pool.full(im.cont) {
			s.pool.release(im.cont)
			im.cont = nil
		}
		return err
	})
	if err != nil {
		im.holds = holds
	}
	return err
}

// Append adds entries, in order, after those appended so far. If any names
// a chunk the store lacks, it appends nothing, holds the chunks it has, and
// returns *MissingChunksError naming the others. An entry whose length is
// not its chunk's is refused. Offsets in entries are ignored.
func (im *Import) Append(ctx context.Context, entries []Entry) error {
	if err := im.check(ctx, len(entries)); err != nil {
		return err
	}
	hdr, holds := im.hdr, im.holds
	var missing *MissingChunksError
	err := im.s.update(func(t *txn) error {
		es, absent, present, err := resolveEntries(t, entries)
		if err != nil {
			return err
		}
		if len(absent) > 0 {
			missing = &MissingChunksError{IDs: absent}
			return im.hold(t, present)
		}
		if err := t.putSegments(im.id, &hdr, es); err != nil {
			return err
		}
		return t.putHeader(im.id, hdr)
	})
	if err != nil {
		im.holds = holds
		return err
	}
	if missing != nil {
		return missing
	}
	im.hdr = hdr
	return nil
}

// resolveEntries checks entries against the index: the absent chunks, and
// the present ones, or a length mismatch.
func resolveEntries(t *txn, entries []Entry) (es []segEntry, absent, present []ChunkID, err error) {
	es = make([]segEntry, len(entries))
	for i, e := range entries {
		ce, ok, err := t.entry(e.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		if !ok {
			absent = append(absent, e.ID)
			continue
		}
		if e.Len != ce.rawLen {
			return nil, nil, nil, fmt.Errorf("chunkstore: entry %d names chunk %s with %d bytes; the chunk has %d", i, e.ID, e.Len, ce.rawLen)
		}
		present = append(present, e.ID)
		es[i] = segEntry{id: e.ID, len: e.Len}
	}
	return es, absent, present, nil
}

// Commit makes the manifest committed, with fn run in the same transaction.
// The import's holds are dropped afterwards, in the background.
func (im *Import) Commit(ctx context.Context, fn CommitFunc) (Manifest, error) {
	if err := im.check(ctx, 0); err != nil {
		return Manifest{}, err
	}
	hdr := im.hdr
	err := im.s.update(func(t *txn) error {
		hdr.state = stateCommitted
		t.d.logical += hdr.size
		t.d.manifests++
		if err := t.clearPending(im.id, pendDrain); err != nil {
			return err
		}
		if im.holds > 0 {
			if err := t.markPending(im.id, pendHolds); err != nil {
				return err
			}
		}
		if err := im.s.then(fn, t, hdr.manifest(im.id)); err != nil {
			return err
		}
		return t.putHeader(im.id, hdr)
	})
	if err != nil {
		return Manifest{}, err
	}
	im.end()
	im.hdr = hdr
	if im.holds > 0 {
		im.s.drainer.add([]ManifestID{im.id})
	}
	return hdr.manifest(im.id), nil
}

// Abort drops the import: its entries, its holds and the manifest.
func (im *Import) Abort() error {
	if im.done {
		return nil
	}
	im.end()
	return im.s.finish(context.Background(), im.id)
}

func (im *Import) end() {
	im.done = true
	im.s.pool.activeStreams.Add(-1)
	if im.cont != nil {
		im.s.pool.release(im.cont)
		im.cont = nil
	}
}

// dropHolds drops up to budget hold rows of manifest id and reports whether
// more are left.
func (t *txn) dropHolds(id ManifestID, budget int) (bool, error) {
	prefix := u64key(uint64(id))
	c := t.holds.Cursor()
	n := 0
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		if n == budget {
			return true, nil
		}
		if len(v)%32 != 0 {
			return false, fmt.Errorf("manifest %d: hold row of %d bytes: %w", id, len(v), ErrCorrupt)
		}
		for p := v; len(p) > 0; p = p[32:] {
			if err := t.unref(ChunkID(p[:32]), true); err != nil {
				return false, fmt.Errorf("manifest %d hold: %w", id, err)
			}
		}
		if err := t.holds.Delete(k); err != nil {
			return false, err
		}
		n++
	}
	return false, nil
}

// CommitEntries commits a manifest of the given entries (offsets ignored),
// with fn, in one transaction: the way Concat builds one from parts, but
// from chunk IDs. If a chunk is absent it changes nothing and returns
// *MissingChunksError naming every absent chunk. For manifests of more than
// maxImportBatch entries use an Import.
func (s *Store) CommitEntries(ctx context.Context, entries []Entry, fn CommitFunc) (Manifest, error) {
	return s.commitEntries(ctx, entries, fn, false)
}

// commitEntries is CommitEntries, and with moved CommitMoved.
func (s *Store) commitEntries(ctx context.Context, entries []Entry, fn CommitFunc, moved bool) (Manifest, error) {
	if err := s.check(ctx); err != nil {
		return Manifest{}, err
	}
	if len(entries) > maxImportBatch {
		return Manifest{}, fmt.Errorf("chunkstore: %d entries: commit more than %d with an Import", len(entries), maxImportBatch)
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
		id, err := t.newManifestID()
		if err != nil {
			return err
		}
		h := manifestHeader{state: statePending, created: s.now().UnixNano()}
		if moved {
			if err := t.checkRemote(id, es); err != nil {
				return err
			}
			h.flags = flagMoved
		}
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

// ReadRecord returns a chunk's record exactly as stored, from its local copy
// or else from a tier, verified first (CRC, codec, BLAKE3 of the plaintext):
// a copy that fails is never returned. buf is reused when large enough.
func (s *Store) ReadRecord(ctx context.Context, id ChunkID, buf []byte) (Record, error) {
	if err := s.check(ctx); err != nil {
		return Record{}, err
	}
	var e entry
	var ok bool
	err := s.view(func(t *txn) error {
		var err error
		e, ok, err = t.entry(id)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, fmt.Errorf("chunk %s: %w", id, ErrNotFound)
	}
	var packs map[uint64]Pack
	bufs := chunkBufs{rec: buf, checkID: true, asStored: true}
	rec, _, err := s.loadChunk(ctx, id, &e, &bufs, func(rl remoteLoc) ([]byte, error) {
		p, err := s.packOf(rl.pack, &packs)
		if err != nil {
			return nil, err
		}
		b := make([]byte, rl.size)
		return b, s.fetch(ctx, p, rl.offset, b)
	})
	if err != nil {
		return Record{}, err
	}
	h, _ := decodeRecordHeader(rec)
	return Record{ID: id, Codec: h.codec, RawLen: h.rawLen, Sealed: h.sealed, Data: rec}, nil
}

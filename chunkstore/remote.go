package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// A tier (package cloudtier) keeps copies of records in packs: large remote
// objects of many records each, encrypted. The chunk store knows a pack by
// its tier's name, its object name and the key generation it was sealed
// with, and a chunk's copy in it by the offset and length of its record in
// the pack's plaintext. It never sees keys or ciphertext: the Remote in
// Config fetches and decrypts, and the store verifies what comes back
// exactly as it verifies a local read (CRC, codec, BLAKE3 of the plaintext).

// Remote reads records from tiers. Package cloudtier implements it; the
// store only declares it, so it imports nothing of the tier.
type Remote interface {
	// Fetch reads len(p) bytes at off of the plaintext of a pack: whole
	// records as AddPack recorded them. It fails rather than return fewer.
	Fetch(ctx context.Context, pack Pack, off int64, p []byte) error
}

// Pack is a remote object that holds records.
type Pack struct {
	Tier   string // the tier's name, as configured
	Object string // the object's name in the tier
	KeyGen uint32 // the key generation it was sealed with
	Size   int64  // plaintext bytes
}

// PackID names a pack within its store.
type PackID uint64

// PackInfo is a pack and what of it the store still uses.
type PackInfo struct {
	ID PackID
	Pack
	// LiveBytes are the records of referenced chunks; the rest of Size is
	// dead space a tier's cleaner may reclaim by repacking.
	LiveBytes int64
}

// PackedChunk places a chunk's record inside a pack.
type PackedChunk struct {
	ID     ChunkID
	Offset int64 // of the record in the pack's plaintext
	Size   int64 // of the whole record
}

// packRow is a pack's row.
//
//	format (1), then uvarints key generation, size, live bytes, and the
//	tier and object names, each as a uvarint length and bytes
type packRow struct {
	Pack
	live int64
}

func (p packRow) encode() []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(p.KeyGen))
	b = binary.AppendUvarint(b, uint64(p.Size))
	b = binary.AppendUvarint(b, uint64(p.live))
	for _, s := range []string{p.Tier, p.Object} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodePackRow(b []byte) (packRow, error) {
	bad := fmt.Errorf("pack row of %d bytes: %w", len(b), ErrCorrupt)
	if len(b) < 1 || b[0] != 1 {
		return packRow{}, bad
	}
	p := b[1:]
	var vals [3]uint64
	for i := range vals {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return packRow{}, bad
		}
		vals[i], p = v, p[n:]
	}
	var strs [2]string
	for i := range strs {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return packRow{}, bad
		}
		strs[i], p = string(p[n:n+int(l)]), p[n+int(l):]
	}
	if len(p) != 0 || vals[0] > 1<<32-1 || vals[1] > 1<<62 || vals[2] > vals[1] {
		return packRow{}, bad
	}
	return packRow{Pack: Pack{Tier: strs[0], Object: strs[1], KeyGen: uint32(vals[0]), Size: int64(vals[1])}, live: int64(vals[2])}, nil
}

func (t *txn) pack(id uint64) (packRow, bool, error) {
	v := t.packs.Get(u64key(id))
	if v == nil {
		return packRow{}, false, nil
	}
	p, err := decodePackRow(v)
	if err != nil {
		return p, false, fmt.Errorf("pack %d: %w", id, err)
	}
	return p, true, nil
}

func (p Pack) validate() error {
	switch {
	case p.Tier == "" || p.Object == "":
		return errors.New("chunkstore: a pack needs a tier and an object name")
	case len(p.Tier) > 255 || len(p.Object) > 1024 || strings.ContainsRune(p.Tier+p.Object, 0):
		return fmt.Errorf("chunkstore: pack %q in tier %q: name too long or with a NUL byte", p.Object, p.Tier)
	case p.Size <= 0:
		return fmt.Errorf("chunkstore: pack %q: size %d", p.Object, p.Size)
	}
	return nil
}

// AddPack records a pack that a tier has stored durably, and a remote copy
// of each chunk in chunks at its place in the pack. Chunks the store no
// longer has (released and dropped while the pack was uploaded) are
// skipped: their records are dead space in the pack. It returns the pack's
// ID and how many chunks it placed. The records must be the ones ReadRecord
// returned: a read from the tier checks them as it checks local records.
func (s *Store) AddPack(ctx context.Context, p Pack, chunks []PackedChunk) (PackID, int, error) {
	cs := make([]AdoptedChunk, len(chunks))
	for i, c := range chunks {
		cs[i].PackedChunk = c
	}
	id, placed, _, err := s.addPack(ctx, p, cs, false)
	return id, placed, err
}

// addPack records pack p and a remote copy in it of each of chunks; with
// adopt it creates the chunks the store lacks (AdoptPack), else it skips
// them. It counts the copies placed on existing chunks and the chunks
// created.
func (s *Store) addPack(ctx context.Context, p Pack, chunks []AdoptedChunk, adopt bool) (PackID, int, int, error) {
	if err := s.check(ctx); err != nil {
		return 0, 0, 0, err
	}
	if err := p.validate(); err != nil {
		return 0, 0, 0, err
	}
	for _, c := range chunks {
		if c.Offset < 0 || c.Size <= recordHeaderSize || c.Offset+c.Size > p.Size {
			return 0, 0, 0, fmt.Errorf("chunkstore: chunk %s at %d+%d lies outside pack %q of %d bytes", c.ID, c.Offset, c.Size, p.Object, p.Size)
		}
	}
	var (
		id              uint64
		placed, created int
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
			switch {
			case err != nil:
				return err
			case !ok && adopt:
				if err := t.set(c.ID, nil, &entry{rawLen: c.RawLen, remotes: []remoteLoc{loc}}); err != nil {
					return err
				}
				created++
				continue
			case !ok:
				continue
			case adopt && e.rawLen != c.RawLen:
				return fmt.Errorf("chunkstore: chunk %s of %d bytes; pack %q says %d: %w", c.ID, e.rawLen, p.Object, c.RawLen, ErrCorrupt)
			case len(e.remotes) >= maxRemotes && adopt:
				continue // enough copies: this one is not needed
			case len(e.remotes) >= maxRemotes:
				return fmt.Errorf("chunkstore: chunk %s already has %d remote copies", c.ID, len(e.remotes))
			}
			old := e
			e.remotes = append(append([]remoteLoc(nil), e.remotes...), loc)
			if err := t.set(c.ID, &old, &e); err != nil {
				return err
			}
			placed++
		}
		return nil
	})
	return PackID(id), placed, created, err
}

// Packs calls fn for every pack, in ID order.
func (s *Store) Packs(ctx context.Context, fn func(PackInfo) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var page []PackInfo
	var after []byte
	for {
		page = page[:0]
		err := s.view(func(t *txn) error {
			c := t.packs.Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < 1024; k, v = c.Next() {
				p, err := decodePackRow(v)
				if err != nil {
					return fmt.Errorf("pack %x: %w", k, err)
				}
				page = append(page, PackInfo{ID: PackID(binary.BigEndian.Uint64(k)), Pack: p.Pack, LiveBytes: p.live})
				after = append(after[:0], k...)
			}
			return nil
		})
		if err != nil || len(page) == 0 {
			return err
		}
		for _, p := range page {
			if err := fn(p); err != nil {
				return err
			}
		}
	}
}

// NotInTierError is Move's refusal: these chunks of the manifest have no
// remote copy yet (the first of them, at most maxNotInTier).
type NotInTierError struct {
	Manifest ManifestID
	Chunks   []ChunkID
}

const maxNotInTier = 1024

func (e *NotInTierError) Error() string {
	return fmt.Sprintf("manifest %d: %d or more chunks have no copy in a tier (first %s)", e.Manifest, len(e.Chunks), e.Chunks[0])
}

// Move lets a committed manifest give up its local copies: once every
// chunk it names has a remote copy (AddPack), its references stop counting
// as needing the local copy, and the cleaner drops the local copies no
// other manifest needs. Reads then fetch those chunks from the tier. A
// chunk without a remote copy fails the move with *NotInTierError and
// changes nothing. A large manifest moves in bounded transactions; a move
// cut short by a crash is finished at the next open.
func (s *Store) Move(ctx context.Context, id ManifestID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	// Check first, in read transactions: remote copies are never taken away
	// from a referenced chunk, so what is checked here stays true.
	var missing []ChunkID
	var h manifestHeader
	err := s.view(func(t *txn) error {
		var err error
		h, err = t.committed(id)
		return err
	})
	if err != nil || h.flags&flagMoved != 0 {
		return err
	}
	it := s.newEntries(ctx, h.manifest(id), 0, false)
	defer it.Close()
	for it.Next() && len(missing) < maxNotInTier {
		e := it.Entry()
		if it.loc().remotes == nil {
			missing = append(missing, e.ID)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(missing) > 0 {
		return &NotInTierError{Manifest: id, Chunks: missing}
	}
	err = s.update(func(t *txn) error {
		h, err := t.committed(id)
		if err != nil {
			return err
		}
		if h.flags&(flagMoved|flagMoving) != 0 {
			return nil // moved or moving already
		}
		h.flags |= flagMoving
		h.movedUpTo = 0
		if err := t.putHeader(id, h); err != nil {
			return err
		}
		return t.markPending(id, pendMove)
	})
	if err != nil {
		return err
	}
	return s.finish(ctx, id)
}

// moveStep moves up to drainBatch segments of a moving manifest and reports
// whether more are left. A manifest released meanwhile stops moving: its
// drain knows which segments moved.
func (t *txn) moveStep(id ManifestID) (bool, error) {
	h, ok, err := t.header(id)
	if err != nil {
		return false, err
	}
	if !ok || h.state != stateCommitted || h.flags&flagMoving == 0 {
		return false, t.clearPending(id, pendMove)
	}
	prefix := u64key(uint64(id))
	var keys [][]byte
	var vals [][]byte
	c := t.segments.Cursor()
	for k, v := c.Seek(pairKey(uint64(id), h.movedUpTo)); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < drainBatch; k, v = c.Next() {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
	}
	var es []segEntry
	for i, v := range vals {
		start := int64(binary.BigEndian.Uint64(keys[i][8:]))
		if start < h.movedUpTo {
			continue
		}
		var total int64
		if es, total, err = decodeSegment(v, es); err != nil {
			return false, fmt.Errorf("manifest %d: %w", id, err)
		}
		for _, se := range es {
			e, ok, err := t.entry(se.id)
			if err != nil {
				return false, err
			}
			if !ok || e.localRefs == 0 {
				return false, fmt.Errorf("manifest %d: chunk %s has no local reference to move: %w", id, se.id, ErrCorrupt)
			}
			old := e
			e.localRefs--
			if err := t.set(se.id, &old, &e); err != nil {
				return false, err
			}
		}
		h.movedUpTo = start + total
	}
	more := len(keys) == drainBatch
	if !more {
		h.flags = h.flags&^flagMoving | flagMoved
		h.movedUpTo = 0
		if err := t.clearPending(id, pendMove); err != nil {
			return false, err
		}
	}
	return more, t.putHeader(id, h)
}

// NotInTier returns those of ids that have no copy in the named tier (or
// are not in the store at all), in order: what a tier's mover must still
// send, so that a chunk is stored once per tier.
func (s *Store) NotInTier(ctx context.Context, tier string, ids []ChunkID) ([]ChunkID, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []ChunkID
	err := s.view(func(t *txn) error {
		tierOf := map[uint64]string{}
		for _, id := range ids {
			e, ok, err := t.entry(id)
			if err != nil {
				return err
			}
			in := false
			for _, r := range e.remotes {
				name, seen := tierOf[r.pack]
				if !seen {
					p, _, err := t.pack(r.pack)
					if err != nil {
						return err
					}
					name = p.Tier
					tierOf[r.pack] = name
				}
				if name == tier {
					in = true
					break
				}
			}
			if !ok || !in {
				out = append(out, id)
			}
		}
		return nil
	})
	return out, err
}

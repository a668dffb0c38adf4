package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
)

// A tier's cleaner deletes packs no chunk needs and repacks sparse ones:
// PackContents says what a pack holds and whether each record is needed
// there, DropPack forgets a pack once nothing needs it.

// PackRecord is one record of a pack as the store sees it.
type PackRecord struct {
	PackedChunk
	// Referenced says a manifest names the chunk.
	Referenced bool
	// Elsewhere says the chunk has a copy in another pack of the same
	// tier: this one is not needed for it.
	Elsewhere bool
}

// PackContents lists the records of pack id in offset order.
func (s *Store) PackContents(ctx context.Context, id PackID) (Pack, []PackRecord, error) {
	if err := s.check(ctx); err != nil {
		return Pack{}, nil, err
	}
	var p packRow
	var out []PackRecord
	err := s.view(func(t *txn) error {
		var ok bool
		var err error
		if p, ok, err = t.pack(uint64(id)); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("pack %d: %w", id, ErrNotFound)
		}
		tierOf := map[uint64]string{}
		prefix := u64key(uint64(id))
		c := t.packlocs.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			cid, size, err := decodePackLoc(v)
			if err != nil {
				return fmt.Errorf("pack %d: %w", id, err)
			}
			r := PackRecord{PackedChunk: PackedChunk{ID: cid, Offset: int64(binary.BigEndian.Uint64(k[8:])), Size: size}}
			e, ok, err := t.entry(cid)
			if err != nil {
				return err
			}
			if ok {
				r.Referenced = e.refs > 0
				for _, rl := range e.remotes {
					if rl.pack == uint64(id) {
						continue
					}
					name, seen := tierOf[rl.pack]
					if !seen {
						op, _, err := t.pack(rl.pack)
						if err != nil {
							return err
						}
						name, tierOf[rl.pack] = op.Tier, op.Tier
					}
					if name == p.Tier {
						r.Elsewhere = true
					}
				}
			}
			out = append(out, r)
		}
		return nil
	})
	return p.Pack, out, err
}

// PackInUseError is DropPack's refusal: chunks a manifest needs have their
// only copy in the tier in this pack.
type PackInUseError struct {
	Pack   PackID
	Chunks int
}

func (e *PackInUseError) Error() string {
	return fmt.Sprintf("chunkstore: pack %d holds the tier's only copy of %d referenced chunks", e.Pack, e.Chunks)
}

// DropPack forgets pack id: its row and every chunk's copy in it, in one
// transaction. It refuses with *PackInUseError while a referenced chunk
// has no other copy in the pack's tier, so a tier keeps a copy of all it
// was given. A chunk left with no copy at all and no reference goes. The
// caller deletes the remote object afterwards (a crash between leaves an
// object no pack row names: an orphan for the tier's cleaner).
func (s *Store) DropPack(ctx context.Context, id PackID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	_, recs, err := s.PackContents(ctx, id)
	if err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		p, ok, err := t.pack(uint64(id))
		if err != nil || !ok {
			return err
		}
		// Checked again in this transaction: what PackContents saw may
		// have changed, but only towards needing the pack less (a chunk
		// gains references only through manifests that already hold it).
		inUse := 0
		for _, r := range recs {
			e, ok, err := t.entry(r.ID)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			var keep []remoteLoc
			other := false
			for _, rl := range e.remotes {
				if rl.pack == uint64(id) {
					continue
				}
				keep = append(keep, rl)
				op, _, err := t.pack(rl.pack)
				if err != nil {
					return err
				}
				other = other || op.Tier == p.Tier
			}
			if e.refs > 0 && !other {
				inUse++
				continue
			}
			if len(keep) == len(e.remotes) {
				continue
			}
			old := e
			e.remotes = keep
			if e.refs == 0 && !e.local && len(keep) == 0 {
				if err := t.set(r.ID, &old, nil); err != nil {
					return err
				}
				continue
			}
			if err := t.set(r.ID, &old, &e); err != nil {
				return err
			}
		}
		if inUse > 0 {
			return &PackInUseError{Pack: id, Chunks: inUse}
		}
		delete(t.packLive, uint64(id)) // the row goes: no count to keep
		return t.packs.Delete(u64key(uint64(id)))
	})
}

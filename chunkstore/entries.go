package chunkstore

import (
	"context"
	"fmt"
	"sync"
)

// Entry is one chunk of a manifest: its ID, where its bytes begin in the
// object, and how many they are.
type Entry struct {
	ID     ChunkID
	Offset int64
	Len    uint32
}

// Entries enumerates a manifest's entries in order, one segment (at most
// 1024 entries) in memory at a time, so that a 1 TiB object (about 64
// million entries at 16 KiB) is walked in bounded memory. It holds a lease
// on the manifest, like a Reader, until Close. Use it like bufio.Scanner:
//
//	for it.Next() { e := it.Entry() ... }
//	if err := it.Err(); err != nil { ... }
type Entries struct {
	s    *Store
	ctx  context.Context
	m    Manifest
	pos  int64 // the offset of the next entry
	seg  segment
	i    int // the current entry's index in seg, -1 before the first
	err  error
	drop func()
}

// Entries enumerates a committed manifest from the entry holding offset
// from (0 for all of it).
func (s *Store) Entries(ctx context.Context, id ManifestID, from int64) (*Entries, error) {
	var it *Entries
	err := s.View(func(tx *Tx) error {
		var err error
		it, err = tx.Entries(ctx, id, from)
		return err
	})
	return it, err
}

// newEntries starts an enumeration of m; leased says whether it holds a
// lease for Close to drop.
func (s *Store) newEntries(ctx context.Context, m Manifest, from int64, leased bool) *Entries {
	it := &Entries{s: s, ctx: ctx, m: m, pos: max(from, 0), seg: segment{end: -1}, i: -1}
	if leased {
		var once sync.Once
		it.drop = func() { once.Do(func() { s.leases.drop(m.ID) }) }
	}
	return it
}

// Manifest is the manifest being enumerated.
func (it *Entries) Manifest() Manifest { return it.m }

// Next advances to the next entry; it returns false at the end or on an
// error (see Err).
func (it *Entries) Next() bool {
	if it.err != nil || it.pos >= it.m.Size {
		return false
	}
	if err := it.s.check(it.ctx); err != nil {
		it.err = err
		return false
	}
	if !it.seg.holds(it.pos) {
		if err := it.s.loadSegment(it.m.ID, it.pos, &it.seg); err != nil {
			it.err = err
			return false
		}
	}
	it.i = it.seg.index(it.pos)
	it.pos = it.seg.offs[it.i] + int64(it.seg.es[it.i].len)
	return true
}

// Entry is the current entry.
func (it *Entries) Entry() Entry {
	if it.i < 0 {
		return Entry{}
	}
	return Entry{ID: it.seg.es[it.i].id, Offset: it.seg.offs[it.i], Len: it.seg.es[it.i].len}
}

// loc is the current entry's index entry, as resolved with its segment.
func (it *Entries) loc() *entry { return &it.seg.locs[it.i] }

// Err is the error that ended the enumeration, if any.
func (it *Entries) Err() error {
	if it.err != nil {
		return fmt.Errorf("manifest %d: %w", it.m.ID, it.err)
	}
	return nil
}

// Close ends the enumeration and drops its lease. It is idempotent.
func (it *Entries) Close() error {
	if it.drop != nil {
		it.drop()
	}
	it.seg = segment{end: -1}
	return nil
}

package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// ManifestID names a manifest within its store.
type ManifestID uint64

// Manifest describes an object's bytes: the ordered chunk list lives in the
// index database in segments, never all in memory.
type Manifest struct {
	ID      ManifestID
	Size    int64 // logical bytes
	Chunks  int64
	Created time.Time
	// Moved: the manifest no longer needs local copies of its chunks (Move);
	// reads fetch what is not local from the tier.
	Moved bool
}

type manifestState uint8

const (
	// statePending: being written, composed or imported; rolled back at
	// open after a crash.
	statePending manifestState = 1
	// stateCommitted: durable and readable.
	stateCommitted manifestState = 2
	// stateReleasing: deleted; its references are being dropped.
	stateReleasing manifestState = 3
)

// Header flags.
const (
	// flagMoved: no entry of the manifest needs a local copy.
	flagMoved = 1
	// flagMoving: a Move is under way: entries of segments starting before
	// movedUpTo no longer need a local copy.
	flagMoving = 2
)

// manifestHeader is a manifest's row in the manifests bucket.
//
//	0 1 state, 1 1 flags, 2 6 reserved, 8 8 size, 16 8 chunks,
//	24 8 created (Unix ns), 32 8 moved up to (format 2 only)
//
// Format 1 headers are 32 bytes with no flags.
type manifestHeader struct {
	state     manifestState
	flags     uint8
	size      int64
	chunks    int64
	created   int64
	movedUpTo int64
}

func (h manifestHeader) encode() []byte {
	b := make([]byte, 40)
	b[0] = byte(h.state)
	b[1] = h.flags
	binary.BigEndian.PutUint64(b[8:], uint64(h.size))
	binary.BigEndian.PutUint64(b[16:], uint64(h.chunks))
	binary.BigEndian.PutUint64(b[24:], uint64(h.created))
	binary.BigEndian.PutUint64(b[32:], uint64(h.movedUpTo))
	return b
}

func decodeManifestHeader(b []byte) (manifestHeader, error) {
	if (len(b) != 32 && len(b) != 40) || b[0] < byte(statePending) || b[0] > byte(stateReleasing) ||
		b[1]&^(flagMoved|flagMoving) != 0 || (len(b) == 32 && b[1] != 0) {
		return manifestHeader{}, fmt.Errorf("manifest header of %d bytes: %w", len(b), ErrCorrupt)
	}
	h := manifestHeader{
		state:   manifestState(b[0]),
		flags:   b[1],
		size:    int64(binary.BigEndian.Uint64(b[8:])),
		chunks:  int64(binary.BigEndian.Uint64(b[16:])),
		created: int64(binary.BigEndian.Uint64(b[24:])),
	}
	if len(b) == 40 {
		h.movedUpTo = int64(binary.BigEndian.Uint64(b[32:]))
	}
	if h.size < 0 || h.chunks < 0 || h.movedUpTo < 0 {
		return h, fmt.Errorf("manifest header: size %d, chunks %d: %w", h.size, h.chunks, ErrCorrupt)
	}
	return h, nil
}

func (h manifestHeader) manifest(id ManifestID) Manifest {
	return Manifest{ID: id, Size: h.size, Chunks: h.chunks, Created: time.Unix(0, h.created), Moved: h.flags&flagMoved != 0}
}

// local reports whether the entries of the segment starting at start count
// as needing their local copies.
func (h manifestHeader) local(start int64) bool {
	switch {
	case h.flags&flagMoved != 0:
		return false
	case h.flags&flagMoving != 0:
		return start >= h.movedUpTo
	}
	return true
}

// A segment is a run of consecutive manifest entries, keyed by the manifest
// ID and the logical offset of its first byte. A Range read seeks straight
// to the segment holding its first byte.
//
//	0 1 format (1), 1 3 reserved, 4 4 count, then count x (chunk ID 32, raw length 4)
const (
	segEntrySize  = 36
	segHeaderSize = 8
	// maxSegEntries bounds a segment so a reader holds at most this many
	// entries in memory (about 36 KiB).
	maxSegEntries = 1024
)

type segEntry struct {
	id  ChunkID
	len uint32
}

func appendSegment(dst []byte, es []segEntry) []byte {
	dst = append(dst, 1, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(es)))
	for _, e := range es {
		dst = append(dst, e.id[:]...)
		dst = binary.BigEndian.AppendUint32(dst, e.len)
	}
	return dst
}

// decodeSegment parses a segment value into es (reused) and returns the
// total logical length it covers.
func decodeSegment(b []byte, es []segEntry) ([]segEntry, int64, error) {
	if len(b) < segHeaderSize || b[0] != 1 || b[1]|b[2]|b[3] != 0 {
		return nil, 0, fmt.Errorf("manifest segment header: %w", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	if n == 0 || n > maxSegEntries || len(b) != segHeaderSize+n*segEntrySize {
		return nil, 0, fmt.Errorf("manifest segment: %d entries in %d bytes: %w", n, len(b), ErrCorrupt)
	}
	es = es[:0]
	var total int64
	for p := b[segHeaderSize:]; len(p) > 0; p = p[segEntrySize:] {
		e := segEntry{id: ChunkID(p[:32]), len: binary.BigEndian.Uint32(p[32:])}
		if e.len == 0 || e.len > maxRecordRaw {
			return nil, 0, fmt.Errorf("manifest segment: entry of %d bytes: %w", e.len, ErrCorrupt)
		}
		total += int64(e.len)
		es = append(es, e)
	}
	return es, total, nil
}

// putSegments appends entries to manifest id's segments, which end at
// h.size, taking a reference on each chunk; h's size and count grow.
func (t *txn) putSegments(id ManifestID, h *manifestHeader, es []segEntry) error {
	return t.putPlacedSegments(id, h, es, nil, nil)
}

// putPlacedSegments is putSegments for a writer's batch, whose chunks
// marked in isNew were just written at locs (in order): each is placed
// where it takes its reference (placeRef).
func (t *txn) putPlacedSegments(id ManifestID, h *manifestHeader, es []segEntry, isNew []bool, locs []entry) error {
	local := h.local(h.size)
	j := 0
	for i, e := range es {
		var loc *entry
		if isNew != nil && isNew[i] {
			loc = &locs[j]
			j++
		}
		if err := t.placeRef(e.id, loc, 1, local); err != nil {
			return err
		}
	}
	for len(es) > 0 {
		n := min(len(es), maxSegEntries)
		if err := t.segments.Put(pairKey(uint64(id), h.size), appendSegment(nil, es[:n])); err != nil {
			return err
		}
		for _, e := range es[:n] {
			h.size += int64(e.len)
		}
		h.chunks += int64(n)
		es = es[n:]
	}
	return nil
}

func (t *txn) header(id ManifestID) (manifestHeader, bool, error) {
	v := t.manifests.Get(u64key(uint64(id)))
	if v == nil {
		return manifestHeader{}, false, nil
	}
	h, err := decodeManifestHeader(v)
	if err != nil {
		return h, false, fmt.Errorf("manifest %d: %w", id, err)
	}
	return h, true, nil
}

func (t *txn) committed(id ManifestID) (manifestHeader, error) {
	h, ok, err := t.header(id)
	if err != nil {
		return h, err
	}
	if !ok || h.state != stateCommitted {
		return h, fmt.Errorf("manifest %d: %w", id, ErrNotFound)
	}
	return h, nil
}

func (t *txn) putHeader(id ManifestID, h manifestHeader) error {
	return t.manifests.Put(u64key(uint64(id)), h.encode())
}

func (t *txn) newManifestID() (ManifestID, error) {
	n, err := t.manifests.NextSequence()
	return ManifestID(n), err
}

// What the pending bucket says is left to do for a manifest (a bit set).
const (
	// pendDrain: drop its holds and segments, then the header (a write or
	// import that never committed, or a release).
	pendDrain = 1
	// pendHolds: drop its holds (a committed import).
	pendHolds = 2
	// pendMove: finish a Move.
	pendMove = 4
)

func (t *txn) markPending(id ManifestID, what byte) error {
	k := u64key(uint64(id))
	if v := t.pending.Get(k); len(v) == 1 {
		what |= v[0]
	}
	return t.pending.Put(k, []byte{what})
}

func (t *txn) clearPending(id ManifestID, what byte) error {
	k := u64key(uint64(id))
	v := t.pending.Get(k)
	if len(v) != 1 {
		return nil
	}
	if left := v[0] &^ what; left != 0 {
		return t.pending.Put(k, []byte{left})
	}
	return t.pending.Delete(k)
}

func (t *txn) pendingWork(id ManifestID) byte {
	if v := t.pending.Get(u64key(uint64(id))); len(v) == 1 {
		return v[0]
	}
	return 0
}

// Stat describes a committed manifest.
func (s *Store) Stat(ctx context.Context, id ManifestID) (Manifest, error) {
	if err := s.check(ctx); err != nil {
		return Manifest{}, err
	}
	var m Manifest
	err := s.view(func(t *txn) error {
		h, err := t.committed(id)
		m = h.manifest(id)
		return err
	})
	return m, err
}

// Manifests calls fn for every committed manifest, in ID order.
func (s *Store) Manifests(ctx context.Context, fn func(Manifest) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	// Page through in short read transactions so that a long walk (with fn
	// doing I/O) does not pin old pages of the database.
	var after []byte
	for {
		var page []Manifest
		err := s.view(func(t *txn) error {
			c := t.manifests.Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < 1024; k, v = c.Next() {
				h, err := decodeManifestHeader(v)
				if err != nil {
					return fmt.Errorf("manifest %x: %w", k, err)
				}
				if h.state == stateCommitted {
					page = append(page, h.manifest(ManifestID(binary.BigEndian.Uint64(k))))
				}
				after = append(after[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for _, m := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(m); err != nil {
				return err
			}
		}
	}
}

// drainBatch bounds the segments (or hold rows) one transaction drops;
// concatBatch the segments one transaction of Concat copies.
const (
	drainBatch  = 64
	concatBatch = 256
)

// finish does what the pending bucket says is left for a manifest, each
// step in bounded transactions: it is resumed at the next open if the
// process stops meanwhile.
func (s *Store) finish(ctx context.Context, id ManifestID) error {
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		var more bool
		err := s.freeing(func() error {
			return s.update(func(t *txn) error {
				var err error
				more, err = t.finishStep(id, s.leases.mayDrain)
				return err
			})
		})
		if err != nil || !more {
			return err
		}
	}
}

// finishAll finishes many manifests, several small ones per transaction, so
// that a burst of deletes costs a few commits rather than one each.
func (s *Store) finishAll(ctx context.Context, ids []ManifestID) error {
	for len(ids) > 0 {
		if err := s.check(ctx); err != nil {
			return err
		}
		done := 0
		err := s.freeing(func() error {
			// In a commit group with the writes that released them: one
			// fsync for both. It may run more than once (commit.go).
			return s.batch(func(t *txn) error {
				done = 0
				for _, id := range ids[:min(len(ids), concatBatch)] {
					more, err := t.finishStep(id, s.leases.mayDrain)
					if err != nil {
						return fmt.Errorf("manifest %d: %w", id, err)
					}
					if more {
						break // a large one: it goes on in the next transaction
					}
					done++
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		ids = ids[done:]
	}
	return nil
}

// finishStep does one bounded step of a manifest's pending work and reports
// whether more is left that this caller may do. A released manifest is
// drained only once mayDrain says no reader holds it (the leases hand it
// over); until then its holds and its move are still finished, and the
// drain is left for the leases' turn.
func (t *txn) finishStep(id ManifestID, mayDrain func(ManifestID) bool) (bool, error) {
	work := t.pendingWork(id)
	if work&pendDrain != 0 {
		h, ok, err := t.header(id)
		if err != nil {
			return false, err
		}
		if !ok || h.state != stateReleasing || mayDrain(id) {
			more, err := t.dropSegments(id)
			if err == nil && !more && ok && h.state == stateReleasing {
				t.drained = append(t.drained, id) // its header is gone now
			}
			return more, err
		}
		work &^= pendDrain
	}
	switch {
	case work&pendHolds != 0:
		more, err := t.dropHolds(id, drainBatch)
		if err == nil && !more {
			err = t.clearPending(id, pendHolds)
			more = work&^pendHolds != 0
		}
		return more, err
	case work&pendMove != 0:
		return t.moveStep(id)
	}
	return false, nil
}

// dropSegments drops up to drainBatch hold rows and segments of a manifest
// and their references; when none remain it deletes the header and reports
// false.
func (t *txn) dropSegments(id ManifestID) (more bool, err error) {
	if more, err := t.dropHolds(id, drainBatch); err != nil || more {
		return more, err
	}
	h, ok, err := t.header(id)
	if err != nil {
		return false, err
	}
	prefix := u64key(uint64(id))
	c := t.segments.Cursor()
	var es []segEntry
	n := 0
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		if n == drainBatch {
			return true, nil
		}
		if es, _, err = decodeSegment(v, es); err != nil {
			return false, fmt.Errorf("manifest %d: %w", id, err)
		}
		local := !ok || h.local(int64(binary.BigEndian.Uint64(k[8:])))
		for _, e := range es {
			if err := t.unref(e.id, local); err != nil {
				return false, fmt.Errorf("manifest %d: %w", id, err)
			}
		}
		if err := t.segments.Delete(k); err != nil {
			return false, err
		}
		n++
	}
	if err := t.pending.Delete(prefix); err != nil {
		return false, err
	}
	return false, t.manifests.Delete(prefix)
}

// Clone makes a new manifest with the same content, sharing every chunk:
// no data is copied or read (CopyObject).
func (s *Store) Clone(ctx context.Context, id ManifestID) (Manifest, error) {
	return s.ConcatWith(ctx, []ManifestID{id}, nil)
}

// Concat makes a new manifest that is the given manifests one after the
// other, sharing their chunks: no data is copied or read (multipart
// completion). The sources stay until released.
func (s *Store) Concat(ctx context.Context, ids []ManifestID) (Manifest, error) {
	return s.ConcatWith(ctx, ids, nil)
}

// ConcatWith is Concat with fn run in the transaction that commits the new
// manifest. A source must be committed, or released but held by a lease
// (a copy whose source was overwritten meanwhile). The result is moved
// when every source is.
func (s *Store) ConcatWith(ctx context.Context, ids []ManifestID, fn CommitFunc) (Manifest, error) {
	if err := s.check(ctx); err != nil {
		return Manifest{}, err
	}
	if len(ids) == 0 {
		return s.emptyManifest(fn)
	}
	var (
		dst       ManifestID
		out       manifestHeader
		next      []byte // the next source segment key to copy
		persisted bool   // dst is in the database (pending)
	)
	fail := func(err error) (Manifest, error) {
		if persisted {
			if rerr := s.finish(context.WithoutCancel(ctx), dst); rerr != nil {
				s.log.Error("dropping a failed concatenation", "manifest", dst, "err", rerr)
			}
		}
		return Manifest{}, err
	}
	moved, err := s.allMoved(ids)
	if err != nil {
		return Manifest{}, err
	}
	// Each transaction copies up to concatBatch segments, from as many
	// sources as fit: a 10,000-part upload completes in a few transactions,
	// not one (and one fsync) per part. i and next say where to go on.
	for i := 0; i < len(ids); {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		err := s.update(func(t *txn) error {
			created := !persisted
			if created {
				id, err := t.newManifestID()
				if err != nil {
					return err
				}
				dst = id
				out = manifestHeader{state: statePending, created: s.now().UnixNano()}
				if moved {
					out.flags = flagMoved
				}
			}
			hdr := out
			j, nx := i, next
			for budget := concatBatch; budget > 0 && j < len(ids); {
				if err := s.readable(t, ids[j]); err != nil {
					return err
				}
				prefix := u64key(uint64(ids[j]))
				if nx == nil {
					nx = prefix
				}
				// Collect first: bbolt cursors must not see their bucket change.
				var vals [][]byte
				c := t.segments.Cursor()
				k, v := c.Seek(nx)
				for ; k != nil && bytes.HasPrefix(k, prefix) && len(vals) < budget; k, v = c.Next() {
					vals = append(vals, bytes.Clone(v))
				}
				budget -= max(len(vals), 1)
				var es []segEntry
				for _, v := range vals {
					var err error
					if es, _, err = decodeSegment(v, es); err != nil {
						return fmt.Errorf("manifest %d: %w", ids[j], err)
					}
					if err := t.putSegments(dst, &hdr, es); err != nil {
						return fmt.Errorf("manifest %d: %w", ids[j], err)
					}
				}
				if k != nil && bytes.HasPrefix(k, prefix) {
					nx = bytes.Clone(k)
				} else {
					nx = nil
					j++
				}
			}
			if j == len(ids) {
				hdr.state = stateCommitted
				t.d.logical += hdr.size
				t.d.manifests++
				if !created {
					if err := t.clearPending(dst, pendDrain); err != nil {
						return err
					}
				}
				if err := s.then(fn, t, hdr.manifest(dst)); err != nil {
					return err
				}
			} else if err := t.markPending(dst, pendDrain); err != nil {
				return err
			}
			if err := t.putHeader(dst, hdr); err != nil {
				return err
			}
			out, i, next = hdr, j, nx
			return nil
		})
		if err != nil {
			return fail(err)
		}
		persisted = true
	}
	return out.manifest(dst), nil
}

// readable checks that a Concat source's segments are there to copy.
func (s *Store) readable(t *txn, id ManifestID) error {
	h, ok, err := t.header(id)
	if err != nil {
		return err
	}
	if ok && (h.state == stateCommitted || (h.state == stateReleasing && s.leases.holds(id))) {
		return nil
	}
	return fmt.Errorf("manifest %d: %w", id, ErrNotFound)
}

func (s *Store) allMoved(ids []ManifestID) (bool, error) {
	moved := true
	err := s.view(func(t *txn) error {
		for _, id := range ids {
			h, ok, err := t.header(id)
			if err != nil {
				return err
			}
			if !ok || h.flags&flagMoved == 0 {
				moved = false
				return nil
			}
		}
		return nil
	})
	return moved, err
}

// emptyManifest commits a manifest of no bytes.
func (s *Store) emptyManifest(fn CommitFunc) (Manifest, error) {
	var m Manifest
	err := s.update(func(t *txn) error {
		id, err := t.newManifestID()
		if err != nil {
			return err
		}
		h := manifestHeader{state: stateCommitted, created: s.now().UnixNano()}
		t.d.manifests++
		m = h.manifest(id)
		if err := s.then(fn, t, m); err != nil {
			return err
		}
		return t.putHeader(id, h)
	})
	return m, err
}

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
}

type manifestState uint8

const (
	// statePending: being written (or composed); released at open after a crash.
	statePending manifestState = 1
	// stateCommitted: durable and readable.
	stateCommitted manifestState = 2
	// stateReleasing: deleted; its references are being dropped in batches.
	stateReleasing manifestState = 3
)

// manifestHeader is a manifest's row in the manifests bucket.
//
//	0 1 state, 1 7 reserved, 8 8 size, 16 8 chunks, 24 8 created (Unix ns)
type manifestHeader struct {
	state   manifestState
	size    int64
	chunks  int64
	created int64
}

func (h manifestHeader) encode() []byte {
	b := make([]byte, 32)
	b[0] = byte(h.state)
	binary.BigEndian.PutUint64(b[8:], uint64(h.size))
	binary.BigEndian.PutUint64(b[16:], uint64(h.chunks))
	binary.BigEndian.PutUint64(b[24:], uint64(h.created))
	return b
}

func decodeManifestHeader(b []byte) (manifestHeader, error) {
	if len(b) != 32 || b[0] < byte(statePending) || b[0] > byte(stateReleasing) {
		return manifestHeader{}, fmt.Errorf("manifest header of %d bytes: %w", len(b), ErrCorrupt)
	}
	h := manifestHeader{
		state:   manifestState(b[0]),
		size:    int64(binary.BigEndian.Uint64(b[8:])),
		chunks:  int64(binary.BigEndian.Uint64(b[16:])),
		created: int64(binary.BigEndian.Uint64(b[24:])),
	}
	if h.size < 0 || h.chunks < 0 {
		return h, fmt.Errorf("manifest header: size %d, chunks %d: %w", h.size, h.chunks, ErrCorrupt)
	}
	return h, nil
}

func (h manifestHeader) manifest(id ManifestID) Manifest {
	return Manifest{ID: id, Size: h.size, Chunks: h.chunks, Created: time.Unix(0, h.created)}
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

// Release deletes a committed manifest and drops its chunk references. The
// manifest is gone for readers as soon as the first transaction commits; a
// very large one has its references dropped in further bounded transactions,
// resumed at the next open if the process stops meanwhile.
func (s *Store) Release(ctx context.Context, id ManifestID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	more := false
	err := s.freeing(func() error {
		return s.update(func(t *txn) error {
			h, err := t.committed(id)
			if err != nil {
				return err
			}
			t.d.logical -= h.size
			t.d.manifests--
			h.state = stateReleasing
			if err := t.putHeader(id, h); err != nil {
				return err
			}
			more, err = t.dropSegments(id)
			return err
		})
	})
	if err != nil || !more {
		return err
	}
	return s.drain(ctx, id)
}

// drain drops the remaining references of a pending or releasing manifest.
func (s *Store) drain(ctx context.Context, id ManifestID) error {
	for more := true; more; {
		if err := ctx.Err(); err != nil {
			return err // the rest is resumed at the next open
		}
		err := s.freeing(func() error {
			return s.update(func(t *txn) error {
				var err error
				more, err = t.dropSegments(id)
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// drainBatch bounds the segments one transaction drops; concatBatch the
// segments one transaction of Concat copies.
const (
	drainBatch  = 64
	concatBatch = 256
)

// dropSegments drops up to drainBatch segments of a manifest and their
// references; when none remain it deletes the header and reports false.
func (t *txn) dropSegments(id ManifestID) (more bool, err error) {
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
		for _, e := range es {
			if err := t.unref(e.id); err != nil {
				return false, fmt.Errorf("manifest %d: %w", id, err)
			}
		}
		if err := t.segments.Delete(k); err != nil {
			return false, err
		}
		n++
	}
	return false, t.manifests.Delete(prefix)
}

// Clone makes a new manifest with the same content, sharing every chunk:
// no data is copied or read (CopyObject).
func (s *Store) Clone(ctx context.Context, id ManifestID) (Manifest, error) {
	return s.Concat(ctx, []ManifestID{id})
}

// Concat makes a new manifest that is the given manifests one after the
// other, sharing their chunks: no data is copied or read (multipart
// completion). The sources stay until released.
func (s *Store) Concat(ctx context.Context, ids []ManifestID) (Manifest, error) {
	if err := s.check(ctx); err != nil {
		return Manifest{}, err
	}
	var (
		dst  ManifestID
		out  manifestHeader
		next []byte // the next source segment key to copy
	)
	fail := func(err error) (Manifest, error) {
		if dst != 0 {
			if rerr := s.drain(context.WithoutCancel(ctx), dst); rerr != nil {
				s.log.Error("dropping a failed concatenation", "manifest", dst, "err", rerr)
			}
		}
		return Manifest{}, err
	}
	// Each transaction copies up to concatBatch segments, from as many
	// sources as fit: a 10,000-part upload completes in a few transactions,
	// not one (and one fsync) per part. i and next say where to go on.
	for i := 0; i < len(ids); {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		err := s.withGate(func() error {
			return s.update(func(t *txn) error {
				if dst == 0 {
					var err error
					if dst, err = t.newManifestID(); err != nil {
						return err
					}
					out = manifestHeader{state: statePending, created: s.now().UnixNano()}
				}
				for budget := concatBatch; budget > 0 && i < len(ids); {
					if _, err := t.committed(ids[i]); err != nil {
						return err
					}
					prefix := u64key(uint64(ids[i]))
					if next == nil {
						next = prefix
					}
					// Collect first: bbolt cursors must not see their bucket change.
					var vals [][]byte
					c := t.segments.Cursor()
					k, v := c.Seek(next)
					for ; k != nil && bytes.HasPrefix(k, prefix) && len(vals) < budget; k, v = c.Next() {
						vals = append(vals, bytes.Clone(v))
					}
					budget -= max(len(vals), 1)
					var es []segEntry
					for _, v := range vals {
						var size int64
						var err error
						if es, size, err = decodeSegment(v, es); err != nil {
							return fmt.Errorf("manifest %d: %w", ids[i], err)
						}
						for _, e := range es {
							if err := t.ref(e.id, 1); err != nil {
								return fmt.Errorf("manifest %d: %w", ids[i], err)
							}
						}
						if err := t.segments.Put(pairKey(uint64(dst), out.size), v); err != nil {
							return err
						}
						out.size += size
						out.chunks += int64(len(es))
					}
					if k != nil && bytes.HasPrefix(k, prefix) {
						next = bytes.Clone(k)
					} else {
						next = nil
						i++
					}
				}
				if i == len(ids) {
					out.state = stateCommitted
					t.d.logical += out.size
					t.d.manifests++
				}
				return t.putHeader(dst, out)
			})
		})
		if err != nil {
			return fail(err)
		}
	}
	if len(ids) == 0 {
		return s.emptyManifest()
	}
	return out.manifest(dst), nil
}

// emptyManifest commits a manifest of no bytes.
func (s *Store) emptyManifest() (Manifest, error) {
	var m Manifest
	err := s.update(func(t *txn) error {
		id, err := t.newManifestID()
		if err != nil {
			return err
		}
		h := manifestHeader{state: stateCommitted, created: s.now().UnixNano()}
		t.d.manifests++
		m = h.manifest(id)
		return t.putHeader(id, h)
	})
	return m, err
}

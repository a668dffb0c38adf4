package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Reader reads a manifest's bytes: an io.ReadSeekCloser that also has
// WriteTo, so io.Copy streams chunks without an extra copy. It holds one
// manifest segment (at most maxSegEntries entries) and one chunk in memory.
// Every chunk is checked against its ID; a mismatch is ErrCorrupt, never
// wrong bytes.
type Reader struct {
	s    *Store
	ctx  context.Context
	id   ManifestID
	size int64
	pos  int64

	// The segment holding pos: entries, their absolute start offsets and
	// their resolved locations.
	seg      []segEntry
	offs     []int64
	locs     []entry
	segStart int64
	segEnd   int64

	cur      []byte // plaintext of the current chunk
	curStart int64
	rec      []byte // read buffer for a record
	plain    []byte // decompression buffer
}

// NewReader opens a committed manifest for reading.
func (s *Store) NewReader(ctx context.Context, id ManifestID) (*Reader, error) {
	m, err := s.Stat(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Reader{s: s, ctx: ctx, id: id, size: m.Size, segStart: -1, segEnd: -1, curStart: -1}, nil
}

// Size is the manifest's length in bytes.
func (r *Reader) Size() int64 { return r.size }

// Read fills p across chunk boundaries, so that a caller copying with a
// large buffer (an HTTP response) makes few large writes.
func (r *Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.pos < r.size {
		if err := r.load(); err != nil {
			if n > 0 {
				return n, nil // the error comes again on the next call
			}
			return 0, err
		}
		k := copy(p[n:], r.cur[r.pos-r.curStart:])
		r.pos += int64(k)
		n += k
	}
	return n, nil
}

// WriteTo writes from the current position to the end.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.pos < r.size {
		if err := r.load(); err != nil {
			return total, err
		}
		n, err := w.Write(r.cur[r.pos-r.curStart:])
		total += int64(n)
		r.pos += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return r.pos, fmt.Errorf("chunkstore: seek whence %d", whence)
	}
	if offset < 0 {
		return r.pos, fmt.Errorf("chunkstore: seek to negative offset %d", offset)
	}
	r.pos = offset
	return offset, nil
}

// Close releases the reader's buffers.
func (r *Reader) Close() error {
	r.cur, r.rec, r.plain, r.seg, r.locs = nil, nil, nil, nil, nil
	return nil
}

// load makes r.cur the chunk holding r.pos.
func (r *Reader) load() error {
	if r.curStart >= 0 && r.pos >= r.curStart && r.pos < r.curStart+int64(len(r.cur)) {
		return nil
	}
	if err := r.s.check(r.ctx); err != nil {
		return err
	}
	if r.pos < r.segStart || r.pos >= r.segEnd {
		if err := r.loadSegment(); err != nil {
			return err
		}
	}
	i := sort.Search(len(r.offs), func(i int) bool { return r.offs[i] > r.pos }) - 1
	plain, err := r.s.readChunk(r.ctx, r.seg[i].id, &r.locs[i], &r.rec, &r.plain)
	if err != nil {
		return fmt.Errorf("manifest %d at offset %d: %w", r.id, r.offs[i], err)
	}
	if len(plain) != int(r.seg[i].len) {
		return fmt.Errorf("manifest %d: chunk %s is %d bytes, manifest says %d: %w", r.id, r.seg[i].id, len(plain), r.seg[i].len, ErrCorrupt)
	}
	r.cur, r.curStart = plain, r.offs[i]
	return nil
}

// loadSegment finds the segment holding r.pos (the last one starting at or
// before it) and resolves its chunks' locations in the same transaction.
func (r *Reader) loadSegment() error {
	prefix := u64key(uint64(r.id))
	return r.s.view(func(t *txn) error {
		c := t.segments.Cursor()
		k, v := c.Seek(pairKey(uint64(r.id), r.pos))
		if k == nil || !bytes.HasPrefix(k, prefix) || int64(binary.BigEndian.Uint64(k[8:])) > r.pos {
			k, v = c.Prev()
		}
		if k == nil || !bytes.HasPrefix(k, prefix) {
			if _, err := t.committed(r.id); err != nil {
				return err // released while being read
			}
			return fmt.Errorf("manifest %d: no segment holds offset %d: %w", r.id, r.pos, ErrCorrupt)
		}
		start := int64(binary.BigEndian.Uint64(k[8:]))
		seg, total, err := decodeSegment(v, r.seg)
		if err != nil {
			return fmt.Errorf("manifest %d: %w", r.id, err)
		}
		if start+total <= r.pos {
			return fmt.Errorf("manifest %d: segment at %d ends at %d before offset %d: %w", r.id, start, start+total, r.pos, ErrCorrupt)
		}
		r.seg, r.offs, r.locs = seg, r.offs[:0], r.locs[:0]
		off := start
		for _, e := range seg {
			loc, ok, err := t.entry(e.id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("manifest %d: chunk %s is not in the index: %w", r.id, e.id, ErrCorrupt)
			}
			r.offs = append(r.offs, off)
			r.locs = append(r.locs, loc)
			off += int64(e.len)
		}
		r.segStart, r.segEnd = start, off
		return nil
	})
}

// readChunk reads and verifies one chunk at *loc. If the cleaner moved the
// chunk since loc was resolved (its old container file is gone), it looks
// the chunk up again, updates *loc and retries. rec and plain are reusable
// buffers; the result may alias either.
func (s *Store) readChunk(ctx context.Context, id ChunkID, loc *entry, rec, plain *[]byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		out, err := s.readRecord(id, *loc, rec, plain)
		if err == nil || attempt == 1 || !isNotExist(err) {
			return out, err
		}
		if err := s.check(ctx); err != nil {
			return nil, err
		}
		var ok bool
		err = s.view(func(t *txn) error {
			var err error
			*loc, ok, err = t.entry(id)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("chunk %s is not in the index: %w", id, ErrCorrupt)
		}
	}
}

func (s *Store) readRecord(id ChunkID, loc entry, rec, plain *[]byte) ([]byte, error) {
	cf, err := s.files.acquire(loc.container)
	if err != nil {
		return nil, err
	}
	defer s.files.release(cf)
	n := int(loc.recordSize())
	if cap(*rec) < n {
		*rec = make([]byte, n)
	}
	b := (*rec)[:n]
	if _, err := cf.f.ReadAt(b, loc.offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("chunk %s: container %d ends before offset %d: %w", id, loc.container, loc.offset, ErrCorrupt)
		}
		return nil, fmt.Errorf("chunk %s: container %d: %w", id, loc.container, err)
	}
	h, out, err := decodeRecord(b, s.codecs, *plain)
	if err != nil {
		return nil, fmt.Errorf("container %d offset %d: %w", loc.container, loc.offset, err)
	}
	if h.id != id {
		return nil, fmt.Errorf("container %d offset %d holds chunk %s, want %s: %w", loc.container, loc.offset, h.id, id, ErrCorrupt)
	}
	if h.codec != codecRaw {
		*plain = out
	}
	return out, nil
}

package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
)

// Reader reads a manifest's bytes: an io.ReadSeekCloser that also has
// WriteTo, so io.Copy streams chunks without an extra copy. It holds a
// lease on its manifest until Close: a release meanwhile waits for it. It
// holds one manifest segment (at most maxSegEntries entries), one chunk, a
// local read-ahead (localAheadBytes) and, when it reads from a tier, one
// read-ahead span (Config.RemoteReadahead) in memory.
//
// Every record is verified once, by its CRC32C, which covers the header
// (the chunk ID among it) and the payload exactly as the writer built them
// from the bytes it hashed into that ID; a mismatch, or a record naming
// another chunk, is ErrCorrupt: damage never comes back as wrong bytes. The
// plaintext is not hashed again on every read: the CRC catches what a disk
// or a copy can do to a record for a fraction of a BLAKE3's cost (it was
// 45% of a GET's CPU). What it cannot catch is a record rewritten on
// purpose with a CRC to match; Scrub, Import and the records-as-stored API
// check every chunk against its ID, and a sealed record (encryption at
// rest) is authenticated as it is opened.
type Reader struct {
	s     *Store
	ctx   context.Context
	id    ManifestID
	size  int64
	pos   int64
	lease func() // drops the lease; nil once closed

	seg segment

	cur      []byte // plaintext of the current chunk
	curStart int64
	bufs     chunkBufs
	span     span // read-ahead of records in one pack
}

// chunkBufs are the reusable buffers of chunk loads, and how they verify.
type chunkBufs struct {
	rec   []byte // read buffer for a local record
	plain []byte // decompression buffer
	// ahead, when set, reads runs of consecutive local records at once.
	ahead *localAhead
	// checkID hashes each plaintext against its chunk ID, on top of the
	// record's CRC.
	checkID bool
	// key opens sealed records: with key nil only plain records are read,
	// with a key only records sealed under it. asStored (records as
	// stored: ReadRecord, Import) accepts a sealed record on its CRC
	// alone, since whoever reads records as stored has no key: that is all
	// it can check.
	key      *SealKey
	asStored bool
	opened   []byte // buffer for a sealed payload
}

// Unseal gives the reader the key its manifest was written with
// (Writer.Seal). Without it, reading a sealed chunk fails with ErrSealed;
// with the wrong key, too.
func (r *Reader) Unseal(key *SealKey) { r.bufs.key = key }

// localAheadBytes bounds a Reader's local read-ahead: a stream's chunks
// lie back to back in its container file, so reading them in runs of up
// to this much costs one pread per run rather than one per chunk.
const localAheadBytes = 1 << 20

// localAhead holds a run of consecutive records of one container file.
type localAhead struct {
	container uint64
	off       int64 // file offset of buf[0]
	buf       []byte
	// want is the run the next read fetches: [off, end) of container.
	wantContainer uint64
	wantOff       int64
	wantEnd       int64
}

// holds returns loc's record when the read-ahead has it.
func (a *localAhead) holds(loc entry) ([]byte, bool) {
	if a == nil || a.buf == nil || loc.container != a.container || loc.offset < a.off || loc.offset+loc.size > a.off+int64(len(a.buf)) {
		return nil, false
	}
	return a.buf[loc.offset-a.off : loc.offset-a.off+loc.size], true
}

// plan sets the run the next read fetches: locs[0] and the records that
// follow it in the same container, back to back, up to localAheadBytes.
func (a *localAhead) plan(locs []entry) {
	first := locs[0]
	a.wantContainer, a.wantOff, a.wantEnd = first.container, first.offset, first.offset+first.size
	for _, l := range locs[1:] {
		if !l.local || l.container != first.container || l.offset != a.wantEnd || l.offset+l.size-a.wantOff > localAheadBytes {
			break
		}
		a.wantEnd = l.offset + l.size
	}
}

// segment is one manifest segment with its chunks' entries, as loaded in
// one read transaction.
type segment struct {
	es    []segEntry
	offs  []int64 // absolute start offset of each entry
	locs  []entry
	start int64
	end   int64 // -1: none loaded
}

func (g *segment) holds(pos int64) bool { return g.end >= 0 && pos >= g.start && pos < g.end }

// index returns the entry holding pos, which the segment holds.
func (g *segment) index(pos int64) int {
	return sort.Search(len(g.offs), func(i int) bool { return g.offs[i] > pos }) - 1
}

// NewReader opens a committed manifest for reading, holding it until Close.
func (s *Store) NewReader(ctx context.Context, id ManifestID) (*Reader, error) {
	var r *Reader
	err := s.View(func(tx *Tx) error {
		var err error
		r, err = tx.NewReader(ctx, id)
		return err
	})
	return r, err
}

func (s *Store) newReader(ctx context.Context, m Manifest) *Reader {
	r := &Reader{s: s, ctx: ctx, id: m.ID, size: m.Size, seg: segment{end: -1}, curStart: -1}
	var once sync.Once
	r.lease = func() { once.Do(func() { s.leases.drop(m.ID) }) }
	return r
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

// Close releases the reader's lease and buffers. It is idempotent.
func (r *Reader) Close() error {
	if r.lease != nil {
		r.lease()
	}
	r.cur, r.bufs, r.seg, r.span = nil, chunkBufs{key: r.bufs.key}, segment{end: -1}, span{}
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
	if !r.seg.holds(r.pos) {
		if err := r.s.loadSegment(r.id, r.pos, &r.seg); err != nil {
			return err
		}
	}
	i := r.seg.index(r.pos)
	se := r.seg.es[i]
	if loc := r.seg.locs[i]; loc.local {
		if r.bufs.ahead == nil {
			r.bufs.ahead = &localAhead{}
		}
		if _, ok := r.bufs.ahead.holds(loc); !ok {
			r.bufs.ahead.plan(r.seg.locs[i:])
		}
	}
	_, plain, err := r.s.loadChunk(r.ctx, se.id, &r.seg.locs[i], &r.bufs, func(rl remoteLoc) ([]byte, error) {
		return r.span.record(r, i, rl)
	})
	if err != nil {
		return fmt.Errorf("manifest %d at offset %d: %w", r.id, r.seg.offs[i], err)
	}
	if len(plain) != int(se.len) {
		return fmt.Errorf("manifest %d: chunk %s is %d bytes, manifest says %d: %w", r.id, se.id, len(plain), se.len, ErrCorrupt)
	}
	r.cur, r.curStart = plain, r.seg.offs[i]
	return nil
}

// loadSegment loads the segment of manifest id holding pos (the last one
// starting at or before it) into g, and resolves its chunks' entries in
// the same transaction. The caller holds a lease, so the manifest's
// segments are there even if it was released.
func (s *Store) loadSegment(id ManifestID, pos int64, g *segment) error {
	prefix := u64key(uint64(id))
	return s.view(func(t *txn) error {
		c := t.segments.Cursor()
		k, v := c.Seek(pairKey(uint64(id), pos))
		if k == nil || !bytes.HasPrefix(k, prefix) || int64(binary.BigEndian.Uint64(k[8:])) > pos {
			k, v = c.Prev()
		}
		if k == nil || !bytes.HasPrefix(k, prefix) {
			if _, ok, err := t.header(id); err != nil || !ok {
				return fmt.Errorf("manifest %d: %w", id, errors.Join(err, ErrNotFound))
			}
			return fmt.Errorf("manifest %d: no segment holds offset %d: %w", id, pos, ErrCorrupt)
		}
		start := int64(binary.BigEndian.Uint64(k[8:]))
		es, total, err := decodeSegment(v, g.es)
		if err != nil {
			return fmt.Errorf("manifest %d: %w", id, err)
		}
		if start+total <= pos {
			return fmt.Errorf("manifest %d: segment at %d ends at %d before offset %d: %w", id, start, start+total, pos, ErrCorrupt)
		}
		g.es, g.offs, g.locs = es, g.offs[:0], g.locs[:0]
		off := start
		for _, e := range es {
			loc, ok, err := t.entry(e.id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("manifest %d: chunk %s is not in the index: %w", id, e.id, ErrCorrupt)
			}
			g.offs = append(g.offs, off)
			g.locs = append(g.locs, loc)
			off += int64(e.len)
		}
		g.start, g.end = start, off
		return nil
	})
}

// loadChunk reads chunk id from one of its locations, local first, then
// each remote copy through fetch, and returns its record and plaintext,
// verified. When the local copy is gone (the cleaner moved or dropped it
// since e was resolved) it looks the chunk up again and updates *e. A copy
// that fails is skipped for the next; when all fail, the error names each.
// rec and plain are reusable buffers; the results may alias them.
func (s *Store) loadChunk(ctx context.Context, id ChunkID, e *entry, bufs *chunkBufs, fetch func(remoteLoc) ([]byte, error)) ([]byte, []byte, error) {
	var errs []error
	for attempt := 0; attempt < 2; attempt++ {
		if e.local {
			b, out, err := s.readLocal(id, *e, bufs)
			if err == nil {
				return b, out, nil
			}
			if isNotExist(err) && attempt == 0 {
				if err := s.relookup(ctx, id, e); err != nil {
					return nil, nil, err
				}
				continue
			}
			errs = append(errs, err)
		}
		break
	}
	if len(e.remotes) > 0 && s.cfg.Remote == nil {
		return nil, nil, fmt.Errorf("chunk %s: its copy is in a tier, and no tier reader is configured: %w", id, errors.Join(append(errs, ErrNoRemote)...))
	}
	for _, rl := range e.remotes {
		if err := s.check(ctx); err != nil {
			return nil, nil, err
		}
		b, err := fetch(rl)
		if err == nil {
			var out []byte
			out, err = s.verify(id, b, bufs)
			if err == nil {
				return b, out, nil
			}
		}
		errs = append(errs, fmt.Errorf("pack %d offset %d: %w", rl.pack, rl.offset, err))
	}
	if len(errs) == 0 {
		return nil, nil, fmt.Errorf("chunk %s has no copy anywhere: %w", id, ErrCorrupt)
	}
	return nil, nil, fmt.Errorf("chunk %s: %w", id, errors.Join(errs...))
}

// relookup reads a chunk's entry again.
func (s *Store) relookup(ctx context.Context, id ChunkID, e *entry) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var ok bool
	err := s.view(func(t *txn) error {
		var err error
		*e, ok, err = t.entry(id)
		return err
	})
	if err == nil && !ok {
		err = fmt.Errorf("chunk %s is not in the index: %w", id, ErrCorrupt)
	}
	return err
}

// verify checks a whole record of chunk id and returns its plaintext (none
// for a sealed record read as stored without its key): its CRC always, a
// sealed payload's authentication as it is opened, and its plaintext
// against the ID when bufs.checkID is set.
func (s *Store) verify(id ChunkID, rec []byte, bufs *chunkBufs) ([]byte, error) {
	if bufs.asStored && bufs.key == nil {
		if h, err := decodeRecordHeader(rec); err == nil && h.sealed {
			if err := checkRecord(rec, h); err != nil {
				return nil, err
			}
			if h.id != id {
				return nil, fmt.Errorf("record holds chunk %s, want %s: %w", h.id, id, ErrCorrupt)
			}
			return nil, nil
		}
	}
	h, out, err := decodeRecordCheck(rec, s.codecs, bufs.plain, bufs.key, &bufs.opened, bufs.checkID)
	if err != nil {
		return nil, err
	}
	if h.id != id {
		return nil, fmt.Errorf("record holds chunk %s, want %s: %w", h.id, id, ErrCorrupt)
	}
	if h.codec != CodecRaw {
		bufs.plain = out
	}
	return out, nil
}

// readLocal reads and verifies the local copy of a chunk, through the
// read-ahead when bufs has one planned for it.
func (s *Store) readLocal(id ChunkID, loc entry, bufs *chunkBufs) ([]byte, []byte, error) {
	b, ok := bufs.ahead.holds(loc)
	if !ok {
		var err error
		if b, err = s.readRecordBytes(id, loc, bufs); err != nil {
			return nil, nil, err
		}
	}
	out, err := s.verify(id, b, bufs)
	if err != nil {
		return nil, nil, fmt.Errorf("container %d offset %d: %w", loc.container, loc.offset, err)
	}
	return b, out, nil
}

// readRecordBytes reads loc's record from its container file: with the
// run the read-ahead planned when that run starts at loc, else alone.
func (s *Store) readRecordBytes(id ChunkID, loc entry, bufs *chunkBufs) ([]byte, error) {
	cf, err := s.files.acquire(loc.container)
	if err != nil {
		return nil, err
	}
	defer s.files.release(cf)
	off, end, buf := loc.offset, loc.offset+loc.size, &bufs.rec
	a := bufs.ahead
	run := a != nil && a.wantContainer == loc.container && a.wantOff == loc.offset && a.wantEnd > end
	if run {
		end, buf = a.wantEnd, &a.buf
		a.container = 0
		a.off, a.buf = 0, a.buf[:0] // holds nothing until the read succeeds
	}
	n := int(end - off)
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := cf.f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("chunk %s: container %d ends before offset %d: %w", id, loc.container, end, ErrCorrupt)
		}
		return nil, fmt.Errorf("chunk %s: container %d: %w", id, loc.container, err)
	}
	if run {
		a.buf, a.container, a.off = b, loc.container, off
		return b[:loc.size], nil
	}
	return b, nil
}

// span is a run of consecutive records of one pack fetched at once: a
// manifest moved to a tier reads back with one request per span, not one
// per chunk.
type span struct {
	pack  uint64
	start int64
	buf   []byte
	packs map[uint64]Pack // rows looked up so far
}

// record returns the record at rl for entry i of r's segment, fetching a
// new span from there when the current one does not hold it.
func (sp *span) record(r *Reader, i int, rl remoteLoc) ([]byte, error) {
	if sp.buf != nil && sp.pack == rl.pack && rl.offset >= sp.start && rl.offset+rl.size <= sp.start+int64(len(sp.buf)) {
		return sp.buf[rl.offset-sp.start:][:rl.size], nil
	}
	p, err := r.s.packOf(rl.pack, &sp.packs)
	if err != nil {
		return nil, err
	}
	// Extend over the next entries whose only copies follow in this pack.
	end := rl.offset + rl.size
	limit := max(int64(r.s.cfg.RemoteReadahead), rl.size)
	for j := i + 1; j < len(r.seg.locs); j++ {
		e := &r.seg.locs[j]
		if e.local {
			break
		}
		k := slices.IndexFunc(e.remotes, func(o remoteLoc) bool { return o.pack == rl.pack && o.offset == end })
		if k < 0 || end+e.remotes[k].size-rl.offset > limit {
			break
		}
		end += e.remotes[k].size
	}
	n := int(end - rl.offset)
	if cap(sp.buf) < n {
		sp.buf = make([]byte, n)
	}
	sp.buf = sp.buf[:n]
	if err := r.s.fetch(r.ctx, p, rl.offset, sp.buf); err != nil {
		sp.buf = nil
		return nil, err
	}
	sp.pack, sp.start = rl.pack, rl.offset
	return sp.buf[:rl.size], nil
}

// packOf looks a pack's row up, caching it in *cache.
func (s *Store) packOf(id uint64, cache *map[uint64]Pack) (Pack, error) {
	if p, ok := (*cache)[id]; ok {
		return p, nil
	}
	var p packRow
	var ok bool
	err := s.view(func(t *txn) error {
		var err error
		p, ok, err = t.pack(id)
		return err
	})
	if err == nil && !ok {
		err = fmt.Errorf("pack %d is not recorded: %w", id, ErrCorrupt)
	}
	if err != nil {
		return Pack{}, err
	}
	if *cache == nil {
		*cache = map[uint64]Pack{}
	}
	(*cache)[id] = p.Pack
	return p.Pack, nil
}

// fetch reads from a tier with the configured time limit.
func (s *Store) fetch(ctx context.Context, p Pack, off int64, buf []byte) error {
	if s.cfg.RemoteTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RemoteTimeout)
		defer cancel()
	}
	if err := s.cfg.Remote.Fetch(ctx, p, off, buf); err != nil {
		return fmt.Errorf("%w: tier %s object %s: %w", ErrRemote, p.Tier, p.Object, err)
	}
	return nil
}

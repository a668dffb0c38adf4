package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// ScrubOptions tune a scrub.
type ScrubOptions struct {
	// Repair rebuilds the index (locations and reference counts) from the
	// container files and the manifests, after the checks.
	Repair bool
	// Progress, if set, is called after each container file.
	Progress func(ScrubProgress)
}

// ScrubProgress is where a scrub is.
type ScrubProgress struct {
	Containers, TotalContainers int
	BytesRead                   int64
}

// ScrubReport is what a scrub found. Reference counts are checked against
// the manifests with one map entry per referenced chunk (about 80 bytes
// each: some 5 GiB of memory per TiB of unique data at 16 KiB chunks).
// Remote copies are checked against the pack rows, not read: the tier
// verifies its packs.
type ScrubReport struct {
	Containers int
	Records    int64 // valid records read
	BytesRead  int64
	// CorruptRecords: bytes in container files that are not valid records
	// (bad header, CRC or content), in regions the index points into.
	CorruptRecords int64
	// MissingChunks: referenced chunks whose record is absent or corrupt.
	MissingChunks int64
	// DanglingRefs: manifest entries naming chunks the index lacks.
	DanglingRefs int64
	// RefMismatches: chunks whose reference counts (all, and those needing
	// the local copy) differ from what the manifests and holds make.
	RefMismatches int64
	// BadRemotes: remote copies that name a pack the store does not
	// record, or whose reverse row is missing.
	BadRemotes int64
	// LeakedBytes: container bytes no referenced chunk uses, which the
	// cleaner reclaims (not a fault: deletes and crashed writes leave it).
	LeakedBytes int64
	// DamagedManifests lists manifests that name missing chunks: chunks
	// the index lacks, and chunks whose only copy is a bad record.
	DamagedManifests []ManifestID
	missing          map[ChunkID]bool // chunks whose local record is bad or gone
	Repaired         bool
	// Problems describes the first faults found.
	Problems []string
}

func (r *ScrubReport) noteMissing(id ChunkID) {
	if r.missing == nil {
		r.missing = map[ChunkID]bool{}
	}
	r.missing[id] = true
}

// OK reports whether the scrub found no fault (leaked space is not one).
func (r ScrubReport) OK() bool {
	return r.CorruptRecords == 0 && r.MissingChunks == 0 && r.DanglingRefs == 0 && r.RefMismatches == 0 && r.BadRemotes == 0
}

func (r ScrubReport) String() string {
	s := fmt.Sprintf("%d containers, %d records, %d bytes read; corrupt bytes %d, missing chunks %d, dangling references %d, reference count mismatches %d, bad remote copies %d, damaged manifests %d, leaked bytes %d",
		r.Containers, r.Records, r.BytesRead, r.CorruptRecords, r.MissingChunks, r.DanglingRefs, r.RefMismatches, r.BadRemotes, len(r.DamagedManifests), r.LeakedBytes)
	if len(r.Problems) > 0 {
		s += "\n  " + strings.Join(r.Problems, "\n  ")
	}
	if r.Repaired {
		s += "\nindex rebuilt from the container files"
	}
	return s
}

func (r *ScrubReport) problem(format string, args ...any) {
	if len(r.Problems) < 50 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// found is a valid record seen in a container file.
type found struct {
	container uint64
	offset    int64
	h         recordHeader
}

// Scrub reads every container file and checks every record against its CRC
// and chunk ID, the index against the files, the manifests against the
// index, and every reference count. It runs beside writers but not beside
// the cleaner; counts are only compared when no write is in flight.
func (s *Store) Scrub(ctx context.Context, opts ScrubOptions) (ScrubReport, error) {
	var rep ScrubReport
	if err := s.check(ctx); err != nil {
		return rep, err
	}
	s.cleaning.Lock()
	defer s.cleaning.Unlock()
	if opts.Repair {
		// A rebuild needs the index still: no writer may run.
		s.gate.Lock()
		defer s.gate.Unlock()
	}

	var ids []uint64
	err := s.view(func(t *txn) error {
		return t.containers.ForEach(func(k, _ []byte) error {
			ids = append(ids, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	if err != nil {
		return rep, err
	}
	var all []found // only kept for a repair
	for i, id := range ids {
		if err := s.check(ctx); err != nil {
			return rep, err
		}
		recs, err := s.scrubContainer(id, &rep)
		if err != nil {
			return rep, err
		}
		if opts.Repair {
			all = append(all, recs...)
		}
		rep.Containers++
		if opts.Progress != nil {
			opts.Progress(ScrubProgress{Containers: i + 1, TotalContainers: len(ids), BytesRead: rep.BytesRead})
		}
	}
	refs, err := s.scrubManifests(ctx, &rep)
	if err != nil {
		return rep, err
	}
	if err := s.scrubCounts(refs, &rep); err != nil {
		return rep, err
	}
	if opts.Repair {
		if err := s.rebuild(all, refs, &rep); err != nil {
			return rep, fmt.Errorf("repair: %w", err)
		}
		rep.Repaired = true
	}
	return rep, nil
}

// scrubContainer reads one container file record by record and compares it
// with the index's rows for it.
func (s *Store) scrubContainer(id uint64, rep *ScrubReport) ([]found, error) {
	// The index's view of this container.
	var rows []locRec
	var stat containerStat
	liveAt := map[int64]bool{}
	err := s.view(func(t *txn) error {
		if v := t.containers.Get(u64key(id)); v != nil {
			var err error
			if stat, err = decodeContainerStat(v); err != nil {
				return err
			}
		}
		prefix := u64key(id)
		c := t.locs.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			lr := locRec{int64(binary.BigEndian.Uint64(k[8:])), ChunkID(v)}
			e, ok, err := t.entry(lr.id)
			if err != nil {
				return err
			}
			if !ok || !e.local || e.container != id || e.offset != lr.offset {
				rep.problem("container %d offset %d: reverse row names chunk %s, which the index places elsewhere", id, lr.offset, lr.id)
				rep.MissingChunks++
				continue
			}
			rows = append(rows, lr)
			liveAt[lr.offset] = e.needLocal()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	f, err := os.Open(filepath.Join(s.ctrDir, containerName(id)))
	if err != nil {
		for _, lr := range rows {
			if liveAt[lr.offset] {
				rep.MissingChunks++
				rep.noteMissing(lr.id)
			}
		}
		rep.problem("container %d: %v", id, err)
		return nil, nil
	}
	defer f.Close()

	// Walk the records up to the committed length. After a bad record,
	// resume at the next offset the index knows (records carry no sync
	// marker beyond their magic, and the index says where good ones begin).
	var recs []found
	good := map[int64]ChunkID{}
	next := 0
	var rec, plain []byte
	hdr := make([]byte, recordHeaderSize)
	for off := int64(0); off < stat.committed; {
		h, err := readRecordAt(f, off, hdr, &rec)
		if err == nil {
			var out []byte
			if h.sealed {
				// Without the key, scrub checks a sealed record's CRC and
				// header only: not that it decrypts nor matches its ID.
				err = checkRecord(rec, h)
			} else if _, out, err = decodeRecord(rec, s.codecs, plain, nil, nil); err == nil && h.codec != CodecRaw {
				plain = out
			}
		}
		if err == nil && off+h.size() > stat.committed {
			err = fmt.Errorf("record runs past the committed length %d: %w", stat.committed, ErrCorrupt)
		}
		if err != nil {
			for next < len(rows) && rows[next].offset <= off {
				next++
			}
			skipTo := stat.committed
			if next < len(rows) {
				skipTo = rows[next].offset
			}
			if _, indexed := liveAt[off]; indexed {
				rep.CorruptRecords += skipTo - off
				rep.problem("container %d offset %d: %v", id, off, err)
			}
			off = skipTo
			continue
		}
		rep.Records++
		rep.BytesRead += h.size()
		good[off] = h.id
		recs = append(recs, found{id, off, h})
		if !liveAt[off] {
			rep.LeakedBytes += h.size()
		}
		off += h.size()
	}
	for _, lr := range rows {
		if got, ok := good[lr.offset]; !ok || got != lr.id {
			if liveAt[lr.offset] {
				rep.MissingChunks++
				rep.noteMissing(lr.id)
				rep.problem("chunk %s: no valid record at container %d offset %d", lr.id, id, lr.offset)
			}
		}
	}
	return recs, nil
}

// readRecordAt reads the whole record at off into *rec.
func readRecordAt(f *os.File, off int64, hdr []byte, rec *[]byte) (recordHeader, error) {
	if _, err := f.ReadAt(hdr, off); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("file ends inside a record header: %w", ErrCorrupt)
		}
		return recordHeader{}, err
	}
	h, err := decodeRecordHeader(hdr)
	if err != nil {
		return h, err
	}
	n := int(h.size())
	if cap(*rec) < n {
		*rec = make([]byte, n)
	}
	*rec = (*rec)[:n]
	if _, err := f.ReadAt(*rec, off); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("file ends inside a record: %w", ErrCorrupt)
		}
		return h, err
	}
	return h, nil
}

// refCount is what the manifests and holds say of one chunk.
type refCount struct {
	refs, local uint64
	raw         uint32 // the length manifest entries give it
}

// scrubManifests counts the references every manifest (of any state) and
// every import hold makes, and checks that each names an indexed chunk.
func (s *Store) scrubManifests(ctx context.Context, rep *ScrubReport) (map[ChunkID]*refCount, error) {
	refs := map[ChunkID]*refCount{}
	damaged := map[ManifestID]bool{}
	count := func(t *txn, mid ManifestID, id ChunkID, raw uint32, local bool) {
		rc := refs[id]
		if rc == nil {
			rc = &refCount{}
			refs[id] = rc
		}
		rc.refs++
		if raw != 0 {
			rc.raw = raw
		}
		if local {
			rc.local++
		}
		if rep.missing[id] && !damaged[mid] {
			// Its local record is bad: lost unless a tier holds it.
			if e, ok, err := t.entry(id); err == nil && (!ok || len(e.remotes) == 0) {
				rep.problem("manifest %d names chunk %s, whose only copy is damaged", mid, id)
				damaged[mid] = true
			}
		}
		if t.index.Get(id[:]) == nil {
			rep.DanglingRefs++
			if !damaged[mid] {
				rep.problem("manifest %d names chunk %s, which the index lacks", mid, id)
			}
			damaged[mid] = true
		}
	}
	for _, b := range [][]byte{bucketSegments, bucketHolds} {
		var after []byte
		var hid ManifestID
		var hdr manifestHeader
		var hok bool
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			n := 0
			err := s.view(func(t *txn) error {
				c := t.tx.Bucket(b).Cursor()
				k, v := c.First()
				if after != nil {
					if k, v = c.Seek(after); bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				var es []segEntry
				for ; k != nil && n < 256; k, v = c.Next() {
					mid := ManifestID(binary.BigEndian.Uint64(k))
					after = append(after[:0], k...)
					n++
					if b[0] == bucketHolds[0] {
						if len(v)%32 != 0 {
							rep.problem("manifest %d: hold row of %d bytes", mid, len(v))
							damaged[mid] = true
							continue
						}
						for p := v; len(p) > 0; p = p[32:] {
							count(t, mid, ChunkID(p[:32]), 0, true)
						}
						continue
					}
					if mid != hid || hid == 0 {
						var err error
						if hdr, hok, err = t.header(mid); err != nil {
							return err
						}
						hid = mid
						if !hok {
							rep.problem("manifest %d has segments but no header", mid)
						}
					}
					var err error
					if es, _, err = decodeSegment(v, es); err != nil {
						rep.problem("manifest %d: %v", mid, err)
						damaged[mid] = true
						continue
					}
					local := !hok || hdr.local(int64(binary.BigEndian.Uint64(k[8:])))
					for _, e := range es {
						count(t, mid, e.id, e.len, local)
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if n == 0 {
				break
			}
		}
	}
	for id := range damaged {
		rep.DamagedManifests = append(rep.DamagedManifests, id)
	}
	sort.Slice(rep.DamagedManifests, func(i, j int) bool { return rep.DamagedManifests[i] < rep.DamagedManifests[j] })
	return refs, nil
}

// scrubCounts compares every index entry's counts with the manifests', and
// its remote copies with the pack rows.
func (s *Store) scrubCounts(refs map[ChunkID]*refCount, rep *ScrubReport) error {
	return s.view(func(t *txn) error {
		return t.index.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			want := refCount{}
			if rc := refs[ChunkID(k)]; rc != nil {
				want = *rc
			}
			if e.refs != want.refs || e.localRefs != want.local {
				rep.RefMismatches++
				rep.problem("chunk %x: %d references (%d local) counted, manifests and holds make %d (%d local)", k, e.refs, e.localRefs, want.refs, want.local)
			}
			for _, r := range e.remotes {
				_, ok, err := t.pack(r.pack)
				if err != nil {
					return err
				}
				id, size, perr := decodePackLoc(t.packlocs.Get(pairKey(r.pack, r.offset)))
				if !ok || perr != nil || id != ChunkID(k) || size != r.size {
					rep.BadRemotes++
					rep.problem("chunk %x: remote copy in pack %d at %d: pack recorded %v, reverse row %v", k, r.pack, r.offset, ok, perr == nil && id == ChunkID(k))
				}
			}
			return nil
		})
	})
}

// rebuild replaces the index, the reverse rows of containers and the
// counts with what the container files, the pack reverse rows and the
// manifests say.
func (s *Store) rebuild(all []found, refs map[ChunkID]*refCount, rep *ScrubReport) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		t := newTxn(tx)
		// Remote copies, from the pack reverse rows of recorded packs.
		remotes := map[ChunkID][]remoteLoc{}
		if err := t.packlocs.ForEach(func(k, v []byte) error {
			id, size, err := decodePackLoc(v)
			if err != nil {
				return nil // dropped with the bucket below
			}
			pack := binary.BigEndian.Uint64(k)
			if _, ok, _ := t.pack(pack); ok && refs[id] != nil {
				remotes[id] = append(remotes[id], remoteLoc{pack: pack, offset: int64(binary.BigEndian.Uint64(k[8:])), size: size})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketIndex, bucketLocs, bucketPackLocs} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		t = newTxn(tx)
		committed := map[uint64]int64{}
		if err := t.containers.ForEach(func(k, v []byte) error {
			cs, err := decodeContainerStat(v)
			committed[binary.BigEndian.Uint64(k)] = cs.committed
			return err
		}); err != nil {
			return err
		}
		// Zero every container's and pack's live bytes and the chunk
		// counters; the entries below count them afresh.
		for id, size := range committed {
			if err := t.containers.Put(u64key(id), containerStat{committed: size}.encode()); err != nil {
				return err
			}
		}
		var packs []uint64
		if err := t.packs.ForEach(func(k, _ []byte) error {
			packs = append(packs, binary.BigEndian.Uint64(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range packs {
			p, _, err := t.pack(id)
			if err != nil {
				return err
			}
			p.live = 0
			if err := t.packs.Put(u64key(id), p.encode()); err != nil {
				return err
			}
		}
		c := decodeCounters(t.meta.Get(keyCounters))
		c.unique, c.chunks, c.local, c.remote = 0, 0, 0, 0
		if err := t.meta.Put(keyCounters, c.encode()); err != nil {
			return err
		}
		for _, f := range all {
			rc := refs[f.h.id]
			if rc == nil || t.index.Get(f.h.id[:]) != nil {
				continue // unreferenced, or a second copy
			}
			e := entry{rawLen: f.h.rawLen, refs: rc.refs, localRefs: rc.local, local: true,
				container: f.container, offset: f.offset, size: f.h.size(), remotes: remotes[f.h.id]}
			if err := t.set(f.h.id, nil, &e); err != nil {
				return err
			}
		}
		for id, rc := range refs {
			if t.index.Get(id[:]) != nil {
				continue
			}
			if rs := remotes[id]; len(rs) > 0 && rc.raw != 0 {
				e := entry{rawLen: rc.raw, refs: rc.refs, localRefs: rc.local, remotes: rs}
				if err := t.set(id, nil, &e); err != nil {
					return err
				}
				continue
			}
			rep.problem("repair: chunk %s is in no container file and no pack; manifests naming it stay damaged", id)
		}
		return t.flush()
	})
}

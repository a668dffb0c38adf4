package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// CleanOptions tune one cleaner run.
type CleanOptions struct {
	// Threshold overrides Config.CompactThreshold when > 0: containers whose
	// dead fraction is at least this are compacted.
	Threshold float64
	// Progress, if set, is called after each container.
	Progress func(CleanProgress)
	// YieldToWrites stops the run's recompression (containers chosen for
	// their S2 records alone, later.go) once a writer stores data after
	// the run began: a run started because the store was idle gives the
	// cores back when a backup starts.
	YieldToWrites bool
}

// CleanProgress is where a cleaner run is.
type CleanProgress struct {
	Done, Total    int   // candidate containers
	BytesReclaimed int64 // so far
}

// CleanReport is what a cleaner run did.
type CleanReport struct {
	Candidates int // containers at or above the threshold, or to recompress
	Compacted  int // containers removed (their live chunks copied forward)
	// Punched counts containers whose dead records were given back in
	// place (a disk too full to copy): they are compacted once there is
	// room.
	Punched int
	// Recompressed counts containers whose S2 records were rewritten with
	// zstd (CompressZstdLater; they are counted in Compacted too).
	Recompressed int
	// Yielded: the run stopped recompressing because a writer started
	// (YieldToWrites).
	Yielded       bool
	Skipped       int   // candidates left for the next run (see the log)
	ChunksDropped int64 // unreferenced chunks removed from the index
	// LocalCopiesDropped counts local copies of chunks that only moved
	// manifests reference and a tier holds: reads fetch them from the tier.
	LocalCopiesDropped int64
	BytesMoved         int64 // live record bytes copied forward
	BytesReclaimed     int64 // container bytes freed, net of the copies
}

func (r CleanReport) String() string {
	s := fmt.Sprintf("compacted %d of %d containers (%d freed in place, %d recompressed with zstd), dropped %d chunks and %d local copies of tiered chunks, moved %d bytes, reclaimed %d bytes (%d skipped)",
		r.Compacted, r.Candidates, r.Punched, r.Recompressed, r.ChunksDropped, r.LocalCopiesDropped, r.BytesMoved, r.BytesReclaimed, r.Skipped)
	if r.Yielded {
		s += "; stopped recompressing when writes began"
	}
	return s
}

// errResurrected: a writer referenced a chunk of the container again while
// the cleaner copied the rest; the container is left for the next run.
var errResurrected = errors.New("a dead chunk was referenced again during compaction")

// Clean reclaims the space of unreferenced chunks: every sealed container
// file whose dead fraction reaches the threshold, or that holds S2 records
// to recompress with zstd (CompressZstdLater, later.go), has its live
// records copied to a new container file and is then removed. It runs
// alongside writers and readers: records are copied without the gate, and
// the index is switched over in one transaction under the exclusive gate,
// so a writer that is about to reference a chunk either does so before (and
// the chunk is live, so copied or the container skipped) or after (and then
// finds it gone and stores it anew). Readers holding an old location retry
// on the new one.
func (s *Store) Clean(ctx context.Context, opts CleanOptions) (CleanReport, error) {
	var rep CleanReport
	if err := s.check(ctx); err != nil {
		return rep, err
	}
	// Releases handed to the drainer first: their space is what a clean
	// right after deletes is for.
	if err := s.drainer.wait(ctx); err != nil {
		return rep, err
	}
	// Measured again once done, so that writes refused at the quota see
	// the space freed (deferred first: it runs after the unlock).
	defer s.PhysicalBytes()
	s.cleaning.Lock()
	defer s.cleaning.Unlock()
	threshold := s.cfg.CompactThreshold
	if opts.Threshold > 0 {
		threshold = opts.Threshold
	}
	started := s.now().UnixNano()
	// Recompression needs zstd to be what the store writes (later or at
	// once): a store switched to s2 or none keeps its S2 records.
	ws := s.codecs.write.Load()
	recompress := ws.later || ws.codec == CodecZstd

	type candidate struct {
		id uint64
		containerStat
		later     bool // holds S2 records to recompress
		laterOnly bool // chosen for them alone
	}
	var cands []candidate
	err := s.view(func(t *txn) error {
		return t.containers.ForEach(func(k, v []byte) error {
			cs, err := decodeContainerStat(v)
			if err != nil {
				return err
			}
			id := binary.BigEndian.Uint64(k)
			dead := float64(cs.committed-cs.live) / float64(max(cs.committed, 1))
			later := recompress && t.laterBytes(id) > 0
			// An idle open container is sealed first: a stream would
			// otherwise keep appending to it while it holds dead space.
			if cs.committed > 0 && (dead >= threshold || later) && s.pool.sealIdle(id) {
				cands = append(cands, candidate{id, cs, later, dead < threshold})
			}
			return nil
		})
	})
	if err != nil {
		return rep, err
	}
	// Emptiest first: the most space for the least copying; containers
	// chosen only to be recompressed after all the others.
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].laterOnly != cands[j].laterOnly {
			return !cands[i].laterOnly
		}
		return cands[i].live < cands[j].live
	})
	rep.Candidates = len(cands)

	var out *openContainer // the run's container for live records, made on first need
	defer func() {
		if out != nil {
			s.pool.release(out)
			if out.length() == 0 {
				os.Remove(filepath.Join(s.ctrDir, containerName(out.id)))
			}
		}
	}()
	for i, c := range cands {
		if err := s.check(ctx); err != nil {
			return rep, err
		}
		if c.laterOnly && opts.YieldToWrites && s.lastWrite.Load() > started {
			rep.Yielded = true
			break
		}
		var rc *recompressing
		if c.later {
			rc = &recompressing{cs: s.codecs}
		}
		var dropped, released, moved int64
		err := s.freeing(func() (err error) {
			dropped, released, moved, err = s.compact(ctx, c.id, rc, func() (*openContainer, error) {
				// Made on first need: a container dead when it was chosen
				// may have live records again (an import or a commit from
				// chunk IDs took a chunk with no references).
				if out == nil {
					var err error
					out, err = s.pool.private()
					return out, err
				}
				return out, nil
			})
			return err
		})
		switch {
		case errors.Is(err, errResurrected), errors.Is(err, ErrCorrupt):
			s.log.Warn("cleaner left a container for later", "container", c.id, "err", err)
			rep.Skipped++
		case isNoSpace(err):
			// No room to copy the live records forward: give the dead
			// ones' space back where they lie.
			pd, freed, perr := s.punchDead(c.id)
			if perr != nil {
				// Say what it would take: the live records must be
				// copied before the container's space comes back.
				return rep, fmt.Errorf("compact container %d: the disk is full: moving its %d bytes of live records needs that much free, and %d bytes are (the reserve is spent), and freeing its dead records in place failed (%v); delete more data, or give the storage group more space: %w",
					c.id, c.live, max(s.freeBytes(), 0), perr, err)
			}
			s.log.Warn("disk full: freed a container's dead records in place; it is compacted once there is room", "container", c.id, "freed", freed)
			rep.Punched++
			rep.ChunksDropped += pd
			rep.BytesReclaimed += freed
		case err != nil:
			return rep, fmt.Errorf("compact container %d: %w", c.id, err)
		default:
			rep.Compacted++
			if rc != nil {
				rep.Recompressed++
			}
			rep.ChunksDropped += dropped
			rep.LocalCopiesDropped += released
			rep.BytesMoved += moved
			rep.BytesReclaimed += c.committed - moved
		}
		if opts.Progress != nil {
			opts.Progress(CleanProgress{Done: i + 1, Total: len(cands), BytesReclaimed: rep.BytesReclaimed})
		}
	}
	if rep.BytesReclaimed > 0 {
		s.makeReserve()
	}
	return rep, nil
}

type locRec struct {
	offset int64
	id     ChunkID
}

// eachLocal calls fn for every record of container id the index places
// there, with its chunk's entry, in offset order; fn may change entries.
func (t *txn) eachLocal(id uint64, fn func(locRec, entry) error) error {
	prefix := u64key(id)
	var recs []locRec
	c := t.locs.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		recs = append(recs, locRec{int64(binary.BigEndian.Uint64(k[8:])), ChunkID(v)})
	}
	for _, lr := range recs {
		e, ok, err := t.entry(lr.id)
		if err != nil {
			return err
		}
		if !ok || !e.local || e.container != id || e.offset != lr.offset {
			return fmt.Errorf("locs row %d/%d names chunk %s, which is elsewhere: %w", id, lr.offset, lr.id, ErrCorrupt)
		}
		if err := fn(lr, e); err != nil {
			return err
		}
	}
	return nil
}

// compact copies container id's live records into the container output
// gives (S2 ones recompressed with zstd when rc is set: later.go),
// switches the index over and removes the file.
func (s *Store) compact(ctx context.Context, id uint64, rc *recompressing, output func() (*openContainer, error)) (dropped, released, moved int64, err error) {
	// Which records of the container the index knows, and which are live.
	var live []locRec
	var sizes []int64
	err = s.view(func(t *txn) error {
		prefix := u64key(id)
		c := t.locs.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			cid := ChunkID(v)
			e, ok, err := t.entry(cid)
			if err != nil {
				return err
			}
			if ok && e.needLocal() {
				live = append(live, locRec{int64(binary.BigEndian.Uint64(k[8:])), cid})
				sizes = append(sizes, e.size)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}

	// Copy live records as they are (or recompressed), checking each CRC:
	// a corrupt record must not be spread, nor its container removed.
	newOff := make(map[ChunkID]int64, len(live))
	newSize := make(map[ChunkID]int64, len(live))
	var out *openContainer
	if len(live) > 0 {
		if out, err = output(); err != nil {
			return 0, 0, 0, err
		}
		cf, err := s.files.acquire(id)
		if err != nil {
			return 0, 0, 0, err
		}
		var buf []byte
		flushBuf := func() error {
			if len(buf) == 0 {
				return nil
			}
			_, err := out.append(buf)
			buf = buf[:0]
			return err
		}
		base := out.length()
		for i, lr := range live {
			rec := make([]byte, sizes[i])
			if _, err := cf.f.ReadAt(rec, lr.offset); err != nil {
				s.files.release(cf)
				return 0, 0, 0, fmt.Errorf("read record at %d: %w", lr.offset, errors.Join(err, ErrCorrupt))
			}
			h, err := decodeRecordHeader(rec)
			if err == nil {
				err = checkRecord(rec, h)
			}
			if err == nil && h.id != lr.id {
				err = fmt.Errorf("record at %d is chunk %s, index says %s: %w", lr.offset, h.id, lr.id, ErrCorrupt)
			}
			if err == nil && rc != nil {
				rec, err = rc.record(rec, h)
			}
			if err != nil {
				s.files.release(cf)
				return 0, 0, 0, err
			}
			newOff[lr.id] = base + int64(len(buf))
			newSize[lr.id] = int64(len(rec))
			buf = append(buf, rec...)
			if len(buf) >= 4<<20 {
				if err := flushBuf(); err != nil {
					s.files.release(cf)
					return 0, 0, 0, err
				}
				base = out.length()
			}
			moved += int64(len(rec))
		}
		s.files.release(cf)
		if err := flushBuf(); err != nil {
			return 0, 0, 0, err
		}
		if err := out.sync(); err != nil {
			return 0, 0, 0, err
		}
	}

	// Switch the index over, excluding writers for the length of one
	// transaction.
	s.gate.Lock()
	err = s.update(func(t *txn) error {
		err := t.eachLocal(id, func(lr locRec, e entry) error {
			var err error
			old := e
			switch off, copied := newOff[lr.id]; {
			case copied:
				e.container, e.offset, e.size = out.id, off, newSize[lr.id]
				err = t.set(lr.id, &old, &e)
			case e.needLocal():
				return fmt.Errorf("chunk %s: %w", lr.id, errResurrected)
			case e.refs == 0:
				err = t.set(lr.id, &old, nil)
				dropped++
			default:
				// Referenced, but only by moved manifests: the tier has it.
				e.local = false
				err = t.set(lr.id, &old, &e)
				released++
			}
			return err
		})
		if err != nil {
			return err
		}
		if len(newOff) > 0 {
			t.contDelta(out.id).committed = out.length()
		}
		delete(t.cont, id)
		if err := t.later.Delete(u64key(id)); err != nil {
			return err
		}
		return t.containers.Delete(u64key(id))
	})
	s.gate.Unlock()
	if err != nil {
		return 0, 0, 0, err
	}
	s.files.forget(id)
	if err := os.Remove(filepath.Join(s.ctrDir, containerName(id))); err != nil && !isNotExist(err) {
		// The index no longer names it; the next open removes it.
		s.log.Warn("removing compacted container file", "container", id, "err", err)
	}
	return dropped, released, moved, nil
}

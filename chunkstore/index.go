package chunkstore

import (
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The index database (index.db, bbolt) holds every piece of metadata:
//
//	index       chunk ID -> entry (where the chunk is, how many references)
//	locs        container ID | offset -> chunk ID (the index read backwards:
//	            which chunk a record in a container file belongs to)
//	containers  container ID -> committed size and live bytes
//	later       container ID -> bytes of its records that are S2 for the
//	            cleaner to recompress with zstd (CompressZstdLater)
//	packs       pack ID -> a remote object holding records (tier, name, key
//	            generation, size, live bytes)
//	packlocs    pack ID | offset -> chunk ID, record size (a pack read
//	            backwards, and what rebuilds remote copies in a repair)
//	manifests   manifest ID -> header (state, flags, size, chunk count, created)
//	segments    manifest ID | start offset -> a run of manifest entries
//	holds       manifest ID | sequence -> chunk IDs an import holds
//	pending     manifest ID -> work left (a write or import to roll back, a
//	            release or a move to finish, holds to drop): all Open reads
//	meta        counters and the store's format and chunking settings
//	app         the caller's namespace, committed in the same transactions
//	            as the manifests (Tx.Bucket)
//
// Keys are big-endian so that cursors walk containers by offset and
// manifests by position.
var (
	bucketIndex      = []byte("index")
	bucketLocs       = []byte("locs")
	bucketContainers = []byte("containers")
	bucketPacks      = []byte("packs")
	bucketPackLocs   = []byte("packlocs")
	bucketManifests  = []byte("manifests")
	bucketSegments   = []byte("segments")
	bucketHolds      = []byte("holds")
	bucketPending    = []byte("pending")
	bucketMeta       = []byte("meta")
	bucketApp        = []byte("app")
	bucketLater      = []byte("later")

	allBuckets = [][]byte{bucketIndex, bucketLocs, bucketContainers, bucketPacks, bucketPackLocs,
		bucketManifests, bucketSegments, bucketHolds, bucketPending, bucketMeta, bucketApp, bucketLater}

	keyCounters = []byte("counters")
	keyFormat   = []byte("format")
)

// entry is a chunk's index value: where its record is (a local container
// file, zero or more packs in tiers, or both) and who references it.
//
// refs counts the manifest entries (of every state) and import holds that
// name the chunk; localRefs the part of them that needs the local copy:
// all but the entries of moved manifests. The local copy may go once
// localRefs is 0 and a remote copy exists (needLocal); the entry goes once
// refs is 0 (at once when no local copy is left, else when the cleaner
// compacts its container file, so that dedup can revive it until then).
//
// Encoding (format 2): a format byte (2), a flags byte (1: local copy),
// then uvarints: raw length, refs, localRefs, [container, offset, record
// size when local], the number of remote copies and for each pack, offset,
// record size. Format 1 entries (33 bytes, first byte 1: local only, one
// reference count) are read as they are and written anew in format 2.
type entry struct {
	rawLen    uint32
	refs      uint64
	localRefs uint64

	local     bool
	container uint64
	offset    int64
	size      int64 // the whole local record: header and payload

	remotes []remoteLoc
}

// remoteLoc is a copy of a chunk's record inside a pack.
type remoteLoc struct {
	pack   uint64
	offset int64
	size   int64
}

const (
	entryFormat1   = 1
	entryFormat2   = 2
	entryV1Size    = 33
	entryFlagLocal = 1
)

// needLocal reports whether the chunk's local copy must stay: a manifest
// that is not moved names it, or it is referenced and has no other copy.
func (e *entry) needLocal() bool {
	return e.local && (e.localRefs > 0 || (e.refs > 0 && len(e.remotes) == 0))
}

func (e entry) encode() []byte {
	b := make([]byte, 0, 24+len(e.remotes)*16)
	flags := byte(0)
	if e.local {
		flags |= entryFlagLocal
	}
	b = append(b, entryFormat2, flags)
	b = binary.AppendUvarint(b, uint64(e.rawLen))
	b = binary.AppendUvarint(b, e.refs)
	b = binary.AppendUvarint(b, e.localRefs)
	if e.local {
		b = binary.AppendUvarint(b, e.container)
		b = binary.AppendUvarint(b, uint64(e.offset))
		b = binary.AppendUvarint(b, uint64(e.size))
	}
	b = binary.AppendUvarint(b, uint64(len(e.remotes)))
	for _, r := range e.remotes {
		b = binary.AppendUvarint(b, r.pack)
		b = binary.AppendUvarint(b, uint64(r.offset))
		b = binary.AppendUvarint(b, uint64(r.size))
	}
	return b
}

// maxRemotes bounds the remote copies a decoder accepts per chunk.
const maxRemotes = 64

func decodeEntry(b []byte) (entry, error) {
	bad := func(what string) (entry, error) {
		return entry{}, fmt.Errorf("index entry of %d bytes: %s: %w", len(b), what, ErrCorrupt)
	}
	if len(b) == entryV1Size && b[0] == entryFormat1 {
		e := entry{
			local:     true,
			container: binary.BigEndian.Uint64(b[1:]),
			offset:    int64(binary.BigEndian.Uint64(b[9:])),
			size:      recordHeaderSize + int64(binary.BigEndian.Uint32(b[17:])),
			rawLen:    binary.BigEndian.Uint32(b[21:]),
			refs:      binary.BigEndian.Uint64(b[25:]),
		}
		e.localRefs = e.refs
		if e.rawLen == 0 || e.rawLen > maxRecordRaw || e.offset < 0 || e.offset >= 1<<62 || e.size == recordHeaderSize || e.size > recordHeaderSize+maxRecordRaw {
			return bad("format 1 lengths")
		}
		return e, nil
	}
	if len(b) < 2 || b[0] != entryFormat2 || b[1]&^entryFlagLocal != 0 {
		return bad("format")
	}
	e := entry{local: b[1]&entryFlagLocal != 0}
	p := b[2:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	raw, ok1 := next()
	refs, ok2 := next()
	lrefs, ok3 := next()
	if !ok1 || !ok2 || !ok3 || raw == 0 || raw > maxRecordRaw || lrefs > refs {
		return bad("counts")
	}
	e.rawLen, e.refs, e.localRefs = uint32(raw), refs, lrefs
	loc := func() (uint64, int64, int64, bool) {
		a, ok1 := next()
		off, ok2 := next()
		size, ok3 := next()
		ok := ok1 && ok2 && ok3 && off < 1<<62 && size > recordHeaderSize && size <= recordHeaderSize+maxRecordRaw
		return a, int64(off), int64(size), ok
	}
	if e.local {
		var ok bool
		if e.container, e.offset, e.size, ok = loc(); !ok {
			return bad("local location")
		}
	}
	n, ok := next()
	if !ok || n > maxRemotes {
		return bad("remote count")
	}
	for range n {
		pack, off, size, ok := loc()
		if !ok {
			return bad("remote location")
		}
		e.remotes = append(e.remotes, remoteLoc{pack, off, size})
	}
	if len(p) != 0 {
		return bad("trailing bytes")
	}
	return e, nil
}

func u64key(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func pairKey(a uint64, b int64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], uint64(b))
	return k
}

// containerStat is a container file's row: committed is the length up to
// which the file holds only durable, complete records (anything after it is
// the tail of a crashed write and is cut off at open); live is the bytes of
// the records whose local copy is needed (entry.needLocal).
type containerStat struct {
	committed int64
	live      int64
}

func (c containerStat) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(c.committed))
	binary.BigEndian.PutUint64(b[8:], uint64(c.live))
	return b
}

func decodeContainerStat(b []byte) (containerStat, error) {
	if len(b) != 16 {
		return containerStat{}, fmt.Errorf("container row of %d bytes: %w", len(b), ErrCorrupt)
	}
	return containerStat{int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// counters are the store-wide figures kept up to date in every transaction.
type counters struct {
	logical   int64 // bytes of committed manifests
	unique    int64 // raw bytes of referenced chunks
	chunks    int64 // referenced chunks
	manifests int64 // committed manifests
	local     int64 // raw bytes of referenced chunks with a local copy
	remote    int64 // raw bytes of referenced chunks with a remote copy
}

func (c counters) encode() []byte {
	b := make([]byte, 48)
	for i, v := range []int64{c.logical, c.unique, c.chunks, c.manifests, c.local, c.remote} {
		binary.BigEndian.PutUint64(b[i*8:], uint64(v))
	}
	return b
}

func decodeCounters(b []byte) counters {
	g := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[i*8:])) }
	switch len(b) {
	case 32: // format 1: every chunk was local
		return counters{logical: g(0), unique: g(1), chunks: g(2), manifests: g(3), local: g(1)}
	case 48:
		return counters{g(0), g(1), g(2), g(3), g(4), g(5)}
	}
	return counters{}
}

func (c *counters) add(d counters) {
	c.logical += d.logical
	c.unique += d.unique
	c.chunks += d.chunks
	c.manifests += d.manifests
	c.local += d.local
	c.remote += d.remote
}

// txn is one bbolt transaction with the store's buckets at hand. Changes to
// counters, container rows and pack rows are collected and written once at
// the end; manifests released in it are drained after it commits.
type txn struct {
	tx                                        *bolt.Tx
	index, locs, containers, packs, packlocs  *bolt.Bucket
	manifests, segments, holds, pending, meta *bolt.Bucket
	later                                     *bolt.Bucket
	d                                         counters
	cont                                      map[uint64]*containerStat // deltas: committed is a new minimum, live a delta
	laterDelta                                map[uint64]int64          // bytes added to containers' later rows
	packLive                                  map[uint64]int64          // live byte deltas of packs
	released                                  []ManifestID              // to drain once committed
	drained                                   []ManifestID              // released ones whose drain ends here
}

func newTxn(tx *bolt.Tx) *txn {
	return &txn{
		tx:         tx,
		index:      tx.Bucket(bucketIndex),
		locs:       tx.Bucket(bucketLocs),
		containers: tx.Bucket(bucketContainers),
		packs:      tx.Bucket(bucketPacks),
		packlocs:   tx.Bucket(bucketPackLocs),
		manifests:  tx.Bucket(bucketManifests),
		segments:   tx.Bucket(bucketSegments),
		holds:      tx.Bucket(bucketHolds),
		pending:    tx.Bucket(bucketPending),
		meta:       tx.Bucket(bucketMeta),
		later:      tx.Bucket(bucketLater),
	}
}

func (s *Store) view(fn func(t *txn) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(newTxn(tx)) })
}

// update runs fn in a write transaction and, once it has committed, hands
// the manifests it released to the leases (which drain them when no reader
// holds them).
func (s *Store) update(fn func(t *txn) error) error {
	var released, drained []ManifestID
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := newTxn(tx)
		if err := fn(t); err != nil {
			return err
		}
		released, drained = t.released, t.drained
		return t.flush()
	})
	if err == nil {
		s.leases.drained(drained)
		if len(released) > 0 {
			s.drainer.add(s.leases.released(released))
		}
	}
	return err
}

// flush writes the collected counter, container and pack deltas.
func (t *txn) flush() error {
	if t.d != (counters{}) {
		c := decodeCounters(t.meta.Get(keyCounters))
		c.add(t.d)
		if err := t.meta.Put(keyCounters, c.encode()); err != nil {
			return err
		}
	}
	for id, d := range t.cont {
		k := u64key(id)
		var cur containerStat
		if v := t.containers.Get(k); v != nil {
			var err error
			if cur, err = decodeContainerStat(v); err != nil {
				return err
			}
		}
		cur.committed = max(cur.committed, d.committed)
		cur.live += d.live
		if err := t.containers.Put(k, cur.encode()); err != nil {
			return err
		}
	}
	for id, d := range t.laterDelta {
		k := u64key(id)
		var cur int64
		if v := t.later.Get(k); len(v) == 8 {
			cur = int64(binary.BigEndian.Uint64(v))
		}
		if err := t.later.Put(k, binary.BigEndian.AppendUint64(nil, uint64(cur+d))); err != nil {
			return err
		}
	}
	for id, d := range t.packLive {
		if d == 0 {
			continue
		}
		p, ok, err := t.pack(id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("pack %d: live bytes change for a pack that is not recorded: %w", id, ErrCorrupt)
		}
		p.live += d
		if err := t.packs.Put(u64key(id), p.encode()); err != nil {
			return err
		}
	}
	return nil
}

// addLater counts n more bytes of container id's records as S2 for the
// cleaner to recompress.
func (t *txn) addLater(id uint64, n int64) {
	if n == 0 {
		return
	}
	if t.laterDelta == nil {
		t.laterDelta = make(map[uint64]int64)
	}
	t.laterDelta[id] += n
}

// laterBytes is how much of container id is S2 for the cleaner to
// recompress, as last committed.
func (t *txn) laterBytes(id uint64) int64 {
	if v := t.later.Get(u64key(id)); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (t *txn) contDelta(id uint64) *containerStat {
	if t.cont == nil {
		t.cont = make(map[uint64]*containerStat)
	}
	d := t.cont[id]
	if d == nil {
		d = &containerStat{}
		t.cont[id] = d
	}
	return d
}

func (t *txn) entry(id ChunkID) (entry, bool, error) {
	v := t.index.Get(id[:])
	if v == nil {
		return entry{}, false, nil
	}
	e, err := decodeEntry(v)
	if err != nil {
		return e, false, fmt.Errorf("chunk %s: %w", id, err)
	}
	return e, true, nil
}

// account adds (sign 1) or takes away (sign -1) what e contributes to the
// counters, its container's live bytes and its packs' live bytes.
func (t *txn) account(e *entry, sign int64) {
	if e.refs > 0 {
		raw := sign * int64(e.rawLen)
		t.d.unique += raw
		t.d.chunks += sign
		if e.local {
			t.d.local += raw
		}
		if len(e.remotes) > 0 {
			t.d.remote += raw
			if t.packLive == nil {
				t.packLive = make(map[uint64]int64)
			}
			for _, r := range e.remotes {
				t.packLive[r.pack] += sign * r.size
			}
		}
	}
	if e.needLocal() {
		t.contDelta(e.container).live += sign * e.size
	}
}

// set replaces a chunk's entry (old nil: there was none; new nil: remove
// it), keeping the counters, the container and pack rows and the reverse
// rows right. Every change of an entry goes through here.
func (t *txn) set(id ChunkID, old, new *entry) error {
	if old != nil {
		t.account(old, -1)
		if old.local && (new == nil || !new.local || new.container != old.container || new.offset != old.offset) {
			if err := t.locs.Delete(pairKey(old.container, old.offset)); err != nil {
				return err
			}
		}
		for _, r := range old.remotes {
			if new == nil || !slices.Contains(new.remotes, r) {
				if err := t.packlocs.Delete(pairKey(r.pack, r.offset)); err != nil {
					return err
				}
			}
		}
	}
	if new == nil {
		return t.index.Delete(id[:])
	}
	if new.localRefs > new.refs {
		return fmt.Errorf("chunk %s: %d local references of %d: %w", id, new.localRefs, new.refs, ErrCorrupt)
	}
	t.account(new, 1)
	if new.local && (old == nil || !old.local || new.container != old.container || new.offset != old.offset) {
		if err := t.locs.Put(pairKey(new.container, new.offset), id[:]); err != nil {
			return err
		}
	}
	for _, r := range new.remotes {
		if old == nil || !slices.Contains(old.remotes, r) {
			if err := t.packlocs.Put(pairKey(r.pack, r.offset), packLocValue(id, r.size)); err != nil {
				return err
			}
		}
	}
	return t.index.Put(id[:], new.encode())
}

// ref adds n references to an indexed chunk; local says whether they need
// the local copy (they do, but for moved manifests').
func (t *txn) ref(id ChunkID, n uint64, local bool) error {
	return t.placeRef(id, nil, n, local)
}

// unref drops one reference. A chunk left unreferenced without a local copy
// goes at once: no container file holds it for the cleaner to find.
func (t *txn) unref(id ChunkID, local bool) error {
	e, ok, err := t.entry(id)
	if err != nil {
		return err
	}
	if !ok || e.refs == 0 || (local && e.localRefs == 0) {
		return fmt.Errorf("chunk %s: released more often than referenced: %w", id, ErrCorrupt)
	}
	old := e
	e.refs--
	if local {
		e.localRefs--
	}
	if e.refs == 0 && !e.local {
		return t.set(id, &old, nil)
	}
	return t.set(id, &old, &e)
}

// place records a local copy of a chunk the caller has just written
// (durably) at loc, without a reference: the manifest entry that names it
// takes one (putSegments). If another stream indexed the same chunk
// meanwhile, that copy wins and this one becomes dead space for the
// cleaner; a chunk known only remotely gets this copy as its local one.
func (t *txn) place(id ChunkID, loc entry) error {
	return t.placeRef(id, &loc, 0, false)
}

// placeRef places a copy just written at loc (when not nil; see place) and
// takes n references (ref) in one read and one write of the entry: a
// writer's batch does both for each new chunk, and the index's B+tree
// searches were a tenth of a unique upload's CPU.
func (t *txn) placeRef(id ChunkID, loc *entry, n uint64, local bool) error {
	old, ok, err := t.entry(id)
	if err != nil {
		return err
	}
	e := old
	switch {
	case loc != nil && ok && old.local:
		if n == 0 {
			return nil
		}
	case loc != nil:
		if !ok {
			e = entry{rawLen: loc.rawLen}
		} else if e.rawLen != loc.rawLen {
			return fmt.Errorf("chunk %s: indexed with %d bytes, written with %d: %w", id, e.rawLen, loc.rawLen, ErrCorrupt)
		}
		e.local, e.container, e.offset, e.size = true, loc.container, loc.offset, loc.size
	case !ok:
		return fmt.Errorf("chunk %s: %w", id, ErrNotFound)
	}
	e.refs += n
	if local {
		e.localRefs += n
	}
	if !ok {
		return t.set(id, nil, &e)
	}
	return t.set(id, &old, &e)
}

// hasLocal reports, from an index value without decoding all of it, whether
// the chunk has a local copy; nil (not indexed) has none.
func hasLocal(v []byte) bool {
	switch {
	case len(v) == entryV1Size && v[0] == entryFormat1:
		return true
	case len(v) >= 2 && v[0] == entryFormat2:
		return v[1]&entryFlagLocal != 0
	}
	return false
}

func packLocValue(id ChunkID, size int64) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), id[:]...), uint32(size))
}

func decodePackLoc(v []byte) (ChunkID, int64, error) {
	if len(v) != 36 {
		return ChunkID{}, 0, fmt.Errorf("pack location row of %d bytes: %w", len(v), ErrCorrupt)
	}
	return ChunkID(v[:32]), int64(binary.BigEndian.Uint32(v[32:])), nil
}

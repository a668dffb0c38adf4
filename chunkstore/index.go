package chunkstore

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The index database (index.db, bbolt) holds every piece of metadata:
//
//	index       chunk ID -> entry (where the chunk is, how many references)
//	locs        container ID | offset -> chunk ID (the index read backwards:
//	            which chunk a record in a container file belongs to)
//	containers  container ID -> committed size and live bytes
//	manifests   manifest ID -> header (state, size, chunk count, created)
//	segments    manifest ID | start offset -> a run of manifest entries
//	meta        counters and the store's format and chunking settings
//
// Keys are big-endian so that cursors walk containers by offset and
// manifests by position.
var (
	bucketIndex      = []byte("index")
	bucketLocs       = []byte("locs")
	bucketContainers = []byte("containers")
	bucketManifests  = []byte("manifests")
	bucketSegments   = []byte("segments")
	bucketMeta       = []byte("meta")

	keyCounters = []byte("counters")
	keyFormat   = []byte("format")
)

// Where a chunk lives. Only local container files for now; a cloud tier will
// add a pack location beside it, so the kind is a set of bits and manifests
// (which hold chunk IDs, never locations) need no rewrite when a chunk moves.
const locLocal uint8 = 1

// entry is a chunk's index value.
//
//	0  1 location kinds (locLocal)
//	1  8 container ID
//	9  8 record offset in the container file
//	17 4 stored payload length
//	21 4 raw length
//	25 8 reference count: manifest entries (committed or pending) naming it
const entrySize = 33

type entry struct {
	kinds     uint8
	container uint64
	offset    int64
	storedLen uint32
	rawLen    uint32
	refs      uint64
}

func (e entry) recordSize() int64 { return recordHeaderSize + int64(e.storedLen) }

func (e entry) encode() []byte {
	b := make([]byte, entrySize)
	b[0] = e.kinds
	binary.BigEndian.PutUint64(b[1:], e.container)
	binary.BigEndian.PutUint64(b[9:], uint64(e.offset))
	binary.BigEndian.PutUint32(b[17:], e.storedLen)
	binary.BigEndian.PutUint32(b[21:], e.rawLen)
	binary.BigEndian.PutUint64(b[25:], e.refs)
	return b
}

func decodeEntry(b []byte) (entry, error) {
	if len(b) != entrySize || b[0]&locLocal == 0 {
		return entry{}, fmt.Errorf("index entry of %d bytes, kinds %x: %w", len(b), b[:min(1, len(b))], ErrCorrupt)
	}
	return entry{
		kinds:     b[0],
		container: binary.BigEndian.Uint64(b[1:]),
		offset:    int64(binary.BigEndian.Uint64(b[9:])),
		storedLen: binary.BigEndian.Uint32(b[17:]),
		rawLen:    binary.BigEndian.Uint32(b[21:]),
		refs:      binary.BigEndian.Uint64(b[25:]),
	}, nil
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
// the records that referenced chunks occupy.
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
}

func (c counters) encode() []byte {
	b := make([]byte, 32)
	for i, v := range []int64{c.logical, c.unique, c.chunks, c.manifests} {
		binary.BigEndian.PutUint64(b[i*8:], uint64(v))
	}
	return b
}

func decodeCounters(b []byte) counters {
	if len(b) != 32 {
		return counters{}
	}
	g := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[i*8:])) }
	return counters{g(0), g(1), g(2), g(3)}
}

// txn is one bbolt transaction with the store's buckets at hand. Changes to
// counters and container rows are collected and written once at the end.
type txn struct {
	tx                                                 *bolt.Tx
	index, locs, containers, manifests, segments, meta *bolt.Bucket
	d                                                  counters
	cont                                               map[uint64]*containerStat // deltas: committed is a new minimum, live a delta
}

func newTxn(tx *bolt.Tx) *txn {
	return &txn{
		tx:         tx,
		index:      tx.Bucket(bucketIndex),
		locs:       tx.Bucket(bucketLocs),
		containers: tx.Bucket(bucketContainers),
		manifests:  tx.Bucket(bucketManifests),
		segments:   tx.Bucket(bucketSegments),
		meta:       tx.Bucket(bucketMeta),
	}
}

func (s *Store) view(fn func(t *txn) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(newTxn(tx)) })
}

func (s *Store) update(fn func(t *txn) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		t := newTxn(tx)
		if err := fn(t); err != nil {
			return err
		}
		return t.flush()
	})
}

// flush writes the collected counter and container deltas.
func (t *txn) flush() error {
	if t.d != (counters{}) {
		c := decodeCounters(t.meta.Get(keyCounters))
		c.logical += t.d.logical
		c.unique += t.d.unique
		c.chunks += t.d.chunks
		c.manifests += t.d.manifests
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
	return nil
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

// setRefs writes e with a new reference count, keeping the counters and the
// container's live bytes right when the chunk becomes (un)referenced.
func (t *txn) setRefs(id ChunkID, e entry, refs uint64) error {
	switch {
	case e.refs == 0 && refs > 0:
		t.d.unique += int64(e.rawLen)
		t.d.chunks++
		t.contDelta(e.container).live += e.recordSize()
	case e.refs > 0 && refs == 0:
		t.d.unique -= int64(e.rawLen)
		t.d.chunks--
		t.contDelta(e.container).live -= e.recordSize()
	}
	e.refs = refs
	return t.index.Put(id[:], e.encode())
}

// ref adds n references to an indexed chunk.
func (t *txn) ref(id ChunkID, n uint64) error {
	e, ok, err := t.entry(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("chunk %s: %w", id, ErrNotFound)
	}
	return t.setRefs(id, e, e.refs+n)
}

// unref drops one reference.
func (t *txn) unref(id ChunkID) error {
	e, ok, err := t.entry(id)
	if err != nil {
		return err
	}
	if !ok || e.refs == 0 {
		return fmt.Errorf("chunk %s: released more often than referenced: %w", id, ErrCorrupt)
	}
	return t.setRefs(id, e, e.refs-1)
}

// insert records a chunk the caller has just written (durably) at loc, with
// one reference. If another stream indexed the same chunk meanwhile, that
// copy wins and this one becomes dead space for the cleaner.
func (t *txn) insert(id ChunkID, e entry) error {
	old, ok, err := t.entry(id)
	if err != nil {
		return err
	}
	if ok {
		return t.setRefs(id, old, old.refs+1)
	}
	e.kinds = locLocal
	if err := t.locs.Put(pairKey(e.container, e.offset), id[:]); err != nil {
		return err
	}
	return t.setRefs(id, e, 1)
}

// drop removes an unreferenced chunk from the index.
func (t *txn) drop(id ChunkID, e entry) error {
	if err := t.locs.Delete(pairKey(e.container, e.offset)); err != nil {
		return err
	}
	return t.index.Delete(id[:])
}

// move points a chunk at a new copy of its record.
func (t *txn) move(id ChunkID, e entry, container uint64, offset int64) error {
	if err := t.locs.Delete(pairKey(e.container, e.offset)); err != nil {
		return err
	}
	if e.refs > 0 {
		t.contDelta(e.container).live -= e.recordSize()
		t.contDelta(container).live += e.recordSize()
	}
	e.container, e.offset = container, offset
	if err := t.locs.Put(pairKey(container, offset), id[:]); err != nil {
		return err
	}
	return t.index.Put(id[:], e.encode())
}

package chunkstore

import (
	"runtime"
	"sync"
)

// A batch: what a writer's stages (writer.go) pass along, and the work of
// the prepare stage on it: hashing, compressing and laying out its records.

// batch is one batch of input and everything derived from it.
type batch struct {
	// buf holds MaxChunk bytes of headroom, where prepare puts the previous
	// batch's tail, then the input. It grows up to MaxChunk+BatchBytes.
	// A full-size one is off the heap (bufmem.go) when mapped is set;
	// release gives it back should the batch be lost without drop.
	buf     []byte
	mapped  bool
	release runtime.Cleanup
	chunks  [][]byte
	ids     []ChunkID
	// recs[k] holds the records built by worker k for the chunks the index
	// lacked when looked at, in chunk order: each a header and, when the
	// payload is not the chunk itself, the payload. A chunk stored raw is
	// not copied: its record is its header in recs[k] and then the chunk's
	// bytes in buf, written together (see vector), so that incompressible
	// data is held once. span[k] is the length of worker k's records as
	// written. at[i] is chunk i's record, or worker -1 when it was not
	// prepared.
	recs  [][]byte
	span  []int64
	at    []recAt
	isNew []bool
	final bool
	// laterBytes is how much of the batch's new records is S2 for the
	// cleaner to recompress (CompressZstdLater), once writeNew has placed
	// them.
	laterBytes int64
	// sampled: only a sample of the new chunks is compressed (see
	// sampleNext); gain is what each prepare worker's compression saved;
	// scratch holds each worker's compressor output buffer for reuse.
	sampled bool
	gain    []gain
	scratch [][]byte
	vec     [][]byte // reused by vector
}

type recAt struct {
	worker int
	off    int64  // in the worker's records as written
	hdr    int    // of the header in recs[worker]
	stored uint32 // payload length
	byRef  bool   // the payload is the chunk, in buf, not in recs
	later  bool   // S2 for the cleaner to make zstd (CompressZstdLater)
}

// addRecord appends chunk i's record (codec cd, payload; sealed under key
// when there is one) to worker k's records.
func (b *batch) addRecord(k, i int, cd Codec, payload []byte, later bool, key *SealKey) {
	c := b.chunks[i]
	a := recAt{worker: k, off: b.span[k], hdr: len(b.recs[k]), later: later}
	b.recs[k] = reserve(b.recs[k], recordHeaderSize+len(payload)+sealOverhead)
	if key != nil {
		// Sealed straight into recs, after the header: no copy of the
		// sealed payload. The header is written first with a placeholder
		// length and CRC, then fixed.
		b.recs[k] = appendRecordHeader(b.recs[k], b.ids[i], cd, recordFlagSealed, len(c), nil)
		b.recs[k] = key.sealPayload(b.recs[k], b.ids[i], payload)
		n := len(b.recs[k]) - a.hdr - recordHeaderSize
		fixRecordHeader(b.recs[k][a.hdr:], n)
		a.stored = uint32(n)
	} else {
		a.stored = uint32(len(payload))
		b.recs[k] = appendRecordHeader(b.recs[k], b.ids[i], cd, 0, len(c), payload)
		a.byRef = len(payload) > 0 && &payload[0] == &c[0] && len(payload) == len(c)
		if !a.byRef {
			b.recs[k] = append(b.recs[k], payload...)
		}
	}
	b.at[i] = a
	b.span[k] += recordHeaderSize + int64(a.stored)
}

// sealOverhead is what sio adds to a payload of up to 512 KiB (32 bytes
// per 64 KiB package), reserved with each record: a larger chunk's sealing
// grows the records as it needs.
const sealOverhead = 256

// reserve returns b with room for n more bytes, growing it by as much as
// it holds, up to 1 MiB at a time. append grows a large slice by a quarter
// at a time, and a batch's records grow from nothing to megabytes when the
// batch is new: copied at every step, that was 11-14% of the server's CPU
// in a first upload of compressible files (gen1.tar, profiled). Past 1 MiB
// the steps stay 1 MiB, so that a kept batch holds at most that much
// unused (doubling all the way took the files workloads' peak RSS from
// 261 to 301 MB).
func reserve(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(cap(b)+min(cap(b), 1<<20), len(b)+n, 64<<10))
	copy(nb, b)
	return nb
}

// vector returns the batch's records as written, worker after worker:
// runs of recs and, between them, the chunks stored by reference.
func (b *batch) vector() [][]byte {
	vec := b.vec[:0]
	for k, recs := range b.recs {
		run := 0
		for i := range b.at {
			if a := b.at[i]; a.worker == k && a.byRef {
				end := a.hdr + recordHeaderSize
				vec = append(vec, recs[run:end], b.chunks[i])
				run = end
			}
		}
		if run < len(recs) {
			vec = append(vec, recs[run:])
		}
	}
	b.vec = vec
	return vec
}

// prepare hashes a batch's chunks and builds the records of those the index
// lacks (a hint, taken without the gate: storeBatch decides for certain).
func (s *Store) prepare(b *batch, key *SealKey) error {
	n := len(b.chunks)
	if cap(b.ids) < n {
		b.ids = make([]ChunkID, n, n+n/4)
		b.at = make([]recAt, n, n+n/4)
	}
	b.ids, b.at = b.ids[:n], b.at[:n]
	hash := key.hasher()
	parallel(n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			b.ids[i] = hash(b.chunks[i])
		}
	})
	var fresh []int
	err := s.view(func(t *txn) error {
		seen := make(map[ChunkID]struct{}, n)
		for i, id := range b.ids {
			b.at[i] = recAt{worker: -1}
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
			if !hasLocal(t.index.Get(id[:])) {
				fresh = append(fresh, i)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	workers := parallel(len(fresh), nil)
	for len(b.recs) < workers {
		b.recs = append(b.recs, nil)
	}
	for len(b.scratch) < workers {
		b.scratch = append(b.scratch, nil)
	}
	b.recs = b.recs[:workers]
	b.span = append(b.span[:0], make([]int64, workers)...)
	b.gain = append(b.gain[:0], make([]gain, workers)...)
	parallel(len(fresh), func(k, lo, hi int) {
		b.recs[k] = b.recs[k][:0]
		var tried, stored int64
		for n, i := range fresh[lo:hi] {
			// In a sampled batch only every sampleEvery-th new chunk is
			// offered to the compressor; the rest are stored raw.
			try := !b.sampled || (lo+n)%sampleEvery == 0
			cd, payload, later := s.encodeChunk(b.chunks[i], &b.scratch[k], try, key != nil)
			b.addRecord(k, i, cd, payload, later, key)
			if try {
				tried += int64(len(b.chunks[i]))
				stored += int64(len(payload))
			}
		}
		b.gain[k] = gain{tried: tried, stored: stored}
	})
	return nil
}

// encodeChunk returns a chunk's codec and payload: compressed when
// compress is set and compression pays, else the chunk itself; later
// says the cleaner is to recompress it (codecs.compress).
func (s *Store) encodeChunk(c []byte, scratch *[]byte, compress, sealed bool) (Codec, []byte, bool) {
	if !compress {
		return CodecRaw, c, false
	}
	cd, payload, out, later := s.codecs.compress(c, *scratch, sealed)
	*scratch = out
	return cd, payload, later
}

// Incompressible streams. A stream of data that does not compress
// (encrypted backups such as restic's, archives already compressed) would
// spend a core's worth of zstd per few hundred MB/s only to store every
// chunk raw. Once a batch's new chunks saved less than 1/incompressibleGain
// of their size, the writer's next batches offer only every sampleEvery-th
// new chunk to the compressor, and go back to compressing all of them as
// soon as that sample saves again. Data that turns compressible mid-stream
// costs at most one batch stored raw.
const (
	sampleEvery        = 16
	incompressibleGain = 64
)

// gain is what one prepare worker's compressed chunks came to.
type gain struct{ tried, stored int64 }

// sampleNext decides, from batch b just prepared, whether the stream's
// next batch only samples its new chunks (true) or compresses them all.
func sampleNext(b *batch) bool {
	var g gain
	for _, x := range b.gain {
		g.tried += x.tried
		g.stored += x.stored
	}
	if g.tried == 0 {
		return b.sampled // nothing new was seen: no evidence either way
	}
	return g.tried-g.stored < g.tried/incompressibleGain
}

// parallel splits [0,n) into contiguous runs, one per worker, and runs fn on
// each; with fn nil it only reports how many workers it would use. Small
// batches stay on one goroutine: the hand-off would cost more than it saves.
func parallel(n int, fn func(worker, lo, hi int)) int {
	workers := min(runtime.GOMAXPROCS(0), 4, max(1, n/8))
	if fn == nil {
		return workers
	}
	if workers == 1 {
		fn(0, 0, n)
		return 1
	}
	var wg sync.WaitGroup
	for k := range workers {
		lo, hi := n*k/workers, n*(k+1)/workers
		wg.Go(func() { fn(k, lo, hi) })
	}
	wg.Wait()
	return workers
}

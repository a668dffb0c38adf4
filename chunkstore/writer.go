package chunkstore

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
)

var errWriterDone = errors.New("chunkstore: writer already committed or aborted")

// Writer turns one stream of bytes into a manifest. Write (or io.Copy into
// it) as much as you like, then Commit; or Abort. A Writer is not safe for
// concurrent use; each stream has its own.
//
// Input is gathered into batches of Config.BatchBytes. Each batch is cut
// into chunks, hashed, looked up, its new chunks compressed and appended to
// the stream's container file, the file fsynced, and then one index
// transaction references every chunk and records the batch as a manifest
// segment of a pending manifest. Commit turns the manifest committed in the
// transaction of the last batch. So memory per stream is one batch, and a
// crash at any point leaves either a committed manifest or a pending one that
// Open releases.
type Writer struct {
	s    *Store
	ctx  context.Context
	buf  []byte // input not yet stored; capacity BatchBytes+MaxChunk
	id   ManifestID
	hdr  manifestHeader
	cont *openContainer
	err  error // sticky: once a batch failed, the writer is aborted
	done bool

	// Per-batch scratch, reused.
	chunks [][]byte
	ids    []ChunkID
	isNew  []bool
	seen   map[ChunkID]struct{}
	parts  [][]byte // compressed records, one buffer per worker
	locs   []entry  // where each new chunk went
	es     []segEntry
}

// NewWriter starts a stream. Cancelling ctx aborts it.
func (s *Store) NewWriter(ctx context.Context) *Writer {
	return &Writer{s: s, ctx: ctx, seen: make(map[ChunkID]struct{})}
}

// Write buffers p, storing full batches as they fill.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := w.room(); err != nil {
			return n, err
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// ReadFrom reads r to EOF straight into the batch buffer (io.Copy uses it).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		if err := w.room(); err != nil {
			return n, err
		}
		k, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+k]
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// room makes sure the buffer has free space, storing a full batch.
func (w *Writer) room() error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errWriterDone
	}
	if w.buf == nil {
		w.buf = w.s.getBuf()
	}
	if len(w.buf) == cap(w.buf) {
		return w.flush(false)
	}
	return nil
}

// Commit stores what is buffered and makes the manifest durable: when it
// returns, the data is fsynced and the manifest committed.
func (w *Writer) Commit(ctx context.Context) (Manifest, error) {
	if w.err != nil {
		return Manifest{}, w.err
	}
	if w.done {
		return Manifest{}, errWriterDone
	}
	w.ctx = ctx
	if err := w.flush(true); err != nil {
		return Manifest{}, err
	}
	w.finish()
	if w.id == 0 {
		return w.s.emptyManifest()
	}
	return w.hdr.manifest(w.id), nil
}

// Abort drops everything written; it is a no-op after Commit.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.finish()
	if w.id == 0 {
		return nil
	}
	// Not with the stream's context: it is often the cancelled one.
	return w.s.drain(context.Background(), w.id)
}

// Written is the number of bytes stored so far (not counting the buffer).
func (w *Writer) Written() int64 { return w.hdr.size }

func (w *Writer) finish() {
	w.done = true
	if w.cont != nil {
		w.s.pool.release(w.cont)
		w.cont = nil
	}
	if w.buf != nil {
		w.s.putBuf(w.buf)
		w.buf = nil
	}
}

func (w *Writer) fail(err error) error {
	w.err = err
	if aerr := w.Abort(); aerr != nil {
		w.s.log.Error("aborting a failed write", "manifest", w.id, "err", aerr)
	}
	return err
}

// flush stores the buffered input: all of it when final, else every chunk
// whose boundary is certain (the tail shorter than MaxChunk waits for more).
func (w *Writer) flush(final bool) error {
	if err := w.s.check(w.ctx); err != nil {
		return w.fail(err)
	}
	data := w.buf
	w.chunks = w.chunks[:0]
	for len(data) > 0 && (final || len(data) >= w.s.cfg.MaxChunk) {
		n := w.s.chunker.cut(data)
		w.chunks = append(w.chunks, data[:n])
		data = data[n:]
	}
	if cap(w.ids) < len(w.chunks) {
		w.ids = make([]ChunkID, len(w.chunks), len(w.chunks)+len(w.chunks)/4)
	}
	w.ids = w.ids[:len(w.chunks)]
	parallel(len(w.chunks), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			w.ids[i] = hashChunk(w.chunks[i])
		}
	})
	if err := w.store(final); err != nil {
		return w.fail(err)
	}
	w.buf = w.buf[:copy(w.buf, data)]
	return nil
}

// store writes one batch's new chunks and indexes the batch.
func (w *Writer) store(final bool) error {
	return w.s.withGate(func() error {
		if err := w.classify(); err != nil {
			return err
		}
		cont, err := w.writeNew()
		if err != nil {
			return err
		}
		id, hdr := w.id, w.hdr
		err = w.s.update(func(t *txn) error {
			if id == 0 {
				var err error
				if id, err = t.newManifestID(); err != nil {
					return err
				}
				hdr = manifestHeader{state: statePending, created: w.s.now().UnixNano()}
			}
			w.es = w.es[:0]
			j := 0
			for i, c := range w.chunks {
				var err error
				if w.isNew[i] {
					err = t.insert(w.ids[i], w.locs[j])
					j++
				} else {
					err = t.ref(w.ids[i], 1)
				}
				if err != nil {
					return err
				}
				w.es = append(w.es, segEntry{id: w.ids[i], len: uint32(len(c))})
			}
			if cont != nil && j > 0 {
				last := w.locs[j-1]
				t.contDelta(cont.id).committed = last.offset + last.recordSize()
			}
			for es := w.es; len(es) > 0; {
				n := min(len(es), maxSegEntries)
				if err := t.segments.Put(pairKey(uint64(id), hdr.size), appendSegment(nil, es[:n])); err != nil {
					return err
				}
				for _, e := range es[:n] {
					hdr.size += int64(e.len)
				}
				hdr.chunks += int64(n)
				es = es[n:]
			}
			if final {
				hdr.state = stateCommitted
				t.d.logical += hdr.size
				t.d.manifests++
			}
			return t.putHeader(id, hdr)
		})
		if err != nil {
			return err
		}
		w.id, w.hdr = id, hdr
		return nil
	})
}

// classify marks the chunks the index lacks (the first time each appears in
// the batch). Runs under the gate, so a chunk found here cannot be dropped
// before this batch's transaction references it.
func (w *Writer) classify() error {
	w.isNew = w.isNew[:0]
	clear(w.seen)
	return w.s.view(func(t *txn) error {
		for _, id := range w.ids {
			_, dup := w.seen[id]
			w.seen[id] = struct{}{}
			w.isNew = append(w.isNew, !dup && t.index.Get(id[:]) == nil)
		}
		return nil
	})
}

// writeNew compresses the new chunks (in parallel), appends them to the
// stream's container file and fsyncs it. It returns the container and
// leaves each new chunk's location in w.locs.
func (w *Writer) writeNew() (*openContainer, error) {
	var fresh []int
	for i, n := range w.isNew {
		if n {
			fresh = append(fresh, i)
		}
	}
	w.locs = w.locs[:0]
	if len(fresh) == 0 {
		return nil, nil
	}
	workers := parallel(len(fresh), nil)
	for len(w.parts) < workers {
		w.parts = append(w.parts, nil)
	}
	// Each worker builds the records of a contiguous run of the new chunks;
	// offsets within its buffer are kept in rel.
	rel := make([][]entry, workers)
	parallel(len(fresh), func(k, lo, hi int) {
		buf := w.parts[k][:0]
		var scratch []byte
		for _, i := range fresh[lo:hi] {
			c := w.chunks[i]
			cd, payload := w.s.codecs.compress(c, scratch)
			if cd != codecRaw {
				scratch = payload
			}
			rel[k] = append(rel[k], entry{offset: int64(len(buf)), storedLen: uint32(len(payload)), rawLen: uint32(len(c))})
			buf = appendRecord(buf, w.ids[i], cd, len(c), payload)
		}
		w.parts[k] = buf
	})
	if w.cont == nil {
		c, err := w.s.pool.acquire()
		if err != nil {
			return nil, err
		}
		w.cont = c
	}
	cont := w.cont
	base, err := cont.append(w.parts[:workers]...)
	if err != nil {
		return nil, err
	}
	if err := cont.sync(); err != nil {
		return nil, err
	}
	for k := range workers {
		for _, e := range rel[k] {
			e.container = cont.id
			e.offset += base
			w.locs = append(w.locs, e)
		}
		base += int64(len(w.parts[k]))
	}
	if w.s.pool.full(cont) {
		w.s.pool.release(cont)
		w.cont = nil
	}
	return cont, nil
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

func (s *Store) getBuf() []byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, s.cfg.BatchBytes+s.cfg.MaxChunk)
}

func (s *Store) putBuf(b []byte) {
	b = b[:0]
	s.bufs.Put(&b)
}

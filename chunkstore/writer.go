package chunkstore

import (
	"context"
	"errors"
	"io"
	"sync"
)

var errWriterDone = errors.New("chunkstore: writer already committed or aborted")

// Writer turns one stream of bytes into a manifest. Write (or io.Copy into
// it) as much as you like, then Commit; or Abort. A Writer is not safe for
// concurrent use; each stream has its own.
//
// Input is gathered into batches of Config.BatchBytes and goes through three
// stages, each on its own goroutine, so that receiving, CPU work and disk
// work overlap:
//
//  1. (the caller) fill the batch buffer;
//  2. (prepare) cut the batch into chunks (the tail that may continue into
//     the next batch is carried over), hash them, and compress the ones the
//     index probably lacks into complete records;
//  3. (store) under the gate, decide for certain which chunks are new,
//     append their records to the stream's container file, fsync it, and in
//     one index transaction reference every chunk and record the batch as a
//     segment of the pending manifest.
//
// Commit turns the manifest committed in the transaction of the last batch.
// A single-batch object skips the goroutines. Memory per stream is at most
// three batches (see doc.go); a crash at any point leaves a committed
// manifest or a pending one that Open releases.
type Writer struct {
	s       *Store
	ctx     context.Context
	cur     *batch // being filled
	written int64  // bytes accepted
	done    bool
	// counted: the stream is in Stats.ActiveStreams, from its first Write
	// (or Commit) until it commits or aborts.
	counted bool

	// The stage goroutines, started with the second batch. Until then (and
	// for single-batch objects, always) a batch is prepared and stored inline.
	prep       chan *batch
	store      chan *batch
	stagesDone chan struct{}
	tail       []byte // owned by prepare: the uncut end of the previous batch
	sampled    bool   // owned by prepare: batch.sampled for the next batch

	// Owned by whoever stores batches (the stage, or the caller when no
	// stage runs, or after it stopped).
	id   ManifestID
	hdr  manifestHeader
	cont *openContainer
	seen map[ChunkID]struct{}
	then CommitFunc // run in the last batch's transaction

	// key seals the stream's chunks (Seal); nil writes plain records.
	key *SealKey

	mu  sync.Mutex
	err error // sticky: once a batch failed, the writer is aborted
}

// NewWriter starts a stream. Cancelling ctx aborts it.
func (s *Store) NewWriter(ctx context.Context) *Writer {
	return &Writer{s: s, ctx: ctx, seen: make(map[ChunkID]struct{})}
}

// Seal makes the writer name its chunks with key's keyed hash and seal
// their records under key (seal.go): its chunks dedup only against chunks
// written with the same key. Call it before the first Write; reading the
// manifest back needs the same key (Reader.Unseal).
func (w *Writer) Seal(key *SealKey) {
	if w.written > 0 || w.cur != nil {
		panic("chunkstore: Writer.Seal after Write")
	}
	w.key = key
}

// Write buffers p, storing full batches as they fill.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := w.room(); err != nil {
			return n, err
		}
		b := w.cur
		k := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf = b.buf[:len(b.buf)+k]
		p = p[k:]
		n += k
		w.written += int64(k)
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
		b := w.cur
		k, err := r.Read(b.buf[len(b.buf):cap(b.buf)])
		b.buf = b.buf[:len(b.buf)+k]
		n += int64(k)
		w.written += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Written is the number of bytes accepted so far.
func (w *Writer) Written() int64 { return w.written }

// room makes sure the current batch has free space, storing a full one.
func (w *Writer) room() error {
	if err := w.failed(); err != nil {
		return err
	}
	if w.done {
		return errWriterDone
	}
	w.count()
	if w.cur == nil {
		w.cur = w.s.batches.getSmall()
	}
	if b := w.cur; len(b.buf) == cap(b.buf) {
		p := w.s.batches
		switch {
		case cap(b.buf) >= p.full:
			return w.flush(w.ctx, false)
		case cap(b.buf)-p.head < largeBatch:
			// Buffers start small so that small objects stay small.
			b.buf = append(make([]byte, 0, min(2*cap(b.buf)-p.head, p.full)), b.buf...)
		default:
			// A stream this long takes a full-size batch, reused from
			// the pool when one is free, rather than grow by doubling.
			f := p.getFull()
			f.buf = append(f.buf[:0], b.buf...)
			w.cur = f
			p.put(b)
		}
	}
	return nil
}

// Commit stores what is buffered and makes the manifest durable: when it
// returns, the data is fsynced and the manifest committed.
func (w *Writer) Commit(ctx context.Context) (Manifest, error) {
	return w.CommitWith(ctx, nil)
}

// CommitWith is Commit with fn run in the transaction that commits the
// manifest, so that what the caller records about it (an object version)
// becomes visible with it or not at all. When the commit fails (fn's error
// among other causes), the write is aborted and the error returned.
func (w *Writer) CommitWith(ctx context.Context, fn CommitFunc) (Manifest, error) {
	if err := w.failed(); err != nil {
		// A batch failed in the store stage after the last Write returned:
		// abort now, or the stages, the container and the pending manifest
		// stay held until Close (and the stream stays counted active).
		return Manifest{}, w.fail(err)
	}
	if w.done {
		return Manifest{}, errWriterDone
	}
	w.count()
	if w.cur == nil {
		w.cur = w.s.batches.getSmall()
	}
	w.then = fn
	if err := w.flush(ctx, true); err != nil {
		return Manifest{}, err
	}
	w.stopStages()
	if err := w.failed(); err != nil {
		return Manifest{}, w.fail(err)
	}
	w.finish()
	if w.id == 0 {
		m, err := w.s.emptyManifest(fn)
		if err != nil {
			w.setErr(err)
		}
		return m, err
	}
	return w.hdr.manifest(w.id), nil
}

// Abort drops everything written; it is a no-op after Commit.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.stopStages()
	w.finish()
	if w.id == 0 {
		return nil
	}
	// Not with the stream's context: it is often the cancelled one.
	return w.s.finish(context.Background(), w.id)
}

// count puts the stream in Stats.ActiveStreams. Not in NewWriter: a caller
// that gives up before its first byte (a refused request) may drop the
// Writer without Abort, and must not leave a stream counted forever.
func (w *Writer) count() {
	if !w.counted {
		w.counted = true
		w.s.pool.activeStreams.Add(1)
	}
}

func (w *Writer) finish() {
	w.done = true
	if w.counted {
		w.counted = false
		w.s.pool.activeStreams.Add(-1)
	}
	if w.cont != nil {
		w.s.pool.release(w.cont)
		w.cont = nil
	}
	if w.cur != nil {
		w.s.batches.put(w.cur)
		w.cur = nil
	}
}

func (w *Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *Writer) fail(err error) error {
	w.setErr(err)
	if aerr := w.Abort(); aerr != nil {
		w.s.log.Error("aborting a failed write", "manifest", w.id, "err", aerr)
	}
	return err
}

// flush hands the current batch on: all of it when final, else a new batch
// takes its place.
func (w *Writer) flush(ctx context.Context, final bool) error {
	if err := w.s.check(ctx); err != nil {
		return w.fail(err)
	}
	b := w.cur
	b.final = final
	w.cur = nil
	if w.prep == nil && final {
		err := w.prepare(b)
		if err == nil {
			err = w.storeBatch(b)
		}
		w.s.batches.put(b)
		if err != nil {
			return w.fail(err)
		}
		return nil
	}
	if w.prep == nil {
		w.prep = make(chan *batch)
		w.stagesDone = make(chan struct{})
		if w.s.pool.activeStreams.Load() > pipelinedStreams {
			go w.runSerial()
		} else {
			w.store = make(chan *batch)
			go w.runPrepare()
			go w.runStore()
		}
	}
	w.prep <- b
	if err := w.failed(); err != nil {
		return w.fail(err)
	}
	if !final {
		// Only a full batch is flushed before the end. The next is taken
		// once prepare took this one, not before: a stream waiting on its
		// stages holds three batches, not four.
		w.cur = w.s.batches.getFull()
	}
	return nil
}

// runPrepare prepares batches in order and passes them to the store stage;
// after a failure it only recycles them.
func (w *Writer) runPrepare() {
	defer close(w.store)
	for b := range w.prep {
		if w.failed() == nil {
			if err := w.prepare(b); err != nil {
				w.setErr(err)
			} else {
				w.store <- b
				continue
			}
		}
		w.s.batches.put(b)
	}
}

// runStore stores batches in order until the channel closes. It checks the
// stream's context; Commit's is checked by flush before the last batch.
func (w *Writer) runStore() {
	defer close(w.stagesDone)
	for b := range w.store {
		if w.failed() == nil {
			if err := w.s.check(w.ctx); err != nil {
				w.setErr(err)
			} else if err := w.storeBatch(b); err != nil {
				w.setErr(err)
			}
		}
		w.s.batches.put(b)
	}
}

// pipelinedStreams is how many streams may run their prepare and store
// stages apart. Past it, a new stream's batches are prepared and stored by
// one goroutine, one after the other: the other streams keep the cores and
// the disk busy meanwhile, so overlapping the two within a stream gains
// little, and it holds a third batch (BatchBytes of input and its records)
// per stream. Four streams of unique data then hold about 64 MB of batches
// rather than 96.
const pipelinedStreams = 2

// runSerial prepares and stores batches in order, each before the next.
func (w *Writer) runSerial() {
	defer close(w.stagesDone)
	for b := range w.prep {
		if w.failed() == nil {
			err := w.prepare(b)
			if err == nil {
				err = w.s.check(w.ctx)
			}
			if err == nil {
				err = w.storeBatch(b)
			}
			if err != nil {
				w.setErr(err)
			}
		}
		w.s.batches.put(b)
	}
}

func (w *Writer) stopStages() {
	if w.prep != nil {
		close(w.prep)
		<-w.stagesDone
		w.prep = nil
	}
}

// prepare cuts a batch into chunks, after putting the previous batch's tail
// in front of its input: all of it when final, else every chunk whose
// boundary is certain (a tail shorter than MaxChunk waits for more input).
func (w *Writer) prepare(b *batch) error {
	head := w.s.cfg.MaxChunk
	start := head - len(w.tail)
	copy(b.buf[start:head], w.tail)
	data := b.buf[start:]
	b.chunks = b.chunks[:0]
	for len(data) > 0 && (b.final || len(data) >= w.s.cfg.MaxChunk) {
		n := w.s.chunker.cut(data)
		b.chunks = append(b.chunks, data[:n])
		data = data[n:]
	}
	w.tail = append(w.tail[:0], data...)
	b.sampled = w.sampled
	if err := w.s.prepare(b, w.key); err != nil {
		return err
	}
	w.sampled = sampleNext(b)
	return nil
}

// storeBatch writes a prepared batch's new chunks and indexes the batch.
func (w *Writer) storeBatch(b *batch) error {
	w.s.lastWrite.Store(w.s.now().UnixNano())
	return w.s.withGate(func() error {
		if err := w.classify(b); err != nil {
			return err
		}
		locs, end, err := w.writeNew(b)
		if err != nil {
			return err
		}
		return w.index(b, locs, end)
	})
}

// classify marks the chunks the index lacks, or knows only in a tier (the
// first time each appears in the batch): the writer has their bytes, so it
// stores them locally. Runs under the gate, so a chunk found here cannot be
// dropped before this batch's transaction references it.
func (w *Writer) classify(b *batch) error {
	b.isNew = b.isNew[:0]
	clear(w.seen)
	return w.s.view(func(t *txn) error {
		for _, id := range b.ids {
			_, dup := w.seen[id]
			w.seen[id] = struct{}{}
			b.isNew = append(b.isNew, !dup && !hasLocal(t.index.Get(id[:])))
		}
		return nil
	})
}

// writeNew appends the new chunks' records to the stream's container file
// and fsyncs it. It returns each new chunk's location (in batch order) and
// the end of what it appended. Records prepared for chunks another stream
// has stored meanwhile are written anyway (dead space for the cleaner;
// rare); chunks not prepared (the cleaner dropped them after the hint) are
// compressed now, into one more record buffer.
func (w *Writer) writeNew(b *batch) ([]entry, int64, error) {
	b.laterBytes = 0
	late := len(b.recs)
	b.recs = append(b.recs, nil)
	b.span = append(b.span, 0)
	var scratch []byte
	fresh := 0
	for i, isNew := range b.isNew {
		if !isNew {
			continue
		}
		fresh++
		if b.at[i].worker < 0 {
			cd, payload, later := w.s.encodeChunk(b.chunks[i], &scratch, true, w.key != nil)
			b.addRecord(late, i, cd, payload, later, w.key)
		}
	}
	if fresh == 0 {
		return nil, 0, nil
	}
	if w.cont == nil {
		acquire := w.s.pool.acquire
		if b.final && w.id == 0 {
			// The whole object is this one batch: a small write.
			acquire = w.s.pool.acquireSmall
		}
		c, err := acquire()
		if err != nil {
			return nil, 0, err
		}
		w.cont = c
	}
	cont := w.cont
	var size int64
	for _, n := range b.span {
		size += n
	}
	if err := w.s.admit(size); err != nil {
		return nil, 0, err
	}
	base, err := cont.append(b.vector()...)
	if err != nil {
		return nil, 0, err
	}
	if err := cont.syncTo(base + size); err != nil {
		return nil, 0, err
	}
	starts := make([]int64, len(b.recs))
	end := base
	for k, n := range b.span {
		starts[k] = end
		end += n
	}
	locs := make([]entry, 0, fresh)
	for i, isNew := range b.isNew {
		if isNew {
			a := b.at[i]
			locs = append(locs, entry{container: cont.id, offset: starts[a.worker] + a.off, size: recordHeaderSize + int64(a.stored), rawLen: uint32(len(b.chunks[i]))})
			if a.later {
				b.laterBytes += recordHeaderSize + int64(a.stored)
			}
		}
	}
	if w.s.pool.full(cont) {
		w.s.pool.release(cont)
		w.cont = nil
	}
	return locs, end, nil
}

// index references every chunk of the batch and records its segment; the
// last batch's transaction commits the manifest (and runs w.then).
func (w *Writer) index(b *batch, locs []entry, end int64) error {
	var (
		id  ManifestID
		hdr manifestHeader
	)
	// In a commit group: this may run more than once (commit.go), so it
	// starts from the writer's state each time.
	err := w.s.batch(func(t *txn) error {
		id, hdr = w.id, w.hdr
		created := id == 0
		if created {
			var err error
			if id, err = t.newManifestID(); err != nil {
				return err
			}
			hdr = manifestHeader{state: statePending, created: w.s.now().UnixNano()}
		}
		es := make([]segEntry, 0, len(b.chunks))
		for i, c := range b.chunks {
			es = append(es, segEntry{id: b.ids[i], len: uint32(len(c))})
		}
		if len(locs) > 0 {
			// Everything up to end is fsynced whole records: the dead ones
			// among them (see writeNew) are the cleaner's to reclaim.
			t.contDelta(locs[0].container).committed = end
			t.addLater(locs[0].container, b.laterBytes)
		}
		if err := t.putPlacedSegments(id, &hdr, es, b.isNew, locs); err != nil {
			return err
		}
		if !b.final {
			if created {
				if err := t.markPending(id, pendDrain); err != nil {
					return err
				}
			}
			return t.putHeader(id, hdr)
		}
		hdr.state = stateCommitted
		t.d.logical += hdr.size
		t.d.manifests++
		if !created {
			if err := t.clearPending(id, pendDrain); err != nil {
				return err
			}
		}
		if err := w.s.then(w.then, t, hdr.manifest(id)); err != nil {
			return err
		}
		return t.putHeader(id, hdr)
	})
	if err != nil {
		return err
	}
	w.id, w.hdr = id, hdr
	return nil
}

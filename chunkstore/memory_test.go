package chunkstore

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWriterAllocationsDoNotScale writes a large unique object through a
// warmed store and checks that the writer allocated a small fraction of it:
// batches are recycled at full size, incompressible chunks are written from
// the input buffer rather than copied into records, and the compressor's
// output buffer is reused. Before, every byte was copied into a freshly
// grown record buffer and every chunk got a new compressor buffer, so the
// allocations exceeded the object's size.
func TestWriterAllocationsDoNotScale(t *testing.T) {
	cfg := testConfig(t)
	cfg.BatchBytes = 4 << 20
	cfg.ContainerSize = 256 << 20
	s := openStore(t, cfg)
	put(t, s, randomData(1, 16<<20)) // warm the batch pool and the codecs

	const size = 48 << 20
	data := randomData(2, size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	offHeap := bufNew.Load()
	m := put(t, s, data)
	runtime.ReadMemStats(&after)
	// Batch buffers are off the heap (bufmem.go): new ones count too.
	alloc := after.TotalAlloc - before.TotalAlloc + uint64(bufNew.Load()-offHeap)
	t.Logf("%d MiB written, %.1f MiB allocated", size>>20, float64(alloc)/(1<<20))
	// The chunk IDs, index rows and manifest segments grow with the chunk
	// count (about 3,000 here: bbolt's pages take most of it); what grows
	// with the bytes must not be there at all.
	switch {
	case raceEnabled:
		// Pools drop what is put back (raceEnabled): the bound holds in
		// the plain run (make test runs both).
		t.Log("race detector on: the allocation bound is checked without it")
	case alloc > size/3:
		t.Errorf("writing %d MiB allocated %d MiB: allocations scale with the object", size>>20, alloc>>20)
	}
	if !bytes.Equal(readAll(t, s, m.ID), data) {
		t.Fatal("object read back differs")
	}
}

// TestIncompressibleStreamSamples checks the compression sampling: a
// stream that turns from random to text bytes is compressed again once
// the sample shows it pays, and the random part is stored raw.
func TestIncompressibleStreamSamples(t *testing.T) {
	cfg := testConfig(t)
	cfg.Compression = CompressZstd
	s := openStore(t, cfg)
	random := randomData(3, 6*cfg.BatchBytes)
	text := textData(4, 12*cfg.BatchBytes)
	data := append(append([]byte{}, random...), text...)
	m := put(t, s, data)
	if !bytes.Equal(readAll(t, s, m.ID), data) {
		t.Fatal("object read back differs")
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Random data costs its size; the text, compressed after at most a
	// batch or two stored raw while the sample catches up, far less.
	textStored := st.StoredBytes - int64(len(random))
	t.Logf("stored %d bytes: %d random, text %d -> about %d", st.StoredBytes, len(random), len(text), textStored)
	if textStored > int64(len(text))/2 {
		t.Errorf("text after random data stored as %d of %d bytes: compression did not resume", textStored, len(text))
	}

	// The same text alone, for the sampling's cost: at most the batches
	// stored raw before the sample caught up.
	cfg.Dir = t.TempDir()
	s2 := openStore(t, cfg)
	put(t, s2, textData(4, 12*cfg.BatchBytes))
	st2, err := s2.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if extra := textStored - st2.StoredBytes; extra > int64(2*cfg.BatchBytes) {
		t.Errorf("sampling stored %d more bytes than compressing throughout: more than two batches raw", extra)
	}
}

// TestBatchPoolKeepsWhatWasInUse: the free list keeps the batches put
// back, never more than were out at once (so it adds nothing to the peak),
// and each trim drops those nobody took since the last.
func TestBatchPoolKeepsWhatWasInUse(t *testing.T) {
	cfg := testConfig(t)
	p := newBatchPool(cfg)
	fill := func(n int) []*batch {
		var got []*batch
		for range n {
			b := p.getFull()
			if cap(b.buf) != cfg.BatchBytes+cfg.MaxChunk || len(b.buf) != cfg.MaxChunk {
				t.Fatalf("full batch: len %d cap %d", len(b.buf), cap(b.buf))
			}
			got = append(got, b)
		}
		return got
	}
	bound := func() {
		t.Helper()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.out+len(p.free) > p.high {
			t.Fatalf("%d out and %d free: more than the %d once out at once", p.out, len(p.free), p.high)
		}
	}
	got := fill(6)
	for _, b := range got {
		b.buf = append(b.buf, 1, 2, 3)
		p.put(b)
		bound()
	}
	if n := p.idle(); n != 6 {
		t.Fatalf("%d idle batches kept, want the 6 that were out", n)
	}
	if b := p.getFull(); b != got[5] || len(b.buf) != cfg.MaxChunk {
		t.Fatal("getFull did not reuse the last batch returned, emptied")
	} else {
		p.put(b)
	}
	// A small batch never joins the free list.
	p.put(p.getSmall())
	if n := p.idle(); n != 6 {
		t.Fatalf("%d idle after a small batch was returned, want 6", n)
	}

	// Each trim drops the batches that sat on the list through the whole
	// period since the last: here the first one put back.
	p.trim()
	if n := p.idle(); n != 5 {
		t.Fatalf("%d idle batches after a trim, want 5", n)
	}
	// A period in which one was taken: the other four go, then the last.
	p.put(p.getFull())
	p.trim()
	if n := p.idle(); n != 1 {
		t.Fatalf("%d idle batches after a period that used one, want 1", n)
	}
	p.trim()
	if n := p.idle(); n != 0 {
		t.Fatalf("%d idle batches after an idle period's trim", n)
	}
	// The peak went with them, and is learnt again: three out at once all
	// come back.
	for _, b := range fill(3) {
		p.put(b)
		bound()
	}
	if n := p.idle(); n != 3 {
		t.Fatalf("%d idle batches after 3 out at once, want 3", n)
	}

	p.close()
	p.put(p.getFull())
	if n := p.idle(); n != 0 {
		t.Fatal("a closed pool kept a batch")
	}
}

// TestWriteVecManyBuffers writes more buffers than one pwritev takes and
// empty ones among them.
func TestWriteVecManyBuffers(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "v"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bufs [][]byte
	var want []byte
	for i := range 2500 {
		b := bytes.Repeat([]byte{byte(i)}, i%7)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	orig := append([][]byte(nil), bufs...)
	if err := writeVec(f, bufs, 5); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[5:], want) || !bytes.Equal(got[:5], make([]byte, 5)) {
		t.Fatal("file differs from the buffers written")
	}
	for i := range bufs {
		if len(bufs[i]) != len(orig[i]) {
			t.Fatal("writeVec changed the caller's buffer list")
		}
	}
}

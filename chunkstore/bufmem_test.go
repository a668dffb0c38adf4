package chunkstore

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

func coldBufs(n int) int {
	bufCold.Lock()
	defer bufCold.Unlock()
	return len(bufCold.bySize[n])
}

// TestBufReleasedAndReused: a released buffer's pages read as zeros, and
// its mapping is what the next getBuf of that size returns.
func TestBufReleasedAndReused(t *testing.T) {
	const n = 3<<20 + 4096 // a size no other test uses
	b, mapped := getBuf(n)
	if !mapped {
		t.Skip("no anonymous mappings here; buffers are on the heap")
	}
	for i := range b {
		b[i] = 0xAB
	}
	releaseBuf(b)
	c, _ := getBuf(n)
	if unsafe.SliceData(c) != unsafe.SliceData(b) {
		t.Fatal("getBuf mapped a new buffer with a released one of the size free")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("byte %d of a released buffer reads %#x, want 0", i, v)
		}
	}
	releaseBuf(c)
}

// TestLostBatchReleasesItsBuffer: a full batch that some path forgot to
// put back still gives its buffer back once it is garbage, and no longer
// counts as out (the free list's bound).
func TestLostBatchReleasesItsBuffer(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	cfg.BatchBytes = 5<<20 + 8192 // a size no other test uses
	p := newBatchPool(cfg)
	b := p.getFull()
	if !b.mapped {
		t.Skip("no anonymous mappings here; buffers are on the heap")
	}
	before := coldBufs(p.full)
	b = nil
	for deadline := time.Now().Add(5 * time.Second); coldBufs(p.full) == before; {
		if time.Now().After(deadline) {
			t.Fatal("a lost batch's buffer was not released")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	_ = b
	p.mu.Lock()
	out := p.out
	p.mu.Unlock()
	if out != 0 {
		t.Fatalf("%d batches out after the only one was lost", out)
	}
}

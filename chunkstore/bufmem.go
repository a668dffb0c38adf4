package chunkstore

import (
	"sync"
	"sync/atomic"
)

// Full-size batch buffers live outside the Go heap (mapBuf). The collector
// sizes the heap at about twice what is live (GOGC=100), and the batches
// were most of what is live in a busy store: 10 batches of 8 MiB in a
// 4-stream upload made a live heap of about 105 MB and an RSS of 210-240
// MB. Off the heap they are counted once, not twice, and the collector
// never looks at them (they hold no pointers).
//
// A buffer is never unmapped, only released (its pages handed back, the
// mapping kept for the next buffer of its size): a slice of it that
// outlived its batch by mistake then reads zeros instead of crashing the
// server. The mappings kept are as many as were ever in use at once.
var bufCold struct {
	sync.Mutex
	bySize map[int][][]byte
}

// bufNew counts the bytes getBuf could not reuse (new mappings, or heap
// buffers where mapping failed): what the heap's allocation counters no
// longer see (TestWriterAllocationsDoNotScale adds it).
var bufNew atomic.Int64

// getBuf returns a buffer of n bytes: a released one when there is one,
// else a new mapping (mapped is false when mapping failed and the buffer
// is on the heap). Its contents are undefined.
func getBuf(n int) (b []byte, mapped bool) {
	bufCold.Lock()
	if l := bufCold.bySize[n]; len(l) > 0 {
		b = l[len(l)-1]
		bufCold.bySize[n] = l[:len(l)-1]
		bufCold.Unlock()
		return b, true
	}
	bufCold.Unlock()
	bufNew.Add(int64(n))
	return mapBuf(n)
}

// releaseBuf gives the memory of b, a whole buffer getBuf mapped, back to
// the system and keeps its mapping for getBuf. b must be unused from now on.
func releaseBuf(b []byte) {
	b = b[:cap(b)]
	releasePages(b)
	bufCold.Lock()
	defer bufCold.Unlock()
	if bufCold.bySize == nil {
		bufCold.bySize = make(map[int][][]byte)
	}
	bufCold.bySize[len(b)] = append(bufCold.bySize[len(b)], b)
}

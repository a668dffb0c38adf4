package chunkstore

import (
	"fmt"
	"os"
	"unsafe"
)

// Staged appends. A batch's records are many buffers (record headers, the
// records of compressed chunks, raw chunks referenced in the input), and
// the batch starts wherever the last one ended. Written with one pwritev,
// the page cache's copy of them cost the kernel 3.2-3.7 s of CPU per GiB
// on these virtual machines (copy_folio_from_iter_atomic: 30% of the
// server's CPU in a 4-stream unique upload, where the mainstream server's
// plain writes cost it 0.8-1.1 s). Copied first into one aligned 2 MiB
// buffer (a memmove, ~0.1 ns/B) and written in whole buffers from a block
// boundary, the same bytes cost 1.2 s: the kernel is much faster at filling
// whole, aligned page-cache pages than scattered, unaligned pieces of them
// (a plausible cause, not one we traced: aligned writes let it allocate
// large folios). The data stays in the page cache either way, so a read
// soon after is served from memory. O_DIRECT cost 0.9 s, but sent the GETs
// that followed to the disk (0.55 GB/s against 1.6-1.9 from memory), so it
// is not used.
const (
	// stagedMin is the smallest append that is staged: a small object's
	// record goes down as it is.
	stagedMin = 256 << 10
	// stageAlign is the block size the writes start on.
	stageAlign = 4096
	// stageSize is one write.
	stageSize = 2 << 20
)

// stagingBufs keeps a few staging buffers for reuse: a sync.Pool would
// drop them at every GC, and each new one is fresh pages to fault in.
var stagingBufs = make(chan []byte, 4)

func getStaging() []byte {
	select {
	case b := <-stagingBufs:
		return b
	default:
	}
	b := make([]byte, stageSize+stageAlign)
	skew := int(uintptr(unsafe.Pointer(&b[0])) & (stageAlign - 1))
	if skew != 0 {
		skew = stageAlign - skew
	}
	return b[skew : skew+stageSize : skew+stageSize]
}

func putStaging(b []byte) {
	select {
	case stagingBufs <- b:
	default:
	}
}

// writeStaged writes bufs one after another at off, as writeVec does,
// through an aligned staging buffer. The writes start at the block
// boundary below off: the block's first bytes (the end of the records
// before, already in f) are read back and written again unchanged, which a
// torn write cannot spoil either.
func writeStaged(f *os.File, bufs [][]byte, off int64) error {
	st := getStaging()
	defer putStaging(st)
	pos := off &^ (stageAlign - 1)
	n := int(off - pos)
	if n > 0 {
		if _, err := f.ReadAt(st[:n], pos); err != nil {
			return fmt.Errorf("read back the block before offset %d: %w", off, err)
		}
	}
	for _, b := range bufs {
		for len(b) > 0 {
			k := copy(st[n:], b)
			n += k
			b = b[k:]
			if n == len(st) {
				if _, err := f.WriteAt(st, pos); err != nil {
					return err
				}
				pos += int64(n)
				n = 0
			}
		}
	}
	if n > 0 {
		if _, err := f.WriteAt(st[:n], pos); err != nil {
			return err
		}
	}
	return nil
}

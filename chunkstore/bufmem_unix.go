//go:build unix

package chunkstore

import "golang.org/x/sys/unix"

// mapBuf maps n bytes of anonymous memory, or falls back to the heap.
func mapBuf(n int) ([]byte, bool) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return make([]byte, n), false
	}
	return b, true
}

// releasePages hands b's pages back to the system; b reads as zeros after.
func releasePages(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }

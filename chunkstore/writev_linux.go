package chunkstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// iovMax is Linux's limit on buffers per pwritev call (IOV_MAX).
const iovMax = 1024

// writeVec writes bufs one after another at off, with as few system calls
// as the kernel's iovec limit allows: a batch's records, headers and chunk
// bytes in separate buffers, go down in one or two calls.
func writeVec(f *os.File, bufs [][]byte, off int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for len(bufs) > 0 {
		if len(bufs[0]) == 0 {
			bufs = bufs[1:]
			continue
		}
		vec := bufs[:min(len(bufs), iovMax)]
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			n, werr = unix.Pwritev(int(fd), vec, off)
			return werr != unix.EAGAIN
		}); err != nil {
			return err
		}
		if werr == unix.EINTR {
			continue
		}
		if werr != nil {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: werr}
		}
		if n == 0 {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: unix.EIO}
		}
		off += int64(n)
		// Drop what was written. A short write leaves the rest of a
		// buffer for the next call, in a copy of the list: the caller's
		// is not changed.
		for n > 0 {
			if n < len(bufs[0]) {
				bufs = append([][]byte{bufs[0][n:]}, bufs[1:]...)
				break
			}
			n -= len(bufs[0])
			bufs = bufs[1:]
		}
	}
	return nil
}

//go:build !linux

package chunkstore

import "os"

// writeVec writes bufs one after another at off.
func writeVec(f *os.File, bufs [][]byte, off int64) error {
	for _, b := range bufs {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

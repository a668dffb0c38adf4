package chunkstore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// The reserve is a file of Config.ReserveBytes kept in the store's directory
// so that a full disk never stops the store from freeing space: deleting
// needs a little room too (bbolt writes changed pages to new places, and the
// cleaner copies live records forward before it removes a container file).
// Writes never use it: when a release or the cleaner hits ENOSPC, the
// reserve is given up and the step retried; after the cleaner has freed
// space the reserve is made again.
const reserveName = "reserve"

func (s *Store) reservePath() string { return filepath.Join(s.cfg.Dir, reserveName) }

// makeReserve (re)creates the reserve file; failing to is only logged, as
// the store works without it.
func (s *Store) makeReserve() {
	size := s.reserveSize()
	if size <= 0 {
		return
	}
	path := s.reservePath()
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		s.log.Warn("cannot make the space reserve", "err", err)
		return
	}
	// Real blocks, not a sparse file: the point is to hold the space.
	zero := make([]byte, 64<<10)
	for n := size; n > 0; n -= int64(len(zero)) {
		if _, err = f.Write(zero[:min(n, int64(len(zero)))]); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		os.Remove(path)
		s.log.Warn("cannot make the space reserve", "err", err)
	}
}

// reserveSize is Config.ReserveBytes, or a 32nd of the volume when that is
// less: on a small disk a reserve the size of a large one could never be
// made, and the store would have none.
func (s *Store) reserveSize() int64 {
	size := s.cfg.ReserveBytes
	var st syscall.Statfs_t
	if size > 0 && syscall.Statfs(s.cfg.Dir, &st) == nil {
		size = min(size, int64(st.Blocks)*int64(st.Bsize)/32)
	}
	return size
}

// freeBytes is what the store's volume has free for it, or -1 unknown.
func (s *Store) freeBytes() int64 {
	var st syscall.Statfs_t
	if syscall.Statfs(s.cfg.Dir, &st) != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// spendReserve removes the reserve; it reports whether there was one.
func (s *Store) spendReserve() bool {
	if err := os.Remove(s.reservePath()); err != nil {
		return false
	}
	s.log.Warn("disk full: spending the space reserve to free space", "dir", s.cfg.Dir)
	return true
}

// freeing runs fn, a step that frees space; if it fails for lack of space,
// it spends the reserve and tries once more.
func (s *Store) freeing(fn func() error) error {
	err := fn()
	if isNoSpace(err) && s.spendReserve() {
		err = fn()
	}
	return err
}

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

package chunkstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A quota bounds the store's physical bytes: the blocks its container files
// and its index occupy on disk (after dedup and compression; holes punched
// by the cleaner are not counted, the space reserve is not counted). New
// records are admitted before they are appended, so a write that would cross
// the quota fails, and as a writer's records only become visible in its last
// transaction, a write crossing the quota fails whole and leaves nothing
// behind. Concurrent writers are admitted one batch at a time, so the use
// can overshoot the quota by at most one batch (Config.BatchBytes of records)
// per stream writing at that moment.
//
// Measuring walks the container files (a stat each: a few thousand per TiB),
// so the use is measured at most every usageTTL and the bytes appended since
// are added to it; the cleaner measures again when it has freed space, which
// is how writes refused at the quota resume by themselves.

// usageTTL is how long a measurement of the use is trusted.
const usageTTL = 2 * time.Second

// QuotaError is a write refused at the quota; errors.Is(err,
// ErrQuotaExceeded) holds.
type QuotaError struct {
	Quota, Used int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("quota exceeded: %d bytes used of a %d-byte quota", e.Used, e.Quota)
}

func (e *QuotaError) Is(target error) bool { return target == ErrQuotaExceeded }

// usage tracks the store's physical bytes for the quota.
type usage struct {
	quota    atomic.Int64 // 0: none
	measured atomic.Int64 // at the last measurement
	since    atomic.Int64 // admitted since that measurement
	at       atomic.Int64 // the measurement's time, unix nanoseconds
	measure  sync.Mutex   // one measurement at a time
}

// SetQuota sets the store's quota in physical bytes; 0 removes it. It does
// not check the quota against the use: the caller decides what is allowed.
func (s *Store) SetQuota(bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("chunkstore: quota %d is negative", bytes)
	}
	s.use.quota.Store(bytes)
	if bytes > 0 {
		// Measured now, so that no writer ever goes by an estimate that
		// starts from nothing.
		if _, err := s.PhysicalBytes(); err != nil {
			return fmt.Errorf("chunkstore: measuring the space used for the quota: %w", err)
		}
	}
	return nil
}

// Quota is the quota in force, 0 for none.
func (s *Store) Quota() int64 { return s.use.quota.Load() }

// PhysicalBytes measures now what the store occupies on disk: the blocks of
// its container files and index.
func (s *Store) PhysicalBytes() (int64, error) {
	s.use.measure.Lock()
	defer s.use.measure.Unlock()
	return s.measureLocked()
}

// measureLocked measures; the caller holds use.measure.
func (s *Store) measureLocked() (int64, error) {
	// Appends admitted from here on are not in this measurement, or are and
	// count twice until the next one: never under, briefly over.
	before := s.use.since.Load()
	n, err := s.measurePhysical()
	if err != nil {
		return 0, err
	}
	s.use.measured.Store(n)
	s.use.since.Add(-before)
	s.use.at.Store(time.Now().UnixNano())
	return n, nil
}

// Usage is the store's physical bytes as last measured plus what was
// admitted since; a measurement older than usageTTL is taken again first,
// by one caller: the others meanwhile go on with the estimate.
func (s *Store) Usage() (int64, error) {
	if time.Duration(time.Now().UnixNano()-s.use.at.Load()) > usageTTL && s.use.measure.TryLock() {
		_, err := s.measureLocked()
		s.use.measure.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return s.use.measured.Load() + s.use.since.Load(), nil
}

// AtQuota answers a *QuotaError when less than one batch of records
// (Config.BatchBytes) is left of the quota: a group that full takes no new
// write, not even one that would add no data, as each would fail or leave
// nothing for the next. Otherwise, or without a quota, it answers nil.
func (s *Store) AtQuota() error {
	q := s.use.quota.Load()
	if q == 0 {
		return nil
	}
	used, err := s.Usage()
	if err != nil {
		return fmt.Errorf("chunkstore: measuring the space used for the quota: %w", err)
	}
	if used+int64(s.cfg.BatchBytes) > q {
		return &QuotaError{Quota: q, Used: used}
	}
	return nil
}

// admit reserves n bytes of the quota for records about to be appended, or
// refuses them with a *QuotaError.
func (s *Store) admit(n int64) error {
	if q := s.use.quota.Load(); q > 0 {
		used, err := s.Usage()
		if err != nil {
			return fmt.Errorf("chunkstore: measuring the space used for the quota: %w", err)
		}
		if used+n > q {
			return &QuotaError{Quota: q, Used: used}
		}
	}
	s.use.since.Add(n)
	return nil
}

// measurePhysical adds up the allocated blocks of index.db and the
// container files.
func (s *Store) measurePhysical() (int64, error) {
	total, err := allocated(filepath.Join(s.cfg.Dir, "index.db"))
	if err != nil {
		return 0, err
	}
	err = filepath.WalkDir(s.ctrDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a container file the cleaner just removed
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		n, err := allocated(path)
		total += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("chunkstore: measuring %s: %w", s.ctrDir, err)
	}
	return total, nil
}

// allocated is the space a file's blocks occupy, 0 for a file that is gone.
func allocated(path string) (int64, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512, nil
	}
	return fi.Size(), nil
}

package chunkstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A container file packs many chunk records, appended one after another.
// Each write stream appends to its own container file so that a backup's
// chunks stay together on disk and read back sequentially; beyond the stream
// limit, streams share. A container file is sealed when it reaches the
// configured size and from then on only the cleaner removes it, as a whole.

const containerExt = ".ctr"

func containerName(id uint64) string { return fmt.Sprintf("%016x%s", id, containerExt) }

func parseContainerName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, containerExt)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 64)
	return id, err == nil
}

// openContainer is a container file that streams append to.
type openContainer struct {
	id uint64
	f  *os.File // write handle; reads go through fileCache
	mu sync.Mutex
	// size is the file's length: records are appended at size. After a failed
	// write the file is cut back to it, so a half-written record never sits
	// before a later good one.
	size int64
	// Guarded by the pool's mutex.
	users  int
	sealed bool

	// The shared fsync (syncTo): synced is the length completed fsyncs
	// covered; running counts fsyncs in progress and covering is the
	// length the latest of them covers.
	smu      sync.Mutex
	scond    *sync.Cond
	synced   int64
	running  int
	covering int64
}

// append writes record buffers one after another at the end of the file
// and returns the offset of the first.
func (c *openContainer) append(bufs ...[]byte) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off := c.size
	end := off
	for _, b := range bufs {
		end += int64(len(b))
	}
	write := writeVec
	if end-off >= stagedMin {
		write = writeStaged
	}
	if err := write(c.f, bufs, off); err != nil {
		// ENOSPC and friends: cut off whatever part made it.
		_ = c.f.Truncate(off)
		return 0, fmt.Errorf("container %d: append: %w", c.id, err)
	}
	c.size = end
	return off, nil
}

func (c *openContainer) sync() error {
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("container %d: sync: %w", c.id, err)
	}
	return nil
}

// syncTo makes the file durable at least up to end, sharing fsyncs among
// the streams appending to it: a stream whose records a completed fsync
// covers returns at once, and one whose records an fsync in progress
// covers (it started after they were appended) waits for that one rather
// than start its own. Otherwise it runs its own at once, beside any in
// progress, as separate files would: sharing never serializes. So small
// writes sharing a container (acquireSmall) that commit together cost
// fewer fsyncs than they are.
func (c *openContainer) syncTo(end int64) error {
	c.smu.Lock()
	if c.scond == nil {
		c.scond = sync.NewCond(&c.smu)
	}
	for c.synced < end && c.running > 0 && c.covering >= end {
		c.scond.Wait()
	}
	if c.synced >= end {
		c.smu.Unlock()
		return nil
	}
	// Everything appended so far is in the file; this fsync covers it.
	target := c.length()
	c.running++
	c.covering = max(c.covering, target)
	c.smu.Unlock()
	err := c.sync()
	c.smu.Lock()
	c.running--
	if err == nil {
		c.synced = max(c.synced, target)
	}
	c.scond.Broadcast()
	c.smu.Unlock()
	// A failed fsync covers no one: a waiter it was to cover finds itself
	// not synced and runs its own, which reports its own error.
	return err
}

func (c *openContainer) length() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// containerPool hands out open containers to streams.
//
// The stream limit counts the open containers being appended to at once: a
// stream that starts while fewer than maxStreams are busy gets one of its
// own (an idle one, or a new file), so its records form one run that no
// other stream's records interleave; past the limit it shares the least
// shared one. Sharing costs restores (a stream's chunks interleave with
// another's, so reading it back skips through more of the disk), never a
// failed write.
type containerPool struct {
	dir     string
	maxSize int64

	// activeStreams counts writes in progress (see Stats.ActiveStreams).
	// It is counted outside mu because a stream starts and ends whether or
	// not it ever needs a container.
	activeStreams atomic.Int64
	// streamOverflows counts, since Open, the streams handed a container
	// another stream was appending to because the limit was reached.
	streamOverflows atomic.Int64

	mu struct {
		sync.Mutex
		maxStreams int
		next       uint64
		open       []*openContainer          // accepting appends
		active     map[uint64]*openContainer // open, or sealed but still in use
		// small is the container single-batch writes share (acquireSmall);
		// it is not in open and never handed to a stream.
		small *openContainer
	}
}

func newContainerPool(dir string, next uint64, maxStreams int, maxSize int64) *containerPool {
	p := &containerPool{dir: dir, maxSize: maxSize}
	p.mu.maxStreams = maxStreams
	p.mu.next = next
	p.mu.active = make(map[uint64]*openContainer)
	return p
}

// acquire returns a container for a stream: while fewer than maxStreams
// open containers are busy, an idle one or else a new one; past the limit,
// the least shared busy one (an overflow).
func (p *containerPool) acquire() (*openContainer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	busy := 0
	var idle, leastShared *openContainer
	for _, c := range p.mu.open {
		switch {
		case c.users == 0:
			if idle == nil {
				idle = c
			}
		default:
			busy++
			if leastShared == nil || c.users < leastShared.users {
				leastShared = c
			}
		}
	}
	var c *openContainer
	switch {
	case busy < p.mu.maxStreams && idle != nil:
		c = idle
	case busy < p.mu.maxStreams:
		var err error
		if c, err = p.createLocked(); err != nil {
			return nil, err
		}
		p.mu.open = append(p.mu.open, c)
	default:
		// busy >= maxStreams >= 1, so leastShared is set.
		c = leastShared
		p.streamOverflows.Add(1)
	}
	c.users++
	return c, nil
}

// acquireSmall returns the container that writes of a single batch (small
// objects) share. Their records are contiguous whoever else appends, so
// sharing costs restores nothing, and it lets their fsyncs merge
// (syncTo): one per round of concurrent small PUTs, not one each. It is
// outside the stream limit's count.
func (p *containerPool) acquireSmall() (*openContainer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.small == nil {
		c, err := p.createLocked()
		if err != nil {
			return nil, err
		}
		p.mu.small = c
	}
	p.mu.small.users++
	return p.mu.small, nil
}

// setMaxStreams changes the limit for streams that acquire from now on.
// Streams holding a container keep it. Idle containers beyond the new limit
// are sealed and closed now, so that the open files shrink with the limit;
// busy ones beyond it are when their last stream releases them.
func (p *containerPool) setMaxStreams(n int) (old int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, p.mu.maxStreams = p.mu.maxStreams, n
	for i := len(p.mu.open) - 1; i >= 0 && len(p.mu.open) > n; i-- {
		if c := p.mu.open[i]; c.users == 0 {
			p.retireLocked(c)
		}
	}
	return old
}

// streamFigures reads the stream counters and the limit in force.
func (p *containerPool) streamFigures() (active, overflows int64, limit int) {
	p.mu.Lock()
	limit = p.mu.maxStreams
	p.mu.Unlock()
	return p.activeStreams.Load(), p.streamOverflows.Load(), limit
}

// private returns a new container that no stream shares (the cleaner's).
func (p *containerPool) private() (*openContainer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.createLocked()
	if err != nil {
		return nil, err
	}
	c.users++
	c.sealed = true // never handed to a stream
	return c, nil
}

func (p *containerPool) createLocked() (*openContainer, error) {
	id := p.mu.next
	p.mu.next++
	f, err := os.OpenFile(filepath.Join(p.dir, containerName(id)), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create container %d: %w", id, err)
	}
	// The file's name must be durable before any index row points into it.
	if err := syncDir(p.dir); err != nil {
		f.Close()
		return nil, err
	}
	c := &openContainer{id: id, f: f}
	p.mu.active[id] = c
	return c, nil
}

// release gives a stream's container back. A container that has grown past
// the size limit is sealed: no stream appends to it again.
func (p *containerPool) release(c *openContainer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.users--
	if !c.sealed && c.length() >= p.maxSize {
		p.sealLocked(c)
	}
	// An idle container beyond a lowered limit is retired rather than kept
	// open for a stream the limit would not give it to.
	if !c.sealed && c.users == 0 && c != p.mu.small && len(p.mu.open) > p.mu.maxStreams {
		p.sealLocked(c)
	}
	if c.sealed && c.users == 0 {
		c.f.Close()
		delete(p.mu.active, c.id)
	}
}

// full reports whether c has reached the size limit; if so it is sealed and
// the caller should release it and acquire another.
func (p *containerPool) full(c *openContainer) bool {
	if c.length() < p.maxSize {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sealLocked(c)
	return true
}

func (p *containerPool) sealLocked(c *openContainer) {
	if c.sealed {
		return
	}
	c.sealed = true
	if c == p.mu.small {
		p.mu.small = nil
	}
	for i, o := range p.mu.open {
		if o == c {
			p.mu.open = append(p.mu.open[:i], p.mu.open[i+1:]...)
			break
		}
	}
}

// sealIdle seals an open container no stream is using, so the cleaner may
// compact it; it reports whether the container is now sealed and closed.
func (p *containerPool) sealIdle(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.mu.active[id]
	if c == nil {
		return true
	}
	if c.users > 0 {
		return false
	}
	p.retireLocked(c)
	return true
}

// retireLocked seals an idle container and closes its write handle.
func (p *containerPool) retireLocked(c *openContainer) {
	p.sealLocked(c)
	c.f.Close()
	delete(p.mu.active, c.id)
}

func (p *containerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.mu.active {
		c.f.Close()
	}
	p.mu.active = map[uint64]*openContainer{}
	p.mu.open = nil
	p.mu.small = nil
}

// fileCache shares read handles to container files among readers. The
// cleaner removes a compacted container's file; readers that still hold its
// handle keep reading (the inode lives on), and a reader that resolved a
// location just before the move finds the file gone (fs.ErrNotExist) and
// looks the chunk up again.
type fileCache struct {
	dir string
	max int
	mu  struct {
		sync.Mutex
		files map[uint64]*cachedFile
	}
}

type cachedFile struct {
	f      *os.File
	refs   int
	doomed bool
}

func newFileCache(dir string, max int) *fileCache {
	fc := &fileCache{dir: dir, max: max}
	fc.mu.files = make(map[uint64]*cachedFile)
	return fc
}

func (fc *fileCache) acquire(id uint64) (*cachedFile, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if cf := fc.mu.files[id]; cf != nil {
		cf.refs++
		return cf, nil
	}
	f, err := os.Open(filepath.Join(fc.dir, containerName(id)))
	if err != nil {
		return nil, fmt.Errorf("container %d: %w", id, err)
	}
	if len(fc.mu.files) >= fc.max {
		for k, cf := range fc.mu.files {
			if cf.refs == 0 {
				cf.f.Close()
				delete(fc.mu.files, k)
				break
			}
		}
	}
	cf := &cachedFile{f: f, refs: 1}
	fc.mu.files[id] = cf
	return cf, nil
}

func (fc *fileCache) release(cf *cachedFile) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	cf.refs--
	if cf.doomed && cf.refs == 0 {
		cf.f.Close()
	}
}

// forget drops a removed container's handle: closed now if unused, else by
// its last user.
func (fc *fileCache) forget(id uint64) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	cf := fc.mu.files[id]
	if cf == nil {
		return
	}
	delete(fc.mu.files, id)
	cf.doomed = true
	if cf.refs == 0 {
		cf.f.Close()
	}
}

func (fc *fileCache) close() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for id, cf := range fc.mu.files {
		cf.f.Close()
		delete(fc.mu.files, id)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

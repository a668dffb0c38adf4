package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Options configure a Log.
type Options struct {
	// Max is how many events rotation keeps (10,000); the file holds at
	// most twice as many.
	Max int
	// Logger gets every event written, at WARN; nil discards.
	Logger *slog.Logger
	// Repeat suppresses an event of the same Kind and Subject as one
	// written less than Repeat ago by this Log, so that a condition met on
	// every request writes one event (10 minutes; negative: never).
	Repeat time.Duration
	// Webhook, if set, is the URL every event is POSTed to as JSON.
	Webhook string
	// WebhookRetries is how many times one event is retried before it is
	// given up (logged at ERROR); 0 retries until the receiver takes it,
	// so that a receiver down for a day misses nothing.
	WebhookRetries int
	// WebhookBackoff is the first wait after a failed delivery (1s); each
	// next one doubles, with jitter, up to WebhookMaxBackoff (5m).
	WebhookBackoff, WebhookMaxBackoff time.Duration
}

// DefaultOptions are the options of a log with no webhook.
func DefaultOptions() Options {
	return Options{Max: 10000, Repeat: 10 * time.Minute, WebhookBackoff: time.Second, WebhookMaxBackoff: 5 * time.Minute}
}

// Validate reports the first bad field.
func (o Options) Validate() error {
	switch {
	case o.Max < 0:
		return fmt.Errorf("events: Options.Max %d is negative", o.Max)
	case o.WebhookRetries < 0:
		return fmt.Errorf("events: Options.WebhookRetries %d is negative", o.WebhookRetries)
	case o.WebhookBackoff < 0 || o.WebhookMaxBackoff < 0:
		return fmt.Errorf("events: Options.WebhookBackoff %v and WebhookMaxBackoff %v must not be negative", o.WebhookBackoff, o.WebhookMaxBackoff)
	}
	return nil
}

// Log is an open event log. Its methods are safe for concurrent use, and
// other processes may append to the same file at the same time.
type Log struct {
	path string
	opts Options
	log  *slog.Logger
	lock *os.File // events.log.lock: flocked around every append and rotation

	mu struct {
		sync.Mutex
		ino     uint64 // the file scanned so far: its inode,
		end     int64  // how far (past the last whole record),
		records int    // how many records it holds
		lastSeq uint64
		repeats map[string]time.Time // Kind+Subject -> last written
		changed chan struct{}        // closed at the next Emit
	}

	stop    context.CancelFunc // the webhook sender's
	stopped chan struct{}
}

// Open opens (creating when absent) the log at path and, if opts.Webhook
// is set, starts delivering to it. Close stops the delivery.
func Open(path string, opts Options) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	def := DefaultOptions()
	if opts.Max == 0 {
		opts.Max = def.Max
	}
	if opts.Repeat == 0 {
		opts.Repeat = def.Repeat
	}
	if opts.WebhookBackoff == 0 {
		opts.WebhookBackoff = def.WebhookBackoff
	}
	if opts.WebhookMaxBackoff == 0 {
		opts.WebhookMaxBackoff = def.WebhookMaxBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	l := &Log{path: path, opts: opts, log: log, lock: lock}
	l.mu.repeats = map[string]time.Time{}
	l.mu.changed = make(chan struct{})
	// Read what is there now, so that LastSeq and Wait start from it.
	err = l.locked(func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		f, err := l.openFile()
		if err != nil {
			return err
		}
		defer f.Close()
		return l.catchUp(f, true)
	})
	if err != nil {
		lock.Close()
		return nil, err
	}
	// The file may be new: its name must survive a crash as its records do.
	syncDir(filepath.Dir(path))
	if opts.Webhook != "" {
		// The cursor before Open returns: an event emitted right after
		// is one the receiver gets.
		cur, err := l.loadCursor()
		if err != nil {
			lock.Close()
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		l.stop, l.stopped = cancel, make(chan struct{})
		go func() {
			defer close(l.stopped)
			l.deliver(ctx, cur)
		}()
	}
	return l, nil
}

// Close stops the webhook sender; events it has not delivered yet are sent
// after the next Open.
func (l *Log) Close() error {
	if l.stop != nil {
		l.stop()
		<-l.stopped
	}
	return l.lock.Close()
}

// Emit appends an event and returns it once it is on disk. written is
// false when the same kind and subject were written less than
// Options.Repeat ago: nothing is appended then.
func (l *Log) Emit(kind, subject, message string) (e Event, written bool, err error) {
	now := time.Now().UTC()
	key := kind + "\x00" + subject
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.mu.repeats[key]; ok && l.opts.Repeat > 0 && now.Sub(last) < l.opts.Repeat {
		l.log.Debug("event repeated", "kind", kind, "subject", subject, "message", message)
		return Event{}, false, nil
	}
	err = l.locked(func() error {
		f, err := l.openFile()
		if err != nil {
			return err
		}
		defer f.Close()
		if err := l.catchUp(f, true); err != nil {
			return err
		}
		e = Event{Seq: l.mu.lastSeq + 1, Time: now, Kind: kind, Subject: subject, Message: message}
		line, err := encodeRecord(e)
		if err != nil {
			return err
		}
		if _, err := f.Write(line); err != nil {
			return fmt.Errorf("events: append: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("events: append: %w", err)
		}
		l.mu.end += int64(len(line))
		l.mu.records++
		l.mu.lastSeq = e.Seq
		if l.mu.records > 2*l.opts.Max {
			return l.rotate()
		}
		return nil
	})
	if err != nil {
		return Event{}, false, err
	}
	l.log.Warn("event", "kind", kind, "subject", subject, "message", message, "seq", e.Seq)
	l.remember(key, now)
	close(l.mu.changed)
	l.mu.changed = make(chan struct{})
	return e, true, nil
}

// remember notes when key was last written, forgetting keys that no
// longer suppress anything so that the map stays small.
func (l *Log) remember(key string, now time.Time) {
	if len(l.mu.repeats) > 1000 {
		for k, t := range l.mu.repeats {
			if now.Sub(t) >= l.opts.Repeat {
				delete(l.mu.repeats, k)
			}
		}
	}
	l.mu.repeats[key] = now
}

// locked runs fn holding the lock file's exclusive flock.
func (l *Log) locked(fn func() error) error {
	for {
		err := syscall.Flock(int(l.lock.Fd()), syscall.LOCK_EX)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("events: lock: %w", err)
		}
	}
	defer syscall.Flock(int(l.lock.Fd()), syscall.LOCK_UN)
	return fn()
}

func (l *Log) openFile() (*os.File, error) {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return f, nil
}

// catchUp reads what f holds beyond what l.mu has scanned (all of it if
// f is another file than the last one: rotated by another process). With
// repair, which needs the flock, it cuts off a torn tail so that the next
// append starts a line. l.mu must be held.
func (l *Log) catchUp(f *os.File, repair bool) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	ino := inode(fi)
	if ino != l.mu.ino || fi.Size() < l.mu.end {
		l.mu.ino, l.mu.end, l.mu.records = ino, 0, 0
	}
	if fi.Size() == l.mu.end {
		return nil
	}
	buf := make([]byte, fi.Size()-l.mu.end)
	if _, err := f.ReadAt(buf, l.mu.end); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("events: read: %w", err)
	}
	r := scanRecords(buf, l.mu.end, nil)
	if r.corrupt > 0 {
		l.log.Error("events: dropped corrupt records", "path", l.path, "count", r.corrupt)
	}
	l.mu.end = r.end
	l.mu.records += r.records
	l.mu.lastSeq = max(l.mu.lastSeq, r.lastSeq)
	if repair && r.end < fi.Size() {
		l.log.Warn("events: dropped a torn record at the end", "path", l.path, "bytes", fi.Size()-r.end)
		if err := f.Truncate(r.end); err != nil {
			return fmt.Errorf("events: drop torn tail: %w", err)
		}
	}
	return nil
}

// rotate replaces the file by one with its newest Max records. A crash
// leaves the old file or the new one, whole. The flock and l.mu are held.
func (l *Log) rotate() error {
	all, err := l.readAll()
	if err != nil {
		return err
	}
	keep := all[max(0, len(all)-l.opts.Max):]
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("events: rotate: %w", err)
	}
	var size int64
	for _, e := range keep {
		line, err := encodeRecord(e)
		if err == nil {
			_, err = f.Write(line)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("events: rotate: %w", err)
		}
		size += int64(len(line))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("events: rotate: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("events: rotate: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("events: rotate: %w", err)
	}
	syncDir(filepath.Dir(l.path))
	l.mu.ino, l.mu.end, l.mu.records = inode(fi), size, len(keep)
	return nil
}

// readAll returns every valid record of the file, oldest first.
func (l *Log) readAll() ([]Event, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	var out []Event
	scanRecords(b, 0, func(e Event) { out = append(out, e) })
	return out, nil
}

// Since returns up to limit events whose Seq is above after, oldest
// first (limit <= 0: all of them).
func (l *Log) Since(after uint64, limit int) ([]Event, error) {
	all, err := l.readAll()
	if err != nil {
		return nil, err
	}
	out := []Event{}
	for _, e := range all {
		if e.Seq > after {
			out = append(out, e)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// LastSeq returns the Seq of the newest event, whichever process wrote it.
func (l *Log) LastSeq() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return l.mu.lastSeq, nil
	}
	if err != nil {
		return 0, fmt.Errorf("events: %w", err)
	}
	defer f.Close()
	// No flock: a record half-written by another process reads as a tail
	// and is read whole next time; only appenders cut torn tails.
	if err := l.catchUp(f, false); err != nil {
		return 0, err
	}
	return l.mu.lastSeq, nil
}

// otherProcessPoll is how often Wait looks at the file for events another
// process appended; this process's own wake it at once.
const otherProcessPoll = time.Second

// Wait returns nil once an event with a Seq above after exists, or ctx's
// error when it ends first.
func (l *Log) Wait(ctx context.Context, after uint64) error {
	tick := time.NewTicker(otherProcessPoll)
	defer tick.Stop()
	for {
		l.mu.Lock()
		changed := l.mu.changed
		l.mu.Unlock()
		last, err := l.LastSeq()
		if err != nil {
			return err
		}
		if last > after {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// syncDir makes a rename or a new file in dir durable (best effort: some
// filesystems refuse fsync on a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

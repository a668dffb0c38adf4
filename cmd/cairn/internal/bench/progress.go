package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// meter counts one phase's progress. Workers add to it concurrently; the
// progress line reads it.
type meter struct {
	name   string
	total  int64 // expected bytes, or 0 when unknown
	start  time.Time
	bytes  atomic.Int64
	ops    atomic.Int64
	errors atomic.Int64

	stop chan struct{}
	done chan struct{}
}

func (m *meter) addBytes(n int64) { m.bytes.Add(n) }
func (m *meter) addOps(n int64)   { m.ops.Add(n) }
func (m *meter) addError()        { m.errors.Add(1) }

// progress shows phases as they run: on a terminal, one line rewritten in
// place twice a second; elsewhere (a file, a pipe, CI), a plain line every
// 10 seconds. Either way each phase ends with a line of its own. A nil
// writer shows nothing. At most one phase runs at a time.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	mu    sync.Mutex // serializes writes to w
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, tty: isTerminal(w), every: 10 * time.Second}
	if p.tty {
		p.every = 500 * time.Millisecond
	}
	return p
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// phase starts a phase named name that expects total bytes (0: unknown)
// and returns its meter. End it with end.
func (p *progress) phase(name string, total int64) *meter {
	m := &meter{name: name, total: total, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if p.w == nil {
		close(m.done)
		return m
	}
	go func() {
		defer close(m.done)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				p.show(m)
			}
		}
	}()
	return m
}

// show writes m's current line.
func (p *progress) show(m *meter) {
	line := m.line()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// end stops m's progress line and writes summary (or, when empty, m's
// final figures) on a line of its own.
func (p *progress) end(m *meter, summary string) {
	close(m.stop)
	<-m.done
	if p.w == nil {
		return
	}
	if summary == "" {
		summary = m.line()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintln(p.w, summary)
}

// printf writes a line of its own between phases.
func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, strings.TrimSuffix(format, "\n")+"\n", args...)
}

// line is the meter's figures: name, bytes (of total), MB/s, ops, ops/s,
// errors, elapsed.
func (m *meter) line() string {
	el := time.Since(m.start)
	secs := max(el.Seconds(), 1e-9)
	b, ops := m.bytes.Load(), m.ops.Load()
	var s strings.Builder
	fmt.Fprintf(&s, "%-18s", m.name)
	fmt.Fprintf(&s, " %10s", fmtBytes(b))
	if m.total > 0 {
		fmt.Fprintf(&s, " of %-10s %3.0f%%", fmtBytes(m.total), 100*float64(b)/float64(m.total))
	}
	fmt.Fprintf(&s, " %9.1f MB/s", float64(b)/1e6/secs)
	fmt.Fprintf(&s, " %8d ops %9.1f ops/s", ops, float64(ops)/secs)
	if e := m.errors.Load(); e > 0 {
		fmt.Fprintf(&s, "  %d ERRORS", e) // loud: a failed operation must not scroll by unseen
	} else {
		s.WriteString("  0 errors")
	}
	fmt.Fprintf(&s, "  %s", el.Round(100*time.Millisecond))
	return s.String()
}

// meteredTransport adds the request and response body bytes that pass
// through it to the current phase's meter, for the live progress line:
// bytes on the wire, as they go. The phases' figures count only completed
// operations.
type meteredTransport struct {
	base http.RoundTripper
	cur  atomic.Pointer[meter] // nil between phases
}

func (t *meteredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	m := t.cur.Load()
	if m == nil {
		return t.base.RoundTrip(req)
	}
	if req.Body != nil && req.Body != http.NoBody {
		r2 := *req
		r2.Body = &meteredBody{ReadCloser: req.Body, m: m}
		req = &r2
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = &meteredBody{ReadCloser: resp.Body, m: m}
	}
	return resp, err
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *meteredTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type meteredBody struct {
	io.ReadCloser
	m *meter
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.m.addBytes(int64(n))
	return n, err
}

// phase starts a phase of the run: its progress line, fed by the
// transport.
func (r *runner) phase(name string, total int64) *meter {
	m := r.prog.phase(name, total)
	r.mt.cur.Store(m)
	return m
}

// endPhase ends a phase that phase started.
func (r *runner) endPhase(m *meter) {
	r.mt.cur.Store(nil)
	r.prog.end(m, "")
}

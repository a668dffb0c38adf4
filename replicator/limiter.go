package replicator

import (
	"context"
	"io"
	"sync"
	"time"
)

// Limiter is a token bucket of bytes per second, shared by every request of
// a Peer (or, passed in PeerOptions, by several peers), so that the link's
// use stays under the relationship's bandwidth limit whatever the number of
// transfers. A small one rather than golang.org/x/time/rate: the module is
// not in our dependencies and this is thirty lines.
type Limiter struct {
	mu struct {
		sync.Mutex
		rate   float64 // bytes per second; 0: unlimited
		burst  float64
		tokens float64
		last   time.Time
	}
}

// limiterChunk is the most a limited body hands the transport at once, so
// that waits are short and even.
const limiterChunk = 32 << 10

// NewLimiter returns a limiter of bytesPerSecond (0: unlimited).
func NewLimiter(bytesPerSecond int64) *Limiter {
	l := &Limiter{}
	l.SetRate(bytesPerSecond)
	return l
}

// SetRate changes the rate (0: unlimited), e.g. when a schedule window
// opens or closes; waits already computed keep their old rate.
func (l *Limiter) SetRate(bytesPerSecond int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.rate = float64(max(bytesPerSecond, 0))
	// A burst of 1/16 s of traffic (at least one chunk): smooth, yet not a
	// wait per write on a fast link.
	l.mu.burst = max(l.mu.rate/16, limiterChunk)
	l.mu.tokens = min(l.mu.tokens, l.mu.burst)
	l.mu.last = time.Now()
}

// WaitN takes n bytes' tokens, waiting until the bucket has them or ctx
// ends.
func (l *Limiter) WaitN(ctx context.Context, n int) error {
	l.mu.Lock()
	if l.mu.rate == 0 {
		l.mu.Unlock()
		return ctx.Err()
	}
	now := time.Now()
	l.mu.tokens = min(l.mu.burst, l.mu.tokens+now.Sub(l.mu.last).Seconds()*l.mu.rate)
	l.mu.last = now
	l.mu.tokens -= float64(n)
	wait := time.Duration(-l.mu.tokens / l.mu.rate * float64(time.Second))
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		l.mu.tokens += float64(n) // not sent: give them back
		l.mu.Unlock()
		return ctx.Err()
	}
}

// limitedReader paces a request body through a Limiter and counts what the
// transport took from it.
type limitedReader struct {
	ctx   context.Context
	r     io.Reader
	lim   *Limiter
	count func(n int)
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if len(p) > limiterChunk {
		p = p[:limiterChunk]
	}
	n, err := lr.r.Read(p)
	if n > 0 {
		if werr := lr.lim.WaitN(lr.ctx, n); werr != nil {
			return 0, werr
		}
		lr.count(n)
	}
	return n, err
}

package tlsproxy

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Every TLS handshake costs the server a signature with its key (RSA 4096
// for the generated certificate: about a millisecond of a core), before it
// knows who the client is. handshakeLimiter bounds the handshakes one
// source address may start: a token bucket per address, refilled at rate a
// second up to burst, so that a client reconnecting all its links after an
// outage passes and a flood from one address is shed before it costs a
// signature.
type handshakeLimiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	hosts map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newHandshakeLimiter(rate, burst int) *handshakeLimiter {
	return &handshakeLimiter{rate: float64(rate), burst: float64(burst), hosts: map[string]*bucket{}}
}

// allow takes a token for the source of addr, or says there is none.
func (l *handshakeLimiter) allow(addr net.Addr, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.hosts[host]
	if b == nil {
		if len(l.hosts) > 10000 {
			l.prune(now) // bounded: idle sources are forgotten
		}
		b = &bucket{tokens: l.burst, last: now}
		l.hosts[host] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets sources whose bucket is full again.
func (l *handshakeLimiter) prune(now time.Time) {
	for h, b := range l.hosts {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.hosts, h)
		}
	}
}

// logLimiter lets a kind of log line through at most once an interval and
// says, on the next one, how many it held back: a flood of failed
// handshakes writes a line a second, not thousands.
type logLimiter struct {
	every time.Duration
	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	last       time.Time
	suppressed int
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, kinds: map[string]*logKind{}}
}

// log writes msg at level unless one of its kind went out less than an
// interval ago.
func (l *logLimiter) log(log *slog.Logger, level slog.Level, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	k := l.kinds[msg]
	if k == nil {
		k = &logKind{}
		l.kinds[msg] = k
	}
	if now.Sub(k.last) < l.every {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed_since_last", n)
	}
	log.Log(context.Background(), level, msg, args...)
}

package replicator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"
)

// TestLimiterPaces reads 3 MiB through a 1 MiB/s limiter in a synctest
// bubble: the fake clock shows exactly the time the limiter imposed.
func TestLimiterPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := NewLimiter(1 << 20)
		var counted int64
		lr := &limitedReader{ctx: t.Context(), r: bytes.NewReader(make([]byte, 3<<20)), lim: lim, count: func(n int) { counted += int64(n) }}
		start := time.Now()
		n, err := io.Copy(io.Discard, lr)
		if err != nil || n != 3<<20 || counted != n {
			t.Fatalf("copied %d (counted %d): %v", n, counted, err)
		}
		if elapsed := time.Since(start); elapsed < 3*time.Second-10*time.Millisecond || elapsed > 3*time.Second+10*time.Millisecond {
			t.Errorf("3 MiB at 1 MiB/s took %v, want 3 s", elapsed)
		}

		// A pause fills the bucket up to its burst only.
		time.Sleep(time.Minute)
		start = time.Now()
		lr.r = bytes.NewReader(make([]byte, 1<<20))
		io.Copy(io.Discard, lr)
		burst := float64(1<<20) / 16
		want := time.Duration((float64(1<<20) - burst) / float64(1<<20) * float64(time.Second))
		if elapsed := time.Since(start); elapsed < want-10*time.Millisecond || elapsed > want+10*time.Millisecond {
			t.Errorf("1 MiB after a pause took %v, want %v", elapsed, want)
		}

		lim.SetRate(0)
		start = time.Now()
		lr.r = bytes.NewReader(make([]byte, 8<<20))
		io.Copy(io.Discard, lr)
		if elapsed := time.Since(start); elapsed != 0 {
			t.Errorf("unlimited: took %v", elapsed)
		}
	})
}

// TestLimiterCancel: a wait ends with its context.
func TestLimiterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := NewLimiter(1024)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := lim.WaitN(ctx, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitN: %v, want DeadlineExceeded", err)
		}
	})
}

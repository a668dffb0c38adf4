package gateway

import (
	"bytes"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api"
)

// TestStartupTime measures how long New takes on a data directory holding
// CAIRN_STARTUP_OBJECTS small objects (skipped when unset). The directory
// is CAIRN_STARTUP_DIR when set, kept, and filled only up to the count, so
// one population serves many measurements (a tmpfs keeps the fill fast):
//
//	CAIRN_STARTUP_OBJECTS=1000000 CAIRN_STARTUP_DIR=/dev/shm/startup \
//	  go test -run TestStartupTime -v -timeout 2h ./gateway/
func TestStartupTime(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CAIRN_STARTUP_OBJECTS"))
	if n <= 0 {
		t.Skip("set CAIRN_STARTUP_OBJECTS to measure start-up time")
	}
	dir := os.Getenv("CAIRN_STARTUP_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := DefaultConfig(dir)
	g, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := g.HeadBucket(ctx, "startup"); err != nil {
		if err := g.CreateBucket(ctx, "startup", ""); err != nil {
			t.Fatal(err)
		}
	}
	have := 0
	for after := ""; ; {
		res, err := g.ListObjects(ctx, s3api.ListInput{Bucket: "startup", After: after, MaxKeys: 1000})
		if err != nil {
			t.Fatal(err)
		}
		have += len(res.Objects)
		if !res.IsTruncated {
			break
		}
		after = res.Next
	}
	if have < n {
		t.Logf("putting %d objects", n-have)
		var next atomic.Int64
		next.Store(int64(have))
		var wg sync.WaitGroup
		start := time.Now()
		for range 8 {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					body := []byte(fmt.Sprintf("object %09d", i))
					if _, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "startup", Key: fmt.Sprintf("k/%09d", i), Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
						t.Error(err)
						return
					}
					if i%100000 == 0 {
						t.Logf("%d objects, %v", i, time.Since(start).Round(time.Second))
					}
				}
			})
		}
		wg.Wait()
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("CAIRN_STARTUP_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	for i := range 3 {
		start := time.Now()
		g, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		g.Close()
		t.Logf("start-up %d with %d objects: %v", i+1, n, d)
	}
}

package gateway

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

// TestReadWhileOverwritten: a key that always exists (overwritten in an
// unversioned bucket, so every write releases the manifest it replaced)
// must never read as missing nor come back short, nor fail as a copy
// source. A lookup's read transaction may predate the overwrite's commit;
// the reader it opens must still hold off the release (a chunk store
// lease).
func TestReadWhileOverwritten(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	put(t, g, "b", "k", []byte("version 0000"))
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop.Store(true)
		for i := 1; i <= 400; i++ {
			body := []byte(fmt.Sprintf("version %04d", i))
			if _, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
				t.Errorf("put %d: %v", i, err) // not put(): Fatal only on the test's goroutine
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				_, r, err := g.GetObject(ctx, "b", "k", "")
				if err != nil {
					t.Errorf("get of an overwritten key: %v", err)
					return
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil || len(b) != 12 || !bytes.HasPrefix(b, []byte("version ")) {
					t.Errorf("read %q, %v", b, err)
					return
				}
			}
		})
	}
	// A copy holds its source the same way.
	wg.Go(func() {
		for !stop.Load() {
			if _, err := g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "k", DstBucket: "b", DstKey: "copy"}); err != nil {
				t.Errorf("copy of an overwritten key: %v", err)
				return
			}
		}
	})
	wg.Wait()
}

package gateway

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

// BenchmarkSmallObjects measures 4 KiB PUTs and DELETEs through the object
// layer (no HTTP), four at a time on the machine's disk: what a commit per
// write costs. go test -run '^$' -bench SmallObjects -benchtime 2000x ./gateway/
func BenchmarkSmallObjects(b *testing.B) {
	g, err := New(b.Context(), DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	if err := g.CreateBucket(b.Context(), "b", ""); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	var n atomic.Int64
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				copy(body, fmt.Sprintf("%016d", i)) // unique, so every PUT stores a chunk
				if _, err := g.PutObject(b.Context(), s3api.PutObjectInput{Bucket: "b", Key: fmt.Sprintf("k%09d", i), Body: bytes.NewReader(bytes.Clone(body)), Size: int64(len(body))}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	var d atomic.Int64
	b.Run("delete", func(b *testing.B) {
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := d.Add(1)
				if i > n.Load() {
					i = 1 // deleting what is gone succeeds too
				}
				if _, err := g.DeleteObject(b.Context(), "b", fmt.Sprintf("k%09d", i), ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

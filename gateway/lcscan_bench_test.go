package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// The lifecycle benchmarks scan a bucket of benchObjects versions
// (CAIRN_LC_BENCH_OBJECTS, a million by default):
//
//	go test -run '^$' -bench Lifecycle -benchtime 1x -timeout 30m ./gateway/
func benchObjects(b *testing.B) int {
	if n, err := strconv.Atoi(os.Getenv("CAIRN_LC_BENCH_OBJECTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Rules that match every version: one due since 2020, one due in ten years.
const (
	rulesAllDue = `<LifecycleConfiguration><Rule><ID>all</ID><Status>Enabled</Status><Filter><Prefix>backup/</Prefix></Filter>` +
		`<Expiration><Date>2020-01-01T00:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>`
	rulesNoneDue = `<LifecycleConfiguration><Rule><ID>later</ID><Status>Enabled</Status><Filter><Prefix>backup/</Prefix></Filter>` +
		`<Expiration><Days>3650</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>3650</NoncurrentDays></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>`
)

// benchGateway is a gateway for the lifecycle benchmarks. Their buckets are
// loaded by loadVersions, whose records name no manifest, so it is closed
// without open's consistency check.
func benchGateway(b *testing.B, rate int) *Gateway {
	cfg := DefaultConfig(b.TempDir())
	cfg.LifecycleInterval = 0
	cfg.LifecycleRate = rate
	g, err := New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

// loadVersions creates a versioned bucket with rules and n versions of
// small objects under backup/, written straight into its records in
// transactions of 20,000: what a million PUTs would leave, in seconds.
// The records name no manifest: the scanner reads records only, and
// expiring a current version in a versioned bucket adds a delete marker
// and releases nothing.
func loadVersions(b *testing.B, g *Gateway, bucket, rules string, n int) {
	ctx := b.Context()
	if err := g.CreateBucket(ctx, bucket, ""); err != nil {
		b.Fatal(err)
	}
	if err := g.PutBucketVersioning(ctx, bucket, s3api.VersioningEnabled); err != nil {
		b.Fatal(err)
	}
	if err := g.PutBucketLifecycle(ctx, bucket, []byte(rules)); err != nil {
		b.Fatal(err)
	}
	const perTx = 20_000
	for i := 0; i < n; i += perTx {
		err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
			for j := i; j < min(i+perTx, n); j++ {
				key := fmt.Sprintf("backup/%03d/%07d.blk", j%100, j)
				if _, err := k.push(key, versionRecord{Size: 4096, ETag: "0123456789abcdef0123456789abcdef"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLifecycleScan: versions scanned per second, unbounded (rate 0),
// with nothing due (read transactions only) and with everything due (each
// key gets a delete marker, in write transactions of a batch each).
func BenchmarkLifecycleScan(b *testing.B) {
	n := benchObjects(b)
	for _, c := range []struct{ name, rules string }{{"nothing-due", rulesNoneDue}, {"all-due", rulesAllDue}} {
		b.Run(c.name, func(b *testing.B) {
			g := benchGateway(b, 0)
			var scanned, changed int64
			var elapsed time.Duration
			for i := range b.N {
				b.StopTimer()
				bucket := "scan" + strconv.Itoa(i)
				loadVersions(b, g, bucket, c.rules, n)
				b.StartTimer()
				start := time.Now()
				rep, err := g.RunLifecycle(b.Context(), bucket, nil)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				t := rep.Total
				if t.Scanned != int64(n) {
					b.Fatalf("scanned %d of %d versions", t.Scanned, n)
				}
				scanned += t.Scanned
				changed += t.Expired
			}
			if want := int64(0); c.rules == rulesAllDue {
				want = scanned
				if changed != want {
					b.Fatalf("expired %d of %d", changed, want)
				}
			} else if changed != 0 {
				b.Fatalf("expired %d with nothing due", changed)
			}
			b.ReportMetric(float64(scanned)/elapsed.Seconds(), "versions/s")
		})
	}
}

// BenchmarkLifecyclePutImpact: 1 MiB unique PUTs, four at a time, alone and
// beside a scan at the default rate that expires everything it reads (the
// worst case: every batch is a write transaction in the PUTs' group).
// Compare the two MB/s figures of one run.
func BenchmarkLifecyclePutImpact(b *testing.B) {
	for _, scanning := range []bool{false, true} {
		name := "alone"
		if scanning {
			name = "beside-scan"
		}
		b.Run(name, func(b *testing.B) {
			g := benchGateway(b, DefaultConfig("").LifecycleRate)
			ctx := b.Context()
			if err := g.CreateBucket(ctx, "puts", ""); err != nil {
				b.Fatal(err)
			}
			var counts ScanCounts
			if scanning {
				// Enough to outlast the PUTs at 5,000 versions a second.
				loadVersions(b, g, "old", rulesAllDue, 300_000)
				scanCtx, cancel := context.WithCancel(ctx)
				var wg sync.WaitGroup
				wg.Go(func() {
					rep, _ := g.RunLifecycle(scanCtx, "old", nil)
					counts = rep.Total
				})
				defer func() {
					cancel()
					wg.Wait()
					b.ReportMetric(float64(counts.Expired), "expired")
				}()
				time.Sleep(2 * time.Second) // under way
			}
			const size = 1 << 20
			var seq atomic.Int64
			b.SetBytes(size)
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				body := make([]byte, size)
				rand.NewChaCha8([32]byte{byte(seq.Add(1))}).Read(body)
				for pb.Next() {
					// A new number every 4 KiB: every chunk is new.
					n := seq.Add(1)
					for i := 0; i < size; i += 4 << 10 {
						binary.LittleEndian.PutUint64(body[i:], uint64(n))
					}
					key := "p" + strconv.FormatInt(n, 10)
					if _, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "puts", Key: key, Body: bytes.NewReader(body), Size: size}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
		})
	}
}

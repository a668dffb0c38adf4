package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-backup/cairn/s3api"
)

// BenchmarkObserve is what the metrics add to every S3 request: it must
// not allocate.
//
//	go test -run '^$' -bench 'Observe' ./gateway/
func BenchmarkObserve(b *testing.B) {
	m := NewMetrics(nil) // Observe never reads the gateway
	if err := m.Register(prometheus.NewRegistry()); err != nil {
		b.Fatal(err)
	}
	st := s3api.RequestStats{Operation: "PutObject", Status: 200, Duration: 3 * time.Millisecond, BytesIn: 64 << 10}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Observe(st)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Observe(st)
			}
		})
	})
}

// BenchmarkHTTPPutObserve: small PUTs (where per-request costs show most)
// through the whole HTTP stack, with and without the metrics hook.
//
//	go test -run '^$' -bench 'HTTPPutObserve' -count 5 ./gateway/
func BenchmarkHTTPPutObserve(b *testing.B) {
	data := random(41, 64<<10)
	for _, hook := range []bool{false, true} {
		b.Run(fmt.Sprintf("observe=%v", hook), func(b *testing.B) {
			cfg := DefaultConfig(b.TempDir())
			cfg.Logger = slog.New(slog.DiscardHandler)
			g, err := New(b.Context(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { g.Close() })
			scfg := s3api.Config{
				Region: "us-east-1",
				Secret: func(k string) (string, bool) { return "benchsecret", k == "benchkey" },
				Logger: slog.New(slog.DiscardHandler),
			}
			if hook {
				m := NewMetrics(g)
				if err := m.Register(prometheus.NewRegistry()); err != nil {
					b.Fatal(err)
				}
				scfg.Observe = m.Observe
			}
			h, err := s3api.NewHandler(scfg, g)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h)
			b.Cleanup(srv.Close)
			c := s3.New(s3.Options{
				BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider("benchkey", "benchsecret", ""),
			})
			if _, err := c.CreateBucket(b.Context(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			i := 0
			for b.Loop() {
				i++
				if _, err := c.PutObject(b.Context(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint(i)), Body: bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

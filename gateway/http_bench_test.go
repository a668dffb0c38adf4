package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// Benchmarks of PutObject and GetObject through the whole HTTP stack (the
// real aws-sdk-go-v2 client on loopback, s3api, the gateway, a chunk store
// with default settings), beside the chunk store's own ingest and read-back
// in the same run so the ratios mean something on a noisy machine:
//
//	go test -run '^$' -bench HTTP -benchtime 3x ./gateway/
const httpObjectSize = 64 << 20

func BenchmarkHTTP(b *testing.B) {
	base := backupLike(1, httpObjectSize)
	for _, data := range []string{"unique", "duplicate"} {
		for _, streams := range []int{1, 4} {
			b.Run(fmt.Sprintf("put/%s/streams=%d", data, streams), func(b *testing.B) {
				client, _ := benchServer(b)
				payloads := streamsOf(base, streams)
				if data == "duplicate" {
					putAll(b, client, "warm", payloads)
				}
				b.SetBytes(int64(streams * httpObjectSize))
				round := 0
				for b.Loop() {
					round++
					if data == "unique" {
						b.StopTimer()
						payloads = uniqueRound(payloads, round)
						b.StartTimer()
					}
					putAll(b, client, fmt.Sprintf("r%d", round), payloads)
				}
			})
			b.Run(fmt.Sprintf("store-ingest/%s/streams=%d", data, streams), func(b *testing.B) {
				s := benchStore(b)
				payloads := streamsOf(base, streams)
				if data == "duplicate" {
					ingestAll(b, s, payloads)
				}
				b.SetBytes(int64(streams * httpObjectSize))
				round := 0
				for b.Loop() {
					round++
					if data == "unique" {
						b.StopTimer()
						payloads = uniqueRound(payloads, round)
						b.StartTimer()
					}
					ingestAll(b, s, payloads)
				}
			})
		}
	}
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("get/streams=%d", streams), func(b *testing.B) {
			client, _ := benchServer(b)
			putAll(b, client, "get", streamsOf(base, streams))
			b.SetBytes(int64(streams * httpObjectSize))
			for b.Loop() {
				parallelDo(b, streams, func(i int) error {
					out, err := client.GetObject(b.Context(), &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("get/%d", i))})
					if err != nil {
						return err
					}
					defer out.Body.Close()
					n, err := io.Copy(io.Discard, out.Body)
					if err == nil && n != httpObjectSize {
						err = fmt.Errorf("read %d bytes", n)
					}
					return err
				})
			}
		})
		b.Run(fmt.Sprintf("store-read/streams=%d", streams), func(b *testing.B) {
			s := benchStore(b)
			ms := ingestAll(b, s, streamsOf(base, streams))
			b.SetBytes(int64(streams * httpObjectSize))
			for b.Loop() {
				parallelDo(b, streams, func(i int) error {
					r, err := s.NewReader(b.Context(), ms[i].ID)
					if err != nil {
						return err
					}
					defer r.Close()
					_, err = io.Copy(io.Discard, r)
					return err
				})
			}
		})
	}
}

// backupLike is half random, half text-like bytes.
func backupLike(seed uint64, n int) []byte {
	out := random(seed, n/2)
	words := []byte("func return err nil if for range ctx chunk store the data\n\t{}();")
	for i := 0; len(out) < n; i++ {
		out = append(out, words[(i*7+i/13)%len(words)])
	}
	return out
}

// streamsOf gives each stream its own copy, different from the others.
func streamsOf(base []byte, streams int) [][]byte {
	out := make([][]byte, streams)
	for i := range out {
		out[i] = bytes.Clone(base)
		flipEvery(out[i], 4<<10, byte(i+1))
	}
	return out
}

// uniqueRound makes every chunk of the payloads new by flipping a byte in
// every 4 KiB.
func uniqueRound(payloads [][]byte, round int) [][]byte {
	for i, p := range payloads {
		flipEvery(p, 4<<10, byte(round*17+i)|1)
	}
	return payloads
}

func flipEvery(p []byte, step int, v byte) {
	for i := 0; i < len(p); i += step {
		p[i] ^= v
	}
}

func parallelDo(b *testing.B, n int, fn func(i int) error) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := fn(i); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

func putAll(b *testing.B, client *s3.Client, prefix string, payloads [][]byte) {
	parallelDo(b, len(payloads), func(i int) error {
		_, err := client.PutObject(b.Context(), &s3.PutObjectInput{
			Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("%s/%d", prefix, i)),
			Body: bytes.NewReader(payloads[i]),
		})
		return err
	})
}

func ingestAll(b *testing.B, s *chunkstore.Store, payloads [][]byte) []chunkstore.Manifest {
	ms := make([]chunkstore.Manifest, len(payloads))
	parallelDo(b, len(payloads), func(i int) error {
		w := s.NewWriter(b.Context())
		if _, err := w.Write(payloads[i]); err != nil {
			return err
		}
		m, err := w.Commit(b.Context())
		ms[i] = m
		return err
	})
	return ms
}

func benchStore(b *testing.B) *chunkstore.Store {
	s, err := chunkstore.Open(b.Context(), chunkstore.DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchServer starts the real stack with default settings on loopback and
// returns an SDK client with its default checksum behaviour, and a bucket
// "bench".
func benchServer(b *testing.B) (*s3.Client, *Gateway) {
	cfg := DefaultConfig(b.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	g, err := New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	client, _ := serveS3(b, g)
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	return client, g
}

// serveS3 serves g over S3 on a loopback port (key "benchkey", secret
// "benchsecret") and returns an SDK client with its default checksum
// behaviour, and the server's URL.
func serveS3(tb testing.TB, g *Gateway) (*s3.Client, string) {
	h, err := s3api.NewHandler(s3api.Config{
		Region: "us-east-1",
		Secret: func(k string) (string, bool) { return "benchsecret", k == "benchkey" },
		Logger: slog.New(slog.DiscardHandler),
	}, g)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		BaseEndpoint:               aws.String(srv.URL),
		Region:                     "us-east-1",
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("benchkey", "benchsecret", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	return client, srv.URL
}

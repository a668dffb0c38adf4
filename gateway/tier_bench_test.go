package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Benchmarks of tiering, each beside what it is measured against, in one
// run, over the real stack (the tier is a second gateway serving S3 on
// loopback):
//
//		go test -run '^$' -bench Tier -benchtime 3x ./gateway/
//
//	  - transition (the mover: read the chunks, seal packs, upload, record,
//	    catalog, move) vs put-to-target (a plain PutObject of the same bytes
//	    to the same S3 service);
//	  - get/read-through (a GET of a moved object, every chunk from the
//	    tier) vs get/local and get/direct-from-target (a GET of an object of
//	    the same size stored on the tier's service).
const tierBenchSize = 64 << 20

func tierBench(b *testing.B) (*Gateway, *s3.Client, *s3.Client) {
	cfg := DefaultConfig(b.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	g := open(b, cfg)
	client, _ := serveS3(b, g)
	if err := g.CreateBucket(b.Context(), "bench", ""); err != nil {
		b.Fatal(err)
	}
	return g, client, addS3Tier(b, g, "cold")
}

// moveNow hands one object to the tier's mover as a lifecycle Transition
// would, and waits until it is done.
func moveNow(b testing.TB, g *Gateway, key string) {
	moveNowIn(b, g, "bench", key)
}

func BenchmarkTier(b *testing.B) {
	base := backupLike(7, tierBenchSize)
	b.Run("transition", func(b *testing.B) {
		g, client, _ := tierBench(b)
		b.SetBytes(tierBenchSize)
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			data := uniqueRound([][]byte{bytes.Clone(base)}, i+1)[0]
			key := fmt.Sprintf("o%d", i)
			putAll(b, client, key, [][]byte{data})
			b.StartTimer()
			moveNow(b, g, key+"/0")
		}
	})
	b.Run("put-to-target", func(b *testing.B) {
		_, _, tier := tierBench(b)
		b.SetBytes(tierBenchSize)
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			data := uniqueRound([][]byte{bytes.Clone(base)}, i+1)[0]
			b.StartTimer()
			if _, err := tier.PutObject(b.Context(), &s3.PutObjectInput{Bucket: aws.String("tier"), Key: aws.String(fmt.Sprint(i)), Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	getAll := func(b *testing.B, c *s3.Client, bucket, key string) {
		out, err := c.GetObject(b.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, out.Body)
		out.Body.Close()
		if err != nil || n != tierBenchSize {
			b.Fatalf("GET: %d bytes, %v", n, err)
		}
	}
	for _, mode := range []string{"local", "read-through", "direct-from-target"} {
		b.Run("get/"+mode, func(b *testing.B) {
			g, client, tier := tierBench(b)
			switch mode {
			case "direct-from-target":
				if _, err := tier.PutObject(b.Context(), &s3.PutObjectInput{Bucket: aws.String("tier"), Key: aws.String("o"), Body: bytes.NewReader(base)}); err != nil {
					b.Fatal(err)
				}
			default:
				putAll(b, client, "o", [][]byte{base})
				if mode == "read-through" {
					moveNow(b, g, "o/0")
					if _, err := g.Clean(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(tierBenchSize)
			for b.Loop() {
				if mode == "direct-from-target" {
					getAll(b, tier, "tier", "o")
				} else {
					getAll(b, client, "bench", "o/0")
				}
			}
		})
	}
}

package gateway

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-backup/cairn/s3api"
)

// benchObject is the size of each object the replication benchmarks move.
const benchObject = 32 << 20

// BenchmarkReplication measures replicating one object to a second
// gateway over loopback HTTP (in-process, both sides on the same cores):
// unique data (the replica lacks every chunk), duplicate data (it has them
// all: only chunk IDs travel), and, to compare, a plain S3 PUT of the same
// unique bytes to the replica's gateway with the SDK.
//
//	go test -run '^$' -bench Replication -benchtime 5x ./gateway/
func BenchmarkReplication(b *testing.B) {
	for _, kind := range []string{"unique", "duplicate", "put-to-target"} {
		b.Run(kind, func(b *testing.B) {
			src, dst := newBenchSite(b), newBenchSite(b)
			ctx := b.Context()
			if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
				b.Fatal(err)
			}
			newBucket(b, src.g, "src", s3api.VersioningEnabled)
			if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "src", Remote: "dr", ReplicaBucket: "dst"}); err != nil {
				b.Fatal(err)
			}
			if err := src.g.PauseReplication("src", true); err != nil {
				b.Fatal(err)
			}
			newBucket(b, dst.g, "plain", s3api.VersioningUnset)
			same := random(1, benchObject)
			if kind == "duplicate" {
				put(b, src.g, "src", "seed", same)
				if _, err := src.g.RunReplication(ctx, "src"); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(benchObject)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				data := same
				if kind != "duplicate" {
					data = random(uint64(100+i), benchObject)
				}
				if kind == "put-to-target" {
					b.StartTimer()
					if _, err := dst.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String(fmt.Sprint(i)), Body: bytes.NewReader(data)}); err != nil {
						b.Fatal(err)
					}
					continue
				}
				put(b, src.g, "src", fmt.Sprint(i), data)
				b.StartTimer()
				if _, err := src.g.RunReplication(ctx, "src"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

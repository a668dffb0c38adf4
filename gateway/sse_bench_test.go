package gateway

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// BenchmarkSSE is PUT and GET over S3 (the SDK on loopback) of unique
// backup-like data, plain next to SSE-S3 and SSE-C, one stream, and the
// bytes a second PUT of the same data stores (new-bytes/op): 0 within a
// sealing domain (the same group key, the same customer key), all of it in
// another (a second customer key).
func BenchmarkSSE(b *testing.B) {
	base := backupLike(1, httpObjectSize)
	k1, k2 := newCustomerKey(1), newCustomerKey(2)
	with := func(in *s3.PutObjectInput, mode string, ck customerKey) {
		switch mode {
		case "sse-s3":
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		case "sse-c":
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(ck.key), aws.String(ck.md5)
		}
	}
	for _, mode := range []string{"plain", "sse-s3", "sse-c"} {
		b.Run("put/"+mode, func(b *testing.B) {
			client, _ := benchServer(b)
			b.SetBytes(httpObjectSize)
			round := 0
			for b.Loop() {
				round++
				b.StopTimer()
				data := uniqueRound([][]byte{base}, round)[0]
				b.StartTimer()
				in := &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint(round)), Body: bytes.NewReader(data)}
				with(in, mode, k1)
				if _, err := client.PutObject(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get/"+mode, func(b *testing.B) {
			client, _ := benchServer(b)
			in := &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("o"), Body: bytes.NewReader(base)}
			with(in, mode, k1)
			if _, err := client.PutObject(b.Context(), in); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(httpObjectSize)
			for b.Loop() {
				gin := &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("o")}
				if mode == "sse-c" {
					gin.SSECustomerAlgorithm, gin.SSECustomerKey, gin.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k1.key), aws.String(k1.md5)
				}
				out, err := client.GetObject(b.Context(), gin)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if err != nil || n != httpObjectSize {
					b.Fatal(n, err)
				}
			}
		})
	}
	for _, second := range []string{"sse-s3", "sse-c/same-key", "sse-c/other-key"} {
		b.Run("second-put/"+second, func(b *testing.B) {
			client, g := benchServer(b)
			mode, ck := second, k1
			if second != "sse-s3" {
				mode = "sse-c"
			}
			if second == "sse-c/other-key" {
				ck = k2
			}
			first := &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("first"), Body: bytes.NewReader(base)}
			with(first, mode, k1)
			if _, err := client.PutObject(b.Context(), first); err != nil {
				b.Fatal(err)
			}
			gr := g.buckets["bench"]
			var added int64
			b.SetBytes(httpObjectSize)
			round := 0
			for b.Loop() {
				round++
				st0, _ := gr.store.Stats(b.Context())
				in := &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint(round)), Body: bytes.NewReader(base)}
				with(in, mode, ck)
				if _, err := client.PutObject(b.Context(), in); err != nil {
					b.Fatal(err)
				}
				if second == "sse-c/other-key" {
					ck = newCustomerKey(byte(10 + round)) // a new domain every time
				}
				st1, _ := gr.store.Stats(b.Context())
				added = st1.StoredBytes - st0.StoredBytes
			}
			b.ReportMetric(float64(added), "new-bytes/op")
		})
	}
}

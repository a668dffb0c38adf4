package s3api

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// zeroBackend drains what is written and serves zeros: with it, a
// benchmark measures the protocol layer (auth, aws-chunked decoding,
// digests, HTTP) and the client, not storage. Other methods are not called.
type zeroBackend struct {
	Backend
	size int64
}

func (z zeroBackend) PutObject(ctx context.Context, in PutObjectInput) (ObjectInfo, error) {
	if _, err := io.Copy(io.Discard, in.Body); err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{ETag: hex.EncodeToString(in.Digest().MD5), LastModified: time.Now()}, nil
}

func (z zeroBackend) GetObject(ctx context.Context, bucket, key, versionID string) (ObjectInfo, io.ReadSeekCloser, error) {
	return ObjectInfo{Size: z.size, ETag: "0", LastModified: time.Now()}, &zeroReader{size: z.size}, nil
}

type zeroReader struct{ off, size int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-z.off))
	clear(p[:n])
	z.off += int64(n)
	return n, nil
}

func (z *zeroReader) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekStart || off < 0 {
		return 0, errors.New("zeroReader: unsupported seek")
	}
	z.off = off
	return off, nil
}

func (z *zeroReader) Close() error { return nil }

const benchSize = 64 << 20

// BenchmarkPutObject: one 64 MiB PutObject per iteration through the SDK.
// "tls" is the SDK's default upload (aws-chunked, unsigned payload, CRC32
// trailer); "http" signs the payload's SHA-256, which both sides compute.
func BenchmarkPutObject(b *testing.B) {
	data := make([]byte, benchSize)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(data)
	for _, tc := range []struct {
		name string
		env  func(testing.TB, Backend, ...envOption) *testEnv
	}{{"tls", newTLSEnv}, {"http", newEnv}} {
		b.Run(tc.name, func(b *testing.B) {
			e := tc.env(b, zeroBackend{})
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.client.PutObject(b.Context(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetObject: one 64 MiB GetObject per iteration through the SDK.
func BenchmarkGetObject(b *testing.B) {
	for _, tc := range []struct {
		name string
		env  func(testing.TB, Backend, ...envOption) *testEnv
	}{{"tls", newTLSEnv}, {"http", newEnv}} {
		b.Run(tc.name, func(b *testing.B) {
			e := tc.env(b, zeroBackend{size: benchSize})
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				out, err := e.client.GetObject(b.Context(), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if err != nil || n != benchSize {
					b.Fatal(n, err)
				}
			}
		})
	}
}

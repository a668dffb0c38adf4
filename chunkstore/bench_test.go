package chunkstore

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
)

// Benchmarks of the hot paths. Each reports MB/s through b.SetBytes; compare
// runs with benchstat, and compare figures only within one run (the machines
// are shared and noisy).
//
//	go test -run '^$' -bench . -benchtime 5x ./chunkstore/

const benchSize = 64 << 20

// benchData is half random, half text: backup-like for the codecs.
func benchData() []byte {
	return append(randomData(1, benchSize/2), textData(2, benchSize/2)...)
}

func BenchmarkChunker(b *testing.B) {
	data := randomData(1, benchSize)
	c, _ := newChunker(4<<10, 16<<10, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for p := data; len(p) > 0; {
			p = p[c.cut(p):]
		}
	}
}

func BenchmarkHashChunks(b *testing.B) {
	data := randomData(1, benchSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for p := data; len(p) > 0; p = p[16<<10:] {
			hashChunk(p[:16<<10])
		}
	}
}

// BenchmarkChunkAndHash is one core cutting and hashing, the store's floor.
func BenchmarkChunkAndHash(b *testing.B) {
	data := randomData(1, benchSize)
	c, _ := newChunker(4<<10, 16<<10, 64<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for p := data; len(p) > 0; {
			n := c.cut(p)
			hashChunk(p[:n])
			p = p[n:]
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	data := benchData()
	for _, c := range []Compression{CompressNone, CompressS2, CompressZstd} {
		b.Run(string(c), func(b *testing.B) {
			cs, err := newCodecs(c)
			if err != nil {
				b.Fatal(err)
			}
			var stored int64
			var buf []byte
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				stored = 0
				for p := data; len(p) > 0; p = p[16<<10:] {
					_, out, _, _ := cs.compress(p[:16<<10], buf, false)
					stored += int64(len(out))
				}
			}
			b.ReportMetric(float64(stored)/float64(len(data)), "stored/raw")
		})
	}
}

// BenchmarkIngest measures writing through the store: unique data (every
// chunk new: compress, append, fsync, index) and duplicate data (every chunk
// known: cut, hash, look up, count), with 1 and 2 concurrent streams.
func BenchmarkIngest(b *testing.B) {
	for _, kind := range []string{"unique", "duplicate"} {
		for _, streams := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/streams=%d", kind, streams), func(b *testing.B) {
				cfg := DefaultConfig(b.TempDir())
				s, err := Open(b.Context(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				data := make([][]byte, streams)
				for i := range data {
					data[i] = append(randomData(uint64(10+i), benchSize/2), textData(uint64(20+i), benchSize/2)...)
				}
				if kind == "duplicate" {
					for _, d := range data {
						ingest(b, s, d)
					}
				}
				b.SetBytes(int64(streams * benchSize))
				round := 0
				for b.Loop() {
					round++
					in := data
					if kind == "unique" {
						b.StopTimer()
						in = make([][]byte, streams)
						for i := range in {
							in[i] = uniqueVariant(data[i], round*100+i)
						}
						b.StartTimer()
					}
					var wg sync.WaitGroup
					for _, d := range in {
						wg.Go(func() { ingest(b, s, d) })
					}
					wg.Wait()
				}
			})
		}
	}
}

// uniqueVariant makes data's chunks new to the store by flipping a byte in
// every 4 KiB, keeping its compressibility.
func uniqueVariant(data []byte, seed int) []byte {
	out := bytes.Clone(data)
	for i := 0; i < len(out); i += 4 << 10 {
		out[i] ^= byte(seed) | 1
		out[min(i+1, len(out)-1)] ^= byte(seed >> 8)
	}
	return out
}

func ingest(b *testing.B, s *Store, data []byte) {
	w := s.NewWriter(b.Context())
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		b.Error(err)
		return
	}
	if _, err := w.Commit(b.Context()); err != nil {
		b.Error(err)
	}
}

// BenchmarkRead measures reading a 64 MiB manifest back, verifying every
// chunk, with 1 and 2 concurrent readers.
func BenchmarkRead(b *testing.B) {
	for _, streams := range []int{1, 2} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			s, err := Open(b.Context(), DefaultConfig(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var ids []ManifestID
			for i := range streams {
				w := s.NewWriter(b.Context())
				w.Write(append(randomData(uint64(30+i), benchSize/2), textData(uint64(40+i), benchSize/2)...))
				m, err := w.Commit(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, m.ID)
			}
			b.SetBytes(int64(streams * benchSize))
			for b.Loop() {
				var wg sync.WaitGroup
				for _, id := range ids {
					wg.Go(func() {
						r, err := s.NewReader(b.Context(), id)
						if err != nil {
							b.Error(err)
							return
						}
						defer r.Close()
						if _, err := io.Copy(io.Discard, r); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}

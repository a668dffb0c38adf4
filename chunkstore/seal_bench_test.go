package chunkstore

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkSealed measures the sealed write and read paths next to the
// plain ones: ingest of unique data (every chunk new: hash, compress, seal,
// append, fsync, index), of duplicate data (hash and look up only), and
// reading back verified (open, decompress, hash). One stream, 64 MiB, half
// random, half text.
func BenchmarkSealed(b *testing.B) {
	data := benchData()
	key, _ := NewSealKey(bytes.Repeat([]byte{1}, 32))
	for _, mode := range []string{"plain", "sealed"} {
		k := key
		if mode == "plain" {
			k = nil
		}
		write := func(b *testing.B, s *Store, d []byte) Manifest {
			w := s.NewWriter(b.Context())
			if k != nil {
				w.Seal(k)
			}
			if _, err := io.Copy(w, bytes.NewReader(d)); err != nil {
				b.Fatal(err)
			}
			m, err := w.Commit(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			return m
		}
		b.Run("ingest-unique/"+mode, func(b *testing.B) {
			s, err := Open(b.Context(), DefaultConfig(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(len(data)))
			round := 0
			for b.Loop() {
				round++
				b.StopTimer()
				in := uniqueVariant(data, round)
				b.StartTimer()
				write(b, s, in)
			}
		})
		b.Run("ingest-duplicate/"+mode, func(b *testing.B) {
			s, err := Open(b.Context(), DefaultConfig(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			write(b, s, data)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				write(b, s, data)
			}
		})
		b.Run("read/"+mode, func(b *testing.B) {
			s, err := Open(b.Context(), DefaultConfig(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			m := write(b, s, data)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := s.NewReader(b.Context(), m.ID)
				if err != nil {
					b.Fatal(err)
				}
				r.Unseal(k)
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkSealChunk is sealing and opening alone, 16 KiB chunks: the cost
// sealing adds to a record beyond the keyed hash.
func BenchmarkSealChunk(b *testing.B) {
	key, _ := NewSealKey(bytes.Repeat([]byte{1}, 32))
	chunk := randomData(3, 16<<10)
	id := key.chunkID(chunk)
	var buf, out []byte
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		for b.Loop() {
			buf = key.sealPayload(buf[:0], id, chunk)
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if out, err = key.openPayload(out, id, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keyed-hash", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for b.Loop() {
			key.chunkID(chunk)
		}
	})
	b.Run("plain-hash", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for b.Loop() {
			hashChunk(chunk)
		}
	})
}

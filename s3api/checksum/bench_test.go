package checksum

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkReader: the PUT path's Reader with MD5 (always) and CRC32
// (the SDKs' default additional checksum) over 64 MiB, read in 32 KiB
// pieces as io.Copy does.
func BenchmarkReader(b *testing.B) {
	data := randomBytes(1, 64<<20)
	for _, tc := range []struct {
		name string
		alg  Algorithm
	}{{"MD5", ""}, {"MD5+CRC32", CRC32}, {"MD5+CRC64NVME", CRC64NVME}, {"MD5+SHA256", SHA256}} {
		want := ""
		if tc.alg != "" {
			want = Encode(sum(tc.alg, data))
		}
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(data), "", tc.alg, want, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHash: each algorithm alone over 64 MiB.
func BenchmarkHash(b *testing.B) {
	data := randomBytes(2, 64<<20)
	for _, a := range Algorithms() {
		b.Run(string(a), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				h := a.New()
				for p := data; len(p) > 0; p = p[32<<10:] {
					h.Write(p[:32<<10])
				}
				h.Sum(nil)
			}
		})
	}
}

func BenchmarkCombine(b *testing.B) {
	parts := make([]Part, 10000)
	for i := range parts {
		parts[i] = Part{Sum: []byte{byte(i), 2, 3, 4, 5, 6, 7, 8}, Size: 5 << 20}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Combine(CRC64NVME, parts); err != nil {
			b.Fatal(err)
		}
	}
}

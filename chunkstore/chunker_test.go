package chunkstore

import (
	"hash/fnv"
	"testing"
)

// cutByDefinition is FastCDC's cut, one byte at a time, as chunker.cut
// was first written: the definition the unrolled one must match byte for
// byte, or stores would stop agreeing on chunk IDs.
func cutByDefinition(c *chunker, data []byte) int {
	n := len(data)
	if n <= c.min {
		return n
	}
	n = min(n, c.max)
	normal := min(c.avg, n)
	var fp uint64
	for i := c.min; i < normal; i++ {
		fp = fp<<1 + gear[data[i]]
		if fp&c.maskS == 0 {
			return i + 1
		}
	}
	for i := normal; i < n; i++ {
		fp = fp<<1 + gear[data[i]]
		if fp&c.maskL == 0 {
			return i + 1
		}
	}
	return n
}

func TestChunkerCutsAsDefined(t *testing.T) {
	sizes := [][3]int{{4 << 10, 16 << 10, 64 << 10}, {64, 256, 1024}, {1000, 4096, 9999}}
	inputs := map[string][]byte{
		"random": randomData(3, 4<<20),
		"text":   textData(4, 4<<20),
		"zeros":  make([]byte, 1<<20),
	}
	for _, sz := range sizes {
		c, err := newChunker(sz[0], sz[1], sz[2])
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range inputs {
			// At each cut: the whole rest, and inputs ending 0-7 bytes past
			// the minimum and past the average (where the mask changes), so
			// that every count of leftover bytes after the unrolled loop
			// is exercised in both parts.
			cuts := 0
			for p := data; len(p) > 0; cuts++ {
				for k := range 8 {
					for _, q := range [][]byte{p, p[:min(len(p), sz[0]+k)], p[:min(len(p), sz[1]+k)]} {
						if got, want := c.cut(q), cutByDefinition(&c, q); got != want {
							t.Fatalf("sizes %v, %s, cut %d, input of %d: cut at %d, the definition at %d", sz, name, cuts, len(q), got, want)
						}
					}
				}
				p = p[cutByDefinition(&c, p):]
			}
		}
	}
}

// TestChunkerCutsStayPut pins the cut points of the default sizes on fixed
// data: a change to the gear table, the masks or the loop that moved a
// cut would make new chunks never dedup against those already stored.
func TestChunkerCutsStayPut(t *testing.T) {
	c, _ := newChunker(4<<10, 16<<10, 64<<10)
	h := fnv.New64a()
	n := 0
	for p := append(randomData(1, 4<<20), textData(2, 4<<20)...); len(p) > 0; n++ {
		k := c.cut(p)
		h.Write([]byte{byte(k), byte(k >> 8), byte(k >> 16)})
		p = p[k:]
	}
	if got, want := h.Sum64(), uint64(goldenCuts); got != want || n != goldenChunks {
		t.Fatalf("%d chunks, cut-length hash %#x; want %d chunks, %#x", n, got, goldenChunks, want)
	}
}

const (
	goldenChunks = 449
	goldenCuts   = 0xfbc281f5bc694a3e
)

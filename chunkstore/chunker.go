package chunkstore

import (
	"fmt"
	"math/bits"
)

// gear is the FastCDC gear table: one pseudo-random 64-bit value per byte
// value. It is derived from a fixed seed so that every Cairn cuts the same
// bytes at the same places (replication and seeding rely on two stores with
// the same chunking settings agreeing on chunk IDs). It is computed once and
// never written again.
var gear = func() (t [256]uint64) {
	x := uint64(0x6361_6972_6e2d_6364) // "cairn-cd"
	for i := range t {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		t[i] = z ^ (z >> 31)
	}
	return t
}()

// chunker finds content-defined chunk boundaries with FastCDC's gear hash
// and normalized chunking (level 2): below the average size a stricter mask
// makes a cut less likely, above it a looser one makes it more likely, which
// narrows the size distribution around the average.
//
// The hash at position i depends only on the 64 bytes before i (each step
// shifts one bit out), so identical content resynchronises to identical cut
// points whatever its offset in the stream.
type chunker struct {
	min, avg, max int
	maskS, maskL  uint64
}

func newChunker(min, avg, max int) (chunker, error) {
	if min <= 0 || avg <= min || max <= avg || avg&(avg-1) != 0 {
		return chunker{}, fmt.Errorf("chunk sizes min %d, avg %d, max %d: need 0 < min < avg < max and avg a power of two", min, avg, max)
	}
	b := bits.Len(uint(avg)) - 1
	if b < 8 || b > 30 {
		return chunker{}, fmt.Errorf("average chunk size %d out of range (256 B .. 1 GiB)", avg)
	}
	// Use the top bits of the hash: they have seen the most bytes.
	top := func(n int) uint64 { return ^uint64(0) << (64 - n) }
	return chunker{min: min, avg: avg, max: max, maskS: top(b + 2), maskL: top(b - 2)}, nil
}

// cut returns the length of the first chunk of data. When data is shorter
// than max and more input may follow, the caller must not trust a cut at
// len(data): it means "no boundary found yet".
func (c *chunker) cut(data []byte) int {
	n := len(data)
	if n <= c.min {
		return n
	}
	n = min(n, c.max)
	normal := min(c.avg, n)
	// The mask is fixed in each part, below and above the average.
	var fp uint64
	if k := roll(&fp, data[c.min:normal], c.maskS); k >= 0 {
		return c.min + k
	}
	if k := roll(&fp, data[normal:n], c.maskL); k >= 0 {
		return normal + k
	}
	return n
}

// roll advances the gear hash *fp over p, one byte at a time as FastCDC
// defines it (fp = fp<<1 + gear[b]), and returns the number of bytes up to
// and including the first after which fp&mask is zero, or -1 (with *fp
// the hash after all of p).
//
// One byte at a time, each step waits for the previous one's shift and add:
// ~3 cycles a byte. So four bytes go at once, the hash after each computed
// from the hash before all four (fp<<k plus the four gear values folded
// together, which does not wait for fp): the same values, with a
// dependency chain a quarter as long. TestChunkerCutsAsDefined holds it to
// the byte-at-a-time definition.
func roll(fp *uint64, p []byte, mask uint64) int {
	h := *fp
	i := 0
	for ; i+4 <= len(p); i += 4 {
		q := p[i : i+4 : i+4]
		g1 := gear[q[0]]
		g2 := g1<<1 + gear[q[1]]
		g3 := g2<<1 + gear[q[2]]
		g4 := g3<<1 + gear[q[3]]
		switch {
		case (h<<1+g1)&mask == 0:
			return i + 1
		case (h<<2+g2)&mask == 0:
			return i + 2
		case (h<<3+g3)&mask == 0:
			return i + 3
		case (h<<4+g4)&mask == 0:
			return i + 4
		}
		h = h<<4 + g4
	}
	for ; i < len(p); i++ {
		h = h<<1 + gear[p[i]]
		if h&mask == 0 {
			return i + 1
		}
	}
	*fp = h
	return -1
}

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
	if n > c.max {
		n = c.max
	}
	normal := c.avg
	if normal > n {
		normal = n
	}
	var fp uint64
	// Two loops with the mask fixed in each, ranging over subslices so the
	// compiler drops the bounds checks: the hot loop is a shift, an add, a
	// load and a test.
	for j, b := range data[c.min:normal] {
		fp = fp<<1 + gear[b]
		if fp&c.maskS == 0 {
			return c.min + j + 1
		}
	}
	for j, b := range data[normal:n] {
		fp = fp<<1 + gear[b]
		if fp&c.maskL == 0 {
			return normal + j + 1
		}
	}
	return n
}

package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
)

// splitmix is SplitMix64's output function: a good 64-bit mixer.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// deriveKey makes a 32-byte ChaCha8 key from a list of numbers; different
// lists give unrelated keys.
func deriveKey(parts ...uint64) [32]byte {
	x := uint64(0x6361_6972_6e62_656e) // "cairnben"
	for _, p := range parts {
		x = splitmix(x ^ p)
	}
	var k [32]byte
	for i := range 4 {
		x = splitmix(x)
		binary.LittleEndian.PutUint64(k[8*i:], x)
	}
	return k
}

// domains keep the key spaces of unrelated streams apart.
const (
	domainObject uint64 = iota + 1 // put and small objects
	domainFile                     // a dataset file's first content
	domainEdit                     // a dataset generation's edits
	domainGen                      // a dataset generation's choices
	domainPick                     // get's random ranges
)

// dataBlock is the unit in which object data is generated: block b of an
// object is ChaCha8 output keyed by (seed, object, b), so any range can be
// regenerated without the bytes before it.
const dataBlock = 64 << 10

// objectData is the content of one generated object: unique, incompressible
// bytes that depend only on (seed, id) and the offset. It is an io.Reader
// (from offset 0, to its size) and an io.ReaderAt. Not safe for concurrent
// use.
type objectData struct {
	seed  uint64
	id    uint64
	size  int64
	off   int64 // Read's position
	block int64 // the block in buf, or -1
	buf   []byte
}

func newObjectData(seed int64, id uint64, size int64) *objectData {
	return &objectData{seed: uint64(seed), id: id, size: size, block: -1}
}

func (d *objectData) fill(b int64) {
	if d.block == b {
		return
	}
	if d.buf == nil {
		d.buf = make([]byte, dataBlock)
	}
	rand.NewChaCha8(deriveKey(domainObject, d.seed, d.id, uint64(b))).Read(d.buf)
	d.block = b
}

// ReadAt reads the object's bytes at off.
func (d *objectData) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	n := 0
	for len(p) > 0 && off < d.size {
		b := off / dataBlock
		d.fill(b)
		in := off - b*dataBlock
		c := copy(p[:min(int64(len(p)), d.size-off)], d.buf[in:])
		p = p[c:]
		off += int64(c)
		n += c
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

func (d *objectData) Read(p []byte) (int, error) {
	if d.off >= d.size {
		return 0, io.EOF
	}
	n, err := d.ReadAt(p, d.off)
	d.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// verify reads r to its end and checks that it holds exactly d's n bytes
// at off. It returns how many bytes it read; a short, long or different
// body is an error that names the first offset that differs.
func verify(r io.Reader, d *objectData, off, n int64) (int64, error) {
	got := make([]byte, 32<<10)
	want := make([]byte, len(got))
	var read int64
	for {
		c, err := io.ReadFull(r, got)
		if c > 0 {
			if read+int64(c) > n {
				return read + int64(c), fmt.Errorf("body longer than the %d bytes expected", n)
			}
			if _, werr := d.ReadAt(want[:c], off+read); werr != nil {
				return read, werr
			}
			if !bytes.Equal(got[:c], want[:c]) {
				i := 0
				for got[i] == want[i] {
					i++
				}
				return read + int64(c), fmt.Errorf("bytes differ at offset %d", off+read+int64(i))
			}
			read += int64(c)
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			if read != n {
				return read, fmt.Errorf("body has %d bytes, want %d", read, n)
			}
			return read, nil
		default:
			return read, err
		}
	}
}

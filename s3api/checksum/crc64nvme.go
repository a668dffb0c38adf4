package checksum

import (
	"encoding/binary"
	"hash"
	"sync"
)

// crc64NVMEPoly is the CRC-64/NVME polynomial 0xad93d23594c93659 bit-reversed,
// the form a reflected (LSB-first) implementation uses; init and final XOR
// are all ones. It is the constant aws-sdk-go-v2 hands hash/crc64.MakeTable.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// crc64Tables are the slicing-by-8 tables of a reflected CRC-64.
type crc64Tables [8][256]uint64

// nvmeTables builds the tables once, on first use, and never changes them
// afterwards (hash/crc32 and hash/crc64 keep theirs the same way). hash/crc64
// itself is not used: for a polynomial other than ISO and ECMA it either
// runs a byte at a time or builds and allocates these 16 KiB of tables on
// every Write of 2 KiB or more.
var nvmeTables = sync.OnceValue(func() *crc64Tables { return makeCRC64Tables(crc64NVMEPoly) })

func makeCRC64Tables(poly uint64) *crc64Tables {
	t := new(crc64Tables)
	for i := range 256 {
		crc := uint64(i)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ poly
			} else {
				crc >>= 1
			}
		}
		t[0][i] = crc
	}
	for i := range 256 {
		crc := t[0][i]
		for j := 1; j < 8; j++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[j][i] = crc
		}
	}
	return t
}

// update continues crc (a finished value, as Sum64 returns) over p.
func (t *crc64Tables) update(crc uint64, p []byte) uint64 {
	crc = ^crc
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return ^crc
}

// crc64Digest is a hash.Hash64 of CRC-64/NVME.
type crc64Digest struct {
	crc uint64
	tab *crc64Tables
}

var _ hash.Hash64 = (*crc64Digest)(nil)

func newCRC64NVME() *crc64Digest { return &crc64Digest{tab: nvmeTables()} }

func (d *crc64Digest) Write(p []byte) (int, error) {
	d.crc = d.tab.update(d.crc, p)
	return len(p), nil
}

func (d *crc64Digest) Sum64() uint64  { return d.crc }
func (d *crc64Digest) Size() int      { return 8 }
func (d *crc64Digest) BlockSize() int { return 1 }
func (d *crc64Digest) Reset()         { d.crc = 0 }

// Sum appends the CRC big-endian, as hash/crc64 does and S3 encodes it.
func (d *crc64Digest) Sum(in []byte) []byte { return binary.BigEndian.AppendUint64(in, d.crc) }

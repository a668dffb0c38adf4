package checksum

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Composite returns the COMPOSITE checksum of a multipart upload as S3
// reports it: the checksum, under alg, of the parts' binary checksums
// concatenated in part order, base64, then "-" and the number of parts.
// S3 offers COMPOSITE for CRC32, CRC32C, SHA1 and SHA256 (see
// Algorithm.Composite); for CRC64NVME it only offers FULL_OBJECT.
func Composite(alg Algorithm, partSums [][]byte) string {
	h := alg.New()
	for _, s := range partSums {
		h.Write(s)
	}
	return Encode(h.Sum(nil)) + "-" + strconv.Itoa(len(partSums))
}

// Part is one part's checksum (binary, as Decode returns it) and length.
type Part struct {
	Sum  []byte
	Size int64
}

// Combine returns the FULL_OBJECT checksum of a multipart upload: the CRC
// of the whole object, computed from the parts' CRCs and lengths alone.
// It is zlib's crc32_combine generalised to any reflected CRC whose initial
// value and final XOR are equal (all ones for CRC32, CRC32C and
// CRC64NVME): then CRC(A‖B) = CRC(A)·x^(8·len(B)) ⊕ CRC(B) modulo the
// polynomial, the init and final-XOR terms cancelling. For the SHAs there
// is no such thing: ErrInvalidAlgorithm.
func Combine(alg Algorithm, parts []Part) ([]byte, error) {
	var poly uint64
	var width uint
	switch alg {
	case CRC32:
		poly, width = 0xedb88320, 32
	case CRC32C:
		poly, width = 0x82f63b78, 32
	case CRC64NVME:
		poly, width = crc64NVMEPoly, 64
	default:
		return nil, fmt.Errorf("FULL_OBJECT checksum of %s: only CRC32, CRC32C and CRC64NVME combine: %w", alg, ErrInvalidAlgorithm)
	}
	var crc uint64 // the CRC of the empty string is 0 for all three
	// Parts mostly share one size, so x^(8·size) is computed once per size.
	lastSize, shift := int64(-1), uint64(0)
	for i, p := range parts {
		if len(p.Sum) != alg.Size() {
			return nil, fmt.Errorf("part %d: %s checksum of %d bytes: %w", i+1, alg, len(p.Sum), ErrInvalidChecksum)
		}
		if p.Size < 0 {
			return nil, fmt.Errorf("part %d: negative size %d: %w", i+1, p.Size, ErrInvalidChecksum)
		}
		var c uint64
		if width == 32 {
			c = uint64(binary.BigEndian.Uint32(p.Sum))
		} else {
			c = binary.BigEndian.Uint64(p.Sum)
		}
		if p.Size == 0 {
			continue // an empty part changes nothing (its CRC is 0)
		}
		if p.Size != lastSize {
			lastSize, shift = p.Size, xPow8n(uint64(p.Size), poly, width)
		}
		crc = multModP(shift, crc, poly, width) ^ c
	}
	if width == 32 {
		return binary.BigEndian.AppendUint32(nil, uint32(crc)), nil
	}
	return binary.BigEndian.AppendUint64(nil, crc), nil
}

// multModP multiplies a and b, polynomials over GF(2) in reflected form
// (bit width-1 is x^0), modulo poly. a must not be zero.
func multModP(a, b, poly uint64, width uint) uint64 {
	m := uint64(1) << (width - 1)
	var p uint64
	for a != 0 {
		if a&m != 0 {
			p ^= b
			a &^= m
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ poly
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8n returns x^(8n) modulo poly, by squaring: O(log n) multiplications.
func xPow8n(n, poly uint64, width uint) uint64 {
	p := uint64(1) << (width - 1)  // x^0
	sq := uint64(1) << (width - 2) // x^1
	for range 3 {
		sq = multModP(sq, sq, poly, width) // x^8
	}
	for n != 0 {
		if n&1 != 0 {
			p = multModP(sq, p, poly, width)
		}
		sq = multModP(sq, sq, poly, width)
		n >>= 1
	}
	return p
}

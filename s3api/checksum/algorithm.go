package checksum

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"strings"
)

// Algorithm names an S3 additional checksum algorithm as S3 spells it in
// x-amz-sdk-checksum-algorithm and the API.
type Algorithm string

// The algorithms S3 supports.
const (
	CRC32     Algorithm = "CRC32"     // IEEE
	CRC32C    Algorithm = "CRC32C"    // Castagnoli
	CRC64NVME Algorithm = "CRC64NVME" // NVMe, reflected 0x9a6c9329ac4bc9b5
	SHA1      Algorithm = "SHA1"
	SHA256    Algorithm = "SHA256"
	// SHA512 is one of the algorithms S3 added after the first five;
	// aws-sdk-go-v2 computes it. (MD5 and the XXHASH ones, which S3 also
	// lists now, are not supported: ErrInvalidAlgorithm.)
	SHA512 Algorithm = "SHA512"
)

// Algorithms returns every supported algorithm.
func Algorithms() []Algorithm { return []Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512} }

// Parse returns the Algorithm named s, in any case; an unknown name is
// ErrInvalidAlgorithm.
func Parse(s string) (Algorithm, error) {
	for _, a := range Algorithms() {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("checksum algorithm %q: valid ones are CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512: %w", s, ErrInvalidAlgorithm)
}

// New returns a new hash computing a. It panics for an Algorithm that
// Parse would not return, like crypto.Hash.New for an unavailable hash.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)) // the Castagnoli table is cached by hash/crc32
	case CRC64NVME:
		return newCRC64NVME()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	}
	panic("checksum: New of unknown algorithm " + string(a))
}

// Size is the length in bytes of a's sums.
func (a Algorithm) Size() int {
	switch a {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME:
		return 8
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	}
	return 0
}

// Header is the header (or trailer) that carries a's value:
// "x-amz-checksum-crc32" etc.
func (a Algorithm) Header() string { return "x-amz-checksum-" + strings.ToLower(string(a)) }

// FullObject reports whether S3 accepts a as a FULL_OBJECT checksum of a
// multipart upload (the CRCs, which Combine can compute from the parts').
func (a Algorithm) FullObject() bool { return a == CRC32 || a == CRC32C || a == CRC64NVME }

// Composite reports whether S3 documents a as a COMPOSITE checksum of a
// multipart upload: CRC32, CRC32C, SHA1, SHA256 (not CRC64NVME, which is
// FULL_OBJECT only; SHA512 is not documented either way, so false).
func (a Algorithm) Composite() bool { return a == CRC32 || a == CRC32C || a == SHA1 || a == SHA256 }

// Encode returns sum as S3 sends checksums: standard base64 with padding.
func Encode(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// Decode parses a checksum value of a; a value that is not base64 of
// a.Size() bytes is ErrInvalidChecksum.
func Decode(a Algorithm, value string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(b) != a.Size() || a.Size() == 0 {
		return nil, fmt.Errorf("value %q for %s is not base64 of %d bytes: %w", value, a.Header(), a.Size(), ErrInvalidChecksum)
	}
	return b, nil
}

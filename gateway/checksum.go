package gateway

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"strconv"

	"github.com/cairn-backup/cairn/s3api"
)

// compositeChecksum is S3's COMPOSITE checksum of a multipart object: the
// algorithm over the concatenated raw part checksums, then "-N". It is empty
// when the upload announced no algorithm, when a part lacks its checksum, and
// for CRC64NVME, which S3 defines only as FULL_OBJECT (that needs combining
// the parts' CRCs, not done yet).
func compositeChecksum(alg string, parts []partRecord) s3api.Checksum {
	var h hash.Hash
	switch alg {
	case "CRC32":
		h = crc32.NewIEEE()
	case "CRC32C":
		h = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "SHA1":
		h = sha1.New()
	case "SHA256":
		h = sha256.New()
	default:
		return s3api.Checksum{}
	}
	for _, p := range parts {
		if p.Checksum.Algorithm != alg || p.Checksum.Value == "" {
			return s3api.Checksum{}
		}
		raw, err := base64.StdEncoding.DecodeString(p.Checksum.Value)
		if err != nil {
			return s3api.Checksum{}
		}
		h.Write(raw)
	}
	return s3api.Checksum{
		Algorithm: alg,
		Value:     base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)),
		Type:      "COMPOSITE",
	}
}

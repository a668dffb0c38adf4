package gateway

import (
	"encoding/base64"

	"github.com/cairn-backup/cairn/s3api"
	"github.com/cairn-backup/cairn/s3api/checksum"
)

// multipartChecksum is a multipart object's checksum as S3 defines it for
// the upload's algorithm and type: COMPOSITE, the algorithm over the
// concatenated raw part checksums then "-N"; FULL_OBJECT, the CRC of the
// whole object, combined from the parts' CRCs and lengths without reading
// data. It is empty when the upload announced no algorithm or a part lacks
// its checksum.
func multipartChecksum(u uploadRecord, parts []partRecord) s3api.Checksum {
	alg, err := checksum.Parse(u.ChecksumAlgorithm)
	if err != nil {
		return s3api.Checksum{}
	}
	sums := make([]checksum.Part, len(parts))
	for i, p := range parts {
		if p.Checksum.Algorithm != string(alg) || p.Checksum.Value == "" {
			return s3api.Checksum{}
		}
		raw, err := checksum.Decode(alg, p.Checksum.Value)
		if err != nil {
			return s3api.Checksum{}
		}
		sums[i] = checksum.Part{Sum: raw, Size: p.Size}
	}
	typ := u.ChecksumType
	if typ == "" && alg.FullObject() && !alg.Composite() {
		typ = "FULL_OBJECT"
	}
	if typ == "FULL_OBJECT" {
		sum, err := checksum.Combine(alg, sums)
		if err != nil {
			return s3api.Checksum{}
		}
		return s3api.Checksum{Algorithm: string(alg), Value: base64.StdEncoding.EncodeToString(sum), Type: "FULL_OBJECT"}
	}
	raws := make([][]byte, len(sums))
	for i, s := range sums {
		raws[i] = s.Sum
	}
	return s3api.Checksum{Algorithm: string(alg), Value: checksum.Composite(alg, raws), Type: "COMPOSITE"}
}

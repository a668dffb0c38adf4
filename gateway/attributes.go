package gateway

import (
	"context"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// ObjectParts answers a version's info and, for an object completed from a
// multipart upload, its parts in completion order (numbered from 1, as
// GetObject ?partNumber numbers them), with their checksums when the upload
// announced an algorithm. Both come from one read transaction, so they
// describe the same version.
func (g *Gateway) ObjectParts(ctx context.Context, bucket, key, versionID string) (s3api.ObjectInfo, []s3api.ObjectPart, error) {
	var (
		info  s3api.ObjectInfo
		parts []s3api.ObjectPart
	)
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		info = g.described(k, key, v)
		if err != nil {
			return err
		}
		if len(v.rec.PartSizes) == 0 {
			return nil
		}
		parts = make([]s3api.ObjectPart, len(v.rec.PartSizes))
		for i, sz := range v.rec.PartSizes {
			parts[i] = s3api.ObjectPart{PartNumber: i + 1, Size: sz}
			if i < len(v.rec.PartChecksums) && v.rec.PartChecksums[i] != "" {
				parts[i].Checksum = s3api.Checksum{Algorithm: v.rec.Checksum.Algorithm, Value: v.rec.PartChecksums[i]}
			}
		}
		return nil
	})
	return info, parts, mapErr(err)
}

var _ s3api.ObjectAttributesBackend = (*Gateway)(nil)

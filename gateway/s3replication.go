package gateway

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// The S3 face of replication: PutBucketReplication and its kin, on the
// relationships of replication.go. A rule's destination names the remote
// and the replica bucket in its ARN, arn:cairn:s3:::REMOTE/BUCKET
// (arn:aws:s3:::REMOTE/BUCKET is taken too, for tools that insist on AWS's
// partition); a bucket replicates to one destination, whatever its rules.

var _ s3api.ReplicationBackend = (*Gateway)(nil)

// parseDestination reads REMOTE and BUCKET out of a destination ARN.
func parseDestination(arn string) (remote, bucket string, err error) {
	for _, p := range []string{"arn:cairn:s3:::", "arn:aws:s3:::"} {
		if rest, ok := strings.CutPrefix(arn, p); ok {
			if r, b, ok := strings.Cut(rest, "/"); ok && r != "" && s3api.BucketNameProblem(b) == "" {
				return r, b, nil
			}
		}
	}
	return "", "", s3api.ErrInvalidArgument.WithMessagef("Invalid destination %q: Cairn names a replica as arn:cairn:s3:::REMOTE/BUCKET, REMOTE a remote of cairn admin remote ls", arn)
}

// PutBucketReplication sets the bucket's relationship from an S3 document.
func (g *Gateway) PutBucketReplication(ctx context.Context, bucket string, cfg s3api.ReplicationConfig) error {
	var rec replRecord
	for i, r := range cfg.Rules {
		remote, dst, err := parseDestination(r.DestinationBucket)
		if err != nil {
			return err
		}
		if i > 0 && (remote != rec.Remote || dst != rec.Bucket) {
			return s3api.ErrInvalidRequest.WithMessagef("Cairn replicates a bucket to one destination; the rules name %s/%s and %s/%s", rec.Remote, rec.Bucket, remote, dst)
		}
		rec.Remote, rec.Bucket = remote, dst
		rec.Rules = append(rec.Rules, replRule{
			ID: r.ID, Priority: r.Priority, Enabled: r.Status == "Enabled", Prefix: r.Prefix, Tags: maps.Clone(r.Tags),
			DeleteMarkers: r.DeleteMarkerReplication || !r.Filter, // V1 rules replicate delete markers, as S3's do
			Filter:        r.Filter, StorageClass: r.DestinationStorageClass, Existing: r.ExistingObjectReplication,
		})
	}
	rec.Role = cfg.Role
	// The admin's settings of an existing relationship stay.
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if cur := k.rec.Replication; cur != nil {
			rec.Schedule, rec.Bandwidth, rec.Paused = cur.Schedule, cur.Bandwidth, cur.Paused
		}
		return nil
	})
	if err != nil {
		return mapErr(err)
	}
	if err := g.setReplication(ctx, bucket, false, rec); err != nil {
		var ae *AdminError
		if errors.As(err, &ae) {
			return s3api.ErrInvalidRequest.WithMessage(ae.Message)
		}
		return err
	}
	return nil
}

// GetBucketReplication answers the bucket's relationship as S3 rules.
func (g *Gateway) GetBucketReplication(ctx context.Context, bucket string) (s3api.ReplicationConfig, error) {
	var out s3api.ReplicationConfig
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		r := k.rec.Replication
		if r == nil {
			return s3api.ErrReplicationConfigurationNotFound
		}
		out.Role = r.Role
		for _, rule := range r.Rules {
			status := "Disabled"
			if rule.Enabled {
				status = "Enabled"
			}
			out.Rules = append(out.Rules, s3api.ReplicationRule{
				ID: rule.ID, Priority: rule.Priority, Status: status, Prefix: rule.Prefix, Tags: maps.Clone(rule.Tags),
				Filter: rule.Filter, DeleteMarkerReplication: rule.DeleteMarkers,
				DestinationBucket: "arn:cairn:s3:::" + r.Remote + "/" + r.Bucket, DestinationStorageClass: rule.StorageClass,
				ExistingObjectReplication: rule.Existing,
			})
		}
		return nil
	})
	return out, mapErr(err)
}

// DeleteBucketReplication ends the bucket's relationship (none: done).
func (g *Gateway) DeleteBucketReplication(ctx context.Context, bucket string) error {
	err := g.RemoveReplication(ctx, bucket)
	if errors.Is(err, s3api.ErrReplicationConfigurationNotFound) {
		return nil
	}
	return err
}

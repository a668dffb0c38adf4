package gateway

import (
	"context"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/s3api"
)

// ListBuckets lists every bucket in name order.
func (g *Gateway) ListBuckets(ctx context.Context) ([]s3api.BucketInfo, error) {
	var out []s3api.BucketInfo
	err := g.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEachBucket(func(name []byte) error {
			k, err := openBkt(tx, string(name))
			if err != nil {
				return err
			}
			out = append(out, k.bucketInfo())
			return nil
		})
	})
	return out, mapErr(err)
}

func (k *bkt) bucketInfo() s3api.BucketInfo {
	loc := k.rec.Group
	if loc == DefaultGroup {
		loc = ""
	}
	return s3api.BucketInfo{Name: k.name, Created: k.rec.Created, Location: loc}
}

// locationGroup maps a CreateBucket LocationConstraint to a storage group.
func (g *Gateway) locationGroup(location string) (string, error) {
	if location == "" || location == g.cfg.Region || location == DefaultGroup {
		return DefaultGroup, nil
	}
	if _, ok := g.groups[location]; ok {
		return location, nil
	}
	return "", s3api.ErrInvalidLocationConstraint.WithMessagef(
		"The specified location constraint is not valid: %q is neither the region %q nor a storage group.", location, g.cfg.Region)
}

// CreateBucket creates bucket name in the storage group location names.
func (g *Gateway) CreateBucket(ctx context.Context, name, location string) error {
	grp, err := g.locationGroup(location)
	if err != nil {
		return err
	}
	err = g.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bktBuckets)
		if root.Bucket([]byte(name)) != nil {
			return s3api.ErrBucketAlreadyOwnedByYou
		}
		b, err := root.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		for _, sub := range [][]byte{bktCur, bktVer, bktNul, bktUpl, bktPrt} {
			if _, err := b.CreateBucket(sub); err != nil {
				return err
			}
		}
		k := &bkt{name: name, b: b, rec: bucketRecord{Created: time.Now().UTC(), Group: grp}}
		return k.saveInfo()
	})
	if err == nil {
		g.log.Info("bucket created", "bucket", name, "group", grp)
	}
	return mapErr(err)
}

// HeadBucket describes bucket name.
func (g *Gateway) HeadBucket(ctx context.Context, name string) (s3api.BucketInfo, error) {
	var out s3api.BucketInfo
	err := g.db.View(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		out = k.bucketInfo()
		return nil
	})
	return out, mapErr(err)
}

// DeleteBucket deletes an empty bucket: no version, delete marker or upload.
func (g *Gateway) DeleteBucket(ctx context.Context, name string) error {
	err := g.db.Update(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		if first, _ := k.ver.Cursor().First(); first != nil {
			return s3api.ErrBucketNotEmpty
		}
		if first, _ := k.upl.Cursor().First(); first != nil {
			return s3api.ErrBucketNotEmpty.WithMessage("The bucket you tried to delete has multipart uploads in progress.")
		}
		return tx.Bucket(bktBuckets).DeleteBucket([]byte(name))
	})
	if err == nil {
		g.log.Info("bucket deleted", "bucket", name)
	}
	return mapErr(err)
}

// GetBucketVersioning answers the bucket's versioning state.
func (g *Gateway) GetBucketVersioning(ctx context.Context, name string) (s3api.Versioning, error) {
	var out s3api.Versioning
	err := g.db.View(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		out = k.rec.Versioning
		return nil
	})
	return out, mapErr(err)
}

// PutBucketVersioning enables or suspends versioning. A bucket cannot go
// back to never having had versioning.
func (g *Gateway) PutBucketVersioning(ctx context.Context, name string, v s3api.Versioning) error {
	if v != s3api.VersioningEnabled && v != s3api.VersioningSuspended {
		return s3api.ErrIllegalVersioningConfiguration.WithMessagef("The versioning status %q is not Enabled or Suspended.", v)
	}
	return mapErr(g.updateBucket(name, func(k *bkt) error {
		k.rec.Versioning = v
		return nil
	}))
}

// GetBucketTagging answers the bucket's tags, or ErrNoSuchTagSet.
func (g *Gateway) GetBucketTagging(ctx context.Context, name string) (map[string]string, error) {
	var out map[string]string
	err := g.db.View(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		if len(k.rec.Tags) == 0 {
			return s3api.ErrNoSuchTagSet
		}
		out = maps.Clone(k.rec.Tags)
		return nil
	})
	return out, mapErr(err)
}

// PutBucketTagging replaces the bucket's tags.
func (g *Gateway) PutBucketTagging(ctx context.Context, name string, tags map[string]string) error {
	return mapErr(g.updateBucket(name, func(k *bkt) error {
		k.rec.Tags = maps.Clone(tags)
		return nil
	}))
}

// DeleteBucketTagging removes the bucket's tags.
func (g *Gateway) DeleteBucketTagging(ctx context.Context, name string) error {
	return mapErr(g.updateBucket(name, func(k *bkt) error {
		k.rec.Tags = nil
		return nil
	}))
}

func (g *Gateway) updateBucket(name string, fn func(k *bkt) error) error {
	return g.db.Update(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		return k.saveInfo()
	})
}

// checkBucketGroups refuses to start when a bucket lives in a group that is
// not configured: its data would be unreachable, and the orphan reconcile
// could not account for it.
func (g *Gateway) checkBucketGroups() error {
	dirs := g.cfg.GroupDirs()
	return g.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEachBucket(func(name []byte) error {
			k, err := openBkt(tx, string(name))
			if err != nil {
				return err
			}
			if _, ok := dirs[k.rec.Group]; !ok {
				return fmt.Errorf("bucket %s lives in storage group %q, which is not configured (add --group %s=DIR)", name, k.rec.Group, k.rec.Group)
			}
			return nil
		})
	})
}

// bucketGroup reads a bucket's record and resolves its group, outside any
// write transaction: writers stream into the group before they record.
func (g *Gateway) bucketGroup(name string) (bucketRecord, *group, error) {
	var rec bucketRecord
	err := g.db.View(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, name)
		if err != nil {
			return err
		}
		rec = k.rec
		return nil
	})
	if err != nil {
		return rec, nil, err
	}
	gr, err := g.group(rec.Group)
	return rec, gr, err
}

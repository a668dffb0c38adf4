package gateway

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// ListBuckets lists every bucket in name order.
func (g *Gateway) ListBuckets(ctx context.Context) ([]s3api.BucketInfo, error) {
	var out []s3api.BucketInfo
	for _, gr := range g.groupList() {
		err := gr.store.View(func(tx *chunkstore.Tx) error {
			return eachBucket(tx, func(k *bkt) error {
				if !g.mayList(ctx, k.access0().Owner) {
					return nil
				}
				out = append(out, k.bucketInfo())
				return nil
			})
		})
		if err != nil {
			return nil, mapErr(err)
		}
	}
	slices.SortFunc(out, func(a, b s3api.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
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
	if _, err := g.group(location); err == nil {
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
	gr, err := g.group(grp)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if held := g.buckets[name]; held != nil {
		return g.alreadyExists(ctx, held, name)
	}
	if err := g.mayHoldBuckets(gr); err != nil {
		return err
	}
	err = gr.store.Update(func(tx *chunkstore.Tx) error {
		if err := nameGroup(tx, grp); err != nil {
			return err
		}
		root, err := tx.Bucket().CreateBucketIfNotExists(bktBuckets)
		if err != nil {
			return err
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
		if owner := g.ownerOf(ctx); owner != "" {
			k.rec.Access = &accessRecord{Owner: owner}
		}
		if acl, err := g.expandACL(s3api.RequestACL(ctx), g.ownerOf(ctx), nil); err != nil {
			return err
		} else if acl != nil {
			k.access().ACL = acl
		}
		return k.saveInfo()
	})
	if err != nil {
		return mapErr(err)
	}
	g.buckets[name] = gr
	g.forgetAccess(name)
	g.log.Info("bucket created", "bucket", name, "group", grp)
	return nil
}

// HeadBucket describes bucket name.
func (g *Gateway) HeadBucket(ctx context.Context, name string) (s3api.BucketInfo, error) {
	var out s3api.BucketInfo
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		out = k.bucketInfo()
		return nil
	})
	return out, mapErr(err)
}

// DeleteBucket deletes an empty bucket: no version, delete marker or upload.
func (g *Gateway) DeleteBucket(ctx context.Context, name string) error {
	if err := g.writable(name); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := g.buckets[name]
	if gr == nil {
		return noSuchBucket(name)
	}
	err := updateIn(gr, name, func(tx *chunkstore.Tx, k *bkt) error {
		if first, _ := k.ver.Cursor().First(); first != nil {
			return s3api.ErrBucketNotEmpty
		}
		// S3 deletes a bucket whose only content is multipart uploads in
		// progress, and the uploads with it (S3 general purpose buckets;
		// Scality and RGW changed to match). Their parts' manifests are
		// released here, in the transaction that drops the records.
		if err := k.releaseAllParts(); err != nil {
			return err
		}
		if err := k.noteBucketForget(g.tiers.reg.Names()); err != nil {
			return err
		}
		return tx.Bucket().Bucket(bktBuckets).DeleteBucket([]byte(name))
	})
	if err != nil {
		return mapErr(err)
	}
	delete(g.buckets, name)
	g.forgetAccess(name)
	g.replicas.Delete(name)
	g.seedPending.Delete(name)
	g.log.Info("bucket deleted", "bucket", name)
	if _, ok := g.replSources.LoadAndDelete(name); ok {
		// Its relationship went with it; the replica is told, later.
		if s := g.sender(name); s != nil {
			rec := s.record()
			go func() {
				g.stopSender(name)
				g.releaseReplica(context.Background(), name, rec)
			}()
		}
	}
	return nil
}

// GetBucketVersioning answers the bucket's versioning state.
func (g *Gateway) GetBucketVersioning(ctx context.Context, name string) (s3api.Versioning, error) {
	var out s3api.Versioning
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		out = s3api.Versioning(k.rec.Versioning)
		return nil
	})
	return out, mapErr(err)
}

// PutBucketVersioning enables or suspends versioning. A bucket cannot go
// back to never having had versioning.
func (g *Gateway) PutBucketVersioning(ctx context.Context, name string, v s3api.Versioning) error {
	if err := g.writable(name); err != nil {
		return err
	}
	if _, ok := g.replSources.Load(name); ok && v != s3api.VersioningEnabled {
		return s3api.ErrInvalidBucketState.WithMessage("A replication configuration is present on this bucket, so the versioning state cannot be changed.")
	}
	if v != s3api.VersioningEnabled && v != s3api.VersioningSuspended {
		return s3api.ErrIllegalVersioningConfiguration.WithMessagef("The versioning status %q is not Enabled or Suspended.", v)
	}
	return mapErr(g.updateInfo(name, func(k *bkt) error {
		if k.rec.Lock != nil && v != s3api.VersioningEnabled {
			return s3api.ErrLockKeepsVersioning
		}
		k.rec.Versioning = string(v)
		return nil
	}))
}

// GetBucketTagging answers the bucket's tags, or ErrNoSuchTagSet.
func (g *Gateway) GetBucketTagging(ctx context.Context, name string) (map[string]string, error) {
	var out map[string]string
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
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
	if err := g.writable(name); err != nil {
		return err
	}
	return mapErr(g.updateInfo(name, func(k *bkt) error {
		k.rec.Tags = maps.Clone(tags)
		return nil
	}))
}

// DeleteBucketTagging removes the bucket's tags.
func (g *Gateway) DeleteBucketTagging(ctx context.Context, name string) error {
	if err := g.writable(name); err != nil {
		return err
	}
	return mapErr(g.updateInfo(name, func(k *bkt) error {
		k.rec.Tags = nil
		return nil
	}))
}

// updateInfo changes a bucket's info record.
func (g *Gateway) updateInfo(name string, fn func(k *bkt) error) error {
	return g.updateBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		if err := fn(k); err != nil {
			return err
		}
		return k.saveInfo()
	})
}

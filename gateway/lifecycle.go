package gateway

// Bucket lifecycle configuration and cloud policies: stored beside the
// bucket's info, parsed and validated by package policy, and applied by the
// scanner (lcscan.go). A bucket's info names the stamp of its configuration's
// last change, so that the parsed form can be cached by (bucket, stamp) and a
// request that reads an older record never sees a newer configuration, or
// the reverse.

import (
	"context"
	"errors"
	"sync"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/policy"
	"github.com/cairn-backup/cairn/s3api"
)

var (
	keyLifecycle   = []byte("lc")   // the lifecycle configuration, canonical XML
	keyCloudPolicy = []byte("cp")   // the cloud policy, JSON
	keyScan        = []byte("scan") // scanRecord: the scanner's durable cursor and counts
)

// rulesCache holds parsed configurations by bucket; an entry is good for
// the stamp it was parsed at.
type rulesCache struct {
	mu sync.Mutex
	m  map[string]cachedRules
}

type cachedRules struct {
	stamp uint64
	lc    *policy.Lifecycle
	cp    *policy.CloudPolicy
}

// rules returns the bucket's parsed lifecycle configuration and cloud
// policy as this transaction sees them; nil when it has none.
func (g *Gateway) rules(k *bkt) (*policy.Lifecycle, *policy.CloudPolicy, error) {
	stamp := k.rec.RulesStamp
	if stamp == 0 {
		return nil, nil, nil
	}
	g.rulesCache.mu.Lock()
	c, ok := g.rulesCache.m[k.name]
	g.rulesCache.mu.Unlock()
	if ok && c.stamp == stamp {
		return c.lc, c.cp, nil
	}
	c = cachedRules{stamp: stamp}
	// What is stored was validated when it was put; a tier removed since
	// cannot be (tier rm refuses while a rule names it), so it parses
	// without the tier check.
	anyTier := func(string) bool { return true }
	var err error
	if doc := k.b.Get(keyLifecycle); doc != nil {
		if c.lc, err = policy.ParseLifecycle(doc, anyTier); err != nil {
			return nil, nil, errors.Join(errors.New("bucket "+k.name+": stored lifecycle configuration"), err)
		}
	}
	if doc := k.b.Get(keyCloudPolicy); doc != nil {
		if c.cp, err = policy.ParseCloudPolicy(doc, anyTier); err != nil {
			return nil, nil, errors.Join(errors.New("bucket "+k.name+": stored cloud policy"), err)
		}
	}
	g.rulesCache.mu.Lock()
	if g.rulesCache.m == nil {
		g.rulesCache.m = map[string]cachedRules{}
	}
	g.rulesCache.m[k.name] = c
	g.rulesCache.mu.Unlock()
	return c.lc, c.cp, nil
}

// hasTier reports whether a tier of that name is configured: transitions
// and cloud policies may name only those.
func (g *Gateway) hasTier(name string) bool { return g.tiers.has(name) }

// clock is the lifecycle clock: how long a lifecycle day lasts.
func (g *Gateway) clock() policy.Clock { return policy.Clock{Day: g.cfg.LifecycleDay} }

// described is k.info with x-amz-expiration filled in for a current
// version that a lifecycle rule will expire.
func (g *Gateway) described(k *bkt, key string, v version) s3api.ObjectInfo {
	info := k.info(key, v)
	if !v.latest || v.rec.DeleteMarker {
		return info
	}
	lc, _, err := g.rules(k)
	if err != nil {
		g.log.Error("lifecycle configuration", "bucket", k.name, "err", err)
		return info
	}
	if lc == nil {
		return info
	}
	if due, id, ok := lc.Expiry(k.policyVersion(key, v, true), g.clock()); ok {
		info.Expiration = policy.ExpirationHeader(due, id)
	}
	return info
}

// policyVersion is what policy needs to know of a version.
func (k *bkt) policyVersion(key string, v version, latest bool) policy.Version {
	return policy.Version{
		Versioned:    k.versioning() != s3api.VersioningUnset,
		StorageClass: v.rec.Tier,
		TierOnly:     v.rec.TierOnly,
		Key:          key,
		Size:         v.rec.Size,
		Tags:         v.rec.Meta.Tags,
		ModTime:      v.rec.Modified,
		IsLatest:     latest,
		DeleteMarker: v.rec.DeleteMarker,
	}
}

// policyError turns a validation error of package policy into the S3 error
// it names.
func policyError(err error) error {
	var pe *policy.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "MalformedXML":
		return s3api.ErrMalformedXML.WithMessage(pe.Message)
	case "InvalidStorageClass":
		return s3api.ErrInvalidStorageClass.WithMessage(pe.Message)
	case "InvalidRequest":
		return s3api.ErrInvalidRequest.WithMessage(pe.Message)
	default:
		return s3api.ErrInvalidArgument.WithMessage(pe.Message)
	}
}

// setRules replaces (doc non-nil) or removes the document under key and
// marks the bucket's rules changed.
func (g *Gateway) setRules(bucket string, key, doc []byte, missing error) error {
	return g.updateBucket(bucket, func(tx *chunkstore.Tx, k *bkt) error {
		if doc == nil {
			if k.b.Get(key) == nil {
				if missing != nil {
					return missing
				}
				return nil
			}
			if err := k.b.Delete(key); err != nil {
				return err
			}
		} else if err := k.b.Put(key, doc); err != nil {
			return err
		}
		stamp, err := nextStamp(tx)
		if err != nil {
			return err
		}
		k.rec.RulesStamp = stamp
		if k.b.Get(keyLifecycle) == nil && k.b.Get(keyCloudPolicy) == nil {
			k.rec.RulesStamp = 0
		}
		return k.saveInfo()
	})
}

// GetBucketLifecycle answers the configuration in its canonical form.
func (g *Gateway) GetBucketLifecycle(_ context.Context, name string) ([]byte, error) {
	var doc []byte
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		lc, _, err := g.rules(k)
		if err != nil {
			return err
		}
		if lc == nil {
			return s3api.ErrNoSuchLifecycleConfiguration.WithMessagef("The lifecycle configuration does not exist: bucket %s has none.", name)
		}
		doc, err = lc.Marshal()
		return err
	})
	return doc, mapErr(err)
}

// PutBucketLifecycle validates and stores a configuration; the next scan
// applies it.
func (g *Gateway) PutBucketLifecycle(_ context.Context, name string, doc []byte) error {
	if err := g.writable(name); err != nil {
		return err
	}
	if _, err := g.bucketGroup(name); err != nil {
		return err
	}
	lc, err := policy.ParseLifecycle(doc, g.hasTier)
	if err != nil {
		return policyError(err)
	}
	canon, err := lc.Marshal()
	if err != nil {
		return err
	}
	return mapErr(g.setRules(name, keyLifecycle, canon, nil))
}

// DeleteBucketLifecycle removes the configuration; deleting none succeeds,
// as in S3.
func (g *Gateway) DeleteBucketLifecycle(_ context.Context, name string) error {
	if err := g.writable(name); err != nil {
		return err
	}
	return mapErr(g.setRules(name, keyLifecycle, nil, nil))
}

// noBucketNamed is the admin API's answer to a request without ?bucket=.
var noBucketNamed = s3api.ErrInvalidArgument.WithMessage("name the bucket: ?bucket=NAME")

// GetCloudPolicy answers a bucket's cloud policy as JSON.
func (g *Gateway) GetCloudPolicy(_ context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, noBucketNamed
	}
	var doc []byte
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		_, cp, err := g.rules(k)
		if err != nil {
			return err
		}
		if cp == nil {
			return s3api.ErrNoSuchKey.WithMessagef("Bucket %s has no cloud policy.", name)
		}
		doc, err = cp.MarshalJSON()
		return err
	})
	return doc, err
}

// PutCloudPolicy validates and sets a bucket's cloud policy.
func (g *Gateway) PutCloudPolicy(_ context.Context, name string, doc []byte) error {
	if name == "" {
		return noBucketNamed
	}
	if _, err := g.bucketGroup(name); err != nil {
		return err
	}
	cp, err := policy.ParseCloudPolicy(doc, g.hasTier)
	if err != nil {
		return err
	}
	canon, err := cp.MarshalJSON()
	if err != nil {
		return err
	}
	return g.setRules(name, keyCloudPolicy, canon, nil)
}

// DeleteCloudPolicy removes a bucket's cloud policy.
func (g *Gateway) DeleteCloudPolicy(_ context.Context, name string) error {
	if name == "" {
		return noBucketNamed
	}
	return g.setRules(name, keyCloudPolicy, nil, s3api.ErrNoSuchKey.WithMessagef("Bucket %s has no cloud policy.", name))
}

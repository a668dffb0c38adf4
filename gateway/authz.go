package gateway

// Authorization: gateway implements s3api.Authorizer. The evaluation order
// is AWS's, with each Cairn user standing for an account of its own (so
// that a backup client's key has rights to its own buckets only, and to
// another's only where that bucket's policy grants them):
//
//  1. An explicit Deny in the bucket policy or in the user's policy: denied.
//     This is the one thing that stops root, as it stops AWS's account root.
//  2. Root (the root key): allowed.
//  3. Anonymous: allowed only where the bucket policy allows (Principal
//     "*") and the public access block does not restrict public buckets,
//     or an ACL grants AllUsers (unless IgnorePublicAcls).
//  4. The owner of the bucket (and anyone, for a bucket that does not exist:
//     the operation then answers NoSuchBucket, or creates it): allowed when
//     the user's policy or the bucket policy allows.
//  5. Another user: allowed when the user's policy allows and the bucket
//     policy or an ACL allows too (cross-account access needs both, as on
//     AWS); never the bucket's policy calls, which are its owner's alone.
//
// Anything else is an implicit deny: AccessDenied, with S3's message and
// nothing more, so a refusal never tells whether an object exists.

import (
	"context"
	"errors"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/access"
	"github.com/cairn-backup/cairn/s3api"
)

// accessRecord is a bucket's owner and access configuration, in its
// bucketRecord.
type accessRecord struct {
	// Owner is the owning user's canonical ID; "" is root.
	Owner string `json:"owner,omitempty"`
	// Policy is the bucket policy as the client sent it (GetBucketPolicy
	// answers it byte for byte); "" when none.
	Policy string `json:"policy,omitempty"`
	// PublicAccessBlock, when set, is the bucket's public access block.
	PublicAccessBlock *pabRecord `json:"pab,omitempty"`
	// Ownership is the bucket's ObjectOwnership control ("" when none).
	Ownership string `json:"ownership,omitempty"`
	// ACL is the bucket's ACL grants (acl.go); nil when private.
	ACL []grantRecord `json:"acl,omitempty"`
}

// pabRecord is a bucket's public access block.
type pabRecord struct {
	BlockPublicAcls       bool `json:"block_public_acls,omitempty"`
	IgnorePublicAcls      bool `json:"ignore_public_acls,omitempty"`
	BlockPublicPolicy     bool `json:"block_public_policy,omitempty"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets,omitempty"`
}

func (p pabRecord) s3() s3api.PublicAccessBlock { return s3api.PublicAccessBlock(p) }

// bucketAccess is a bucket's accessRecord parsed, cached in g.access.
type bucketAccess struct {
	owner  string
	policy *access.Policy
	pab    pabRecord
	// acl is the bucket's grants; aclsOff says BucketOwnerEnforced
	// disabled ACLs (the bucket's and its objects').
	acl     []access.Grant
	aclsOff bool
}

var _ s3api.Authorizer = (*Gateway)(nil)

// bucketAccessOf answers the bucket's access, nil when it does not exist.
func (g *Gateway) bucketAccessOf(name string) (*bucketAccess, error) {
	if v, ok := g.access.Load(name); ok {
		return v.(*bucketAccess), nil
	}
	g.accessMu.Lock()
	gen := g.accessGen
	g.accessMu.Unlock()
	var rec accessRecord
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Access != nil {
			rec = *k.rec.Access
		}
		return nil
	})
	if errors.Is(err, s3api.ErrNoSuchBucket) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ba := &bucketAccess{owner: rec.Owner, acl: accessGrants(rec.ACL), aclsOff: rec.Ownership == "BucketOwnerEnforced"}
	if rec.PublicAccessBlock != nil {
		ba.pab = *rec.PublicAccessBlock
	}
	if rec.Policy != "" {
		// Validated when it was set; the users it names may have gone
		// since, which only makes their statements match no one.
		p, err := access.Parse([]byte(rec.Policy), access.Options{Kind: access.BucketPolicy, Bucket: name})
		if err != nil {
			g.log.Error("bucket policy no longer parses; ignoring it", "bucket", name, "err", err)
		}
		ba.policy = p
	}
	// A change that committed since the read above (its forgetAccess
	// moved the generation on) must not be hidden by caching what was
	// read before it.
	g.accessMu.Lock()
	if g.accessGen == gen {
		g.access.Store(name, ba)
	}
	g.accessMu.Unlock()
	return ba, nil
}

// forgetAccess drops a bucket's cached access after a change commits.
func (g *Gateway) forgetAccess(name string) {
	g.accessMu.Lock()
	g.accessGen++
	g.access.Delete(name)
	g.accessMu.Unlock()
}

// Authorize implements s3api.Authorizer.
func (g *Gateway) Authorize(ctx context.Context, req s3api.AuthRequest) (s3api.AuthResult, error) {
	var res s3api.AuthResult
	ar := access.Request{Action: req.Action, Context: make([]access.ContextValue, 0, len(req.Conditions)+2)}
	if req.Bucket != "" {
		ar.Resource = access.ResourceARN(req.Bucket, req.Key)
	}
	for _, c := range req.Conditions {
		ar.Context = append(ar.Context, access.ContextValue{Key: c.Key, Values: c.Values})
	}
	var id *identity
	g.ids.mu.RLock()
	e, isUser := g.ids.mu.byKey[req.AccessKey]
	g.ids.mu.RUnlock()
	switch root := g.rootKey(); {
	case req.AccessKey == "":
		ar.Principal.Anonymous = true
	case req.AccessKey == root || (root == "" && !isUser):
		// With no root key named (SetRoot: an embedder whose own
		// Config.Secret authenticates), a key that is no user's is root.
		ar.Principal = access.Principal{Root: true, CanonicalID: req.AccessKey}
		res.OwnerID, res.OwnerName = req.AccessKey, req.AccessKey
	default:
		if !isUser || e.id.disabled {
			// Authenticated a moment ago, removed or disabled since.
			return res, s3api.ErrAccessDenied
		}
		id = e.id
		ar.Principal = access.Principal{User: id.name, CanonicalID: id.canonicalID}
		ar.Set("aws:username", id.name)
		ar.Set("aws:userid", id.canonicalID)
		res.OwnerID, res.OwnerName = id.canonicalID, id.name
		res.NoOverwrite = id.noOverwrite
	}

	var ba *bucketAccess
	if req.Bucket != "" {
		var err error
		if ba, err = g.bucketAccessOf(req.Bucket); err != nil {
			return res, err
		}
	}
	if ba != nil && req.Key != "" && ba.policy.UsesExistingObjectTags() {
		// s3:ExistingObjectTag/<key> needs the object's tags; only
		// policies that test them pay for the lookup.
		if tags, _, err := g.GetObjectTagging(ctx, req.Bucket, req.Key, ""); err == nil {
			for k, v := range tags {
				ar.Set("s3:existingobjecttag/"+k, v)
			}
		}
	}
	if ba != nil {
		res.OwnerID, res.OwnerName = g.ownerIdentity(ba.owner)
	}
	bucketSays := access.NoMatch
	if ba != nil {
		bucketSays = ba.policy.Evaluate(&ar)
		if bucketSays == access.Allowed && !ar.Principal.Root && ba.pab.RestrictPublicBuckets && ba.policy.IsPublic() {
			// RestrictPublicBuckets: a public policy grants to no one
			// but the owner's own users (here: no one outside the
			// owner).
			if id == nil || id.canonicalID != ba.owner {
				bucketSays = access.NoMatch
			}
		}
	}
	if bucketSays == access.Denied {
		return res, s3api.ErrAccessDenied
	}
	if ar.Principal.Root {
		return res, nil
	}
	if ar.Principal.Anonymous {
		if bucketSays == access.Allowed || g.aclAllows(ba, &ar, req) {
			return res, nil
		}
		return res, s3api.ErrAccessDenied
	}
	userSays := id.policy.Evaluate(&ar)
	if userSays == access.Denied {
		return res, s3api.ErrAccessDenied
	}
	owner := ba == nil || ba.owner == id.canonicalID
	if req.Action == "s3:CreateBucket" {
		// An existing bucket's owner is not the question: CreateBucket
		// then answers that it exists.
		owner = true
	}
	switch {
	case !owner && (req.Action == "s3:PutBucketPolicy" || req.Action == "s3:GetBucketPolicy" || req.Action == "s3:DeleteBucketPolicy"):
		// S3 answers a bucket's policy calls to its owner alone, whatever
		// a policy grants others.
		return res, s3api.ErrAccessDenied
	case owner && (userSays == access.Allowed || bucketSays == access.Allowed):
		return res, nil
	case !owner && userSays == access.Allowed && (bucketSays == access.Allowed || g.aclAllows(ba, &ar, req)):
		return res, nil
	}
	return res, s3api.ErrAccessDenied
}

// aclAllows says whether the bucket's ACL, or the object's, grants the
// request's action to its principal. The object's ACL is read only when
// the action is one an object ACL can grant.
func (g *Gateway) aclAllows(ba *bucketAccess, ar *access.Request, req s3api.AuthRequest) bool {
	if ba == nil || ba.aclsOff {
		return false
	}
	ignorePublic := ba.pab.IgnorePublicAcls
	if access.ACLAllows(ba.acl, &ar.Principal, req.Action, false, ignorePublic) {
		return true
	}
	if req.Key == "" || !access.ACLAction(req.Action, true) {
		return false
	}
	var vid string
	for _, c := range req.Conditions {
		if c.Key == "s3:versionid" && len(c.Values) == 1 {
			vid = c.Values[0]
		}
	}
	return access.ACLAllows(g.objectGrants(req.Bucket, req.Key, vid), &ar.Principal, req.Action, true, ignorePublic)
}

// mayList says whether the caller of ctx sees a bucket owned by owner in
// ListBuckets: root sees all, a user its own.
func (g *Gateway) mayList(ctx context.Context, owner string) bool {
	id := g.caller(ctx)
	if id == nil {
		return true
	}
	return id.canonicalID == owner
}

// GetBucketPolicy answers the bucket's policy as set, or
// ErrNoSuchBucketPolicy.
func (g *Gateway) GetBucketPolicy(ctx context.Context, bucket string) ([]byte, error) {
	var doc string
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Access != nil {
			doc = k.rec.Access.Policy
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if doc == "" {
		return nil, s3api.ErrNoSuchBucketPolicy
	}
	return []byte(doc), nil
}

// PutBucketPolicy validates doc (MalformedPolicy with S3's message) and
// makes it the bucket's policy. A public policy on a bucket whose public
// access block has BlockPublicPolicy is AccessDenied, as on S3.
func (g *Gateway) PutBucketPolicy(ctx context.Context, bucket string, doc []byte) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	if _, err := g.bucketGroup(bucket); err != nil {
		return err
	}
	p, err := access.Parse(doc, access.Options{Kind: access.BucketPolicy, Bucket: bucket, KnownUser: g.knownUser})
	if err != nil {
		var ae *access.Error
		if errors.As(err, &ae) {
			return s3api.ErrMalformedPolicy.WithMessage(ae.Message)
		}
		return err
	}
	err = g.updateInfo(bucket, func(k *bkt) error {
		a := k.access()
		if a.PublicAccessBlock != nil && a.PublicAccessBlock.BlockPublicPolicy && p.IsPublic() {
			return s3api.ErrAccessDenied.WithMessage("Access Denied: the bucket's public access block forbids public policies (BlockPublicPolicy).")
		}
		a.Policy = string(doc)
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// DeleteBucketPolicy removes the bucket's policy; removing none is not an
// error (S3 answers 204 either way).
func (g *Gateway) DeleteBucketPolicy(ctx context.Context, bucket string) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	err := g.updateInfo(bucket, func(k *bkt) error {
		k.access().Policy = ""
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// GetBucketPolicyStatus says whether the bucket's policy makes it public.
func (g *Gateway) GetBucketPolicyStatus(ctx context.Context, bucket string) (bool, error) {
	ba, err := g.bucketAccessOf(bucket)
	if err != nil {
		return false, err
	}
	if ba == nil {
		return false, noSuchBucket(bucket)
	}
	if ba.policy == nil {
		return false, s3api.ErrNoSuchBucketPolicy
	}
	return ba.policy.IsPublic(), nil
}

// GetPublicAccessBlock answers the bucket's public access block, or
// ErrNoSuchPublicAccessBlockConfiguration.
func (g *Gateway) GetPublicAccessBlock(ctx context.Context, bucket string) (s3api.PublicAccessBlock, error) {
	var out *pabRecord
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Access != nil {
			out = k.rec.Access.PublicAccessBlock
		}
		return nil
	})
	if err != nil {
		return s3api.PublicAccessBlock{}, mapErr(err)
	}
	if out == nil {
		return s3api.PublicAccessBlock{}, s3api.ErrNoSuchPublicAccessBlockConfiguration
	}
	return out.s3(), nil
}

// PutPublicAccessBlock sets the bucket's public access block.
func (g *Gateway) PutPublicAccessBlock(ctx context.Context, bucket string, pab s3api.PublicAccessBlock) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	err := g.updateInfo(bucket, func(k *bkt) error {
		rec := pabRecord(pab)
		k.access().PublicAccessBlock = &rec
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// DeletePublicAccessBlock removes the bucket's public access block.
func (g *Gateway) DeletePublicAccessBlock(ctx context.Context, bucket string) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	err := g.updateInfo(bucket, func(k *bkt) error {
		k.access().PublicAccessBlock = nil
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// GetBucketOwnershipControls answers the bucket's ObjectOwnership, or
// ErrOwnershipControlsNotFound.
func (g *Gateway) GetBucketOwnershipControls(ctx context.Context, bucket string) (string, error) {
	var out string
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Access != nil {
			out = k.rec.Access.Ownership
		}
		return nil
	})
	if err != nil {
		return "", mapErr(err)
	}
	if out == "" {
		return "", s3api.ErrOwnershipControlsNotFound
	}
	return out, nil
}

// PutBucketOwnershipControls sets the bucket's ObjectOwnership.
func (g *Gateway) PutBucketOwnershipControls(ctx context.Context, bucket, ownership string) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	err := g.updateInfo(bucket, func(k *bkt) error {
		k.access().Ownership = ownership
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// DeleteBucketOwnershipControls removes the bucket's ObjectOwnership.
func (g *Gateway) DeleteBucketOwnershipControls(ctx context.Context, bucket string) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	err := g.updateInfo(bucket, func(k *bkt) error {
		k.access().Ownership = ""
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// access is the bucket's accessRecord, made when it has none.
func (k *bkt) access() *accessRecord {
	if k.rec.Access == nil {
		k.rec.Access = &accessRecord{}
	}
	return k.rec.Access
}

// writeOnceDenied is what a NoOverwrite caller gets for a write that
// would replace an existing version.
var writeOnceDenied = s3api.ErrAccessDenied

// checkWriteOnce refuses, for a caller that may not overwrite, a write of
// key that would replace an existing version: in a bucket whose versioning
// is not Enabled, the key's null version (which the write drops). It runs
// in the commit's transaction, so no concurrent write slips between.
func (k *bkt) checkWriteOnce(key string) error {
	if !k.writeOnce || k.versioning() == s3api.VersioningEnabled {
		return nil
	}
	v, err := k.find(key, nullVersion)
	if errors.Is(err, s3api.ErrNoSuchVersion) {
		return nil
	}
	if err != nil {
		return err
	}
	if v.rec.DeleteMarker {
		return nil
	}
	return writeOnceDenied
}

// alreadyExists answers CreateBucket of an existing bucket, held by
// group gr: BucketAlreadyOwnedByYou to its owner, BucketAlreadyExists to
// anyone else, as S3 does. The caller holds g.mu.
func (g *Gateway) alreadyExists(ctx context.Context, gr *group, name string) error {
	owner := ""
	_ = gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, name)
		if err == nil && k.rec.Access != nil {
			owner = k.rec.Access.Owner
		}
		return nil
	})
	if owner != g.ownerOf(ctx) {
		return s3api.ErrBucketAlreadyExists
	}
	return s3api.ErrBucketAlreadyOwnedByYou
}

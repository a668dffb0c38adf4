package gateway

// ACLs (s3api.ACLBackend). A bucket's grants live in its accessRecord, an
// object version's in its versionRecord; a private resource (the owner's
// FULL_CONTROL alone) stores none. Objects belong to their bucket's owner
// (S3's BucketOwnerEnforced and BucketOwnerPreferred behaviour; Cairn has
// no ObjectWriter ownership), so "bucket-owner-full-control" is "private"
// here. Authorize (authz.go) consults them after the policies; with the
// BucketOwnerEnforced ownership control they are ignored and only the
// owner's own ACL may be set, and IgnorePublicAcls / BlockPublicAcls of the
// public access block ignore or refuse grants to the AllUsers and
// AuthenticatedUsers groups.

import (
	"context"
	"errors"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/access"
	"github.com/cairn-backup/cairn/s3api"
)

// grantRecord is one stored ACL grant.
type grantRecord struct {
	Group string `json:"g,omitempty"` // "all" or "auth" for the groups
	ID    string `json:"id,omitempty"`
	Perm  string `json:"p"`
}

func grantRecords(gs []access.Grant) []grantRecord {
	out := make([]grantRecord, 0, len(gs))
	for _, g := range gs {
		r := grantRecord{ID: g.ID, Perm: g.Permission}
		switch g.Kind {
		case access.AllUsers:
			r.Group, r.ID = "all", ""
		case access.AuthenticatedUsers:
			r.Group, r.ID = "auth", ""
		}
		out = append(out, r)
	}
	return out
}

func accessGrants(rs []grantRecord) []access.Grant {
	out := make([]access.Grant, 0, len(rs))
	for _, r := range rs {
		g := access.Grant{Kind: access.CanonicalUser, ID: r.ID, Permission: r.Perm}
		switch r.Group {
		case "all":
			g.Kind = access.AllUsers
		case "auth":
			g.Kind = access.AuthenticatedUsers
		}
		out = append(out, g)
	}
	return out
}

// rootID is root's canonical ID: its access key, as s3api has always
// answered it.
func (g *Gateway) rootID() string { return g.rootKey() }

// ownerIdentity is the canonical ID and display name of an owner as
// recorded ("" is root).
func (g *Gateway) ownerIdentity(owner string) (string, string) {
	if owner == "" {
		return g.rootID(), g.rootID()
	}
	g.ids.mu.RLock()
	defer g.ids.mu.RUnlock()
	if id := g.ids.mu.byID[owner]; id != nil {
		return owner, id.name
	}
	return owner, owner
}

// knownCanonicalID says whether a grant may name id: root or a user.
func (g *Gateway) knownCanonicalID(id string) bool {
	if id != "" && id == g.rootID() {
		return true
	}
	g.ids.mu.RLock()
	defer g.ids.mu.RUnlock()
	return g.ids.mu.byID[id] != nil
}

// expandACL turns an ACL request into grants for a resource owned by
// owner ("" root), checked against the bucket's ownership control and
// public access block. It answers nil for a private ACL.
func (g *Gateway) expandACL(req *s3api.ACLRequest, owner string, a *accessRecord) ([]grantRecord, error) {
	if req == nil {
		return nil, nil
	}
	ownerID, _ := g.ownerIdentity(owner)
	var grants []access.Grant
	if req.Canned != "" {
		gs, err := access.Canned(req.Canned, ownerID, ownerID)
		if err != nil {
			return nil, s3api.ErrInvalidArgument.WithMessage(err.Error())
		}
		grants = gs
	} else {
		for _, gr := range req.Grants {
			ag := access.Grant{Kind: access.CanonicalUser, ID: gr.ID, Permission: gr.Permission}
			switch gr.URI {
			case s3api.AllUsersGroup:
				ag = access.Grant{Kind: access.AllUsers, Permission: gr.Permission}
			case s3api.AuthenticatedUsersGroup:
				ag = access.Grant{Kind: access.AuthenticatedUsers, Permission: gr.Permission}
			case "":
				if !g.knownCanonicalID(gr.ID) {
					return nil, s3api.ErrInvalidArgument.WithMessage("Invalid id")
				}
			}
			grants = append(grants, ag)
		}
	}
	if access.IsPrivate(grants, ownerID) {
		return nil, nil
	}
	if a != nil && a.Ownership == "BucketOwnerEnforced" {
		return nil, s3api.ErrAccessControlListNotSupported
	}
	if a != nil && a.PublicAccessBlock != nil && a.PublicAccessBlock.BlockPublicAcls && access.IsPublic(grants) {
		return nil, s3api.ErrAccessDenied.WithMessage("Access Denied: the bucket's public access block forbids public ACLs (BlockPublicAcls).")
	}
	return grantRecords(grants), nil
}

// writeACL is the ACL a PutObject or CopyObject into bucket sets (nil:
// private), refused before any byte is stored when the bucket forbids it.
func (g *Gateway) writeACL(ctx context.Context, bucket string) ([]grantRecord, error) {
	req := s3api.RequestACL(ctx)
	if req == nil {
		return nil, nil
	}
	var out []grantRecord
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		var err error
		out, err = g.expandACL(req, k.access0().Owner, k.rec.Access)
		return err
	})
	return out, mapErr(err)
}

// access0 is the bucket's accessRecord, or an empty one, without making one.
func (k *bkt) access0() accessRecord {
	if k.rec.Access == nil {
		return accessRecord{}
	}
	return *k.rec.Access
}

// aclOf renders stored grants (nil: private) as s3api answers them.
func (g *Gateway) aclOf(owner string, rs []grantRecord) s3api.ACL {
	id, name := g.ownerIdentity(owner)
	out := s3api.ACL{OwnerID: id, OwnerName: name}
	if rs == nil {
		out.Grants = []s3api.Grant{{ID: id, DisplayName: name, Permission: access.PermFullControl}}
		return out
	}
	for _, r := range rs {
		switch r.Group {
		case "all":
			out.Grants = append(out.Grants, s3api.Grant{URI: s3api.AllUsersGroup, Permission: r.Perm})
		case "auth":
			out.Grants = append(out.Grants, s3api.Grant{URI: s3api.AuthenticatedUsersGroup, Permission: r.Perm})
		default:
			gid, gname := g.ownerIdentity(r.ID)
			if r.ID == g.rootID() {
				gid, gname = g.ownerIdentity("")
			}
			out.Grants = append(out.Grants, s3api.Grant{ID: gid, DisplayName: gname, Permission: r.Perm})
		}
	}
	return out
}

var _ s3api.ACLBackend = (*Gateway)(nil)

// GetBucketACL answers the bucket's ACL.
func (g *Gateway) GetBucketACL(ctx context.Context, bucket string) (s3api.ACL, error) {
	var a accessRecord
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		a = k.access0()
		return nil
	})
	if err != nil {
		return s3api.ACL{}, mapErr(err)
	}
	return g.aclOf(a.Owner, a.ACL), nil
}

// PutBucketACL replaces the bucket's ACL.
func (g *Gateway) PutBucketACL(ctx context.Context, bucket string, req s3api.ACLRequest) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	err := g.updateInfo(bucket, func(k *bkt) error {
		rs, err := g.expandACL(&req, k.access0().Owner, k.rec.Access)
		if err != nil {
			return err
		}
		k.access().ACL = rs
		return nil
	})
	g.forgetAccess(bucket)
	return mapErr(err)
}

// GetObjectACL answers a version's ACL and its version ID.
func (g *Gateway) GetObjectACL(ctx context.Context, bucket, key, versionID string) (s3api.ACL, string, error) {
	var out s3api.ACL
	var vid string
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		if err != nil {
			return err
		}
		vid = k.info(key, v).VersionID
		out = g.aclOf(k.access0().Owner, v.rec.ACL)
		return nil
	})
	return out, vid, mapErr(err)
}

// PutObjectACL replaces a version's ACL.
func (g *Gateway) PutObjectACL(ctx context.Context, bucket, key, versionID string, req s3api.ACLRequest) (string, error) {
	if err := g.writable(bucket); err != nil {
		return "", err
	}
	var vid string
	err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		if err != nil {
			return err
		}
		rs, err := g.expandACL(&req, k.access0().Owner, k.rec.Access)
		if err != nil {
			return err
		}
		v.rec.ACL = rs
		vid = k.info(key, v).VersionID
		enc, err := encode(v.rec)
		if err != nil {
			return err
		}
		return k.ver.Put(composite(key, v.seq), enc)
	})
	return vid, mapErr(err)
}

// objectGrants answers the grants of a key's version (the current one
// when versionID is ""); nil when it has none or does not exist.
func (g *Gateway) objectGrants(bucket, key, versionID string) []access.Grant {
	var out []access.Grant
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		if err != nil {
			return err
		}
		if v.rec.ACL != nil {
			out = accessGrants(v.rec.ACL)
		}
		return nil
	})
	if err != nil && !errors.Is(err, s3api.ErrNoSuchKey) && !errors.Is(err, s3api.ErrNoSuchVersion) {
		g.log.Warn("object ACL lookup", "bucket", bucket, "key", key, "err", err)
	}
	return out
}

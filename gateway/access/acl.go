package access

import "fmt"

// An ACL is S3's older access model: a list of grants of a permission
// (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL) to a grantee (a
// canonical user ID, or the AllUsers or AuthenticatedUsers group). A
// bucket and each object version have one; "private" (the owner's
// FULL_CONTROL alone) needs none stored.

// GranteeKind says who a grant is to.
type GranteeKind uint8

const (
	CanonicalUser GranteeKind = iota
	AllUsers
	AuthenticatedUsers
)

// The group URIs of S3's ACLs.
const (
	AllUsersURI           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsersURI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// Permissions of an ACL grant.
const (
	PermRead        = "READ"
	PermWrite       = "WRITE"
	PermReadACP     = "READ_ACP"
	PermWriteACP    = "WRITE_ACP"
	PermFullControl = "FULL_CONTROL"
)

// Grant is one grant of an ACL.
type Grant struct {
	Kind       GranteeKind
	ID         string // canonical ID, for CanonicalUser
	Permission string
}

// Canned expands a canned ACL for a resource owned by owner in a bucket
// owned by bucketOwner (the same for a bucket), as S3 defines them.
func Canned(name, owner, bucketOwner string) ([]Grant, error) {
	own := Grant{Kind: CanonicalUser, ID: owner, Permission: PermFullControl}
	switch name {
	case "private", "aws-exec-read":
		return []Grant{own}, nil
	case "public-read":
		return []Grant{own, {Kind: AllUsers, Permission: PermRead}}, nil
	case "public-read-write":
		return []Grant{own, {Kind: AllUsers, Permission: PermRead}, {Kind: AllUsers, Permission: PermWrite}}, nil
	case "authenticated-read":
		return []Grant{own, {Kind: AuthenticatedUsers, Permission: PermRead}}, nil
	case "bucket-owner-read":
		if bucketOwner == owner {
			return []Grant{own}, nil
		}
		return []Grant{own, {Kind: CanonicalUser, ID: bucketOwner, Permission: PermRead}}, nil
	case "bucket-owner-full-control":
		if bucketOwner == owner {
			return []Grant{own}, nil
		}
		return []Grant{own, {Kind: CanonicalUser, ID: bucketOwner, Permission: PermFullControl}}, nil
	}
	return nil, fmt.Errorf("unknown canned ACL %q", name)
}

// IsPublic says whether grants give anything to AllUsers or
// AuthenticatedUsers (S3's test for BlockPublicAcls).
func IsPublic(grants []Grant) bool {
	for _, g := range grants {
		if g.Kind != CanonicalUser {
			return true
		}
	}
	return false
}

// IsPrivate says whether grants are the owner's FULL_CONTROL alone (or
// nothing): what needs no record.
func IsPrivate(grants []Grant, owner string) bool {
	for _, g := range grants {
		if g.Kind != CanonicalUser || g.ID != owner || g.Permission != PermFullControl {
			return false
		}
	}
	return true
}

// permissionFor is the ACL permission an action needs on a bucket's ACL
// (object false) or an object's (object true); "" when ACLs cannot grant it.
func permissionFor(action string, object bool) string {
	if object {
		switch action {
		case "s3:GetObject", "s3:GetObjectVersion":
			return PermRead
		case "s3:GetObjectAcl", "s3:GetObjectVersionAcl":
			return PermReadACP
		case "s3:PutObjectAcl", "s3:PutObjectVersionAcl":
			return PermWriteACP
		}
		return ""
	}
	switch action {
	case "s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads":
		return PermRead
	case "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts":
		// WRITE on a bucket covers writing and deleting its objects.
		return PermWrite
	case "s3:GetBucketAcl":
		return PermReadACP
	case "s3:PutBucketAcl":
		return PermWriteACP
	}
	return ""
}

// ACLAllows says whether grants give p what action needs (on the bucket's
// ACL when object is false, on an object's when true). ignorePublic drops
// the grants to groups (IgnorePublicAcls).
func ACLAllows(grants []Grant, p *Principal, action string, object, ignorePublic bool) bool {
	need := permissionFor(action, object)
	if need == "" {
		return false
	}
	for _, g := range grants {
		if g.Permission != need && g.Permission != PermFullControl {
			continue
		}
		switch g.Kind {
		case AllUsers:
			if !ignorePublic {
				return true
			}
		case AuthenticatedUsers:
			if !ignorePublic && !p.Anonymous {
				return true
			}
		case CanonicalUser:
			if !p.Anonymous && g.ID == p.CanonicalID {
				return true
			}
		}
	}
	return false
}

// ACLAction reports whether ACLs can grant action at all, on the bucket
// (object false) or on an object.
func ACLAction(action string, object bool) bool { return permissionFor(action, object) != "" }

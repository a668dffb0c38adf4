package s3api

import (
	"context"
	"net/http"
	"strings"
)

// ACLBackend is an optional interface of a Backend: ACLs. With it, s3api
// parses canned ACLs (x-amz-acl), grant headers (x-amz-grant-*) and
// AccessControlPolicy bodies on CreateBucket, PutObject, CopyObject,
// CreateMultipartUpload, PutBucketAcl and PutObjectAcl, and the backend stores and enforces them;
// without it every resource is private to its owner (acl.go) and any
// other ACL is NotImplemented.
//
// The ACL a write sets travels in the request's context (RequestACL), so
// that PutObject, CopyObject, CreateMultipartUpload and CreateBucket keep
// their signatures. The
// backend expands canned ACLs (it knows the owners), refuses a public ACL
// under BlockPublicAcls (ErrAccessDenied) and any ACL but the owner's
// under BucketOwnerEnforced (ErrAccessControlListNotSupported).
type ACLBackend interface {
	GetBucketACL(ctx context.Context, bucket string) (ACL, error)
	PutBucketACL(ctx context.Context, bucket string, acl ACLRequest) error
	// GetObjectACL and PutObjectACL act on the version given (or the
	// current one) and answer its version ID.
	GetObjectACL(ctx context.Context, bucket, key, versionID string) (ACL, string, error)
	PutObjectACL(ctx context.Context, bucket, key, versionID string, acl ACLRequest) (string, error)
}

// ACL is a resource's owner and grants.
type ACL struct {
	OwnerID, OwnerName string
	Grants             []Grant
}

// Grant is one ACL grant: to a canonical user (ID) or a group (URI).
type Grant struct {
	ID, DisplayName string
	URI             string
	Permission      string // READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL
}

// ACLRequest is the ACL a request sets: a canned ACL's name, or grants.
type ACLRequest struct {
	Canned string
	Grants []Grant
}

// The group URIs grants may name.
const (
	AllUsersGroup           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsersGroup = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

var ErrAccessControlListNotSupported = newError("AccessControlListNotSupported", http.StatusBadRequest, "The bucket does not allow ACLs")

// RequestACL is the ACL the request's headers set (x-amz-acl or
// x-amz-grant-*), nil when they set none: the resource is then private.
func RequestACL(ctx context.Context) *ACLRequest {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return st.acl
	}
	return nil
}

var cannedACLs = map[string]bool{
	"private": true, "public-read": true, "public-read-write": true, "authenticated-read": true,
	"bucket-owner-read": true, "bucket-owner-full-control": true, "aws-exec-read": true,
}

var grantHeaders = [...]struct{ header, perm string }{
	{"x-amz-grant-read", "READ"},
	{"x-amz-grant-write", "WRITE"},
	{"x-amz-grant-read-acp", "READ_ACP"},
	{"x-amz-grant-write-acp", "WRITE_ACP"},
	{"x-amz-grant-full-control", "FULL_CONTROL"},
}

// headerACL parses x-amz-acl and x-amz-grant-*: nil when neither is sent;
// both at once is InvalidRequest, as on S3.
func headerACL(h http.Header) (*ACLRequest, error) {
	canned := h.Get("x-amz-acl")
	var grants []Grant
	for _, gh := range grantHeaders {
		for _, v := range h.Values(gh.header) {
			gs, err := parseGrantHeader(v, gh.perm)
			if err != nil {
				return nil, err
			}
			grants = append(grants, gs...)
		}
	}
	switch {
	case canned != "" && grants != nil:
		return nil, ErrInvalidRequest.WithMessage("Specifying both Canned ACLs and Header Grants is not allowed")
	case canned != "":
		if !cannedACLs[canned] {
			return nil, ErrInvalidArgument.WithMessagef("Invalid canned ACL: %s", canned)
		}
		return &ACLRequest{Canned: canned}, nil
	case grants != nil:
		return &ACLRequest{Grants: grants}, nil
	}
	return nil, nil
}

// parseGrantHeader reads `id="...", uri="...", emailAddress="..."`.
func parseGrantHeader(v, perm string) ([]Grant, error) {
	var out []Grant
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, val, ok := strings.Cut(item, "=")
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if !ok || val == "" {
			return nil, ErrInvalidArgument.WithMessagef("Invalid grant %q", item)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "id":
			out = append(out, Grant{ID: val, Permission: perm})
		case "uri":
			if val != AllUsersGroup && val != AuthenticatedUsersGroup {
				return nil, ErrInvalidArgument.WithMessagef("Invalid group uri: %s", val)
			}
			out = append(out, Grant{URI: val, Permission: perm})
		case "emailaddress":
			return nil, ErrNotImplemented.WithMessage("Grants by email address are not supported; grant by canonical ID (cairn admin user ls shows them).")
		default:
			return nil, ErrInvalidArgument.WithMessagef("Invalid grantee type %q", k)
		}
	}
	return out, nil
}

// bodyACL reads an AccessControlPolicy body into grants.
func bodyACL(data []byte) (*ACLRequest, error) {
	var doc accessControlPolicyRequest
	if err := decodeXML(data, &doc); err != nil {
		return nil, ErrMalformedACL
	}
	req := &ACLRequest{Grants: []Grant{}}
	for _, g := range doc.Grants {
		if !validPermission(g.Permission) {
			return nil, ErrMalformedACL
		}
		switch g.Grantee.Type {
		case "CanonicalUser":
			if g.Grantee.ID == "" {
				return nil, ErrInvalidArgument.WithMessage("Invalid id")
			}
			req.Grants = append(req.Grants, Grant{ID: g.Grantee.ID, Permission: g.Permission})
		case "Group":
			if g.Grantee.URI != AllUsersGroup && g.Grantee.URI != AuthenticatedUsersGroup {
				return nil, ErrInvalidArgument.WithMessagef("Invalid group uri: %s", g.Grantee.URI)
			}
			req.Grants = append(req.Grants, Grant{URI: g.Grantee.URI, Permission: g.Permission})
		case "AmazonCustomerByEmail":
			return nil, ErrNotImplemented.WithMessage("Grants by email address are not supported; grant by canonical ID (cairn admin user ls shows them).")
		default:
			return nil, ErrMalformedACL
		}
	}
	return req, nil
}

func validPermission(p string) bool {
	switch p {
	case "READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL":
		return true
	}
	return false
}

// putACLRequest reads what PutBucketAcl or PutObjectAcl sets: headers or a
// body, not both.
func (h *handler) putACLRequest(r *http.Request) (ACLRequest, error) {
	hdr, err := headerACL(r.Header)
	if err != nil {
		return ACLRequest{}, err
	}
	data, err := h.readSmallBody(r, maxConfigXML, false)
	if err != nil {
		return ACLRequest{}, err
	}
	body := len(strings.TrimSpace(string(data))) > 0
	switch {
	case hdr != nil && body:
		return ACLRequest{}, ErrUnexpectedContent
	case hdr != nil:
		return *hdr, nil
	case !body:
		return ACLRequest{}, ErrMissingRequestBodyError
	}
	req, err := bodyACL(data)
	if err != nil {
		return ACLRequest{}, err
	}
	return *req, nil
}

// aclXML renders an ACL as S3's AccessControlPolicy.
func aclXML(a ACL) accessControlPolicy {
	out := accessControlPolicy{Owner: owner{ID: a.OwnerID, DisplayName: a.OwnerName}, Grants: []grant{}}
	for _, g := range a.Grants {
		ge := grantee{XMLNSXSI: xsiNS, Type: "CanonicalUser", ID: g.ID, DisplayName: g.DisplayName}
		if g.URI != "" {
			ge = grantee{XMLNSXSI: xsiNS, Type: "Group", URI: g.URI}
		}
		out.Grants = append(out.Grants, grant{Grantee: ge, Permission: g.Permission})
	}
	return out
}

// writeACLOps are the operations whose x-amz-acl / x-amz-grant-* headers
// set the new resource's ACL.
var writeACLOps = map[string]bool{"CreateBucket": true, "PutObject": true, "CopyObject": true, "CreateMultipartUpload": true}

// noteRequestACL parses a write's ACL headers into the request state, for
// RequestACL, when the backend keeps ACLs.
func (h *handler) noteRequestACL(r *http.Request, st *reqState) error {
	if !writeACLOps[st.op] {
		return nil
	}
	if _, ok := h.b.(ACLBackend); !ok {
		// Without ACLs every resource is private: "private" is accepted,
		// anything else refused, so no client believes it shared data.
		if acl := r.Header.Get("x-amz-acl"); acl != "" && acl != "private" {
			return ErrNotImplemented.WithMessagef("Canned ACL %q is not supported; Cairn objects are private to their owner.", acl)
		}
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
				return ErrNotImplemented.WithMessagef("%s is not supported; Cairn objects are private to their owner.", k)
			}
		}
		return nil
	}
	acl, err := headerACL(r.Header)
	if err != nil {
		return err
	}
	st.acl = acl
	return nil
}

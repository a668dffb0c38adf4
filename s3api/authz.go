package s3api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// Authorizer is an optional interface of a Backend. Implementing it makes
// s3api ask, before every operation runs, whether the caller may perform
// each S3 action the operation is (operationActions), and lets anonymous
// requests (no Authorization header, no presigned query) through
// authentication as the anonymous principal, so that a bucket policy or an
// ACL can grant them access. Without it every request must be signed by a
// key Config.Secret knows, and every signed request may do everything.
//
// Authorize answers nil and what the caller is granted, or ErrAccessDenied
// (the only refusal: the reason stays in the server's log, so that a
// refusal never tells whether an object exists). It runs on every request
// and must be cheap; it must not write.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthRequest) (AuthResult, error)
}

// AuthRequest is one action a request needs.
type AuthRequest struct {
	// AccessKey signed the request; "" for an anonymous request.
	AccessKey string
	// Action is the S3 action ("s3:GetObject").
	Action string
	// Bucket and Key name the resource; Key is "" for a bucket action,
	// and Bucket too for a service action (s3:ListAllMyBuckets).
	Bucket, Key string
	// Conditions are the request's condition keys (lower-case) and their
	// values: aws:SourceIp, aws:SecureTransport, aws:CurrentTime,
	// aws:EpochTime, aws:UserAgent, aws:Referer, and the operation's own
	// (s3:prefix, s3:delimiter, s3:max-keys on listings, s3:x-amz-acl,
	// s3:x-amz-grant-*, s3:x-amz-copy-source, s3:x-amz-metadata-directive,
	// s3:x-amz-storage-class, s3:object-lock-* on writes, s3:VersionId).
	// The backend adds the ones that need its state
	// (s3:ExistingObjectTag/<key>).
	Conditions []Condition
}

// Condition is one condition key of a request with its values.
type Condition struct {
	Key    string
	Values []string
}

// AuthResult is what an authorized caller is granted beyond the action.
type AuthResult struct {
	// NoOverwrite: the caller may write new objects but not replace an
	// existing version (writeonly keys). s3api records it in the request's
	// context (NoOverwrite) for the backend's commit to enforce.
	NoOverwrite bool
	// OwnerID and OwnerName are the canonical ID and display name of the
	// owner of what the request names: the bucket's owner, or the caller
	// for a request on no bucket. s3api answers them as the Owner in
	// listings; "" keeps the caller's access key.
	OwnerID, OwnerName string
}

// NoOverwrite reports whether the request's caller may not replace an
// existing object version: a PutObject, CopyObject or
// CompleteMultipartUpload that would must fail with ErrAccessDenied,
// checked atomically with the commit (in a bucket whose versioning is
// Enabled a new version replaces nothing).
func NoOverwrite(ctx context.Context) bool {
	st, ok := ctx.Value(stateKey{}).(*reqState)
	return ok && st.noOverwrite
}

// Anonymous reports whether the request carried no signature.
func Anonymous(ctx context.Context) bool {
	st, ok := ctx.Value(stateKey{}).(*reqState)
	return ok && st.anonymous
}

// authAction is one action of an operation on one resource.
type authAction struct {
	action      string
	bucket, key string
}

// opActions maps each operation whose actions do not depend on the request
// to its action; versioned variants and multi-action operations are in
// operationActions.
var opActions = map[string]string{
	"ListBuckets":                     "s3:ListAllMyBuckets",
	"CreateBucket":                    "s3:CreateBucket",
	"DeleteBucket":                    "s3:DeleteBucket",
	"HeadBucket":                      "s3:ListBucket",
	"ListObjects":                     "s3:ListBucket",
	"ListObjectsV2":                   "s3:ListBucket",
	"ListObjectVersions":              "s3:ListBucketVersions",
	"ListMultipartUploads":            "s3:ListBucketMultipartUploads",
	"GetBucketLocation":               "s3:GetBucketLocation",
	"GetBucketVersioning":             "s3:GetBucketVersioning",
	"PutBucketVersioning":             "s3:PutBucketVersioning",
	"GetBucketTagging":                "s3:GetBucketTagging",
	"PutBucketTagging":                "s3:PutBucketTagging",
	"DeleteBucketTagging":             "s3:PutBucketTagging",
	"GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
	"PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
	"DeleteBucketLifecycle":           "s3:PutLifecycleConfiguration",
	"GetBucketReplication":            "s3:GetReplicationConfiguration",
	"PutBucketReplication":            "s3:PutReplicationConfiguration",
	"DeleteBucketReplication":         "s3:PutReplicationConfiguration",
	"GetBucketAcl":                    "s3:GetBucketAcl",
	"PutBucketAcl":                    "s3:PutBucketAcl",
	"GetBucketPolicy":                 "s3:GetBucketPolicy",
	"PutBucketPolicy":                 "s3:PutBucketPolicy",
	"DeleteBucketPolicy":              "s3:DeleteBucketPolicy",
	"GetBucketPolicyStatus":           "s3:GetBucketPolicyStatus",
	"GetPublicAccessBlock":            "s3:GetBucketPublicAccessBlock",
	"PutPublicAccessBlock":            "s3:PutBucketPublicAccessBlock",
	"DeletePublicAccessBlock":         "s3:PutBucketPublicAccessBlock",
	"GetBucketOwnershipControls":      "s3:GetBucketOwnershipControls",
	"PutBucketOwnershipControls":      "s3:PutBucketOwnershipControls",
	"DeleteBucketOwnershipControls":   "s3:PutBucketOwnershipControls",
	"PutObject":                       "s3:PutObject",
	"CreateMultipartUpload":           "s3:PutObject",
	"UploadPart":                      "s3:PutObject",
	"CompleteMultipartUpload":         "s3:PutObject",
	"AbortMultipartUpload":            "s3:AbortMultipartUpload",
	"ListParts":                       "s3:ListMultipartUploadParts",
	"PutObjectTagging":                "s3:PutObjectTagging",
	"RestoreObject":                   "s3:RestoreObject",
	// DeleteObjects has no action of its own: each key is authorized as
	// s3:DeleteObject (or s3:DeleteObjectVersion) when it is deleted.
	"DeleteObjects": "",
	// A browser form upload (POST Object) names its key and signer in the
	// form: its handler authorizes with authorizeForm once it has read them.
	"PostObject": "",

	// The operations the other parts of this release route, by AWS's
	// operation names (TestEveryRouteHasActions fails for a route missing
	// here, which would otherwise be refused to everyone).
	"PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
	"GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
	"PutObjectRetention":         "s3:PutObjectRetention",
	"GetObjectRetention":         "s3:GetObjectRetention",
	"PutObjectLegalHold":         "s3:PutObjectLegalHold",
	"GetObjectLegalHold":         "s3:GetObjectLegalHold",
	"PutBucketEncryption":        "s3:PutEncryptionConfiguration",
	"GetBucketEncryption":        "s3:GetEncryptionConfiguration",
	"DeleteBucketEncryption":     "s3:PutEncryptionConfiguration",
	"PutBucketCors":              "s3:PutBucketCORS",
	"GetBucketCors":              "s3:GetBucketCORS",
	"DeleteBucketCors":           "s3:PutBucketCORS",
	"GetObjectAttributes":        "s3:GetObjectAttributes",
}

// versioned maps an object action to its variant on a version given by ID.
var versioned = map[string][2]string{
	"GetObject":           {"s3:GetObject", "s3:GetObjectVersion"},
	"HeadObject":          {"s3:GetObject", "s3:GetObjectVersion"},
	"DeleteObject":        {"s3:DeleteObject", "s3:DeleteObjectVersion"},
	"GetObjectTagging":    {"s3:GetObjectTagging", "s3:GetObjectVersionTagging"},
	"PutObjectTagging":    {"s3:PutObjectTagging", "s3:PutObjectVersionTagging"},
	"DeleteObjectTagging": {"s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"},
	"GetObjectAcl":        {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"},
	"PutObjectAcl":        {"s3:PutObjectAcl", "s3:PutObjectVersionAcl"},
}

// operationActions lists the actions operation op needs for r. CopyObject
// and UploadPartCopy need s3:GetObject (or s3:GetObjectVersion) on the
// source besides s3:PutObject on the target.
func operationActions(op string, r *http.Request, st *reqState) ([]authAction, error) {
	q := r.URL.Query()
	if v, ok := versioned[op]; ok {
		a := v[0]
		if q.Get("versionId") != "" {
			a = v[1]
		}
		return []authAction{{a, st.bucket, st.key}}, nil
	}
	switch op {
	case "CopyObject", "UploadPartCopy":
		src, err := parseCopySource(r.Header.Get("x-amz-copy-source"))
		if err != nil {
			return nil, err
		}
		get := "s3:GetObject"
		if src.versionID != "" {
			get = "s3:GetObjectVersion"
		}
		return []authAction{{"s3:PutObject", st.bucket, st.key}, {get, src.bucket, src.key}}, nil
	}
	a, ok := opActions[op]
	if !ok {
		// An operation this table does not know is refused rather than
		// let through unchecked.
		return nil, ErrAccessDenied
	}
	if a == "" {
		return nil, nil
	}
	return []authAction{{a, st.bucket, st.key}}, nil
}

// authorizeOperation is the router middleware that authorizes a routed
// request before its handler runs.
func (h *handler) authorizeOperation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := state(r)
		if _, ok := h.b.(Authorizer); ok {
			acts, err := operationActions(st.op, r, st)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			for _, a := range acts {
				if err := h.authorize(r, a.action, a.bucket, a.key); err != nil {
					h.writeError(w, r, err)
					return
				}
			}
		}
		if err := h.noteRequestACL(r, st); err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorize asks the backend whether the request's caller may perform
// action on bucket/key, and records what it is granted. A backend that is
// not an Authorizer allows every authenticated request (and no anonymous
// one reaches here). Handlers call it for actions decided inside the
// operation (each key of a DeleteObjects, s3:BypassGovernanceRetention,
// a form upload's PutObject once the form named its key).
func (h *handler) authorize(r *http.Request, action, bucket, key string) error {
	az, ok := h.b.(Authorizer)
	st := state(r)
	if !ok {
		if st.anonymous || st.auth == nil {
			return ErrAccessDenied
		}
		return nil
	}
	req := AuthRequest{Action: action, Bucket: bucket, Key: key, Conditions: h.conditions(r, st)}
	if st.auth != nil {
		req.AccessKey = st.auth.AccessKey
	}
	res, err := az.Authorize(r.Context(), req)
	if err != nil {
		return err
	}
	if res.NoOverwrite {
		st.noOverwrite = true
	}
	if res.OwnerID != "" && st.ownerID == "" {
		// The operation's first action names its own bucket (a copy's
		// source comes second).
		st.ownerID, st.ownerName = res.OwnerID, res.OwnerName
	}
	return nil
}

// authorizeForm is for the POST Object (browser form) handler, once the
// form's signature is verified: it names the caller (accessKey, "" for an
// unsigned form), records the form's canned ACL (acl, "" for none) as the
// request's ACL (RequestACL) and as s3:x-amz-acl, and authorizes
// s3:PutObject on bucket/key. The handler must call it before it stores
// anything.
func (h *handler) authorizeForm(r *http.Request, accessKey, bucket, key, acl string) error {
	st := state(r)
	if st.auth != nil {
		a := *st.auth
		a.AccessKey = accessKey
		st.auth = &a
	} else {
		st.auth = &sigv4.Auth{AccessKey: accessKey, DecodedLength: -1, Trailer: func() http.Header { return nil }}
	}
	st.anonymous = accessKey == ""
	conds := h.conditions(r, st)
	if acl != "" {
		if !cannedACLs[acl] {
			return ErrInvalidArgument.WithMessagef("Invalid canned ACL: %s", acl)
		}
		if _, ok := h.b.(ACLBackend); ok {
			st.acl = &ACLRequest{Canned: acl}
		} else if acl != "private" {
			return ErrNotImplemented.WithMessagef("Canned ACL %q is not supported; Cairn objects are private to their owner.", acl)
		}
		st.conds = append(conds, Condition{"s3:x-amz-acl", []string{acl}})
	}
	return h.authorize(r, "s3:PutObject", bucket, key)
}

// AuthorizeExtra checks one more action for the request a handler serves,
// on the request's own bucket and key: for what the operation asks beyond
// its action (x-amz-bypass-governance-retention needs
// s3:BypassGovernanceRetention).
func (h *handler) authorizeExtra(r *http.Request, action string) error {
	st := state(r)
	return h.authorize(r, action, st.bucket, st.key)
}

// headerConditions are the condition keys a request header sets, with the
// header's canonical name worked out once: conditions runs on every
// request, and Header.Get canonicalizes its argument each call (it was a
// twentieth of a small GET's CPU).
var headerConditions = func() []struct{ canonical, key string } {
	var hc []struct{ canonical, key string }
	for _, h := range [...]struct{ header, key string }{
		{"x-amz-acl", "s3:x-amz-acl"},
		{"x-amz-grant-read", "s3:x-amz-grant-read"},
		{"x-amz-grant-write", "s3:x-amz-grant-write"},
		{"x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"},
		{"x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"},
		{"x-amz-grant-full-control", "s3:x-amz-grant-full-control"},
		{"x-amz-copy-source", "s3:x-amz-copy-source"},
		{"x-amz-metadata-directive", "s3:x-amz-metadata-directive"},
		{"x-amz-storage-class", "s3:x-amz-storage-class"},
		{"x-amz-server-side-encryption", "s3:x-amz-server-side-encryption"},
		{"x-amz-content-sha256", "s3:x-amz-content-sha256"},
		{"x-amz-object-lock-mode", "s3:object-lock-mode"},
		{"x-amz-object-lock-retain-until-date", "s3:object-lock-retain-until-date"},
		{"x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"},
	} {
		hc = append(hc, struct{ canonical, key string }{http.CanonicalHeaderKey(h.header), h.key})
	}
	return hc
}()

// conditions gathers the request's condition keys.
func (h *handler) conditions(r *http.Request, st *reqState) []Condition {
	if st.conds != nil {
		return st.conds
	}
	now := h.now().UTC()
	secure := "false"
	if r.TLS != nil {
		secure = "true"
	}
	c := []Condition{
		{"aws:securetransport", []string{secure}},
		{"aws:currenttime", []string{now.Format(time.RFC3339)}},
		{"aws:epochtime", []string{strconv.FormatInt(now.Unix(), 10)}},
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		c = append(c, Condition{"aws:sourceip", []string{host}})
	}
	if ua := r.UserAgent(); ua != "" {
		c = append(c, Condition{"aws:useragent", []string{ua}})
	}
	if ref := r.Referer(); ref != "" {
		c = append(c, Condition{"aws:referer", []string{ref}})
	}
	q := r.URL.Query()
	switch st.op {
	case "ListObjects", "ListObjectsV2", "ListObjectVersions":
		// S3 sets s3:prefix (and the others) only when the request has
		// them, so that a Null condition can tell.
		for _, k := range [...]string{"prefix", "delimiter", "max-keys"} {
			if vs, ok := q[k]; ok {
				c = append(c, Condition{"s3:" + k, vs})
			}
		}
	}
	if v := q.Get("versionId"); v != "" {
		c = append(c, Condition{"s3:versionid", []string{v}})
	}
	for _, hc := range headerConditions {
		if v := r.Header[hc.canonical]; len(v) > 0 && v[0] != "" {
			c = append(c, Condition{hc.key, v[:1]})
		}
	}
	if until := r.Header.Get("x-amz-object-lock-retain-until-date"); until != "" {
		if t, err := time.Parse(time.RFC3339, until); err == nil {
			days := int64(t.Sub(now).Hours() / 24)
			c = append(c, Condition{"s3:object-lock-remaining-retention-days", []string{strconv.FormatInt(days, 10)}})
		}
	}
	st.conds = c
	return c
}

// readsObject names the operations that read one object or what is kept
// about it: a missing key is hidden from them alike (hideMissing).
var readsObject = map[string]bool{
	"GetObject": true, "HeadObject": true, "GetObjectAttributes": true,
	"GetObjectTagging": true, "GetObjectAcl": true,
	"GetObjectRetention": true, "GetObjectLegalHold": true,
}

// hideMissing answers AccessDenied in place of NoSuchKey (or NoSuchVersion)
// to a caller that may not list the bucket, as S3 does: without
// s3:ListBucket a caller must not learn whether a key exists.
func (h *handler) hideMissing(r *http.Request, err error) error {
	if _, ok := h.b.(Authorizer); !ok {
		return err
	}
	if !errors.Is(err, ErrNoSuchKey) && !errors.Is(err, ErrNoSuchVersion) {
		return err
	}
	st := state(r)
	if h.authorize(r, "s3:ListBucket", st.bucket, "") != nil {
		return ErrAccessDenied
	}
	return err
}

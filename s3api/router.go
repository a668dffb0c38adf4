package s3api

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"
)

// routes maps method, level and subresource to an operation. The level
// (service, bucket, object) comes from the bucket and key ServeHTTP resolved
// from Host and path, so virtual-host and path-style requests share one
// table. Within a level and method, routes with a subresource come before
// the plain operation, because mux takes the first route that matches.
func (h *handler) routes() *mux.Router {
	r := mux.NewRouter()
	// Keys are arbitrary: "a//b", "./x" and "../y" are distinct keys that
	// path cleaning would rewrite or redirect.
	r.SkipClean(true)
	// mux's own 405 detection is unreliable with subrouters (a later
	// route's matching level resets it), so unrouted requests are
	// classified here.
	r.NotFoundHandler = http.HandlerFunc(h.unrouted)
	r.MethodNotAllowedHandler = http.HandlerFunc(h.unrouted)
	// Each route is named for its S3 operation, which Config.Observe
	// reports.
	r.Use(nameOperation)
	// Then each is authorized (authz.go) before its handler runs.
	r.Use(h.authorizeOperation)

	// A browser form upload, authenticated by its form (post.go), whose
	// key came from the form: at any level, before everything else.
	r.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool { return state(r).form != nil }).Name("PostObject").HandlerFunc(h.postObject)

	svc := r.MatcherFunc(level(levelService)).Subrouter()
	svc.Methods(http.MethodGet).Name("ListBuckets").HandlerFunc(h.listBuckets)

	bkt := r.MatcherFunc(level(levelBucket)).Subrouter()
	// Bucket policies, public access blocks, ownership controls (policy.go).
	bkt.Methods(http.MethodGet).MatcherFunc(query("policy")).Name("GetBucketPolicy").HandlerFunc(h.getBucketPolicy)
	bkt.Methods(http.MethodPut).MatcherFunc(query("policy")).Name("PutBucketPolicy").HandlerFunc(h.putBucketPolicy)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("policy")).Name("DeleteBucketPolicy").HandlerFunc(h.deleteBucketPolicy)
	bkt.Methods(http.MethodGet).MatcherFunc(query("policyStatus")).Name("GetBucketPolicyStatus").HandlerFunc(h.getBucketPolicyStatus)
	bkt.Methods(http.MethodGet).MatcherFunc(query("publicAccessBlock")).Name("GetPublicAccessBlock").HandlerFunc(h.getPublicAccessBlock)
	bkt.Methods(http.MethodPut).MatcherFunc(query("publicAccessBlock")).Name("PutPublicAccessBlock").HandlerFunc(h.putPublicAccessBlock)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("publicAccessBlock")).Name("DeletePublicAccessBlock").HandlerFunc(h.deletePublicAccessBlock)
	bkt.Methods(http.MethodGet).MatcherFunc(query("ownershipControls")).Name("GetBucketOwnershipControls").HandlerFunc(h.getBucketOwnershipControls)
	bkt.Methods(http.MethodPut).MatcherFunc(query("ownershipControls")).Name("PutBucketOwnershipControls").HandlerFunc(h.putBucketOwnershipControls)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("ownershipControls")).Name("DeleteBucketOwnershipControls").HandlerFunc(h.deleteBucketOwnershipControls)
	bkt.Methods(http.MethodGet).MatcherFunc(query("location")).Name("GetBucketLocation").HandlerFunc(h.getBucketLocation)
	bkt.Methods(http.MethodGet).MatcherFunc(query("versioning")).Name("GetBucketVersioning").HandlerFunc(h.getBucketVersioning)
	bkt.Methods(http.MethodGet).MatcherFunc(query("tagging")).Name("GetBucketTagging").HandlerFunc(h.getBucketTagging)
	bkt.Methods(http.MethodGet).MatcherFunc(query("lifecycle")).Name("GetBucketLifecycleConfiguration").HandlerFunc(h.getBucketLifecycle)
	bkt.Methods(http.MethodGet).MatcherFunc(query("replication")).Name("GetBucketReplication").HandlerFunc(h.getBucketReplication)
	bkt.Methods(http.MethodGet).MatcherFunc(query("encryption")).Name("GetBucketEncryption").HandlerFunc(h.getBucketEncryption)
	bkt.Methods(http.MethodGet).MatcherFunc(query("acl")).Name("GetBucketAcl").HandlerFunc(h.getBucketACL)
	bkt.Methods(http.MethodGet).MatcherFunc(query("object-lock")).Name("GetObjectLockConfiguration").HandlerFunc(h.getObjectLockConfiguration)
	bkt.Methods(http.MethodGet).MatcherFunc(query("cors")).Name("GetBucketCors").HandlerFunc(h.getBucketCors)
	bkt.Methods(http.MethodGet).MatcherFunc(query("uploads")).Name("ListMultipartUploads").HandlerFunc(h.listMultipartUploads)
	bkt.Methods(http.MethodGet).MatcherFunc(query("versions")).Name("ListObjectVersions").HandlerFunc(h.listObjectVersions)
	bkt.Methods(http.MethodGet).Queries("list-type", "2").Name("ListObjectsV2").HandlerFunc(h.listObjectsV2)
	bkt.Methods(http.MethodGet).MatcherFunc(query("list-type")).Name("ListObjectsV2").HandlerFunc(h.errorHandler(ErrInvalidArgument.WithMessage("Invalid list-type; only 2 is supported.")))
	bkt.Methods(http.MethodGet).Name("ListObjects").HandlerFunc(h.listObjects)
	bkt.Methods(http.MethodHead).Name("HeadBucket").HandlerFunc(h.headBucket)
	bkt.Methods(http.MethodPut).MatcherFunc(query("versioning")).Name("PutBucketVersioning").HandlerFunc(h.putBucketVersioning)
	bkt.Methods(http.MethodPut).MatcherFunc(query("tagging")).Name("PutBucketTagging").HandlerFunc(h.putBucketTagging)
	bkt.Methods(http.MethodPut).MatcherFunc(query("lifecycle")).Name("PutBucketLifecycleConfiguration").HandlerFunc(h.putBucketLifecycle)
	bkt.Methods(http.MethodPut).MatcherFunc(query("replication")).Name("PutBucketReplication").HandlerFunc(h.putBucketReplication)
	bkt.Methods(http.MethodPut).MatcherFunc(query("encryption")).Name("PutBucketEncryption").HandlerFunc(h.putBucketEncryption)
	bkt.Methods(http.MethodPut).MatcherFunc(query("acl")).Name("PutBucketAcl").HandlerFunc(h.putBucketACL)
	bkt.Methods(http.MethodPut).MatcherFunc(query("object-lock")).Name("PutObjectLockConfiguration").HandlerFunc(h.putObjectLockConfiguration)
	bkt.Methods(http.MethodPut).MatcherFunc(query("cors")).Name("PutBucketCors").HandlerFunc(h.putBucketCors)
	bkt.Methods(http.MethodPut).Name("CreateBucket").HandlerFunc(h.createBucket)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("tagging")).Name("DeleteBucketTagging").HandlerFunc(h.deleteBucketTagging)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("lifecycle")).Name("DeleteBucketLifecycle").HandlerFunc(h.deleteBucketLifecycle)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("replication")).Name("DeleteBucketReplication").HandlerFunc(h.deleteBucketReplication)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("encryption")).Name("DeleteBucketEncryption").HandlerFunc(h.deleteBucketEncryption)
	bkt.Methods(http.MethodDelete).MatcherFunc(query("cors")).Name("DeleteBucketCors").HandlerFunc(h.deleteBucketCors)
	bkt.Methods(http.MethodDelete).Name("DeleteBucket").HandlerFunc(h.deleteBucket)
	bkt.Methods(http.MethodPost).MatcherFunc(query("delete")).Name("DeleteObjects").HandlerFunc(h.deleteObjects)

	obj := r.MatcherFunc(level(levelObject)).Subrouter()
	obj.Methods(http.MethodGet).MatcherFunc(query("tagging")).Name("GetObjectTagging").HandlerFunc(h.getObjectTagging)
	obj.Methods(http.MethodGet).MatcherFunc(query("acl")).Name("GetObjectAcl").HandlerFunc(h.getObjectACL)
	obj.Methods(http.MethodGet).MatcherFunc(query("retention")).Name("GetObjectRetention").HandlerFunc(h.getObjectRetention)
	obj.Methods(http.MethodGet).MatcherFunc(query("legal-hold")).Name("GetObjectLegalHold").HandlerFunc(h.getObjectLegalHold)
	obj.Methods(http.MethodGet).MatcherFunc(query("uploadId")).Name("ListParts").HandlerFunc(h.listParts)
	obj.Methods(http.MethodGet).MatcherFunc(query("attributes")).Name("GetObjectAttributes").HandlerFunc(h.getObjectAttributes)
	obj.Methods(http.MethodGet).Name("GetObject").HandlerFunc(h.getObject)
	obj.Methods(http.MethodHead).Name("HeadObject").HandlerFunc(h.headObject)
	obj.Methods(http.MethodPut).MatcherFunc(query("tagging")).Name("PutObjectTagging").HandlerFunc(h.putObjectTagging)
	obj.Methods(http.MethodPut).MatcherFunc(query("acl")).Name("PutObjectAcl").HandlerFunc(h.putObjectACL)
	obj.Methods(http.MethodPut).MatcherFunc(query("retention")).Name("PutObjectRetention").HandlerFunc(h.putObjectRetention)
	obj.Methods(http.MethodPut).MatcherFunc(query("legal-hold")).Name("PutObjectLegalHold").HandlerFunc(h.putObjectLegalHold)
	obj.Methods(http.MethodPut).MatcherFunc(query("uploadId")).Headers("x-amz-copy-source", "").Name("UploadPartCopy").HandlerFunc(h.uploadPartCopy)
	obj.Methods(http.MethodPut).MatcherFunc(query("uploadId")).Name("UploadPart").HandlerFunc(h.uploadPart)
	obj.Methods(http.MethodPut).Headers("x-amz-copy-source", "").Name("CopyObject").HandlerFunc(h.copyObject)
	obj.Methods(http.MethodPut).Name("PutObject").HandlerFunc(h.putObject)
	obj.Methods(http.MethodDelete).MatcherFunc(query("tagging")).Name("DeleteObjectTagging").HandlerFunc(h.deleteObjectTagging)
	obj.Methods(http.MethodDelete).MatcherFunc(query("uploadId")).Name("AbortMultipartUpload").HandlerFunc(h.abortMultipartUpload)
	obj.Methods(http.MethodDelete).Name("DeleteObject").HandlerFunc(h.deleteObject)
	obj.Methods(http.MethodPost).MatcherFunc(query("uploads")).Name("CreateMultipartUpload").HandlerFunc(h.createMultipartUpload)
	obj.Methods(http.MethodPost).MatcherFunc(query("uploadId")).Name("CompleteMultipartUpload").HandlerFunc(h.completeMultipartUpload)
	obj.Methods(http.MethodPost).MatcherFunc(query("restore")).Name("RestoreObject").HandlerFunc(h.restoreObject)
	return r
}

type pathLevel int

const (
	levelService pathLevel = iota // GET /
	levelBucket                   // /bucket
	levelObject                   // /bucket/key
)

// level matches requests addressing the service, a bucket or an object.
func level(l pathLevel) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		st := state(r)
		switch {
		case st.bucket == "":
			return l == levelService
		case st.key == "":
			return l == levelBucket
		default:
			return l == levelObject
		}
	}
}

// query matches when the query string names the subresource, with or
// without a value ("?uploads", "?uploads=", "?uploadId=x").
func query(name string) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		return hasQuery(r.URL, name)
	}
}

func hasQuery(u *url.URL, name string) bool {
	_, ok := u.Query()[name]
	return ok
}

// unsupportedSubresource returns the first subresource of q that Cairn does
// not implement. Such requests must fail with NotImplemented rather than
// fall through to the plain operation (GET /bucket?policy must never answer
// a 200 listing), so they are refused before routing. Lifecycle exists for
// buckets only, restore for a POST to an object only, replication for GET,
// PUT and DELETE of a bucket only (and then only when the backend is a
// ReplicationBackend, which its handlers check), object-lock for GET and
// PUT of a bucket, retention and legal-hold for GET and PUT of an object
// (and then only when the backend is an ObjectLockBackend), and encryption
// for a bucket (an EncryptionBackend).
func unsupportedSubresource(q url.Values, object bool, method string) string {
	if _, ok := q["lifecycle"]; ok && object {
		return "lifecycle"
	}
	if _, ok := q["replication"]; ok && (object || (method != http.MethodGet && method != http.MethodPut && method != http.MethodDelete)) {
		return "replication"
	}
	if _, ok := q["encryption"]; ok && (object || (method != http.MethodGet && method != http.MethodPut && method != http.MethodDelete)) {
		return "encryption"
	}
	if _, ok := q["restore"]; ok && (!object || method != http.MethodPost) {
		return "restore"
	}
	// Object lock: the configuration of a bucket, the retention and legal
	// hold of an object, each read with GET and set with PUT.
	getOrPut := method == http.MethodGet || method == http.MethodPut
	if _, ok := q["object-lock"]; ok && (object || !getOrPut) {
		return "object-lock"
	}
	for _, s := range [...]string{"retention", "legal-hold"} {
		if _, ok := q[s]; ok && (!object || !getOrPut) {
			return s
		}
	}
	if _, ok := q["attributes"]; ok && (!object || method != http.MethodGet) {
		return "attributes"
	}
	if _, ok := q["cors"]; ok && (object || method == http.MethodPost) {
		return "cors"
	}
	// Bucket policies, public access blocks and ownership controls:
	// GET, PUT and DELETE of a bucket (GET only for policyStatus), when the
	// backend is a BucketAccessBackend, which their handlers check.
	for _, s := range [...]string{"policy", "policyStatus", "publicAccessBlock", "ownershipControls"} {
		if _, ok := q[s]; ok && (object || (method != http.MethodGet && method != http.MethodPut && method != http.MethodDelete) ||
			(s == "policyStatus" && method != http.MethodGet)) {
			return s
		}
	}
	for _, s := range [...]string{
		"accelerate", "analytics",
		"intelligent-tiering", "inventory", "logging",
		"metadataConfiguration", "metadataTable", "metrics", "notification",
		"renameObject", "requestPayment",
		"select", "session", "torrent", "website",
	} {
		if _, ok := q[s]; ok {
			return s
		}
	}
	return ""
}

// unrouted answers a request no route took: a method S3 does not have at
// that level is MethodNotAllowed; an S3 method whose combination of
// subresource and headers Cairn does not route (a POST to an object with
// none of ?uploads, ?uploadId, ?restore, for one) is NotImplemented.
func (h *handler) unrouted(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	switch {
	case st.bucket == "" && r.Method != http.MethodGet && r.Method != http.MethodHead:
		h.writeError(w, r, ErrMethodNotAllowed)
	case r.Method == http.MethodGet, r.Method == http.MethodHead, r.Method == http.MethodPut,
		r.Method == http.MethodPost, r.Method == http.MethodDelete:
		h.writeError(w, r, ErrNotImplemented)
	default:
		h.writeError(w, r, ErrMethodNotAllowed)
	}
}

// errorHandler answers every request with err.
func (h *handler) errorHandler(err error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.writeError(w, r, err) }
}

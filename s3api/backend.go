package s3api

import (
	"context"
	"io"
	"time"
)

// Backend is the object layer the S3 handlers call; gateway implements it.
// s3api owns the protocol (auth, XML, headers, ranges, conditionals on reads);
// the backend owns state (buckets, versions, manifests, uploads).
//
// Errors: a backend returns the *Error values of this package (ErrNoSuchBucket,
// ErrInvalidPart, ...) for everything a client can cause; anything else is
// answered as InternalError and logged once with the request ID.
type Backend interface {
	Buckets
	Objects
	Multipart
}

// BucketInfo describes one bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
	// Location is the storage group holding the bucket; GetBucketLocation
	// answers it (empty for the default group, as S3 does for us-east-1).
	Location string
}

// Versioning is a bucket's versioning state: "" (never enabled), "Enabled" or "Suspended".
type Versioning string

const (
	VersioningUnset     Versioning = ""
	VersioningEnabled   Versioning = "Enabled"
	VersioningSuspended Versioning = "Suspended"
)

// Buckets is the bucket half of the backend.
type Buckets interface {
	ListBuckets(ctx context.Context) ([]BucketInfo, error)
	// CreateBucket validates nothing of the name's syntax (s3api does) but
	// answers ErrBucketAlreadyOwnedByYou for an existing bucket and
	// ErrInvalidLocationConstraint for an unknown storage group.
	CreateBucket(ctx context.Context, name, location string) error
	HeadBucket(ctx context.Context, name string) (BucketInfo, error)
	// DeleteBucket answers ErrBucketNotEmpty while any object, version or
	// delete marker remains. Multipart uploads in progress do not keep a
	// bucket: as on S3, they are aborted with it.
	DeleteBucket(ctx context.Context, name string) error
	GetBucketVersioning(ctx context.Context, name string) (Versioning, error)
	PutBucketVersioning(ctx context.Context, name string, v Versioning) error
	// GetBucketTagging answers ErrNoSuchTagSet when the bucket has no tags.
	GetBucketTagging(ctx context.Context, name string) (map[string]string, error)
	PutBucketTagging(ctx context.Context, name string, tags map[string]string) error
	DeleteBucketTagging(ctx context.Context, name string) error
	// GetBucketLifecycle answers the configuration as a
	// LifecycleConfiguration document, or ErrNoSuchLifecycleConfiguration.
	GetBucketLifecycle(ctx context.Context, name string) ([]byte, error)
	// PutBucketLifecycle parses and validates a LifecycleConfiguration
	// document (the backend knows which storage classes exist) and replaces
	// the bucket's configuration with it.
	PutBucketLifecycle(ctx context.Context, name string, doc []byte) error
	DeleteBucketLifecycle(ctx context.Context, name string) error
}

// ObjectMeta is what a client sets on an object and gets back unchanged.
type ObjectMeta struct {
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	// User holds x-amz-meta-* headers, keys lower-case without the prefix.
	User map[string]string
	// Tags are the object's tags (x-amz-tagging on PUT, or PutObjectTagging).
	Tags map[string]string
}

// Checksum is an additional checksum (x-amz-checksum-*) stored with an object or part.
type Checksum struct {
	Algorithm string // "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"; "" when none
	Value     string // base64, as S3 sends it; for multipart COMPOSITE values "base64-N"
	Type      string // "FULL_OBJECT" or "COMPOSITE"; "" when none
}

// Digest is what s3api computed over a payload while it streamed.
type Digest struct {
	MD5      []byte // raw 16 bytes; hex of it is a single PUT's ETag
	Checksum Checksum
}

// ObjectInfo describes one object version (or delete marker).
type ObjectInfo struct {
	Bucket       string
	Key          string
	VersionID    string // "" when the bucket never had versioning; "null" for the null version
	IsLatest     bool
	DeleteMarker bool
	Size         int64
	ETag         string // without quotes; s3api adds them
	LastModified time.Time
	Meta         ObjectMeta
	Checksum     Checksum
	PartsCount   int    // > 0 for objects completed from a multipart upload
	StorageClass string // "STANDARD" unless tiered
	// Expiration is the x-amz-expiration header of a version a lifecycle
	// rule will expire (expiry-date="...", rule-id="..."), "" when none.
	Expiration string
	// Restore is the x-amz-restore header of a tiered version being or
	// having been restored (ongoing-request="...", expiry-date="..."), ""
	// when none.
	Restore string
	// ReplicationStatus is the x-amz-replication-status header: "PENDING",
	// "COMPLETED" or "FAILED" for a version a replication rule covers,
	// "REPLICA" for a replica; "" when replication does not concern it.
	ReplicationStatus string
	// Lock is the version's retention and legal hold (objectlock.go).
	Lock ObjectLock
	// SSE is how the version is encrypted at rest (sse.go).
	SSE SSE
}

// PutObjectInput is one PutObject.
type PutObjectInput struct {
	Bucket string
	Key    string
	// Body is the decoded, verified payload. When a digest does not match
	// (BadDigest, XAmzContentSHA256Mismatch, a chunk signature) Body returns
	// that error instead of io.EOF: the backend must then abort and change
	// nothing. The backend must never buffer Body whole.
	Body io.Reader
	Size int64 // declared payload length; -1 when unknown
	Meta ObjectMeta
	// Digest is valid once Body has returned io.EOF.
	Digest func() Digest
	// Conditional write, evaluated atomically with the commit:
	// IfNoneMatch "*" fails with ErrPreconditionFailed when the key exists;
	// IfMatch (an ETag without quotes) fails unless the current version has it
	// (ErrNoSuchKey when there is none).
	IfMatch     string
	IfNoneMatch string
	// Lock is what the x-amz-object-lock-* headers asked for; a backend
	// without ObjectLockBackend never sees it set.
	Lock ObjectLock
}

// DeleteResult is what a DeleteObject did.
type DeleteResult struct {
	VersionID    string // the version removed, or of the delete marker created
	DeleteMarker bool   // a delete marker was created, or the version removed was one
}

// CopyObjectInput is one server-side CopyObject. No data is copied: the
// destination shares the source's chunks.
type CopyObjectInput struct {
	SrcBucket, SrcKey, SrcVersionID string
	DstBucket, DstKey               string
	// Meta replaces the metadata (REPLACE directive) when non-nil; nil copies it.
	Meta *ObjectMeta
	// Tags replaces the tags when non-nil (x-amz-tagging-directive REPLACE); nil copies them.
	Tags map[string]string
	// SourceCheck, when set, is called with the source version inside the
	// operation (copy-source conditionals); its error aborts the copy.
	SourceCheck func(ObjectInfo) error
	// Lock is what the x-amz-object-lock-* headers asked for: a copy
	// never takes the source's lock.
	Lock ObjectLock
}

// ListInput asks for one page of a bucket's current objects, in key order.
type ListInput struct {
	Bucket    string
	Prefix    string
	Delimiter string
	// After: only keys (or common prefixes) strictly greater than this
	// (ListObjects marker, ListObjectsV2 start-after or decoded continuation token).
	After   string
	MaxKeys int // 0 answers an empty, untruncated page, as S3 does
}

// ListResult is one page. Objects and CommonPrefixes together hold at most
// MaxKeys entries, merged in key order.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// Next is the last key or common prefix returned when truncated: the
	// next page's After.
	Next string
}

// ListVersionsInput asks for one page of ListObjectVersions.
type ListVersionsInput struct {
	Bucket          string
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// ListVersionsResult is one page: versions of each key newest first, keys in order.
type ListVersionsResult struct {
	Versions            []ObjectInfo // delete markers have DeleteMarker set
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// Objects is the object half of the backend. versionID "" means the current version.
type Objects interface {
	PutObject(ctx context.Context, in PutObjectInput) (ObjectInfo, error)
	// GetObject returns the version's info and a reader of its bytes, taken
	// together so conditionals and ranges apply to the same version. The caller
	// closes the reader. A delete marker answers ErrNoSuchKey (current) or
	// ErrMethodNotAllowed (by version ID) with the info filled in, so s3api can
	// set x-amz-delete-marker.
	GetObject(ctx context.Context, bucket, key, versionID string) (ObjectInfo, io.ReadSeekCloser, error)
	HeadObject(ctx context.Context, bucket, key, versionID string) (ObjectInfo, error)
	DeleteObject(ctx context.Context, bucket, key, versionID string) (DeleteResult, error)
	CopyObject(ctx context.Context, in CopyObjectInput) (ObjectInfo, error)
	ListObjects(ctx context.Context, in ListInput) (ListResult, error)
	ListObjectVersions(ctx context.Context, in ListVersionsInput) (ListVersionsResult, error)
	// Object tagging returns or acts on the version it resolved (its VersionID).
	GetObjectTagging(ctx context.Context, bucket, key, versionID string) (map[string]string, string, error)
	PutObjectTagging(ctx context.Context, bucket, key, versionID string, tags map[string]string) (string, error)
	DeleteObjectTagging(ctx context.Context, bucket, key, versionID string) (string, error)
	// RestoreObject makes a tiered version's data local for days: started
	// says a restore began (it runs on after the call); false with a nil
	// error, that the version was restored already and its expiry moved.
	// ErrInvalidObjectState for a version not in a tier,
	// ErrRestoreAlreadyInProgress while a restore runs.
	RestoreObject(ctx context.Context, bucket, key, versionID string, days int) (started bool, err error)
}

// PartInfo describes one uploaded part.
type PartInfo struct {
	PartNumber   int
	ETag         string // without quotes
	Size         int64
	LastModified time.Time
	Checksum     Checksum
	SSE          SSE // how the part is encrypted (UploadPart answers it)
}

// UploadInfo describes one multipart upload in progress.
type UploadInfo struct {
	Bucket    string
	Key       string
	UploadID  string
	Initiated time.Time
	Meta      ObjectMeta
	// ChecksumAlgorithm announced at creation (x-amz-checksum-algorithm), "" when none.
	ChecksumAlgorithm string
	// ChecksumType of the completed object when ChecksumAlgorithm is set:
	// "COMPOSITE" (a checksum of the part checksums, "-N") or "FULL_OBJECT"
	// (the checksum of the whole object, combined from the parts' CRCs).
	ChecksumType string
	// Lock is what the x-amz-object-lock-* headers asked for, applied to
	// the object the upload completes.
	Lock ObjectLock
}

// UploadPartInput is one UploadPart.
type UploadPartInput struct {
	Bucket, Key, UploadID string
	PartNumber            int // 1..10000, checked by s3api
	Body                  io.Reader
	Size                  int64
	Digest                func() Digest
}

// UploadPartCopyInput is one UploadPartCopy.
type UploadPartCopyInput struct {
	Bucket, Key, UploadID           string
	PartNumber                      int
	SrcBucket, SrcKey, SrcVersionID string
	// First and Last bound the copied bytes (inclusive) when Ranged;
	// the backend answers ErrInvalidRange when they fall outside the source.
	Ranged      bool
	First, Last int64
	SourceCheck func(ObjectInfo) error
}

// CompletePart is one entry of a CompleteMultipartUpload request body.
type CompletePart struct {
	PartNumber int
	ETag       string // without quotes
	Checksum   Checksum
}

// ListPartsResult is one page of ListParts.
type ListPartsResult struct {
	Upload               UploadInfo
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
}

// ListUploadsInput asks for one page of ListMultipartUploads.
type ListUploadsInput struct {
	Bucket         string
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// ListUploadsResult is one page of ListMultipartUploads, in key then initiation order.
type ListUploadsResult struct {
	Uploads            []UploadInfo
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// Multipart is the multipart-upload half of the backend. Parts are chunked
// and deduplicated as they arrive; Complete stitches their manifests without
// reading the data again.
type Multipart interface {
	CreateMultipartUpload(ctx context.Context, in UploadInfo) (string, error)
	UploadPart(ctx context.Context, in UploadPartInput) (PartInfo, error)
	UploadPartCopy(ctx context.Context, in UploadPartCopyInput) (PartInfo, error)
	// CompleteMultipartUpload answers ErrInvalidPart (unknown part or ETag
	// mismatch), ErrInvalidPartOrder (not ascending), ErrEntityTooSmall (a part
	// other than the last below 5 MiB) and ErrNoSuchUpload. IfMatch and
	// IfNoneMatch are conditional-write headers as on PutObject.
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, ifMatch, ifNoneMatch string) (ObjectInfo, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	ListParts(ctx context.Context, bucket, key, uploadID string, partNumberMarker, maxParts int) (ListPartsResult, error)
	ListMultipartUploads(ctx context.Context, in ListUploadsInput) (ListUploadsResult, error)
}

package access

// ResourceKind is what an action acts on: the service (no resource), a
// bucket, or an object.
type ResourceKind uint8

const (
	KindService ResourceKind = iota
	KindBucket
	KindObject
)

// actions is the catalog of S3 actions a policy may name, with the kind of
// resource each applies to (AWS's Service Authorization Reference for
// Amazon S3, the actions on buckets and objects). A pattern in Action or
// NotAction that matches none of them is "Policy has invalid action".
var actions = map[string]ResourceKind{
	"s3:ListAllMyBuckets": KindService,
	"s3:CreateBucket":     KindBucket,

	"s3:DeleteBucket":                       KindBucket,
	"s3:ListBucket":                         KindBucket,
	"s3:ListBucketVersions":                 KindBucket,
	"s3:ListBucketMultipartUploads":         KindBucket,
	"s3:GetBucketLocation":                  KindBucket,
	"s3:GetBucketVersioning":                KindBucket,
	"s3:PutBucketVersioning":                KindBucket,
	"s3:GetBucketTagging":                   KindBucket,
	"s3:PutBucketTagging":                   KindBucket,
	"s3:GetLifecycleConfiguration":          KindBucket,
	"s3:PutLifecycleConfiguration":          KindBucket,
	"s3:GetReplicationConfiguration":        KindBucket,
	"s3:PutReplicationConfiguration":        KindBucket,
	"s3:GetBucketPolicy":                    KindBucket,
	"s3:PutBucketPolicy":                    KindBucket,
	"s3:DeleteBucketPolicy":                 KindBucket,
	"s3:GetBucketPolicyStatus":              KindBucket,
	"s3:GetBucketAcl":                       KindBucket,
	"s3:PutBucketAcl":                       KindBucket,
	"s3:GetBucketPublicAccessBlock":         KindBucket,
	"s3:PutBucketPublicAccessBlock":         KindBucket,
	"s3:GetBucketOwnershipControls":         KindBucket,
	"s3:PutBucketOwnershipControls":         KindBucket,
	"s3:GetBucketObjectLockConfiguration":   KindBucket,
	"s3:PutBucketObjectLockConfiguration":   KindBucket,
	"s3:GetEncryptionConfiguration":         KindBucket,
	"s3:PutEncryptionConfiguration":         KindBucket,
	"s3:GetBucketCORS":                      KindBucket,
	"s3:PutBucketCORS":                      KindBucket,
	"s3:GetBucketNotification":              KindBucket,
	"s3:PutBucketNotification":              KindBucket,
	"s3:GetBucketLogging":                   KindBucket,
	"s3:PutBucketLogging":                   KindBucket,
	"s3:GetBucketWebsite":                   KindBucket,
	"s3:PutBucketWebsite":                   KindBucket,
	"s3:DeleteBucketWebsite":                KindBucket,
	"s3:GetBucketRequestPayment":            KindBucket,
	"s3:PutBucketRequestPayment":            KindBucket,
	"s3:GetAccelerateConfiguration":         KindBucket,
	"s3:PutAccelerateConfiguration":         KindBucket,
	"s3:GetAnalyticsConfiguration":          KindBucket,
	"s3:PutAnalyticsConfiguration":          KindBucket,
	"s3:GetInventoryConfiguration":          KindBucket,
	"s3:PutInventoryConfiguration":          KindBucket,
	"s3:GetMetricsConfiguration":            KindBucket,
	"s3:PutMetricsConfiguration":            KindBucket,
	"s3:GetIntelligentTieringConfiguration": KindBucket,
	"s3:PutIntelligentTieringConfiguration": KindBucket,

	"s3:GetObject":                      KindObject,
	"s3:GetObjectVersion":               KindObject,
	"s3:GetObjectAttributes":            KindObject,
	"s3:GetObjectVersionAttributes":     KindObject,
	"s3:PutObject":                      KindObject,
	"s3:DeleteObject":                   KindObject,
	"s3:DeleteObjectVersion":            KindObject,
	"s3:GetObjectAcl":                   KindObject,
	"s3:GetObjectVersionAcl":            KindObject,
	"s3:PutObjectAcl":                   KindObject,
	"s3:PutObjectVersionAcl":            KindObject,
	"s3:GetObjectTagging":               KindObject,
	"s3:GetObjectVersionTagging":        KindObject,
	"s3:PutObjectTagging":               KindObject,
	"s3:PutObjectVersionTagging":        KindObject,
	"s3:DeleteObjectTagging":            KindObject,
	"s3:DeleteObjectVersionTagging":     KindObject,
	"s3:AbortMultipartUpload":           KindObject,
	"s3:ListMultipartUploadParts":       KindObject,
	"s3:RestoreObject":                  KindObject,
	"s3:GetObjectRetention":             KindObject,
	"s3:PutObjectRetention":             KindObject,
	"s3:GetObjectLegalHold":             KindObject,
	"s3:PutObjectLegalHold":             KindObject,
	"s3:BypassGovernanceRetention":      KindObject,
	"s3:ReplicateObject":                KindObject,
	"s3:ReplicateDelete":                KindObject,
	"s3:ReplicateTags":                  KindObject,
	"s3:GetObjectVersionForReplication": KindObject,
}

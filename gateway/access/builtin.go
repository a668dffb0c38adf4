package access

// The built-in user policies, by the names `cairn admin user add --policy`
// takes. They are identity policies: they say what a user may do to its
// own buckets, and, together with a bucket policy or ACL, to others'.
//
//   - readwrite: everything S3 has.
//   - readonly: reading and listing: buckets, objects, their tags, ACLs,
//     policies and configurations.
//   - writeonly: for backup clients that must not be able to destroy what
//     they wrote: create buckets, upload (single and multipart, aborting
//     its own unfinished uploads), list, and read back (restic reads its
//     config, keys, index and locks, rclone reads to verify). No
//     DeleteObject, no DeleteObjectVersion, no delete or change of bucket
//     configuration, no retagging (a tag could bring an object under an
//     expiring lifecycle rule), and no overwrite: gateway refuses a PUT,
//     Copy or Complete that would replace an existing version
//     (NoOverwrite). It may set Object Lock retention and legal holds
//     (backup tools make their backups immutable), but has no
//     s3:BypassGovernanceRetention, so it can never shorten a retention.
var builtins = map[string]string{
	"readwrite": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["*"]}]}`,
	"readonly": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
		"s3:ListAllMyBuckets","s3:ListBucket","s3:ListBucketVersions","s3:ListBucketMultipartUploads",
		"s3:ListMultipartUploadParts","s3:GetBucket*","s3:GetObject*","s3:GetLifecycleConfiguration",
		"s3:GetReplicationConfiguration"],"Resource":["*"]}]}`,
	"writeonly": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
		"s3:ListAllMyBuckets","s3:CreateBucket","s3:ListBucket","s3:ListBucketVersions",
		"s3:ListBucketMultipartUploads","s3:ListMultipartUploadParts","s3:GetBucketLocation",
		"s3:GetBucketVersioning","s3:GetObject","s3:GetObjectVersion","s3:GetObjectTagging",
		"s3:PutObject","s3:AbortMultipartUpload","s3:GetBucketObjectLockConfiguration",
		"s3:PutObjectRetention","s3:GetObjectRetention","s3:PutObjectLegalHold","s3:GetObjectLegalHold"],"Resource":["*"]}]}`,
}

// Builtin returns the built-in user policy of that name.
func Builtin(name string) (*Policy, bool) {
	doc, ok := builtins[name]
	if !ok {
		return nil, false
	}
	p, err := Parse([]byte(doc), Options{Kind: UserPolicy})
	if err != nil {
		panic("access: built-in policy " + name + ": " + err.Error())
	}
	return p, true
}

// BuiltinNames are the built-in policies' names.
func BuiltinNames() []string { return []string{"readwrite", "readonly", "writeonly"} }

// NoOverwrite reports whether a built-in policy forbids replacing an
// existing object version (writeonly).
func NoOverwrite(name string) bool { return name == "writeonly" }

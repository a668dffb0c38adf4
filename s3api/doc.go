// Package s3api is Cairn's S3 HTTP protocol layer: it authenticates a request
// (SigV4 through package sigv4, SigV2 through package sigv2), routes it to one S3 operation, parses the
// operation's headers, query and XML body into the inputs of Backend, calls
// the backend, and renders the answer as S3 does (headers, XML, status, error
// codes). It keeps no state of its own: everything a client can observe
// later lives in the Backend.
//
// The package's nouns:
//
//   - Backend: the object layer (package gateway implements it), split into
//     Buckets, Objects and Multipart. Its methods take already-validated
//     inputs and answer with this package's *Error values.
//   - Optional interfaces: a Backend may also implement PartRanger
//     (GetObject by partNumber, parts.go), ReplicationBackend (the bucket
//     replication API, replication.go), ObjectLockBackend (object lock,
//     objectlock.go), ObjectAttributesBackend (GetObjectAttributes,
//     attributes.go), CORSBackend (the bucket CORS API, preflights and
//     Access-Control-* headers, cors.go), Authorizer (authz.go: asked
//     before every operation whether the caller may perform each of its S3
//     actions; with it, unsigned requests go on as the anonymous
//     principal), BucketAccessBackend (bucket policies, public access
//     block, ownership controls: policy.go) or ACLBackend (ACLs:
//     aclgrants.go); s3api finds them by type assertion and answers
//     NotImplemented without them, so Backend itself never grows a method
//     its implementations must all add at once.
//   - Error: an S3 error (Code, Message, HTTP status). errors.go holds the
//     vocabulary; writeError renders any error as exactly one of them.
//   - Operation: one S3 API action (PutObject, ListObjectsV2, ...). router.go
//     maps method, path level (service, bucket, object) and query
//     subresource to an operation's handler, each route named for its
//     operation (the name Config.Observe reports, observe.go); every handler
//     lives in the file of its resource (bucket.go, object.go, multipart.go,
//     list.go, ...).
//   - Request state (reqState): what one request accumulates as it goes:
//     request ID, bucket, key, the authenticated caller and the error that
//     ended it, read by the single access-log line.
//   - Payload: the verified body of a write (payload.go): aws-chunked framing
//     removed and signatures checked by sigv4, MD5 and any x-amz-checksum-*
//     computed and compared by package checksum, size bounded. A payload
//     returns an *Error instead of io.EOF when anything does not match, so a
//     backend that propagates read errors can never commit a bad object.
//   - Unsigned entry points: two kinds of request arrive without a signature
//     header and are taken before authentication: a browser's CORS preflight
//     (OPTIONS, cors.go), which needs none, and a browser form upload (POST
//     Object: multipart/form-data POSTed to a bucket, post.go), whose
//     signature is in its form fields and whose signer becomes the
//     request's caller exactly as a SigV4 signer does.
//
// What is checked where: s3api checks everything a request says about
// itself (names, lengths, header syntax, digests, ranges, conditionals on
// reads); the backend checks everything that depends on state (existence,
// versions, conditional writes, part ETags, quotas).
package s3api

package s3api

import (
	"fmt"
	"net/http"
)

// Error is an S3 error: the Code and HTTP status AWS S3 uses, and a message
// for the person reading it. s3api owns this vocabulary; gateway returns these
// values for everything a client can cause.
//
// Two Errors match under errors.Is when their codes match, so a copy with a
// more specific message (WithMessage) still is ErrNoSuchKey.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithMessage returns a copy of e that says msg.
func (e *Error) WithMessage(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// WithMessagef returns a copy of e with a formatted message.
func (e *Error) WithMessagef(format string, args ...any) *Error {
	return e.WithMessage(fmt.Sprintf(format, args...))
}

func newError(code string, status int, msg string) *Error {
	return &Error{Code: code, Message: msg, Status: status}
}

// The S3 errors Cairn answers, with the statuses AWS S3 uses.
var (
	ErrAccessDenied                      = newError("AccessDenied", http.StatusForbidden, "Access Denied.")
	ErrAuthorizationHeaderMalformed      = newError("AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed.")
	ErrAuthorizationQueryParametersError = newError("AuthorizationQueryParametersError", http.StatusBadRequest, "The authorization query parameters are malformed.")
	ErrBadDigest                         = newError("BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received.")
	ErrBucketAlreadyExists               = newError("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available.")
	ErrBucketAlreadyOwnedByYou           = newError("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	ErrBucketNotEmpty                    = newError("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty.")
	ErrConditionalRequestConflict        = newError("ConditionalRequestConflict", http.StatusConflict, "A conflicting operation occurred. If using PutObject you can retry the request.")
	ErrEntityTooLarge                    = newError("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	ErrEntityTooSmall                    = newError("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	ErrIllegalVersioningConfiguration    = newError("IllegalVersioningConfigurationException", http.StatusBadRequest, "The versioning configuration specified in the request is invalid.")
	ErrIncompleteBody                    = newError("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	ErrInternalError                     = newError("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	ErrInvalidAccessKeyID                = newError("InvalidAccessKeyId", http.StatusForbidden, "The AWS access key ID you provided does not exist in our records.")
	ErrInvalidArgument                   = newError("InvalidArgument", http.StatusBadRequest, "Invalid argument.")
	ErrInvalidBucketName                 = newError("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	ErrInvalidDigest                     = newError("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid.")
	ErrInvalidLocationConstraint         = newError("InvalidLocationConstraint", http.StatusBadRequest, "The specified location constraint is not valid.")
	ErrInvalidObjectState                = newError("InvalidObjectState", http.StatusForbidden, "The operation is not valid for the current state of the object.")
	ErrRequestTimeout                    = newError("RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.")
	ErrRestoreAlreadyInProgress          = newError("RestoreAlreadyInProgress", http.StatusConflict, "Object restore is already in progress.")
	ErrInvalidPart                       = newError("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
	ErrInvalidPartOrder                  = newError("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
	ErrInvalidRange                      = newError("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable.")
	ErrInvalidRequest                    = newError("InvalidRequest", http.StatusBadRequest, "Invalid request.")
	ErrInvalidStorageClass               = newError("InvalidStorageClass", http.StatusBadRequest, "The storage class you specified is not valid.")
	ErrInvalidTag                        = newError("InvalidTag", http.StatusBadRequest, "The tag provided was not a valid tag.")
	ErrInvalidURI                        = newError("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
	ErrKeyTooLong                        = newError("KeyTooLongError", http.StatusBadRequest, "Your key is too long.")
	ErrMalformedXML                      = newError("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	ErrMetadataTooLarge                  = newError("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size.")
	ErrMethodNotAllowed                  = newError("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	ErrMissingContentLength              = newError("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	ErrNoSuchBucket                      = newError("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist.")
	ErrNoSuchKey                         = newError("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	ErrNoSuchLifecycleConfiguration      = newError("NoSuchLifecycleConfiguration", http.StatusNotFound, "The lifecycle configuration does not exist.")
	ErrNoSuchTagSet                      = newError("NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist.")
	ErrNoSuchUpload                      = newError("NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.")
	ErrNoSuchVersion                     = newError("NoSuchVersion", http.StatusNotFound, "The specified version does not exist.")
	ErrReplicationConfigurationNotFound  = newError("ReplicationConfigurationNotFoundError", http.StatusNotFound, "The replication configuration was not found")
	ErrNotImplemented                    = newError("NotImplemented", http.StatusNotImplemented, "A header or operation you provided implies functionality that is not implemented.")
	ErrPreconditionFailed                = newError("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the preconditions you specified did not hold.")
	// ErrInsufficientStorage is a full disk: not an AWS code (AWS does not
	// fill up); 507, HTTP's own status for it, as MinIO answers, so that
	// backup tools report a server out of space, not a permission problem
	// (403) nor a pause to wait out (503).
	ErrInsufficientStorage = newError("InsufficientStorage", http.StatusInsufficientStorage, "The server's disk is full; delete data and let the cleaner run.")
	// ErrQuotaExceeded is a storage group at its quota: not an AWS code (AWS
	// has no quotas). 507 like a full disk, for the same reasons: Ceph RGW's
	// 403 QuotaExceeded reads as a permission problem in backup tools.
	ErrQuotaExceeded                = newError("QuotaExceeded", http.StatusInsufficientStorage, "The storage group's quota is used up; delete data and let the cleaner run.")
	ErrRequestHeaderSectionTooLarge = newError("RequestHeaderSectionTooLarge", http.StatusBadRequest, "Your request header section exceeds the maximum allowed size.")
	ErrRequestTimeTooSkewed         = newError("RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the server's time is too large.")
	ErrServiceUnavailable           = newError("ServiceUnavailable", http.StatusServiceUnavailable, "Please reduce your request rate.")
	ErrSignatureDoesNotMatch        = newError("SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	ErrSlowDown                     = newError("SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate.")
	ErrXAmzContentSHA256Mismatch    = newError("XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	ErrInvalidChunkedEncoding       = newError("InvalidRequest", http.StatusBadRequest, "The aws-chunked body is malformed.")
	ErrSignatureVersionNotSupported = newError("InvalidRequest", http.StatusBadRequest, "The authorization mechanism you have provided is not supported: use AWS Signature Version 4 (AWS4-HMAC-SHA256), or Version 2.")
	ErrInvalidContinuationToken     = newError("InvalidArgument", http.StatusBadRequest, "The continuation token provided is incorrect.")
	ErrUnexpectedContent            = newError("UnexpectedContent", http.StatusBadRequest, "This request does not support content.")
	ErrReadOnlyReplica              = newError("AccessDenied", http.StatusForbidden, "The bucket is a replica and is read-only.")
	ErrInvalidBucketState           = newError("InvalidBucketState", http.StatusConflict, "The request is not valid with the current state of the bucket.")
	ErrTooManyParts                 = newError("InvalidArgument", http.StatusBadRequest, "Part number must be an integer between 1 and 10000, inclusive.")
	ErrMaxMessageLengthExceeded     = newError("MaxMessageLengthExceeded", http.StatusBadRequest, "Your request was too big.")
	ErrMissingRequestBodyError      = newError("MissingRequestBodyError", http.StatusBadRequest, "Request Body is empty.")
	// ErrReplicationRequiresVersioning is PutBucketReplication on a bucket
	// whose versioning is not Enabled; a ReplicationBackend answers it.
	ErrReplicationRequiresVersioning = newError("InvalidRequest", http.StatusBadRequest, "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
)

// Errors added by the protocol layer (s3api answers these itself).
var (
	// ErrNotModified is the 304 of a conditional GET or HEAD; it is answered
	// without a body, as every 304 is.
	ErrNotModified            = newError("NotModified", http.StatusNotModified, "Not Modified.")
	ErrInvalidPartNumber      = newError("InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable.")
	ErrMissingContentMD5      = newError("InvalidRequest", http.StatusBadRequest, "Missing required header for this request: Content-MD5")
	ErrMalformedACL           = newError("MalformedACLError", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	ErrUserKeyMustBeSpecified = newError("UserKeyMustBeSpecified", http.StatusBadRequest, "The request was missing a required key.")
	ErrInvalidChecksum        = newError("InvalidRequest", http.StatusBadRequest, "The checksum headers of this request are not valid.")
	ErrCopyToItself           = newError("InvalidRequest", http.StatusBadRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	ErrInvalidCopySource      = newError("InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	ErrInvalidMaxKeys         = newError("InvalidArgument", http.StatusBadRequest, "Provided max-keys not an integer or within integer range.")
	ErrInvalidEncodingType    = newError("InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request.")
)

package sigv4

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Each is named after the S3 error code the HTTP layer
// should answer with; Authenticate and Auth.Body wrap them with a message
// that says what exactly was wrong, so test with errors.Is.
var (
	// ErrAccessDenied (403 AccessDenied): no credentials at all, an expired
	// or not yet valid presigned URL, a missing date, or x-amz-* headers the
	// signature does not cover.
	ErrAccessDenied = errors.New("access denied")

	// ErrAnonymous is the ErrAccessDenied of a request that carries no
	// authentication at all. It is distinct so that a caller that serves
	// public buckets can tell anonymous requests from failed ones.
	ErrAnonymous = fmt.Errorf("anonymous request (no Authorization header, no presigned query): %w", ErrAccessDenied)

	// ErrSignatureDoesNotMatch (403 SignatureDoesNotMatch): the request, a
	// chunk or the trailer was signed with another key or has been altered.
	ErrSignatureDoesNotMatch = errors.New("signature does not match")

	// ErrInvalidAccessKeyID (403 InvalidAccessKeyId): Secret does not know
	// the access key.
	ErrInvalidAccessKeyID = errors.New("access key id does not exist")

	// ErrRequestTimeTooSkewed (403 RequestTimeTooSkewed): X-Amz-Date (or
	// Date) is more than MaxSkew away from Now. The error is a *SkewError.
	ErrRequestTimeTooSkewed = errors.New("request time too skewed")

	// ErrAuthorizationHeaderMalformed (400 AuthorizationHeaderMalformed):
	// the Authorization header cannot be parsed, or its credential scope
	// names another region, service or date.
	ErrAuthorizationHeaderMalformed = errors.New("authorization header malformed")

	// ErrAuthorizationQueryParametersError (400
	// AuthorizationQueryParametersError): the X-Amz-* query parameters of a
	// presigned URL are missing, repeated or malformed.
	ErrAuthorizationQueryParametersError = errors.New("authorization query parameters error")

	// ErrSignatureVersionNotSupported (400 InvalidRequest, "The
	// authorization mechanism you have provided is not supported. Please use
	// AWS4-HMAC-SHA256."): SigV2, SigV4a or an unknown scheme.
	ErrSignatureVersionNotSupported = errors.New("signature version not supported: only AWS Signature Version 4 (AWS4-HMAC-SHA256) is accepted")

	// ErrXAmzContentSHA256Mismatch (400 XAmzContentSHA256Mismatch): the
	// body does not hash to the hex x-amz-content-sha256 it was signed with.
	ErrXAmzContentSHA256Mismatch = errors.New("x-amz-content-sha256 does not match the body")

	// ErrIncompleteBody (400 IncompleteBody): the body ended before the
	// length it declared (Content-Length, x-amz-decoded-content-length, a
	// chunk's size, or the final chunk never came), or the decoded length
	// differs from x-amz-decoded-content-length.
	ErrIncompleteBody = errors.New("incomplete body")

	// ErrMalformedChunkedEncoding (400; S3 has no dedicated code, answer
	// InvalidRequest or IncompleteBody): the aws-chunked framing is broken:
	// a bad chunk header, a chunk over the size limit, missing CRLFs, a
	// malformed or unannounced trailer, bytes after the end.
	ErrMalformedChunkedEncoding = errors.New("malformed aws-chunked encoding")

	// ErrMissingContentLength (411 MissingContentLength): a signed
	// streaming upload without x-amz-decoded-content-length.
	ErrMissingContentLength = errors.New("missing content length")

	// ErrInvalidArgument (400 InvalidArgument): more than one auth mechanism
	// in one request, or an x-amz-content-sha256 / x-amz-decoded-content-length
	// value that is not valid.
	ErrInvalidArgument = errors.New("invalid argument")
)

// SignatureError is the ErrSignatureDoesNotMatch of a request signature. It
// carries what S3 itself puts in its SignatureDoesNotMatch response
// (StringToSign, CanonicalRequest), which is what a client author needs to
// see where the two sides diverged. Neither contains the secret, but the
// canonical request holds the signed header values (a session token, say):
// return it to the client that sent them, as S3 does, rather than logging it.
type SignatureError struct {
	AccessKey        string
	StringToSign     string
	CanonicalRequest string
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("request signed by %q: the signature we calculated does not match the one provided; check the key and signing method: %v",
		e.AccessKey, ErrSignatureDoesNotMatch)
}

// Unwrap makes errors.Is(err, ErrSignatureDoesNotMatch) hold.
func (e *SignatureError) Unwrap() error { return ErrSignatureDoesNotMatch }

// SkewError is the ErrRequestTimeTooSkewed error; S3 reports RequestTime,
// ServerTime and MaxAllowedSkewMilliseconds in its response.
type SkewError struct {
	RequestTime time.Time
	ServerTime  time.Time
	MaxSkew     time.Duration
}

func (e *SkewError) Error() string {
	return fmt.Sprintf("request time %s differs from server time %s by more than %s: %v",
		e.RequestTime.UTC().Format(time.RFC3339), e.ServerTime.UTC().Format(time.RFC3339), e.MaxSkew, ErrRequestTimeTooSkewed)
}

// Unwrap makes errors.Is(err, ErrRequestTimeTooSkewed) hold.
func (e *SkewError) Unwrap() error { return ErrRequestTimeTooSkewed }

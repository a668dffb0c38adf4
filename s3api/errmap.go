package s3api

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/cairn-backup/cairn/s3api/checksum"
	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// s3Error maps the sentinel errors of sigv4, checksum and the standard
// library to the S3 error a client should see; nil when err is none of them
// (writeError then answers InternalError). It is the only such mapping:
// handlers return the sentinels as they come.
func s3Error(err error) *Error {
	// The message of the sibling packages says what exactly was wrong
	// (which header, which value); it never holds a secret, so the client
	// gets it. Signature and key errors keep S3's fixed wording.
	detail := func(e *Error) *Error { return e.WithMessage(err.Error()) }
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sigv4.ErrSignatureDoesNotMatch):
		return ErrSignatureDoesNotMatch
	case errors.Is(err, sigv4.ErrInvalidAccessKeyID):
		return ErrInvalidAccessKeyID
	case errors.Is(err, sigv4.ErrAnonymous):
		return ErrAccessDenied
	case errors.Is(err, sigv4.ErrAccessDenied):
		return detail(ErrAccessDenied)
	case errors.Is(err, sigv4.ErrRequestTimeTooSkewed):
		return ErrRequestTimeTooSkewed
	case errors.Is(err, sigv4.ErrAuthorizationHeaderMalformed):
		return detail(ErrAuthorizationHeaderMalformed)
	case errors.Is(err, sigv4.ErrAuthorizationQueryParametersError):
		return detail(ErrAuthorizationQueryParametersError)
	case errors.Is(err, sigv4.ErrSignatureVersionNotSupported):
		return ErrSignatureVersionNotSupported
	case errors.Is(err, sigv4.ErrXAmzContentSHA256Mismatch):
		return ErrXAmzContentSHA256Mismatch
	case errors.Is(err, sigv4.ErrIncompleteBody):
		return detail(ErrIncompleteBody)
	case errors.Is(err, sigv4.ErrMalformedChunkedEncoding):
		return detail(ErrInvalidChunkedEncoding)
	case errors.Is(err, sigv4.ErrMissingContentLength):
		return ErrMissingContentLength
	case errors.Is(err, sigv4.ErrInvalidArgument):
		return detail(ErrInvalidArgument)

	case errors.Is(err, checksum.ErrBadDigest):
		return ErrBadDigest
	case errors.Is(err, checksum.ErrChecksumMismatch):
		// *MismatchError's Error() is S3's message ("The CRC32 you
		// specified did not match the calculated checksum.").
		var me *checksum.MismatchError
		if errors.As(err, &me) {
			return ErrBadDigest.WithMessage(me.Error())
		}
		return ErrBadDigest
	case errors.Is(err, checksum.ErrInvalidDigest):
		return ErrInvalidDigest
	case errors.Is(err, checksum.ErrInvalidAlgorithm):
		return ErrInvalidChecksum.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	case errors.Is(err, checksum.ErrMultipleChecksums):
		return ErrInvalidChecksum.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	case errors.Is(err, checksum.ErrInvalidChecksum), errors.Is(err, checksum.ErrMissingTrailer):
		return detail(ErrInvalidChecksum)

	case errors.Is(err, io.ErrUnexpectedEOF):
		// net/http's body reader: the connection ended before Content-Length.
		return ErrIncompleteBody
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return ErrMaxMessageLengthExceeded
	}
	return nil
}

// errorDetails returns the extra elements S3 puts in some error documents.
func errorDetails(err error) []xmlField {
	var se *sigv4.SignatureError
	if errors.As(err, &se) {
		return []xmlField{
			field("AWSAccessKeyId", se.AccessKey),
			field("StringToSign", se.StringToSign),
			field("CanonicalRequest", se.CanonicalRequest),
		}
	}
	var ce *corsError
	if errors.As(err, &ce) {
		return ce.details()
	}
	var ke *sigv4.SkewError
	if errors.As(err, &ke) {
		return []xmlField{
			field("RequestTime", ke.RequestTime.UTC().Format(iso8601)),
			field("ServerTime", ke.ServerTime.UTC().Format(iso8601)),
			field("MaxAllowedSkewMilliseconds", strconv.FormatInt(ke.MaxSkew.Milliseconds(), 10)),
		}
	}
	return nil
}

func field(name, value string) xmlField {
	return xmlField{XMLName: xmlName(name), Value: value}
}

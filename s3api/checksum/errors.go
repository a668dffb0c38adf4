package checksum

import (
	"errors"
	"fmt"
)

// Sentinel errors; the comment of each names the S3 error code and HTTP
// status the HTTP layer should answer with.
var (
	// ErrInvalidAlgorithm (400 InvalidRequest, "Checksum algorithm
	// provided is unsupported. Please try again with any of the valid
	// types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512]"): an unknown name in
	// x-amz-sdk-checksum-algorithm, x-amz-checksum-algorithm, x-amz-trailer
	// or an x-amz-checksum-* header, or FULL_OBJECT asked of a SHA.
	ErrInvalidAlgorithm = errors.New("unsupported checksum algorithm")

	// ErrInvalidChecksum (400 InvalidRequest, "Value for
	// x-amz-checksum-crc32 header is invalid."): a checksum value that is
	// not base64 of the algorithm's size.
	ErrInvalidChecksum = errors.New("invalid checksum value")

	// ErrMultipleChecksums (400 InvalidRequest, "Expecting a single
	// x-amz-checksum- header. Multiple checksum Types are not allowed."):
	// more than one checksum, or headers that name different algorithms.
	ErrMultipleChecksums = errors.New("more than one checksum algorithm in one request")

	// ErrMissingTrailer (400 InvalidRequest or MalformedTrailerError): the
	// request announced its checksum in x-amz-trailer but the trailer did
	// not carry it.
	ErrMissingTrailer = errors.New("announced trailing checksum is missing")

	// ErrInvalidDigest (400 InvalidDigest, "The Content-MD5 you specified
	// is not valid."): Content-MD5 is not base64 of 16 bytes.
	ErrInvalidDigest = errors.New("invalid Content-MD5")

	// ErrBadDigest (400 BadDigest, "The Content-MD5 you specified did not
	// match what we received."): the body's MD5 differs from Content-MD5.
	ErrBadDigest = errors.New("Content-MD5 does not match the body")

	// ErrChecksumMismatch (400 BadDigest; the message is the
	// *MismatchError's Error(), e.g. "The CRC32 you specified did not match
	// the calculated checksum."): the body's additional checksum differs
	// from the one sent.
	ErrChecksumMismatch = errors.New("checksum does not match the body")
)

// MismatchError is the ErrChecksumMismatch error. Its Error() is S3's
// message for it, ready for the BadDigest response.
type MismatchError struct {
	Algorithm Algorithm
	Expected  string // base64, as sent
	Computed  string // base64, of the bytes received
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("The %s you specified did not match the calculated checksum.", e.Algorithm)
}

// Unwrap makes errors.Is(err, ErrChecksumMismatch) hold.
func (e *MismatchError) Unwrap() error { return ErrChecksumMismatch }

package s3api

import (
	"net/http"

	"github.com/cairn-backup/cairn/s3api/sigv2"
	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// authenticate verifies a request's signature: SigV2 (an "AWS AKID:sig"
// Authorization header, or an AWSAccessKeyId/Signature presigned URL) or
// SigV4 (everything else). Both answer the same *sigv4.Auth, so what
// follows (the identity, the body) does not depend on the version.
func (h *handler) authenticate(r *http.Request) (*sigv4.Auth, error) {
	if sigv2.IsSigV2(r) {
		return h.authV2.Authenticate(r)
	}
	return h.auth.Authenticate(r)
}

// verifyPostV2 checks a browser form signed with SigV2.
func (h *handler) verifyPostV2(accessKey, policy, signature string) (string, error) {
	return h.authV2.VerifyPost(accessKey, policy, signature)
}

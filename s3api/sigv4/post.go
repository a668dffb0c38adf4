package sigv4

import (
	"fmt"
	"time"
)

// VerifyPost checks the signature of a browser form upload (S3's POST
// Object): the form's x-amz-signature is the hex HMAC of its base64 policy
// document under the signing key of x-amz-credential. The credential's
// scope must name this server's region and S3, and its date the date of
// x-amz-date (YYYYMMDD'T'HHMMSS'Z'). The policy itself (its expiration and
// conditions) is the caller's to check. It answers the access key, or one of
// the sentinels: ErrAuthorizationQueryParametersError for a malformed field,
// ErrInvalidAccessKeyID, ErrSignatureDoesNotMatch (a *SignatureError whose
// StringToSign is the policy).
func (v *Verifier) VerifyPost(credentialField, amzDate, policy, signature string) (accessKey string, err error) {
	c, err := parseCredential(credentialField, ErrAuthorizationQueryParametersError)
	if err != nil {
		return "", err
	}
	if _, err := time.Parse(timeFormat, amzDate); err != nil {
		return "", fmt.Errorf("x-amz-date %q is not YYYYMMDD'T'HHMMSS'Z': %w", amzDate, ErrAuthorizationQueryParametersError)
	}
	if c.date != amzDate[:len(dateFormat)] {
		return "", fmt.Errorf("credential date %s is not the date of x-amz-date %s: %w", c.date, amzDate, ErrAuthorizationQueryParametersError)
	}
	if err := v.checkScope(c, ErrAuthorizationQueryParametersError); err != nil {
		return "", err
	}
	sig, err := parseSignature(signature, ErrSignatureDoesNotMatch)
	if err != nil {
		return "", &SignatureError{AccessKey: c.accessKey, StringToSign: policy}
	}
	if v.Secret == nil {
		return "", fmt.Errorf("sigv4: Verifier.Secret is nil")
	}
	secret, ok := v.Secret(c.accessKey)
	if !ok {
		return "", fmt.Errorf("access key %q: %w", c.accessKey, ErrInvalidAccessKeyID)
	}
	if !signatureEqual(signingKey(secret, c), policy, sig) {
		return "", &SignatureError{AccessKey: c.accessKey, StringToSign: policy}
	}
	return c.accessKey, nil
}

package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func TestVerifyPost(t *testing.T) {
	now := time.Date(2015, 12, 29, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	policy := "eyJleHBpcmF0aW9uIjoiMjAxNS0xMi0zMFQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W119"
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	// The signing key computed here independently of the package's own.
	key := mac([]byte("AWS4"+testSecret), "20151229")
	for _, s := range []string{"us-east-1", "s3", "aws4_request"} {
		key = mac(key, s)
	}
	sig := hex.EncodeToString(mac(key, policy))
	cred := testAccessKey + "/20151229/us-east-1/s3/aws4_request"
	if ak, err := v.VerifyPost(cred, "20151229T000000Z", policy, sig); err != nil || ak != testAccessKey {
		t.Fatalf("%q %v", ak, err)
	}
	for _, tc := range []struct {
		name                 string
		cred, date, pol, sig string
		want                 error
	}{
		{"other policy", cred, "20151229T000000Z", policy + "x", sig, ErrSignatureDoesNotMatch},
		{"signature not hex", cred, "20151229T000000Z", policy, "zz", ErrSignatureDoesNotMatch},
		{"unknown key", "NOBODY/20151229/us-east-1/s3/aws4_request", "20151229T000000Z", policy, sig, ErrInvalidAccessKeyID},
		{"other region", testAccessKey + "/20151229/eu-west-1/s3/aws4_request", "20151229T000000Z", policy, sig, ErrAuthorizationQueryParametersError},
		{"other service", testAccessKey + "/20151229/us-east-1/ec2/aws4_request", "20151229T000000Z", policy, sig, ErrAuthorizationQueryParametersError},
		{"date not the credential's", cred, "20151230T000000Z", policy, sig, ErrAuthorizationQueryParametersError},
		{"bad date", cred, "2015-12-29", policy, sig, ErrAuthorizationQueryParametersError},
		{"malformed credential", "AKID/20151229", "20151229T000000Z", policy, sig, ErrAuthorizationQueryParametersError},
	} {
		if _, err := v.VerifyPost(tc.cred, tc.date, tc.pol, tc.sig); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

package sigv2

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/s3api/sigv4"
)

const defaultMaxSkew = 15 * time.Minute

// Verifier authenticates SigV2 requests. It is safe for concurrent use once
// its fields are set.
type Verifier struct {
	// Secret returns the secret key of an access key, ok == false when
	// there is none.
	Secret func(accessKey string) (secret string, ok bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds |Date - Now| of header-signed requests; 0 means 15
	// minutes, as S3 and SigV4.
	MaxSkew time.Duration
	// HostBucket returns the bucket a virtual-host-style Host names, ""
	// for a path-style request; nil means path-style only. SigV2 signs the
	// bucket of a virtual-host request as a "/bucket" prefix of the path.
	HostBucket func(host string) string
}

// IsSigV2 reports whether r is signed with SigV2: an "AWS " Authorization
// header, or the AWSAccessKeyId/Signature query of a presigned URL.
func IsSigV2(r *http.Request) bool {
	if a := r.Header.Get("Authorization"); a != "" {
		return strings.HasPrefix(a, "AWS ")
	}
	q := r.URL.Query()
	return !q.Has("X-Amz-Algorithm") && (q.Has("AWSAccessKeyId") || q.Has("Signature"))
}

// Authenticate verifies r's SigV2 signature and returns who signed it and
// its body (unread, unverified: SigV2 signs no payload hash).
func (v *Verifier) Authenticate(r *http.Request) (*sigv4.Auth, error) {
	if v.Secret == nil {
		return nil, errors.New("sigv2: Verifier.Secret is nil")
	}
	if p := r.Header.Get("X-Amz-Content-Sha256"); strings.HasPrefix(p, "STREAMING-") {
		return nil, fmt.Errorf("x-amz-content-sha256 %s is SigV4 chunk signing, not SigV2: %w", p, sigv4.ErrInvalidArgument)
	}
	authz := r.Header.Values("Authorization")
	q := r.URL.Query()
	switch {
	case len(authz) > 1:
		return nil, fmt.Errorf("%d Authorization headers: %w", len(authz), sigv4.ErrAuthorizationHeaderMalformed)
	case len(authz) == 1 && (q.Has("Signature") || q.Has("AWSAccessKeyId")):
		return nil, fmt.Errorf("only one auth mechanism allowed: send either the Authorization header or the Signature query parameters: %w", sigv4.ErrInvalidArgument)
	case len(authz) == 1:
		return v.authenticateHeader(r, authz[0])
	}
	return v.authenticateQuery(r, q)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// authenticateHeader handles "Authorization: AWS AKID:signature".
func (v *Verifier) authenticateHeader(r *http.Request, authz string) (*sigv4.Auth, error) {
	cred, ok := strings.CutPrefix(authz, "AWS ")
	i := strings.LastIndexByte(cred, ':')
	if !ok || i <= 0 || i == len(cred)-1 {
		return nil, fmt.Errorf("Authorization %q is not \"AWS <access key>:<signature>\": %w", authz, sigv4.ErrAuthorizationHeaderMalformed)
	}
	ak, sig := cred[:i], cred[i+1:]
	t, err := requestTime(r.Header)
	if err != nil {
		return nil, err
	}
	secret, ok := v.Secret(ak)
	if !ok {
		return nil, fmt.Errorf("access key %q: %w", ak, sigv4.ErrInvalidAccessKeyID)
	}
	maxSkew := v.MaxSkew
	if maxSkew <= 0 {
		maxSkew = defaultMaxSkew
	}
	if now := v.now(); now.Sub(t).Abs() > maxSkew {
		return nil, &sigv4.SkewError{RequestTime: t, ServerTime: now, MaxSkew: maxSkew}
	}
	date := r.Header.Get("Date")
	if r.Header.Get("X-Amz-Date") != "" {
		date = "" // S3 signs x-amz-date among the x-amz-* headers instead
	}
	sts := StringToSign(r.Method, r.Header, date, v.resource(r))
	if !signatureEqual(secret, sts, sig) {
		return nil, &sigv4.SignatureError{AccessKey: ak, StringToSign: sts}
	}
	return newAuth(r, ak, false), nil
}

// authenticateQuery handles a presigned URL:
// ?AWSAccessKeyId=...&Expires=<unix seconds>&Signature=...
func (v *Verifier) authenticateQuery(r *http.Request, q url.Values) (*sigv4.Auth, error) {
	ak, exp, sig := q.Get("AWSAccessKeyId"), q.Get("Expires"), q.Get("Signature")
	if ak == "" || exp == "" || sig == "" {
		return nil, fmt.Errorf("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters: %w", sigv4.ErrAccessDenied)
	}
	for _, p := range [...]string{"AWSAccessKeyId", "Expires", "Signature"} {
		if len(q[p]) > 1 {
			return nil, fmt.Errorf("%s is repeated: %w", p, sigv4.ErrAccessDenied)
		}
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("Expires %q is not a number of seconds since the epoch: %w", exp, sigv4.ErrAccessDenied)
	}
	secret, ok := v.Secret(ak)
	if !ok {
		return nil, fmt.Errorf("access key %q: %w", ak, sigv4.ErrInvalidAccessKeyID)
	}
	if v.now().Unix() > secs {
		return nil, fmt.Errorf("Request has expired (Expires %s): %w", time.Unix(secs, 0).UTC().Format(time.RFC3339), sigv4.ErrAccessDenied)
	}
	sts := StringToSign(r.Method, r.Header, exp, v.resource(r))
	if !signatureEqual(secret, sts, sig) {
		return nil, &sigv4.SignatureError{AccessKey: ak, StringToSign: sts}
	}
	return newAuth(r, ak, true), nil
}

// VerifyPost checks a SigV2 browser form upload: signature is the base64
// HMAC-SHA1 of the base64 policy under the secret of accessKey.
func (v *Verifier) VerifyPost(accessKey, policy, signature string) (string, error) {
	if v.Secret == nil {
		return "", errors.New("sigv2: Verifier.Secret is nil")
	}
	if accessKey == "" || signature == "" {
		return "", fmt.Errorf("a SigV2 form needs both AWSAccessKeyId and signature: %w", sigv4.ErrAccessDenied)
	}
	secret, ok := v.Secret(accessKey)
	if !ok {
		return "", fmt.Errorf("access key %q: %w", accessKey, sigv4.ErrInvalidAccessKeyID)
	}
	if !signatureEqual(secret, policy, signature) {
		return "", &sigv4.SignatureError{AccessKey: accessKey, StringToSign: policy}
	}
	return accessKey, nil
}

func newAuth(r *http.Request, ak string, presigned bool) *sigv4.Auth {
	return &sigv4.Auth{
		AccessKey:       ak,
		Body:            r.Body,
		DecodedLength:   r.ContentLength,
		Trailer:         func() http.Header { return nil },
		Presigned:       presigned,
		ContentEncoding: r.Header.Get("Content-Encoding"),
	}
}

// requestTime reads x-amz-date, or failing that Date, in any of the forms
// HTTP allows, RFC 1123 with a numeric zone (as AWS's own examples), or
// ISO 8601 basic.
func requestTime(h http.Header) (time.Time, error) {
	s := h.Get("X-Amz-Date")
	if s == "" {
		s = h.Get("Date")
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("AWS authentication requires a valid Date or x-amz-date header: %w", sigv4.ErrAccessDenied)
	}
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	for _, layout := range [...]string{time.RFC1123Z, time.RFC1123, "20060102T150405Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("AWS authentication requires a valid Date or x-amz-date header (got %q): %w", s, sigv4.ErrAccessDenied)
}

func signatureEqual(secret, sts, sig string) bool {
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return hmac.Equal(m.Sum(nil), want)
}

// Sign returns the SigV2 signature of a string to sign; for clients and
// tests.
func Sign(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// StringToSign builds SigV2's string to sign. date is the Date header, ""
// when x-amz-date is sent, or Expires for a presigned URL.
func StringToSign(method string, h http.Header, date, resource string) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(h.Get("Content-Md5"))
	b.WriteByte('\n')
	b.WriteString(h.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	b.WriteString(canonicalAmzHeaders(h))
	b.WriteString(resource)
	return b.String()
}

// canonicalAmzHeaders is every x-amz-* header, lower case, sorted, its
// values joined with "," and trimmed, one "name:value\n" each.
func canonicalAmzHeaders(h http.Header) string {
	var names []string
	for k := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			names = append(names, lk)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var b strings.Builder
	for _, n := range names {
		vs := slices.Clone(h.Values(n))
		for i, v := range vs {
			vs[i] = strings.TrimSpace(v)
		}
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.Join(vs, ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// signedSubresources are the query parameters SigV2's canonical resource
// includes (S3's list, and the response-* overrides).
var signedSubresources = map[string]bool{
	"acl": true, "cors": true, "delete": true, "lifecycle": true, "location": true, "logging": true,
	"notification": true, "partNumber": true, "policy": true, "requestPayment": true, "restore": true,
	"tagging": true, "torrent": true, "uploadId": true, "uploads": true, "versionId": true,
	"versioning": true, "versions": true, "website": true, "replication": true, "attributes": true,
	"encryption": true, "object-lock": true, "retention": true, "legal-hold": true, "select": true,
	"select-type":            true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-content-type": true, "response-expires": true,
}

// resource is the canonical resource of r.
func (v *Verifier) resource(r *http.Request) string {
	return CanonicalResource(r, v.bucketOfHost(r.Host))
}

func (v *Verifier) bucketOfHost(host string) string {
	if v.HostBucket == nil {
		return ""
	}
	return v.HostBucket(host)
}

// CanonicalResource is "/bucket" (hostBucket, for a virtual-host request),
// the path as sent, and the signed subresources sorted by name.
func CanonicalResource(r *http.Request, hostBucket string) string {
	var b strings.Builder
	if hostBucket != "" {
		b.WriteString("/")
		b.WriteString(hostBucket)
	}
	p, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	if p == "" || !strings.HasPrefix(p, "/") {
		// A client request (tests) or an absolute-form URI: use the URL.
		p, rawQuery = r.URL.EscapedPath(), r.URL.RawQuery
	}
	b.WriteString(p)
	q, _ := url.ParseQuery(rawQuery)
	var names []string
	for k := range q {
		if signedSubresources[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for i, n := range names {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(n)
		if v := q.Get(n); v != "" {
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

package sigv4

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	algorithmV4a    = "AWS4-ECDSA-P256-SHA256"
	scopeTerminator = "aws4_request"
	service         = "s3"
	timeFormat      = "20060102T150405Z"
	dateFormat      = "20060102"

	// Values of x-amz-content-sha256 that are not a hex SHA-256.
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSA           = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	streamingECDSATrailer    = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"

	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	defaultMaxSkew   = 15 * time.Minute
	maxPresignExpiry = 604800 // seconds: seven days, S3's limit for X-Amz-Expires
)

// Verifier authenticates S3 requests signed with AWS SigV4. A Verifier is
// safe for concurrent use once its fields are set; it holds no state of its
// own between requests.
type Verifier struct {
	// Region the credential scope must name, e.g. "us-east-1". A request
	// scoped to another region gets ErrAuthorizationHeaderMalformed (or, if
	// presigned, ErrAuthorizationQueryParametersError) saying "the region
	// 'x' is wrong; expecting 'y'", as S3 does. Empty accepts any region.
	Region string
	// AlsoRegions are further regions a credential scope may name. Cairn
	// answers GetBucketLocation with a bucket's storage group, and some
	// clients (minio-go, so restic) then sign for that name.
	AlsoRegions []string
	// Secret returns the secret key of an access key, or ok == false when
	// there is no such key.
	Secret func(accessKey string) (secret string, ok bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds |X-Amz-Date - Now| for header-signed requests; 0
	// means 15 minutes, S3's value.
	MaxSkew time.Duration
}

// Auth is an authenticated request.
type Auth struct {
	// AccessKey is the access key that signed the request.
	AccessKey string

	// Body yields the payload bytes: for aws-chunked bodies
	// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER,
	// STREAMING-UNSIGNED-PAYLOAD-TRAILER) the chunk framing is removed and
	// every chunk signature (and the trailer signature) is verified as the
	// bytes stream, each signed chunk before any of its bytes are returned;
	// for a hex x-amz-content-sha256 the SHA-256 is verified when the body
	// ends. On a verification failure Body returns the error (one of the
	// sentinels) instead of io.EOF, so a caller that io.Copy's it into
	// storage sees the failure before committing anything. After an error
	// every Read returns the same error. Body does not close r.Body.
	Body io.Reader

	// DecodedLength is x-amz-decoded-content-length for chunked bodies,
	// else Content-Length; -1 when unknown.
	DecodedLength int64

	// Trailer returns the trailing headers (e.g. x-amz-checksum-crc32) once
	// Body has returned io.EOF; before that, after a failure, or when the
	// body has no trailer it returns nil. It is never nil itself.
	Trailer func() http.Header

	// Presigned reports that the signature came from the query string.
	Presigned bool

	// ContentEncoding is the request's Content-Encoding with the
	// aws-chunked token removed: the encoding of the decoded payload, to be
	// stored as object metadata instead of the header.
	ContentEncoding string
}

// Authenticate verifies r's signature (Authorization header or presigned
// query) and returns who signed it and a reader of the decoded payload. It
// never reads the whole body into memory: the payload is verified as Body
// is read.
func (v *Verifier) Authenticate(r *http.Request) (*Auth, error) {
	if v.Secret == nil {
		return nil, errors.New("sigv4: Verifier.Secret is nil")
	}
	authz := r.Header.Values("Authorization")
	query := r.URL.Query()
	presigned := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Signature")
	switch {
	case len(authz) > 0 && presigned:
		return nil, fmt.Errorf("only one auth mechanism allowed: send either the Authorization header or the X-Amz-Algorithm query parameters: %w", ErrInvalidArgument)
	case len(authz) > 1:
		return nil, fmt.Errorf("%d Authorization headers: %w", len(authz), ErrAuthorizationHeaderMalformed)
	case len(authz) == 1:
		return v.authenticateHeader(r, authz[0])
	case presigned:
		return v.authenticateQuery(r, query)
	case query.Has("AWSAccessKeyId") || query.Has("Signature"):
		return nil, fmt.Errorf("presigned URL uses AWS Signature Version 2 (AWSAccessKeyId/Signature): %w", ErrSignatureVersionNotSupported)
	default:
		return nil, ErrAnonymous
	}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultMaxSkew
}

// authenticateHeader handles "Authorization: AWS4-HMAC-SHA256 ...".
func (v *Verifier) authenticateHeader(r *http.Request, authz string) (*Auth, error) {
	scheme, _, _ := strings.Cut(authz, " ")
	switch scheme {
	case algorithm:
	case "AWS":
		return nil, fmt.Errorf("Authorization header uses AWS Signature Version 2 (\"AWS AKID:signature\"): %w", ErrSignatureVersionNotSupported)
	case algorithmV4a:
		return nil, fmt.Errorf("Authorization header uses SigV4a (%s): %w", algorithmV4a, ErrSignatureVersionNotSupported)
	default:
		return nil, fmt.Errorf("unsupported Authorization type %q: %w", scheme, ErrSignatureVersionNotSupported)
	}
	a, err := parseAuthorization(authz)
	if err != nil {
		return nil, err
	}

	amzDate, t, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if a.cred.date != amzDate[:len(dateFormat)] {
		return nil, fmt.Errorf("credential date %s is not the date of the request time %s: %w", a.cred.date, amzDate, ErrAuthorizationHeaderMalformed)
	}
	if err := v.checkScope(a.cred, ErrAuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return nil, fmt.Errorf("SignedHeaders %q does not include host: %w", strings.Join(a.signedHeaders, ";"), ErrAuthorizationHeaderMalformed)
	}
	secret, ok := v.Secret(a.cred.accessKey)
	if !ok {
		return nil, fmt.Errorf("access key %q: %w", a.cred.accessKey, ErrInvalidAccessKeyID)
	}
	now := v.now()
	if d := now.Sub(t).Abs(); d > v.maxSkew() {
		return nil, &SkewError{RequestTime: t, ServerTime: now, MaxSkew: v.maxSkew()}
	}
	if err := checkAllSigned(r, a.signedHeaders); err != nil {
		return nil, err
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		// S3 insists on the header; a generic SigV4 signer that omits it
		// signed the body's hash, which only the empty body has without
		// reading it. The hash reader then holds the body to that.
		payload = emptySHA256
	}
	if err := checkPayloadHash(payload); err != nil {
		return nil, err
	}
	key := signingKey(secret, a.cred)
	canonical := canonicalRequest(r, a.signedHeaders, payload, false)
	sts := stringToSign(amzDate, a.cred.scope(), canonical)
	if !signatureEqual(key, sts, a.signature) {
		return nil, &SignatureError{AccessKey: a.cred.accessKey, StringToSign: sts, CanonicalRequest: canonical}
	}
	return newAuth(r, a.cred, payload, &chainState{key: key, amzDate: amzDate, scope: a.cred.scope(), seed: a.signature}, false)
}

// requestTime reads X-Amz-Date, or failing that Date, and returns it in the
// ISO 8601 basic form the string to sign uses.
func requestTime(r *http.Request) (string, time.Time, error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(timeFormat, s)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("X-Amz-Date %q is not in the form YYYYMMDDTHHMMSSZ: %w", s, ErrAccessDenied)
		}
		return s, t, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := http.ParseTime(s)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("Date %q is not an HTTP date: %w", s, ErrAccessDenied)
		}
		t = t.UTC()
		return t.Format(timeFormat), t, nil
	}
	return "", time.Time{}, fmt.Errorf("AWS authentication requires a valid Date or X-Amz-Date header: %w", ErrAccessDenied)
}

// checkScope holds the credential scope to this server's region and to S3.
func (v *Verifier) checkScope(c credential, sentinel error) error {
	if v.Region != "" && c.region != v.Region && !slices.Contains(v.AlsoRegions, c.region) {
		return fmt.Errorf("the region '%s' is wrong; expecting '%s': %w", c.region, v.Region, sentinel)
	}
	if c.service != service {
		return fmt.Errorf("the service '%s' is wrong; expecting '%s': %w", c.service, service, sentinel)
	}
	return nil
}

// checkAllSigned rejects x-amz-* headers that the signature does not cover,
// as S3 does ("There were headers present in the request which were not
// signed"): otherwise anyone on the path could add x-amz-acl or
// x-amz-meta-* to a signed request.
func checkAllSigned(r *http.Request, signed []string) error {
	var unsigned []string
	for name := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && !slices.Contains(signed, lower) {
			unsigned = append(unsigned, lower)
		}
	}
	if len(unsigned) == 0 {
		return nil
	}
	slices.Sort(unsigned)
	return fmt.Errorf("there were headers present in the request which were not signed: %s: %w", strings.Join(unsigned, ", "), ErrAccessDenied)
}

// checkPayloadHash accepts the x-amz-content-sha256 values S3 accepts and
// this package implements.
func checkPayloadHash(p string) error {
	switch p {
	case unsignedPayload, streamingPayload, streamingPayloadTrailer, streamingUnsignedTrailer:
		return nil
	case streamingECDSA, streamingECDSATrailer:
		return fmt.Errorf("x-amz-content-sha256 %s is a SigV4a payload: %w", p, ErrSignatureVersionNotSupported)
	}
	if _, ok := decodeSHA256(p); ok {
		return nil
	}
	return fmt.Errorf("x-amz-content-sha256 %q must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "+
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a hex SHA-256: %w", p, ErrInvalidArgument)
}

func decodeSHA256(s string) ([32]byte, bool) {
	var b [32]byte
	if len(s) != 64 {
		return b, false
	}
	_, err := hex.Decode(b[:], []byte(s))
	return b, err == nil
}

// signatureEqual compares in constant time; sig is lower-case hex.
func signatureEqual(key []byte, sts, sig string) bool {
	want, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(hmacSHA256(key, sts), want)
}

// authenticateQuery handles presigned URLs (X-Amz-Algorithm=AWS4-HMAC-SHA256&...).
func (v *Verifier) authenticateQuery(r *http.Request, q url.Values) (*Auth, error) {
	get := func(name string) (string, error) {
		vs := q[name]
		if len(vs) > 1 {
			return "", fmt.Errorf("query parameter %s given %d times: %w", name, len(vs), ErrAuthorizationQueryParametersError)
		}
		if len(vs) == 0 || vs[0] == "" {
			return "", fmt.Errorf("query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "+
				"X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; %s is missing: %w", name, ErrAuthorizationQueryParametersError)
		}
		return vs[0], nil
	}
	var p [6]string
	for i, name := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		var err error
		if p[i], err = get(name); err != nil {
			return nil, err
		}
	}
	alg, credStr, sigStr, amzDate, signedStr, expStr := p[0], p[1], p[2], p[3], p[4], p[5]
	switch alg {
	case algorithm:
	case algorithmV4a:
		return nil, fmt.Errorf("presigned URL uses SigV4a (%s): %w", algorithmV4a, ErrSignatureVersionNotSupported)
	default:
		return nil, fmt.Errorf("X-Amz-Algorithm %q: only %s is supported: %w", alg, algorithm, ErrAuthorizationQueryParametersError)
	}
	cred, err := parseCredential(credStr, ErrAuthorizationQueryParametersError)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		return nil, fmt.Errorf("X-Amz-Date %q must be in the ISO8601 long format YYYYMMDDTHHMMSSZ: %w", amzDate, ErrAuthorizationQueryParametersError)
	}
	if cred.date != amzDate[:len(dateFormat)] {
		return nil, fmt.Errorf("X-Amz-Credential date %s is not the date of X-Amz-Date %s: %w", cred.date, amzDate, ErrAuthorizationQueryParametersError)
	}
	expires, err := strconv.ParseInt(expStr, 10, 64)
	switch {
	case err != nil:
		return nil, fmt.Errorf("X-Amz-Expires %q should be a number: %w", expStr, ErrAuthorizationQueryParametersError)
	case expires < 1:
		return nil, fmt.Errorf("X-Amz-Expires %d must be at least 1 second: %w", expires, ErrAuthorizationQueryParametersError)
	case expires > maxPresignExpiry:
		return nil, fmt.Errorf("X-Amz-Expires %d must be less than a week (in seconds) that is %d: %w", expires, maxPresignExpiry, ErrAuthorizationQueryParametersError)
	}
	if err := v.checkScope(cred, ErrAuthorizationQueryParametersError); err != nil {
		return nil, fmt.Errorf("error parsing the X-Amz-Credential parameter: %w", err)
	}
	signed, err := parseSignedHeaders(signedStr, ErrAuthorizationQueryParametersError)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(signed, "host") {
		return nil, fmt.Errorf("X-Amz-SignedHeaders %q does not include host: %w", signedStr, ErrAuthorizationQueryParametersError)
	}
	sig, err := parseSignature(sigStr, ErrAuthorizationQueryParametersError)
	if err != nil {
		return nil, err
	}
	secret, ok := v.Secret(cred.accessKey)
	if !ok {
		return nil, fmt.Errorf("access key %q: %w", cred.accessKey, ErrInvalidAccessKeyID)
	}
	now := v.now()
	if expiry := t.Add(time.Duration(expires) * time.Second); now.After(expiry) {
		return nil, fmt.Errorf("Request has expired: signed %s, valid for %ds, expired %s ago: %w",
			t.Format(time.RFC3339), expires, now.Sub(expiry).Round(time.Second), ErrAccessDenied)
	}
	if t.After(now.Add(v.maxSkew())) {
		return nil, fmt.Errorf("Request is not valid yet: signed for %s, server time %s: %w",
			t.Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrAccessDenied)
	}
	if err := checkAllSigned(r, signed); err != nil {
		return nil, err
	}
	// A presigned URL signs UNSIGNED-PAYLOAD unless the signer pinned the
	// payload with x-amz-content-sha256, as a header or hoisted into the
	// query.
	payload := unsignedPayload
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		payload = h
	} else if qv := q.Get("X-Amz-Content-Sha256"); qv != "" {
		payload = qv
	}
	if err := checkPayloadHash(payload); err != nil {
		return nil, err
	}
	key := signingKey(secret, cred)
	canonical := canonicalRequest(r, signed, payload, true)
	sts := stringToSign(amzDate, cred.scope(), canonical)
	if !signatureEqual(key, sts, sig) {
		return nil, &SignatureError{AccessKey: cred.accessKey, StringToSign: sts, CanonicalRequest: canonical}
	}
	return newAuth(r, cred, payload, &chainState{key: key, amzDate: amzDate, scope: cred.scope(), seed: sig}, true)
}

// newAuth wraps r.Body in the reader that verifies the payload the way
// x-amz-content-sha256 says it was signed.
func newAuth(r *http.Request, cred credential, payload string, cs *chainState, presigned bool) (*Auth, error) {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	a := &Auth{
		AccessKey:       cred.accessKey,
		Presigned:       presigned,
		DecodedLength:   r.ContentLength,
		ContentEncoding: strings.Join(r.Header.Values("Content-Encoding"), ","),
		Trailer:         func() http.Header { return nil },
	}
	if a.DecodedLength < 0 {
		a.DecodedLength = -1
	}
	var mode chunkMode
	switch payload {
	case unsignedPayload:
		a.Body = newPayloadReader(body, r.ContentLength, nil)
		return a, nil
	case streamingPayload:
		mode = signedChunks
	case streamingPayloadTrailer:
		mode = signedChunksTrailer
	case streamingUnsignedTrailer:
		mode = unsignedChunksTrailer
	default:
		sum, _ := decodeSHA256(payload) // checkPayloadHash vetted it
		a.Body = newPayloadReader(body, r.ContentLength, &sum)
		return a, nil
	}

	declared := int64(-1)
	if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("x-amz-decoded-content-length %q is not a length: %w", s, ErrInvalidArgument)
		}
		declared = n
	} else if mode != unsignedChunksTrailer {
		// S3 requires it for signed streaming; the unsigned-trailer
		// variant is accepted without it (decoded length unknown).
		return nil, fmt.Errorf("%s upload without x-amz-decoded-content-length: %w", payload, ErrMissingContentLength)
	}
	var announced []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				announced = append(announced, name)
			}
		}
	}
	cr := newChunkedReader(body, mode, cs, declared, announced)
	a.Body = cr
	a.Trailer = cr.Trailer
	a.DecodedLength = declared
	a.ContentEncoding = stripAWSChunked(a.ContentEncoding)
	return a, nil
}

// stripAWSChunked removes the aws-chunked token from a Content-Encoding
// list ("aws-chunked", "aws-chunked,gzip", "gzip, aws-chunked"): it
// describes the transfer framing this package removes, not the object.
func stripAWSChunked(v string) string {
	if v == "" {
		return ""
	}
	var keep []string
	for tok := range strings.SplitSeq(v, ",") {
		tok = strings.TrimSpace(tok)
		if tok != "" && !strings.EqualFold(tok, "aws-chunked") {
			keep = append(keep, tok)
		}
	}
	return strings.Join(keep, ",")
}

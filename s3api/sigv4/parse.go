package sigv4

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// credential is the parsed Credential (header) or X-Amz-Credential (query):
// AKID/YYYYMMDD/region/service/aws4_request.
type credential struct {
	accessKey string
	date      string // YYYYMMDD
	region    string
	service   string
}

// scope is the credential scope that the string to sign carries.
func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + scopeTerminator
}

// authorization is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." header.
type authorization struct {
	cred          credential
	signedHeaders []string // lower case, in the order the client listed them
	signature     string   // 64 lower-case hex digits
}

// parseAuthorization parses an AWS4-HMAC-SHA256 Authorization header value.
// Every failure wraps ErrAuthorizationHeaderMalformed. The parser is strict
// about the components (all three, once each) and lenient about the
// separators, because clients differ in them: the SDKs write ", ", some
// hand-written signers ",".
func parseAuthorization(s string) (authorization, error) {
	var a authorization
	scheme, rest, _ := strings.Cut(s, " ")
	if scheme != algorithm {
		return a, fmt.Errorf("authorization scheme %q, want %s: %w", scheme, algorithm, ErrAuthorizationHeaderMalformed)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, fmt.Errorf("component %q is not key=value: %w", part, ErrAuthorizationHeaderMalformed)
		}
		var dup bool
		switch k {
		case "Credential":
			dup, haveCred, cred = haveCred, true, v
		case "SignedHeaders":
			dup, haveSigned, signed = haveSigned, true, v
		case "Signature":
			dup, haveSig, sig = haveSig, true, v
		default:
			return a, fmt.Errorf("unknown component %q: %w", k, ErrAuthorizationHeaderMalformed)
		}
		if dup {
			return a, fmt.Errorf("component %s given twice: %w", k, ErrAuthorizationHeaderMalformed)
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return a, fmt.Errorf("an AWS4-HMAC-SHA256 Authorization header needs Credential, SignedHeaders and Signature: %w", ErrAuthorizationHeaderMalformed)
	}
	var err error
	if a.cred, err = parseCredential(cred, ErrAuthorizationHeaderMalformed); err != nil {
		return a, err
	}
	if a.signedHeaders, err = parseSignedHeaders(signed, ErrAuthorizationHeaderMalformed); err != nil {
		return a, err
	}
	if a.signature, err = parseSignature(sig, ErrAuthorizationHeaderMalformed); err != nil {
		return a, err
	}
	return a, nil
}

// parseCredential parses AKID/YYYYMMDD/region/service/aws4_request. The
// access key is everything before the last four components, so that a key
// containing "/" still parses. Failures wrap sentinel.
func parseCredential(s string, sentinel error) (credential, error) {
	var c credential
	malformed := func(why string) (credential, error) {
		return credential{}, fmt.Errorf("credential %q is malformed (%s); expecting \"<access key>/YYYYMMDD/REGION/SERVICE/aws4_request\": %w", s, why, sentinel)
	}
	parts := strings.Split(s, "/")
	n := len(parts)
	if n < 5 {
		return malformed("too few components")
	}
	if parts[n-1] != scopeTerminator {
		return malformed("it does not end in aws4_request")
	}
	c.accessKey = strings.Join(parts[:n-4], "/")
	c.date, c.region, c.service = parts[n-4], parts[n-3], parts[n-2]
	if c.accessKey == "" {
		return malformed("empty access key")
	}
	if c.region == "" || c.service == "" {
		return malformed("empty region or service")
	}
	if _, err := time.Parse(dateFormat, c.date); err != nil || len(c.date) != len(dateFormat) {
		return malformed("bad date")
	}
	return c, nil
}

// parseSignedHeaders parses "host;x-amz-date;...". Names must be lower case
// token characters, as the canonical request has them.
func parseSignedHeaders(s string, sentinel error) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("SignedHeaders is empty: %w", sentinel)
	}
	names := strings.Split(s, ";")
	for _, n := range names {
		if !isLowerToken(n) {
			return nil, fmt.Errorf("SignedHeaders entry %q is not a lower-case header name: %w", n, sentinel)
		}
	}
	return names, nil
}

// parseSignature checks for 64 hex digits and returns them in lower case,
// the form the chunk signature chain continues from.
func parseSignature(s string, sentinel error) (string, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("signature %q is not 64 hex digits: %w", s, sentinel)
	}
	var b [32]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return "", fmt.Errorf("signature %q is not hex: %w", s, sentinel)
	}
	return hex.EncodeToString(b[:]), nil
}

// isLowerToken reports whether s is a non-empty HTTP token (RFC 9110) with no
// upper-case letters.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

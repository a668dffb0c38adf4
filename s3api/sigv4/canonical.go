package sigv4

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// canonicalRequest builds the SigV4 canonical request of r:
//
//	METHOD \n URI \n QUERY \n name:value\n... \n signed;headers \n payload-hash
//
// following S3's rules: the URI is the path exactly as the client sent it
// (S3 does not encode it a second time, nor normalise "//" or "."), the
// query is decoded and re-encoded in SigV4 form and sorted, and header
// values are trimmed with inner runs of spaces collapsed. For a presigned
// request X-Amz-Signature is left out of the query.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string, presigned bool) string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r))
	b.WriteByte('\n')
	writeCanonicalQuery(&b, r.URL.RawQuery, presigned)
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		writeCanonicalHeaderValue(&b, r, name)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	for i, name := range signedHeaders {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(name)
	}
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI returns the request path as it was on the wire. A server
// request keeps it in RequestURI, which no router rewrites, and using it
// avoids every question of how net/url decoded and re-encoded the path
// (lower-case escapes, "%2F", "+", characters that EscapedPath would
// escape differently). Requests built in-process (RequestURI empty) fall
// back to URL.EscapedPath, which is what the client transport would send.
func canonicalURI(r *http.Request) string {
	uri := r.RequestURI
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if strings.HasPrefix(uri, "/") {
		return uri
	}
	if i := strings.Index(uri, "://"); i >= 0 { // absolute-form, as sent to proxies
		rest := uri[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	p := r.URL.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// writeCanonicalQuery writes the canonical query string: every name and
// value decoded (as application/x-www-form-urlencoded, "+" is a space, as
// the SDKs decode it before signing) and re-encoded with SigV4's rules, the
// pairs sorted by encoded name then encoded value, "name=" for a parameter
// without a value ("?uploads"). A component that does not decode is kept as
// sent; the signature then fails rather than the parse.
func writeCanonicalQuery(b *strings.Builder, raw string, presigned bool) {
	if raw == "" {
		return
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = uriEncode(queryUnescape(k)), uriEncode(queryUnescape(v))
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{k, v})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.k, b.k); c != 0 {
			return c
		}
		return cmp.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
}

func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// uriEncode percent-encodes every byte outside the RFC 3986 unreserved set
// (A-Z a-z 0-9 - _ . ~) with upper-case hex, as SigV4 requires.
func uriEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// writeCanonicalHeaderValue writes the values of header name joined by ","
// each trimmed and with runs of spaces collapsed. net/http moves Host,
// Content-Length (when absent from the map) and Transfer-Encoding out of
// r.Header; they are taken from where it put them.
func writeCanonicalHeaderValue(b *strings.Builder, r *http.Request, name string) {
	var values []string
	switch name {
	case "host":
		h := r.Host
		if h == "" {
			h = r.URL.Host
		}
		values = []string{h}
	case "content-length":
		values = r.Header["Content-Length"]
		if len(values) == 0 && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		values = r.Header["Transfer-Encoding"]
		if len(values) == 0 && len(r.TransferEncoding) > 0 {
			values = []string{strings.Join(r.TransferEncoding, ",")}
		}
	default:
		values = headerValues(r.Header, name)
	}
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		writeTrimmed(b, v)
	}
}

// headerValues looks name up under its canonical key, and failing that
// case-insensitively: a header name net/textproto does not canonicalise
// (one with "_", say) stays in the map as the client wrote it.
func headerValues(h http.Header, name string) []string {
	if v, ok := h[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// writeTrimmed writes v without leading and trailing spaces and with each
// run of inner spaces written as one (SigV4's Trimall, as the SDKs do it).
func writeTrimmed(b *strings.Builder, v string) {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
}

// stringToSign is "AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(sha256(canonical request))".
func stringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// signingKey derives HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func signingKey(secret string, c credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), c.date)
	k = hmacSHA256(k, c.region)
	k = hmacSHA256(k, c.service)
	return hmacSHA256(k, scopeTerminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

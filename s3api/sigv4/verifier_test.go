package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// awkwardKeys are object keys whose paths and queries trip up canonical
// request builders: spaces, '+', '%', unicode, empty segments, reserved
// characters.
var awkwardKeys = []string{
	"plain.txt",
	"dir/with space.txt",
	"a+b=c&d.bin",
	"100%.bin",
	"%2F literally",
	"ünïcødé/日本語 ファイル.txt",
	"double//slash/",
	"/leading-slash",
	"tilde~star*(paren)!'quote",
	"semi;colon,comma:colon@at$dollar",
	"query?x=1#frag",
	"dot/./dotdot/../end",
	"tab\tand\u00a0nbsp",
}

// escapeKey escapes a key as the SDKs do for the path: every byte but the
// unreserved ones and '/' percent-encoded.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if unreserved(c) || c == '/' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

func TestHeaderAuth(t *testing.T) {
	body := []byte("hello, cairn")
	for _, key := range awkwardKeys {
		for _, payload := range []string{"hex", unsignedPayload} {
			t.Run(key+"/"+payload, func(t *testing.T) {
				u := "http://127.0.0.1:9000/bucket/" + escapeKey(key) +
					"?versionId=v%201&response-content-disposition=" + url.QueryEscape(`attachment; filename="`+key+`"`) + "&uploads"
				req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Amz-Meta-Note", "  two  spaces   inside  ")
				req.Header.Set("X-Amz-Meta-Unicode", "日本")
				req.Header.Add("X-Amz-Meta-Multi", "one")
				req.Header.Add("X-Amz-Meta-Multi", "two")
				req.Header.Set("Content-Type", "text/plain")
				p := payload
				if p == "hex" {
					p = sha256Hex(body)
				}
				signRequest(t, req, p, testTime)
				sr := overTheWire(t, req)
				a, err := newTestVerifier(testTime).Authenticate(sr)
				if err != nil {
					var se *SignatureError
					if errors.As(err, &se) {
						t.Logf("canonical request:\n%s", se.CanonicalRequest)
					}
					t.Fatalf("Authenticate %s: %v", sr.RequestURI, err)
				}
				got, err := io.ReadAll(a.Body)
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("body %q, %v", got, err)
				}
				if a.AccessKey != testAccessKey || a.Presigned || a.DecodedLength != int64(len(body)) {
					t.Fatalf("Auth %+v", a)
				}
			})
		}
	}
}

// TestHeaderAuthMethods covers requests without a body and with a Date
// header instead of X-Amz-Date.
func TestHeaderAuthMethods(t *testing.T) {
	v := newTestVerifier(testTime)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodPost} {
		req, _ := http.NewRequest(m, "http://localhost/bucket?list-type=2&prefix=a%20b%2Bc&delimiter=%2F&max-keys=10", nil)
		signRequest(t, req, emptySHA256, testTime)
		a, err := v.Authenticate(overTheWire(t, req))
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if n, err := io.ReadAll(a.Body); len(n) != 0 || err != nil {
			t.Fatalf("%s: body %q, %v", m, n, err)
		}
	}

	// A signer that omits x-amz-content-sha256 signed the empty body's hash.
	req, _ := http.NewRequest(http.MethodGet, "http://localhost/bucket/key", nil)
	if err := s3Signer().SignHTTP(context.Background(), testCreds, req, emptySHA256, "s3", testRegion, testTime); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(overTheWire(t, req)); err != nil {
		t.Fatalf("without x-amz-content-sha256: %v", err)
	}

	// Date instead of X-Amz-Date: the signer writes X-Amz-Date, so sign,
	// then move the date over and re-sign the same canonical form by
	// hand: host;date.
	req, _ = http.NewRequest(http.MethodGet, "http://localhost/bucket/key", nil)
	req.Header.Set("Date", testTime.Format(http.TimeFormat))
	cred := credential{accessKey: testAccessKey, date: testTime.Format(dateFormat), region: testRegion, service: "s3"}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	signed := []string{"date", "host", "x-amz-content-sha256"}
	sr := overTheWire(t, req)
	sts := stringToSign(testTime.Format(timeFormat), cred.scope(), canonicalRequest(sr, signed, emptySHA256, false))
	sig := hmacSHA256(signingKey(testSecret, cred), sts)
	sr.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/"+cred.scope()+",SignedHeaders=date;host;x-amz-content-sha256,Signature="+hexString(sig))
	if _, err := v.Authenticate(sr); err != nil {
		t.Fatalf("Date header: %v", err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

func TestHeaderAuthErrors(t *testing.T) {
	body := []byte("payload")
	signed := func(t *testing.T, edit func(*http.Request)) *http.Request {
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/key", bytes.NewReader(body))
		signRequest(t, req, sha256Hex(body), testTime)
		sr := overTheWire(t, req)
		if edit != nil {
			edit(sr)
		}
		return sr
	}
	setAuth := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Authorization", v) } }
	replaceAuth := func(old, new string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	for _, tc := range []struct {
		name  string
		req   func(t *testing.T) *http.Request
		v     *Verifier
		want  error
		inMsg string
	}{
		{name: "anonymous", req: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://localhost/bucket/key", nil)
			return overTheWire(t, r)
		}, want: ErrAnonymous},
		{name: "sigv2 header", req: func(t *testing.T) *http.Request {
			return signed(t, setAuth("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="))
		}, want: ErrSignatureVersionNotSupported, inMsg: "Version 2"},
		{name: "sigv2 query", req: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://localhost/bucket/key?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D", nil)
			return overTheWire(t, r)
		}, want: ErrSignatureVersionNotSupported, inMsg: "only AWS Signature Version 4"},
		{name: "sigv4a", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"))
		}, want: ErrSignatureVersionNotSupported},
		{name: "bearer", req: func(t *testing.T) *http.Request { return signed(t, setAuth("Bearer xyz")) }, want: ErrSignatureVersionNotSupported},
		{name: "no signature component", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth(", Signature=", ", Sig="))
		}, want: ErrAuthorizationHeaderMalformed},
		{name: "short signature", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) {
				r.Header.Set("Authorization", r.Header.Get("Authorization")[:len(r.Header.Get("Authorization"))-2])
			})
		}, want: ErrAuthorizationHeaderMalformed},
		{name: "credential without terminator", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("/aws4_request", "/aws5_request"))
		}, want: ErrAuthorizationHeaderMalformed},
		{name: "wrong region", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("/us-east-1/", "/eu-west-1/"))
		}, want: ErrAuthorizationHeaderMalformed, inMsg: "the region 'eu-west-1' is wrong; expecting 'us-east-1'"},
		{name: "wrong service", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("/s3/", "/ec2/"))
		}, want: ErrAuthorizationHeaderMalformed},
		{name: "credential date differs", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("/20240301/", "/20240302/"))
		}, want: ErrAuthorizationHeaderMalformed},
		{name: "host not signed", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("SignedHeaders=content-length;host;", "SignedHeaders=content-length;"))
		}, want: ErrAuthorizationHeaderMalformed},
		{name: "unknown access key", req: func(t *testing.T) *http.Request {
			return signed(t, replaceAuth("AKIAIOSFODNN7EXAMPLE", "AKIANOBODY"))
		}, want: ErrInvalidAccessKeyID},
		{name: "wrong secret", req: func(t *testing.T) *http.Request { return signed(t, nil) },
			v:    &Verifier{Region: testRegion, Secret: func(string) (string, bool) { return "other", true }, Now: func() time.Time { return testTime }},
			want: ErrSignatureDoesNotMatch},
		{name: "tampered signed header", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.Host = "evil.example" })
		}, want: ErrSignatureDoesNotMatch},
		{name: "tampered query", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.URL.RawQuery = "acl"; r.RequestURI += "?acl" })
		}, want: ErrSignatureDoesNotMatch},
		{name: "tampered path", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.RequestURI = "/bucket/other" })
		}, want: ErrSignatureDoesNotMatch},
		{name: "unsigned x-amz header", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") })
		}, want: ErrAccessDenied, inMsg: "x-amz-acl"},
		{name: "clock 16 minutes ahead", req: func(t *testing.T) *http.Request { return signed(t, nil) },
			v: newTestVerifier(testTime.Add(16 * time.Minute)), want: ErrRequestTimeTooSkewed},
		{name: "clock 16 minutes behind", req: func(t *testing.T) *http.Request { return signed(t, nil) },
			v: newTestVerifier(testTime.Add(-16 * time.Minute)), want: ErrRequestTimeTooSkewed},
		{name: "custom skew", req: func(t *testing.T) *http.Request { return signed(t, nil) },
			v:    &Verifier{Region: testRegion, Secret: testSecrets, Now: func() time.Time { return testTime.Add(2 * time.Minute) }, MaxSkew: time.Minute},
			want: ErrRequestTimeTooSkewed},
		{name: "bad x-amz-date", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-03-01T12:00:00Z") })
		}, want: ErrAccessDenied},
		{name: "no date", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.Header.Del("X-Amz-Date") })
		}, want: ErrAccessDenied},
		{name: "bad content sha256", req: func(t *testing.T) *http.Request {
			req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/key", bytes.NewReader(body))
			signRequest(t, req, "not-a-hash", testTime)
			return overTheWire(t, req)
		}, want: ErrInvalidArgument},
		{name: "sigv4a streaming payload", req: func(t *testing.T) *http.Request {
			req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/key", bytes.NewReader(body))
			signRequest(t, req, streamingECDSA, testTime)
			return overTheWire(t, req)
		}, want: ErrSignatureVersionNotSupported},
		{name: "two mechanisms", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" })
		}, want: ErrInvalidArgument},
		{name: "two authorization headers", req: func(t *testing.T) *http.Request {
			return signed(t, func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) })
		}, want: ErrAuthorizationHeaderMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == nil {
				v = newTestVerifier(testTime)
			}
			_, err := v.Authenticate(tc.req(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.inMsg != "" && !strings.Contains(err.Error(), tc.inMsg) {
				t.Fatalf("err %q does not say %q", err, tc.inMsg)
			}
			t.Log(err)
		})
	}
}

func TestSkewErrorFields(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://localhost/b/k", nil)
	signRequest(t, req, emptySHA256, testTime)
	now := testTime.Add(time.Hour)
	_, err := newTestVerifier(now).Authenticate(overTheWire(t, req))
	var se *SkewError
	if !errors.As(err, &se) || !se.RequestTime.Equal(testTime) || !se.ServerTime.Equal(now) || se.MaxSkew != 15*time.Minute {
		t.Fatalf("err = %#v", err)
	}
	if _, err := newTestVerifier(testTime.Add(14 * time.Minute)).Authenticate(overTheWire(t, req)); err != nil {
		t.Fatalf("14 minutes off: %v", err)
	}
}

func TestPayloadBody(t *testing.T) {
	body := randomBytes(4, 100_000)
	for _, tc := range []struct {
		name    string
		payload string
		wire    []byte // the body actually sent
		cut     bool   // connection drops halfway
		want    error
	}{
		{"hex ok", sha256Hex(body), body, false, nil},
		{"hex mismatch", sha256Hex(body), append(bytes.Clone(body[:len(body)-1]), body[len(body)-1]^1), false, ErrXAmzContentSHA256Mismatch},
		{"hex truncated", sha256Hex(body), body, true, ErrIncompleteBody},
		{"unsigned ok", unsignedPayload, body, false, nil},
		{"unsigned truncated", unsignedPayload, body, true, ErrIncompleteBody},
		{"empty hash, body sent", emptySHA256, body, false, ErrXAmzContentSHA256Mismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, "http://localhost/b/k", bytes.NewReader(tc.wire))
			signRequest(t, req, tc.payload, testTime)
			var wire bytes.Buffer
			if err := req.Write(&wire); err != nil {
				t.Fatal(err)
			}
			raw := wire.Bytes()
			if tc.cut {
				raw = raw[:len(raw)-len(body)/2]
			}
			sr, err := http.ReadRequest(bufioReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			a, err := newTestVerifier(testTime).Authenticate(sr)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			got, err := io.ReadAll(a.Body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !bytes.Equal(got, body) {
				t.Fatalf("body differs")
			}
			if a.Trailer() != nil {
				t.Errorf("Trailer() = %v", a.Trailer())
			}
		})
	}
}

func TestPresigned(t *testing.T) {
	presign := func(t *testing.T, method, rawURL string, expires string, hdr http.Header) (string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, rawURL, nil)
		if expires != "" {
			q := req.URL.Query()
			q.Set("X-Amz-Expires", expires)
			req.URL.RawQuery = q.Encode()
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		u, signedHdr, err := s3Signer().PresignHTTP(context.Background(), testCreds, req, unsignedPayload, "s3", testRegion, testTime)
		if err != nil {
			t.Fatal(err)
		}
		return u, signedHdr
	}
	get := func(t *testing.T, u string, hdr http.Header) *http.Request {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			if k != "Host" {
				req.Header[k] = v
			}
		}
		return overTheWire(t, req)
	}

	for _, key := range awkwardKeys {
		u, h := presign(t, http.MethodGet, "http://127.0.0.1:9000/bucket/"+escapeKey(key)+"?response-content-type=text%2Fplain%3B%20charset%3Dutf-8", "900", nil)
		a, err := newTestVerifier(testTime.Add(10 * time.Minute)).Authenticate(get(t, u, h))
		if err != nil {
			t.Fatalf("%q: %v (%s)", key, err, u)
		}
		if !a.Presigned || a.AccessKey != testAccessKey {
			t.Fatalf("Auth %+v", a)
		}
	}

	// A presigned PUT with a signed header and a body.
	u, h := presign(t, http.MethodPut, "http://127.0.0.1:9000/bucket/up%20load", "60", http.Header{"Content-Type": {"application/x-test"}})
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader("presigned body"))
	req.Header.Set("Content-Type", h.Get("Content-Type"))
	a, err := newTestVerifier(testTime).Authenticate(overTheWire(t, req))
	if err != nil {
		t.Fatalf("presigned PUT: %v", err)
	}
	if b, _ := io.ReadAll(a.Body); string(b) != "presigned body" {
		t.Fatalf("body %q", b)
	}

	base := "http://127.0.0.1:9000/bucket/key"
	for _, tc := range []struct {
		name    string
		expires string
		now     time.Time
		edit    func(u string) string
		hdr     http.Header
		want    error
		inMsg   string
	}{
		{name: "expired", expires: "900", now: testTime.Add(901 * time.Second), want: ErrAccessDenied, inMsg: "Request has expired"},
		{name: "last valid second", expires: "900", now: testTime.Add(900 * time.Second)},
		{name: "a week", expires: "604800", now: testTime.Add(604800 * time.Second)},
		{name: "not yet valid", expires: "900", now: testTime.Add(-16 * time.Minute), want: ErrAccessDenied, inMsg: "not valid yet"},
		{name: "expires zero", expires: "0", now: testTime, want: ErrAuthorizationQueryParametersError},
		{name: "expires negative", expires: "-1", now: testTime, want: ErrAuthorizationQueryParametersError},
		{name: "expires over a week", expires: "604801", now: testTime, want: ErrAuthorizationQueryParametersError, inMsg: "604800"},
		{name: "expires not a number", expires: "soon", now: testTime, want: ErrAuthorizationQueryParametersError},
		{name: "no expires", now: testTime, want: ErrAuthorizationQueryParametersError, inMsg: "X-Amz-Expires"},
		{name: "wrong region", expires: "60", now: testTime, edit: func(u string) string { return strings.Replace(u, "%2Fus-east-1%2F", "%2Feu-west-1%2F", 1) },
			want: ErrAuthorizationQueryParametersError, inMsg: "the region 'eu-west-1' is wrong; expecting 'us-east-1'"},
		{name: "unknown key", expires: "60", now: testTime, edit: func(u string) string { return strings.Replace(u, testAccessKey, "AKIAOTHER", 1) },
			want: ErrInvalidAccessKeyID},
		{name: "tampered signature", expires: "60", now: testTime, edit: func(u string) string { return u[:len(u)-1] + "0" },
			want: ErrSignatureDoesNotMatch},
		{name: "tampered expiry", expires: "60", now: testTime, edit: func(u string) string { return strings.Replace(u, "X-Amz-Expires=60", "X-Amz-Expires=600", 1) },
			want: ErrSignatureDoesNotMatch},
		{name: "extra query parameter", expires: "60", now: testTime, edit: func(u string) string { return u + "&acl" },
			want: ErrSignatureDoesNotMatch},
		{name: "sigv4a", expires: "60", now: testTime, edit: func(u string) string { return strings.Replace(u, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1) },
			want: ErrSignatureVersionNotSupported},
		{name: "other algorithm", expires: "60", now: testTime, edit: func(u string) string { return strings.Replace(u, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1) },
			want: ErrAuthorizationQueryParametersError},
		{name: "repeated parameter", expires: "60", now: testTime, edit: func(u string) string { return u + "&X-Amz-Date=20240301T120000Z" },
			want: ErrAuthorizationQueryParametersError},
		{name: "unsigned x-amz header", expires: "60", now: testTime, hdr: http.Header{"X-Amz-Acl": {"public-read"}},
			want: ErrAccessDenied, inMsg: "not signed"},
		{name: "authorization header too", expires: "60", now: testTime, hdr: http.Header{"Authorization": {"AWS4-HMAC-SHA256 x"}},
			want: ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, h := presign(t, http.MethodGet, base, tc.expires, nil)
			if tc.edit != nil {
				u = tc.edit(u)
			}
			for k, v := range tc.hdr {
				h[k] = v
			}
			_, err := newTestVerifier(tc.now).Authenticate(get(t, u, h))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.inMsg != "" && !strings.Contains(err.Error(), tc.inMsg) {
				t.Fatalf("err %q does not say %q", err, tc.inMsg)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// TestWirePath: the canonical URI is the path exactly as sent, so a client
// that escapes differently from the SDKs (lower-case hex, reserved
// characters left raw, "%2F" inside a key, "//", "." segments) still
// verifies, and changing any of it breaks the signature.
func TestWirePath(t *testing.T) {
	for _, p := range []string{
		"/bucket/a%2fb%c3%a9",
		"/bucket/raw!$&'()*+,;=:@chars",
		"/bucket/a%2Fb",
		"/bucket//x/./y/../z",
		"/bucket/space%20plus+",
		"/",
	} {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000"+p+"?prefix=a+b&x=%7e", nil)
		if err != nil {
			t.Fatal(err)
		}
		if req.URL.EscapedPath() != p {
			t.Fatalf("net/url would send %q for %q", req.URL.EscapedPath(), p)
		}
		signRequest(t, req, emptySHA256, testTime)
		sr := overTheWire(t, req)
		if _, err := newTestVerifier(testTime).Authenticate(sr); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// The same path escaped the canonical way is another request.
		if alt := escapeKey(sr.URL.Path); alt != p {
			sr.RequestURI = alt + "?" + sr.URL.RawQuery
			if _, err := newTestVerifier(testTime).Authenticate(sr); !errors.Is(err, ErrSignatureDoesNotMatch) {
				t.Fatalf("%s re-escaped as %s: %v", p, alt, err)
			}
		}
	}
}

// TestStorageGroupRegion: a scope naming one of AlsoRegions (a storage
// group, which GetBucketLocation answers) verifies; any other is refused.
func TestStorageGroupRegion(t *testing.T) {
	v := newTestVerifier(testTime)
	v.AlsoRegions = []string{"fast"}
	for region, want := range map[string]error{"fast": nil, "slow": ErrAuthorizationHeaderMalformed} {
		req, _ := http.NewRequest(http.MethodGet, "http://localhost/bucket/key", nil)
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if err := s3Signer().SignHTTP(context.Background(), testCreds, req, emptySHA256, "s3", region, testTime); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Authenticate(overTheWire(t, req)); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("signed for %q: %v, want %v", region, err, want)
		}
	}
}

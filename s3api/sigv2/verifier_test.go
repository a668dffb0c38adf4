package sigv2

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// The example of AWS's SigV2 documentation ("Signing and authenticating
// REST requests"): GET /photos/puppy.jpg from bucket johnsmith.
const (
	docKey    = "AKIAIOSFODNN7EXAMPLE"
	docSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	docDate   = "Tue, 27 Mar 2007 19:36:42 +0000"
	docSig    = "bWq2s1WEIj+Ydj0vQ697zp+IXMU="
)

func docVerifier(now time.Time) *Verifier {
	return &Verifier{
		Secret: func(ak string) (string, bool) { return docSecret, ak == docKey },
		Now:    func() time.Time { return now },
		HostBucket: func(host string) string {
			b, _ := strings.CutSuffix(host, ".s3.amazonaws.com")
			if b == host {
				return ""
			}
			return b
		},
	}
}

func docTime() time.Time {
	t, err := time.Parse(time.RFC1123Z, docDate)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDocumentationExample(t *testing.T) {
	r := httptest.NewRequest("GET", "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg", nil)
	r.Header.Set("Date", docDate)
	r.Header.Set("Authorization", "AWS "+docKey+":"+docSig)
	if !IsSigV2(r) {
		t.Fatal("IsSigV2 false")
	}
	a, err := docVerifier(docTime().Add(time.Minute)).Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKey != docKey || a.Presigned {
		t.Errorf("auth %+v", a)
	}
	// The same request path-style signs /johnsmith/... the same way.
	r = httptest.NewRequest("GET", "http://s3.example/johnsmith/photos/puppy.jpg", nil)
	r.Header.Set("Date", docDate)
	r.Header.Set("Authorization", "AWS "+docKey+":"+docSig)
	if _, err := docVerifier(docTime()).Authenticate(r); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	v := docVerifier(docTime())
	signed := func(mod func(r *http.Request)) *http.Request {
		r := httptest.NewRequest("PUT", "http://s3.example/b/k?acl", strings.NewReader("x"))
		r.Header.Set("Date", docDate)
		r.Header.Set("Content-Type", "text/plain")
		r.Header.Set("X-Amz-Meta-B", " two ")
		r.Header.Add("X-Amz-Meta-A", "1")
		r.Header.Add("X-Amz-Meta-A", "2")
		sts := StringToSign("PUT", r.Header, docDate, "/b/k?acl")
		if want := "PUT\n\ntext/plain\n" + docDate + "\nx-amz-meta-a:1,2\nx-amz-meta-b:two\n/b/k?acl"; sts != want {
			t.Fatalf("string to sign %q, want %q", sts, want)
		}
		r.Header.Set("Authorization", "AWS "+docKey+":"+Sign(docSecret, sts))
		if mod != nil {
			mod(r)
		}
		return r
	}
	if _, err := v.Authenticate(signed(nil)); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(r *http.Request)
		want error
	}{
		{"wrong key", func(r *http.Request) { r.Header.Set("Authorization", "AWS NOBODY:"+docSig) }, sigv4.ErrInvalidAccessKeyID},
		{"altered header", func(r *http.Request) { r.Header.Set("X-Amz-Meta-B", "three") }, sigv4.ErrSignatureDoesNotMatch},
		{"altered subresource", func(r *http.Request) { r.URL.RawQuery = "tagging"; r.RequestURI = "/b/k?tagging" }, sigv4.ErrSignatureDoesNotMatch},
		{"unsigned query ignored", func(r *http.Request) { r.RequestURI = "/b/k?acl&foo=bar" }, nil},
		{"no date", func(r *http.Request) { r.Header.Del("Date") }, sigv4.ErrAccessDenied},
		{"bad date", func(r *http.Request) { r.Header.Set("Date", "yesterday") }, sigv4.ErrAccessDenied},
		{"malformed", func(r *http.Request) { r.Header.Set("Authorization", "AWS "+docKey) }, sigv4.ErrAuthorizationHeaderMalformed},
		{"two headers", func(r *http.Request) { r.Header.Add("Authorization", "AWS a:b") }, sigv4.ErrAuthorizationHeaderMalformed},
		{"chunked", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") }, sigv4.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Authenticate(signed(tc.mod))
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	// Skew: 15 minutes either way.
	for _, d := range []time.Duration{16 * time.Minute, -16 * time.Minute} {
		_, err := docVerifier(docTime().Add(d)).Authenticate(signed(nil))
		var se *sigv4.SkewError
		if !errors.As(err, &se) || !errors.Is(err, sigv4.ErrRequestTimeTooSkewed) {
			t.Errorf("skew %v: %v", d, err)
		}
	}
	if _, err := docVerifier(docTime().Add(14 * time.Minute)).Authenticate(signed(nil)); err != nil {
		t.Errorf("14 minutes: %v", err)
	}
	// x-amz-date takes the place of Date, which is then signed as "".
	r := httptest.NewRequest("GET", "http://s3.example/b/k", nil)
	r.Header.Set("X-Amz-Date", docDate)
	r.Header.Set("Date", "ignored")
	r.Header.Set("Authorization", "AWS "+docKey+":"+Sign(docSecret, "GET\n\n\n\nx-amz-date:"+docDate+"\n/b/k"))
	if _, err := v.Authenticate(r); err != nil {
		t.Errorf("x-amz-date: %v", err)
	}
}

func TestPresigned(t *testing.T) {
	v := docVerifier(docTime())
	exp := strconv.FormatInt(docTime().Add(time.Hour).Unix(), 10)
	sts := "GET\n\n\n" + exp + "\n/b/k?response-content-type=text/plain"
	sig := Sign(docSecret, sts)
	q := "AWSAccessKeyId=" + docKey + "&Expires=" + exp + "&Signature=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(sig) + "&response-content-type=text%2Fplain"
	r := httptest.NewRequest("GET", "http://s3.example/b/k?"+q, nil)
	if !IsSigV2(r) {
		t.Fatal("IsSigV2 false")
	}
	a, err := v.Authenticate(r)
	if err != nil || !a.Presigned {
		t.Fatalf("presigned: %+v %v", a, err)
	}
	if _, err := docVerifier(docTime().Add(2 * time.Hour)).Authenticate(r); !errors.Is(err, sigv4.ErrAccessDenied) {
		t.Errorf("expired: %v", err)
	}
	r = httptest.NewRequest("GET", "http://s3.example/b/k?"+strings.Replace(q, "text%2Fplain", "text%2Fhtml", 1), nil)
	if _, err := v.Authenticate(r); !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Errorf("altered override: %v", err)
	}
	r = httptest.NewRequest("GET", "http://s3.example/b/k?AWSAccessKeyId="+docKey+"&Signature=x", nil)
	if _, err := v.Authenticate(r); !errors.Is(err, sigv4.ErrAccessDenied) {
		t.Errorf("no Expires: %v", err)
	}
}

func TestVerifyPost(t *testing.T) {
	v := docVerifier(docTime())
	policy := "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0="
	if ak, err := v.VerifyPost(docKey, policy, Sign(docSecret, policy)); err != nil || ak != docKey {
		t.Fatalf("%q %v", ak, err)
	}
	if _, err := v.VerifyPost(docKey, policy, Sign("other", policy)); !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := v.VerifyPost("NOBODY", policy, Sign(docSecret, policy)); !errors.Is(err, sigv4.ErrInvalidAccessKeyID) {
		t.Errorf("unknown key: %v", err)
	}
}

// FuzzAuthenticate feeds arbitrary Authorization headers, dates, paths and
// queries: Authenticate must never panic, and every refusal must be one of
// the sentinels the HTTP layer maps to an S3 error.
func FuzzAuthenticate(f *testing.F) {
	f.Add("AWS "+docKey+":"+docSig, docDate, "/photos/puppy.jpg", "")
	f.Add("AWS a:b:c", "", "/b/k", "acl&versionId=1")
	f.Add("", "", "/b/k", "AWSAccessKeyId=a&Expires=99999999999&Signature=eA==")
	f.Fuzz(func(t *testing.T, authz, date, path, query string) {
		r, err := http.NewRequest("GET", "http://johnsmith.s3.amazonaws.com/", nil)
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		r.RequestURI = "/" + strings.TrimPrefix(path, "/") + "?" + query
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		r.Header.Set("Date", date)
		_, err = docVerifier(docTime()).Authenticate(r)
		if err == nil {
			return
		}
		for _, s := range []error{sigv4.ErrAccessDenied, sigv4.ErrSignatureDoesNotMatch, sigv4.ErrInvalidAccessKeyID,
			sigv4.ErrRequestTimeTooSkewed, sigv4.ErrAuthorizationHeaderMalformed, sigv4.ErrInvalidArgument} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v wraps no sentinel", err)
	})
}

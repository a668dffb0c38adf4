package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var _ CORSBackend = (*fakeBackend)(nil)

func (f *fakeBackend) PutBucketCors(ctx context.Context, bucket string, cfg CORSConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PutBucketCors")
	if _, err := f.bucket(bucket); err != nil {
		return err
	}
	if f.cors == nil {
		f.cors = map[string]CORSConfig{}
	}
	f.cors[bucket] = cfg
	return nil
}

func (f *fakeBackend) GetBucketCors(ctx context.Context, bucket string) (CORSConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.bucket(bucket); err != nil {
		return CORSConfig{}, err
	}
	cfg, ok := f.cors[bucket]
	if !ok {
		return CORSConfig{}, ErrNoSuchCORSConfiguration
	}
	return cfg, nil
}

func (f *fakeBackend) DeleteBucketCors(ctx context.Context, bucket string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.bucket(bucket); err != nil {
		return err
	}
	delete(f.cors, bucket)
	return nil
}

func TestParseCORS(t *testing.T) {
	rule := func(body string) string {
		return `<CORSConfiguration><CORSRule>` + body + `</CORSRule></CORSConfiguration>`
	}
	for _, tc := range []struct {
		name string
		doc  string
		want CORSConfig
		code string
		msg  string
	}{
		{"minimal", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>`),
			CORSConfig{Rules: []CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, MaxAgeSeconds: -1}}}, "", ""},
		{"full", rule(`<ID>r1</ID><AllowedHeader>x-amz-*</AllowedHeader><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedOrigin>https://*.example.com</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>`),
			CORSConfig{Rules: []CORSRule{{ID: "r1", AllowedHeaders: []string{"x-amz-*"}, AllowedMethods: []string{"PUT", "POST"}, AllowedOrigins: []string{"https://*.example.com"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 3000}}}, "", ""},
		{"empty origin kept", rule(`<AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>`),
			CORSConfig{Rules: []CORSRule{{AllowedOrigins: []string{""}, AllowedMethods: []string{"GET"}, MaxAgeSeconds: -1}}}, "", ""},
		{"no rules", `<CORSConfiguration></CORSConfiguration>`, CORSConfig{}, "MalformedXML", ""},
		{"not XML", `{"CORSRules":[]}`, CORSConfig{}, "MalformedXML", ""},
		{"other root", `<LifecycleConfiguration/>`, CORSConfig{}, "MalformedXML", ""},
		{"no method", rule(`<AllowedOrigin>*</AllowedOrigin>`), CORSConfig{}, "MalformedXML", ""},
		{"no origin", rule(`<AllowedMethod>GET</AllowedMethod>`), CORSConfig{}, "MalformedXML", ""},
		{"bad method", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>MYMETHOD</AllowedMethod>`), CORSConfig{}, "InvalidRequest",
			"Found unsupported HTTP method in CORS config. Unsupported method is MYMETHOD"},
		{"lower-case method", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>`), CORSConfig{}, "InvalidRequest", ""},
		{"two wildcards in an origin", rule(`<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>`), CORSConfig{}, "InvalidRequest", ""},
		{"two wildcards in a header", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>**</AllowedHeader>`), CORSConfig{}, "InvalidRequest", ""},
		{"wildcard expose", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>*</ExposeHeader>`), CORSConfig{}, "InvalidRequest", ""},
		{"negative max age", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds>`), CORSConfig{}, "MalformedXML", ""},
		{"max age not a number", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>x</MaxAgeSeconds>`), CORSConfig{}, "MalformedXML", ""},
		{"101 rules", `<CORSConfiguration>` + strings.Repeat(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`, 101) + `</CORSConfiguration>`, CORSConfig{}, "MalformedXML", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCORS([]byte(tc.doc))
			if tc.code != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != tc.code || (tc.msg != "" && e.Message != tc.msg) {
					t.Fatalf("err %v, want %s %q", err, tc.code, tc.msg)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCORSMatch(t *testing.T) {
	cfg := CORSConfig{Rules: []CORSRule{
		{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT"}, AllowedHeaders: []string{"Content-Type", "x-amz-*"}},
		{AllowedOrigins: []string{"https://*.example.com"}, AllowedMethods: []string{"GET", "HEAD"}},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"*"}},
	}}
	for _, tc := range []struct {
		origin, method string
		headers        []string
		rule           int // -1: none
	}{
		{"https://app.example.com", "PUT", []string{"content-type", "x-amz-meta-a"}, 0},
		{"https://app.example.com", "PUT", []string{"authorization"}, -1},
		{"https://APP.example.com", "PUT", nil, -1}, // origins match exactly
		{"https://app.example.com", "GET", nil, 1},
		{"https://x.example.com", "HEAD", nil, 1},
		{"https://example.com", "HEAD", nil, -1},
		{"http://elsewhere", "GET", []string{"anything"}, 2},
		{"http://elsewhere", "DELETE", nil, -1},
	} {
		r, ok := cfg.match(tc.origin, tc.method, tc.headers)
		switch {
		case tc.rule < 0 && ok:
			t.Errorf("%s %s %v matched %+v; want none", tc.origin, tc.method, tc.headers, r)
		case tc.rule >= 0 && (!ok || !reflect.DeepEqual(r, cfg.Rules[tc.rule])):
			t.Errorf("%s %s %v matched %+v %v; want rule %d", tc.origin, tc.method, tc.headers, r, ok, tc.rule)
		}
	}
}

func FuzzParseCORS(f *testing.F) {
	f.Add([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`))
	f.Add([]byte(`<CORSConfiguration><CORSRule><ID>a</ID><AllowedHeader>x-*</AllowedHeader><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>https://*.e.com</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule></CORSConfiguration>`))
	f.Add([]byte(`<CORSConfiguration/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseCORS(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400 S3 error", err)
			}
			return
		}
		// A valid configuration renders to a document that parses back to
		// itself, and every rule obeys S3's limits.
		for _, r := range cfg.Rules {
			if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
				t.Fatalf("rule without methods or origins: %+v", r)
			}
			for _, o := range r.AllowedOrigins {
				if strings.Count(o, "*") > 1 {
					t.Fatalf("origin %q", o)
				}
				_ = wildcardMatch(o, "https://x")
			}
		}
		out, err := xml.Marshal(renderCORS(cfg))
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseCORS(out)
		if err != nil || !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip: %+v %v, want %+v\n%s", back, err, cfg, out)
		}
	})
}

// TestCORSHandlers drives Put/Get/DeleteBucketCors with the SDK, then a
// preflight and actual requests with net/http, against the fake backend.
func TestCORSHandlers(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "k", "x")
	ctx := t.Context()
	c := e.client

	_, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("bkt")})
	if apiCode(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("GetBucketCors without one: %v", err)
	}
	preflight := func(path string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, body := e.send(req)
		resp.Body = nil
		resp.Header.Set("X-Test-Body", string(body))
		return resp
	}
	want := func(resp *http.Response, status int, code string) {
		t.Helper()
		if resp.StatusCode != status || (code != "" && !strings.Contains(resp.Header.Get("X-Test-Body"), "<Code>"+code+"</Code>")) {
			t.Fatalf("status %d body %s; want %d %s", resp.StatusCode, resp.Header.Get("X-Test-Body"), status, code)
		}
	}
	origin := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"}
	resp := preflight("/bkt/k", origin)
	want(resp, 403, "AccessForbidden")
	if b := resp.Header.Get("X-Test-Body"); !strings.Contains(b, "CORS is not enabled for this bucket") || !strings.Contains(b, "<Method>PUT</Method>") || !strings.Contains(b, "<ResourceType>OBJECT</ResourceType>") {
		t.Errorf("preflight without a configuration: %s", b)
	}

	_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("bkt"), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT", "GET"}, AllowedHeaders: []string{"content-type", "x-amz-*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(600)},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("bkt")})
	if err != nil || len(got.CORSRules) != 2 || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 600 || got.CORSRules[1].MaxAgeSeconds != nil ||
		!reflect.DeepEqual(got.CORSRules[0].AllowedHeaders, []string{"content-type", "x-amz-*"}) {
		t.Fatalf("GetBucketCors: %v %+v", err, got)
	}

	// A matching preflight.
	resp = preflight("/bkt/k", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-A"})
	want(resp, 200, "")
	for k, v := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "PUT, GET",
		"Access-Control-Allow-Headers":     "content-type, x-amz-meta-a",
		"Access-Control-Expose-Headers":    "ETag",
		"Access-Control-Max-Age":           "600",
		"Vary":                             corsVary,
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	// The wildcard rule answers "*" without credentials.
	resp = preflight("/bkt", map[string]string{"Origin": "http://other", "Access-Control-Request-Method": "GET"})
	want(resp, 200, "")
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard preflight headers %v", resp.Header)
	}
	for _, tc := range []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"no origin", "/bkt/k", map[string]string{"Access-Control-Request-Method": "GET"}, 400, "BadRequest"},
		{"no method", "/bkt/k", map[string]string{"Origin": "http://other"}, 400, "BadRequest"},
		{"bad method", "/bkt/k", map[string]string{"Origin": "http://other", "Access-Control-Request-Method": "PATCH"}, 400, "BadRequest"},
		{"method not allowed", "/bkt/k", map[string]string{"Origin": "http://other", "Access-Control-Request-Method": "PUT"}, 403, "AccessForbidden"},
		{"header not allowed", "/bkt/k", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"}, 403, "AccessForbidden"},
		{"no bucket", "/nobkt/k", map[string]string{"Origin": "http://other", "Access-Control-Request-Method": "GET"}, 403, "AccessForbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := preflight(tc.path, tc.hdr)
			want(resp, tc.status, tc.code)
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("refused preflight carries Access-Control-Allow-Origin")
			}
		})
	}

	// Actual requests: headers when the origin and method match a rule.
	resp, _ = e.do("GET", "/bkt/k", nil, http.Header{"Origin": {"https://app.example.com"}})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("Vary") != corsVary || resp.Header.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Errorf("GET with a matching Origin: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = e.do("DELETE", "/bkt/nothing", nil, http.Header{"Origin": {"https://app.example.com"}})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("DELETE no rule allows got CORS headers: %v", resp.Header)
	}
	resp, _ = e.do("GET", "/bkt/k", nil, nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET without Origin got CORS headers: %v", resp.Header)
	}

	// Refusals of the configuration itself change nothing.
	resp, body := e.do("PUT", "/bkt?cors", []byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>MYMETHOD</AllowedMethod></CORSRule></CORSConfiguration>`), http.Header{"Content-Md5": {contentMD5([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>MYMETHOD</AllowedMethod></CORSRule></CORSConfiguration>`))}})
	wantStatus(t, resp, body, 400, "InvalidRequest")
	doc := []byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`)
	resp, body = e.do("PUT", "/bkt?cors", doc, nil)
	wantStatus(t, resp, body, 400, "InvalidRequest") // no Content-MD5
	if got, _ := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("bkt")}); len(got.CORSRules) != 2 {
		t.Errorf("configuration after refused puts: %+v", got.CORSRules)
	}

	if _, err := c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatalf("deleting no configuration: %v", err)
	}
	want(preflight("/bkt/k", origin), 403, "AccessForbidden")
	_, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("nobkt")})
	if apiCode(err) != "NoSuchBucket" {
		t.Errorf("GetBucketCors of a missing bucket: %v", err)
	}
}

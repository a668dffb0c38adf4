package conformance

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestBucketCors checks Put/Get/DeleteBucketCors: round trip, 404
// NoSuchCORSConfiguration, 400 on an unsupported method or a document
// without rules (nothing stored), and an idempotent delete.
func TestBucketCors(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.GetBucketCors(t.Context(), &s3.GetBucketCorsInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchCORSConfiguration", "GetBucketCors without a configuration")

	rules := []types.CORSRule{
		{ID: aws.String("upload"), AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT", "POST"},
			AllowedHeaders: []string{"content-type", "x-amz-*"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: aws.Int32(3000)},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "HEAD"}},
	}
	_, err = c.PutBucketCors(t.Context(), &s3.PutBucketCorsInput{Bucket: &b, CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}})
	must(t, err, "PutBucketCors")
	got, err := c.GetBucketCors(t.Context(), &s3.GetBucketCorsInput{Bucket: &b})
	must(t, err, "GetBucketCors")
	if len(got.CORSRules) != 2 || aws.ToString(got.CORSRules[0].ID) != "upload" || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 3000 ||
		strings.Join(got.CORSRules[0].AllowedHeaders, ",") != "content-type,x-amz-*" || strings.Join(got.CORSRules[0].ExposeHeaders, ",") != "ETag,x-amz-request-id" ||
		strings.Join(got.CORSRules[1].AllowedMethods, ",") != "GET,HEAD" || got.CORSRules[1].MaxAgeSeconds != nil {
		t.Errorf("GetBucketCors = %+v", got.CORSRules)
	}

	for _, tc := range []struct {
		doc, code string
	}{
		{`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>MYMETHOD</AllowedMethod></CORSRule></CORSConfiguration>`, "InvalidRequest"},
		{`<CORSConfiguration></CORSConfiguration>`, "MalformedXML"},
	} {
		body := []byte(tc.doc)
		resp, rb := rawRequest{method: "PUT", path: "/" + b, query: url.Values{"cors": {""}}, body: body, header: map[string]string{"Content-MD5": md5b64(body)}}.do(t)
		wantRawError(t, resp, rb, 400, tc.code, "PutBucketCors "+tc.doc)
	}
	got, err = c.GetBucketCors(t.Context(), &s3.GetBucketCorsInput{Bucket: &b})
	if err != nil || len(got.CORSRules) != 2 {
		t.Errorf("GetBucketCors after refused puts: %v %d rules", err, len(got.CORSRules))
	}

	_, err = c.DeleteBucketCors(t.Context(), &s3.DeleteBucketCorsInput{Bucket: &b})
	must(t, err, "DeleteBucketCors")
	_, err = c.DeleteBucketCors(t.Context(), &s3.DeleteBucketCorsInput{Bucket: &b})
	must(t, err, "DeleteBucketCors without a configuration")
	_, err = c.GetBucketCors(t.Context(), &s3.GetBucketCorsInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchCORSConfiguration", "GetBucketCors after DeleteBucketCors")
}

// TestCORSPreflight sends browser preflights (unsigned OPTIONS) and actual
// requests with an Origin, and checks S3's answers: 400 without an Origin,
// 403 AccessForbidden without a configuration or a matching rule, and the
// Access-Control-* headers and Vary when a rule matches.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "page.html", []byte("<p>hi</p>"))
	options := func(key string, hdr map[string]string) (*http.Response, []byte) {
		return rawRequest{method: "OPTIONS", path: "/" + b + "/" + key, header: hdr, anonymous: true}.do(t)
	}
	app := "https://app.example.com"

	resp, body := options("page.html", map[string]string{"Access-Control-Request-Method": "GET"})
	wantRawError(t, resp, body, 400, "BadRequest", "preflight without Origin")
	resp, body = options("page.html", map[string]string{"Origin": app, "Access-Control-Request-Method": "GET"})
	wantRawError(t, resp, body, 403, "AccessForbidden", "preflight without a CORS configuration")
	if !bytes.Contains(body, []byte("CORS is not enabled for this bucket")) {
		t.Errorf("preflight without a configuration: %s", body)
	}

	_, err := c.PutBucketCors(t.Context(), &s3.PutBucketCorsInput{Bucket: &b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedOrigins: []string{app}, AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"content-type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(3000)},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
	}}})
	must(t, err, "PutBucketCors")

	resp, body = options("page.html", map[string]string{"Origin": app, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "Content-Type"})
	if resp.StatusCode != 200 {
		t.Fatalf("matching preflight: %d %s", resp.StatusCode, body)
	}
	for k, v := range map[string]string{
		"Access-Control-Allow-Origin":      app,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, PUT",
		"Access-Control-Allow-Headers":     "content-type",
		"Access-Control-Expose-Headers":    "ETag",
		"Access-Control-Max-Age":           "3000",
		"Vary":                             "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("matching preflight: %s = %q; want %q", k, got, v)
		}
	}
	resp, body = options("page.html", map[string]string{"Origin": "https://elsewhere.test", "Access-Control-Request-Method": "GET"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard preflight: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = options("page.html", map[string]string{"Origin": "https://elsewhere.test", "Access-Control-Request-Method": "PUT"})
	wantRawError(t, resp, body, 403, "AccessForbidden", "preflight no rule allows")
	if !bytes.Contains(body, []byte("This CORS request is not allowed")) {
		t.Errorf("preflight no rule allows: %s", body)
	}
	resp, body = options("page.html", map[string]string{"Origin": app, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-custom"})
	wantRawError(t, resp, body, 403, "AccessForbidden", "preflight with a header no rule allows")

	// Actual requests.
	resp, _ = rawRequest{method: "GET", path: "/" + b + "/page.html", header: map[string]string{"Origin": app}}.do(t)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != app || resp.Header.Get("Access-Control-Expose-Headers") != "ETag" || !strings.HasPrefix(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("GET with a matching Origin: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = rawRequest{method: "DELETE", path: "/" + b + "/other", header: map[string]string{"Origin": app}}.do(t)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("DELETE no rule allows carries Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

package gateway

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/s3api"
)

// TestCORSOverHTTP stores a CORS configuration with aws-sdk-go-v2, sends a
// browser's preflight with net/http, and checks that it survives a reopen
// of the gateway and goes with DeleteBucketCors.
func TestCORSOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	g := open(t, cfg)
	c, url := serveS3(t, g)
	ctx := t.Context()
	newBucket(t, g, "web", s3api.VersioningUnset)

	preflight := func(url string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url+"/web/index.html", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight(url); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("preflight without CORS: %d", resp.StatusCode)
	}
	_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
		ID: aws.String("app"), AllowedOrigins: []string{"https://*.example.com"}, AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"*"}, MaxAgeSeconds: aws.Int32(60),
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp := preflight(url); resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "GET, PUT" || resp.Header.Get("Access-Control-Allow-Headers") != "content-type" || resp.Header.Get("Access-Control-Max-Age") != "60" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// The configuration is on disk: a reopened gateway answers the same.
	g.Close()
	g2 := open(t, cfg)
	c2, url2 := serveS3(t, g2)
	got, err := c2.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("web")})
	if err != nil || len(got.CORSRules) != 1 || aws.ToString(got.CORSRules[0].ID) != "app" || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 60 {
		t.Fatalf("GetBucketCors after reopen: %v %+v", err, got)
	}
	if resp := preflight(url2); resp.StatusCode != http.StatusOK {
		t.Fatalf("preflight after reopen: %d", resp.StatusCode)
	}
	if _, err := c2.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("web")}); err == nil {
		t.Fatal("GetBucketCors after DeleteBucketCors succeeded")
	}
	if resp := preflight(url2); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("preflight after DeleteBucketCors: %d", resp.StatusCode)
	}
}

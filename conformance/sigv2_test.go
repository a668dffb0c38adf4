package conformance

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const s3cmdBin = "/usr/bin/s3cmd"

// signV2 returns the SigV2 signature of a string to sign.
func signV2(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// v2Request sends a request signed with SigV2 in its Authorization header
// (path style; amz are x-amz-* headers, already lower case and sorted).
func v2Request(t *testing.T, method, path string, body []byte, hdr map[string]string, secret string, date time.Time) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, tgt.endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("Date", date.UTC().Format(http.TimeFormat))
	var amz strings.Builder
	for _, k := range []string{"x-amz-meta-a", "x-amz-meta-b"} {
		if v := req.Header.Get(k); v != "" {
			amz.WriteString(k + ":" + v + "\n")
		}
	}
	sts := method + "\n" + req.Header.Get("Content-MD5") + "\n" + req.Header.Get("Content-Type") + "\n" + req.Header.Get("Date") + "\n" + amz.String() + path
	req.Header.Set("Authorization", "AWS "+tgt.accessKey+":"+signV2(secret, sts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestSigV2 checks Signature Version 2 as S3 accepted it: header-signed PUT
// and GET (metadata and Content-MD5 signed), presigned GET, and the same
// refusals as SigV4: a wrong secret, a skewed clock, a wrong Content-MD5
// (nothing stored), an expired URL.
func TestSigV2(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	body := []byte("written with signature version 2")
	sum := md5.Sum(body)
	md5v := base64.StdEncoding.EncodeToString(sum[:])
	now := time.Now()

	resp, rb := v2Request(t, "PUT", "/"+b+"/v2", body, map[string]string{"Content-MD5": md5v, "Content-Type": "text/plain", "x-amz-meta-a": "1"}, tgt.secretKey, now)
	if resp.StatusCode != 200 {
		t.Fatalf("SigV2 PUT: %d %s", resp.StatusCode, rb)
	}
	got, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("v2")})
	must(t, err, "HeadObject of the SigV2 PUT")
	if aws.ToString(got.ContentType) != "text/plain" || got.Metadata["a"] != "1" || aws.ToInt64(got.ContentLength) != int64(len(body)) {
		t.Errorf("SigV2 PUT stored %+v", got)
	}
	resp, rb = v2Request(t, "GET", "/"+b+"/v2", nil, nil, tgt.secretKey, now)
	if resp.StatusCode != 200 || !bytes.Equal(rb, body) {
		t.Errorf("SigV2 GET: %d %q", resp.StatusCode, rb)
	}

	resp, rb = v2Request(t, "GET", "/"+b+"/v2", nil, nil, "wrong", now)
	wantRawError(t, resp, rb, 403, "SignatureDoesNotMatch", "SigV2 GET with a wrong secret")
	resp, rb = v2Request(t, "GET", "/"+b+"/v2", nil, nil, tgt.secretKey, now.Add(-20*time.Minute))
	wantRawError(t, resp, rb, 403, "RequestTimeTooSkewed", "SigV2 GET 20 minutes late")
	other := md5.Sum([]byte("other"))
	resp, rb = v2Request(t, "PUT", "/"+b+"/bad", body, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(other[:])}, tgt.secretKey, now)
	wantRawError(t, resp, rb, 400, "BadDigest", "SigV2 PUT with a wrong Content-MD5")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("bad")})
	wantErr(t, err, 404, "", "HeadObject after a BadDigest SigV2 PUT")

	presign := func(exp time.Time) string {
		e := strconv.FormatInt(exp.Unix(), 10)
		sig := signV2(tgt.secretKey, "GET\n\n\n"+e+"\n/"+b+"/v2")
		return tgt.endpoint + "/" + b + "/v2?AWSAccessKeyId=" + url.QueryEscape(tgt.accessKey) + "&Expires=" + e + "&Signature=" + url.QueryEscape(sig)
	}
	r, err := http.Get(presign(now.Add(time.Minute)))
	must(t, err, "presigned SigV2 GET")
	data, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !bytes.Equal(data, body) {
		t.Errorf("presigned SigV2 GET: %d %q", r.StatusCode, data)
	}
	r, err = http.Get(presign(now.Add(-time.Minute)))
	must(t, err, "expired presigned SigV2 GET")
	data, _ = io.ReadAll(r.Body)
	r.Body.Close()
	wantRawError(t, r, data, 403, "AccessDenied", "expired presigned SigV2 GET")
}

// TestS3cmdSignatureV2 drives Debian's s3cmd with --signature-v2: make a
// bucket, put a small file and a multipart one, list, get both back, delete
// and remove the bucket.
func TestS3cmdSignatureV2(t *testing.T) {
	t.Parallel()
	requireTool(t, s3cmdBin, "s3cmd")
	home := t.TempDir()
	cfg := filepath.Join(home, "s3cfg")
	host := strings.TrimPrefix(strings.TrimPrefix(tgt.endpoint, "http://"), "https://")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
bucket_location = %s
use_https = %v
check_ssl_certificate = False
signature_v2 = True
multipart_chunk_size_mb = 5
`, tgt.accessKey, tgt.secretKey, host, host, tgt.region, strings.HasPrefix(tgt.endpoint, "https://"))), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	r := &toolRunner{t: t, bin: s3cmdBin, env: cleanEnv(home), args: []string{"-c", cfg, "--signature-v2", "--no-progress"}}
	b := bucketName(t)
	r.run(time.Minute, "mb", "s3://"+b)
	t.Cleanup(func() { cleanupBucket(t, newClient(t), b) })

	dir := t.TempDir()
	small := filepath.Join(dir, "small.txt")
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(small, []byte("hello from s3cmd"), 0o600); err != nil {
		t.Fatal(err)
	}
	bigData := bytes.Repeat([]byte("0123456789abcdef"), 12<<16) // 12 MiB: three parts
	if err := os.WriteFile(big, bigData, 0o600); err != nil {
		t.Fatal(err)
	}
	r.run(time.Minute, "put", small, "s3://"+b+"/dir/small.txt")
	r.run(2*time.Minute, "put", big, "s3://"+b+"/dir/big.bin")
	// A key that must be escaped on the wire: SigV2 signs the path as sent.
	r.run(time.Minute, "put", small, "s3://"+b+"/dir/with space+plus é.txt")
	if out := r.run(time.Minute, "ls", "s3://"+b+"/dir/"); !strings.Contains(out, "small.txt") || !strings.Contains(out, "big.bin") || !strings.Contains(out, "with space+plus é.txt") {
		t.Errorf("s3cmd ls: %s", out)
	}
	c := newClient(t)
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("dir/big.bin")})
	must(t, err, "HeadObject of s3cmd's multipart upload")
	if aws.ToInt64(head.ContentLength) != int64(len(bigData)) || !strings.HasSuffix(aws.ToString(head.ETag), `-3"`) {
		t.Errorf("s3cmd multipart upload: %d bytes, ETag %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag))
	}
	back := filepath.Join(dir, "back")
	r.run(2*time.Minute, "get", "s3://"+b+"/dir/big.bin", back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, bigData) {
		t.Errorf("s3cmd get of the multipart object: %d bytes, %v", len(got), err)
	}
	r.run(time.Minute, "get", "--force", "s3://"+b+"/dir/small.txt", back)
	if got, _ := os.ReadFile(back); string(got) != "hello from s3cmd" {
		t.Errorf("s3cmd get: %q", got)
	}
	r.run(time.Minute, "del", "--recursive", "--force", "s3://"+b+"/dir/")
	r.run(time.Minute, "rb", "s3://"+b)
}

package conformance

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// sendPresigned sends a presigned request with body (nil for none).
func sendPresigned(t testing.TB, p *v4.PresignedHTTPRequest, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), p.Method, p.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	for k, vs := range p.SignedHeader {
		if strings.EqualFold(k, "Host") {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s presigned URL: %v", p.Method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestPresignedGetPut(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	pc := s3.NewPresignClient(c)
	data := seededBytes(120, 100_000)

	preq, err := pc.PresignPutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("pre signed/ü")}, s3.WithPresignExpires(5*time.Minute))
	must(t, err, "PresignPutObject")
	if !strings.Contains(preq.URL, "X-Amz-Signature=") {
		t.Fatalf("presigned URL has no X-Amz-Signature: %s", preq.URL)
	}
	resp, body := sendPresigned(t, preq, data)
	if resp.StatusCode != 200 {
		t.Fatalf("PUT to a presigned URL: HTTP %d %s", resp.StatusCode, truncate(body, 300))
	}
	if got := strings.Trim(resp.Header.Get("ETag"), `"`); got != md5hex(data) {
		t.Errorf("presigned PUT ETag %q; want %q", got, md5hex(data))
	}

	greq, err := pc.PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("pre signed/ü")}, s3.WithPresignExpires(5*time.Minute))
	must(t, err, "PresignGetObject")
	resp, body = sendPresigned(t, greq, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("GET of a presigned URL: HTTP %d, %d bytes (want 200, the %d put)", resp.StatusCode, len(body), len(data))
	}

	// A presigned GET with response overrides signed into it.
	oreq, err := pc.PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("pre signed/ü"), ResponseContentDisposition: aws.String("attachment; filename=x.bin")})
	must(t, err, "PresignGetObject with response-content-disposition")
	resp, _ = sendPresigned(t, oreq, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != "attachment; filename=x.bin" {
		t.Errorf("presigned GET with override: HTTP %d Content-Disposition %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}

	// Tampering with the URL breaks the signature.
	u, _ := url.Parse(greq.URL)
	u.Path += "x"
	resp, body = sendPresigned(t, &v4.PresignedHTTPRequest{URL: u.String(), Method: "GET", SignedHeader: greq.SignedHeader}, nil)
	wantRawError(t, resp, body, 403, "SignatureDoesNotMatch", "GET of a presigned URL whose path was changed")

	hreq, err := pc.PresignHeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("pre signed/ü")})
	must(t, err, "PresignHeadObject")
	resp, _ = sendPresigned(t, hreq, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
		t.Errorf("HEAD of a presigned URL: HTTP %d Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
}

func TestPresignedExpired(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "k", []byte("x"))
	greq, err := s3.NewPresignClient(c).PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}, s3.WithPresignExpires(time.Second))
	must(t, err, "PresignGetObject")
	time.Sleep(2500 * time.Millisecond)
	resp, body := sendPresigned(t, greq, nil)
	wantRawError(t, resp, body, 403, "AccessDenied", "GET of an expired presigned URL")

	// X-Amz-Expires beyond 7 days is refused.
	u, _ := url.Parse(greq.URL)
	q := u.Query()
	q.Set("X-Amz-Expires", "604801")
	u.RawQuery = q.Encode()
	resp, body = sendPresigned(t, &v4.PresignedHTTPRequest{URL: u.String(), Method: "GET", SignedHeader: greq.SignedHeader}, nil)
	wantRawError(t, resp, body, 400, "AuthorizationQueryParametersError", "presigned URL with X-Amz-Expires=604801")
}

func TestWrongSecret(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	bad := newClient(t, withCreds(tgt.accessKey, tgt.secretKey+"x"))
	_, err := bad.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	wantErr(t, err, 403, "SignatureDoesNotMatch", "ListBuckets signed with a wrong secret")
	_, err = bad.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("x")})
	wantErr(t, err, 403, "SignatureDoesNotMatch", "PutObject signed with a wrong secret")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "", "HeadObject after a refused PutObject")
}

func TestUnknownAccessKey(t *testing.T) {
	t.Parallel()
	bad := newClient(t, withCreds("AKIDNOSUCHKEY0000000", "whatever"))
	_, err := bad.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	wantErr(t, err, 403, "InvalidAccessKeyId", "ListBuckets with an unknown access key")
}

func TestAnonymousDenied(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "k", []byte("private"))
	anon := newClient(t, func(o *s3.Options) { o.Credentials = aws.AnonymousCredentials{} })
	_, err := anon.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 403, "AccessDenied", "anonymous GetObject")
	_, err = anon.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("anon"), Body: strings.NewReader("x")})
	wantErr(t, err, 403, "AccessDenied", "anonymous PutObject")
	_, err = anon.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b})
	wantErr(t, err, 403, "AccessDenied", "anonymous ListObjectsV2")
	resp, body := rawRequest{method: "GET", path: "/", anonymous: true}.do(t)
	wantRawError(t, resp, body, 403, "AccessDenied", "anonymous ListBuckets")
}

func TestRequestTimeTooSkewed(t *testing.T) {
	t.Parallel()
	for _, off := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
		resp, body := rawRequest{method: "GET", path: "/", signTime: time.Now().Add(off)}.do(t)
		wantRawError(t, resp, body, 403, "RequestTimeTooSkewed", fmt.Sprintf("ListBuckets signed %v off", off))
	}
	// Within the 15 minutes S3 allows, it works.
	resp, body := rawRequest{method: "GET", path: "/", signTime: time.Now().Add(-10 * time.Minute)}.do(t)
	if resp.StatusCode != 200 {
		t.Errorf("ListBuckets signed 10 minutes ago: HTTP %d %s", resp.StatusCode, truncate(body, 300))
	}
}

// signingKey derives the SigV4 key for a date (YYYYMMDD).
func signingKey(secret, date, region string) []byte {
	h := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	return h(h(h(h([]byte("AWS4"+secret), date), region), "s3"), "aws4_request")
}

// putStreamingSigned PUTs data with STREAMING-AWS4-HMAC-SHA256-PAYLOAD (each
// chunk signed, as minio-go and aws-sdk-go v1 send over plain HTTP). When
// corrupt is true one chunk's signature is wrong.
func putStreamingSigned(t testing.TB, bucket, key string, data []byte, chunk int, corrupt bool) (*http.Response, []byte) {
	t.Helper()
	const payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// The encoded length: each chunk "hex;chunk-signature=<64>\r\n<data>\r\n", then the final one.
	encLen := 0
	for rest := len(data); ; {
		n := min(chunk, rest)
		encLen += len(strconv.FormatInt(int64(n), 16)) + len(";chunk-signature=") + 64 + 2 + n + 2
		if n == 0 {
			break
		}
		rest -= n
	}
	req, err := http.NewRequestWithContext(t.Context(), "PUT", tgt.endpoint+objectPath(bucket, key), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	req.ContentLength = int64(encLen)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: tgt.accessKey, SecretAccessKey: tgt.secretKey}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, payload, "s3", tgt.region, now); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	i := strings.Index(auth, "Signature=")
	if i < 0 {
		t.Fatalf("no Signature in %q", auth)
	}
	prev := auth[i+len("Signature="):]
	amzDate := req.Header.Get("X-Amz-Date")
	scope := now.Format("20060102") + "/" + tgt.region + "/s3/aws4_request"
	key4 := signingKey(tgt.secretKey, now.Format("20060102"), tgt.region)
	emptyHash := sha256hex(nil)
	var body bytes.Buffer
	for rest, n := data, 0; ; rest = rest[n:] {
		n = min(chunk, len(rest))
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + emptyHash + "\n" + sha256hex(rest[:n])
		m := hmac.New(sha256.New, key4)
		m.Write([]byte(sts))
		sig := hex.EncodeToString(m.Sum(nil))
		if corrupt && n > 0 && len(rest) <= chunk { // the last data chunk
			sig = strings.Repeat("0", 64)
		}
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", n, sig)
		body.Write(rest[:n])
		body.WriteString("\r\n")
		prev = sig
		if n == 0 {
			break
		}
	}
	if body.Len() != encLen {
		t.Fatalf("aws-chunked body is %d bytes; computed %d", body.Len(), encLen)
	}
	req.Body = io.NopCloser(&body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("streaming PUT: %v", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp, rb
}

func TestStreamingSignedPayload(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := seededBytes(130, 200_000)
	resp, body := putStreamingSigned(t, b, "signed-chunks", data, 64<<10, false)
	if resp.StatusCode != 200 {
		t.Fatalf("PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD: HTTP %d %s", resp.StatusCode, truncate(body, 400))
	}
	got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("signed-chunks")})
	if !bytes.Equal(got, data) {
		t.Errorf("object put with signed chunks: %d bytes that differ from the %d sent", len(got), len(data))
	}
	if strings.Trim(resp.Header.Get("ETag"), `"`) != md5hex(data) {
		t.Errorf("ETag %s; want the MD5 of the decoded payload %s", resp.Header.Get("ETag"), md5hex(data))
	}

	resp, body = putStreamingSigned(t, b, "bad-chunk", data, 64<<10, true)
	wantRawError(t, resp, body, 403, "SignatureDoesNotMatch", "PUT whose last chunk signature is wrong")
	_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("bad-chunk")})
	wantErr(t, err, 404, "", "HeadObject after a PUT with a bad chunk signature")
}

// TestUnimplementedSubresources asserts Cairn's documented answer to
// subresources it does not implement: 501 NotImplemented, not a silent
// success or an unrelated operation.
func TestUnimplementedSubresources(t *testing.T) {
	t.Parallel()
	requireCairn(t, "other S3 servers implement these subresources")
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "k", []byte("x"))
	for _, tc := range []struct {
		method, path, sub string
		body              []byte
	}{
		{"GET", "/" + b + "/k", "lifecycle", nil},
		{"GET", "/" + b, "website", nil},
		{"GET", "/" + b, "logging", nil},
		{"GET", "/" + b, "notification", nil},
		{"GET", "/" + b + "/k", "restore", nil},
	} {
		what := tc.method + " " + strings.Replace(tc.path, b, "bucket", 1) + "?" + tc.sub
		resp, body := rawRequest{method: tc.method, path: tc.path, query: url.Values{tc.sub: {""}}, body: tc.body,
			header: map[string]string{"Content-MD5": md5b64(tc.body)}}.do(t)
		wantRawError(t, resp, body, 501, "NotImplemented", what)
	}
	// Bucket policies are implemented: a bucket without one answers as S3
	// does.
	resp, rb := rawRequest{method: "GET", path: "/" + b, query: url.Values{"policy": {""}}}.do(t)
	wantRawError(t, resp, rb, 404, "NoSuchBucketPolicy", "GET /bucket?policy without one")
	// Bucket replication is implemented: a bucket without a configuration
	// answers as S3 does.
	resp, rb = rawRequest{method: "GET", path: "/" + b, query: url.Values{"replication": {""}}}.do(t)
	wantRawError(t, resp, rb, 404, "ReplicationConfigurationNotFoundError", "GET /bucket?replication without one")
	// Object lock is implemented: a bucket without it answers as S3 does.
	resp, rb = rawRequest{method: "GET", path: "/" + b, query: url.Values{"object-lock": {""}}}.do(t)
	wantRawError(t, resp, rb, 404, "ObjectLockConfigurationNotFoundError", "GET /bucket?object-lock without lock")
	for _, sub := range []string{"retention", "legal-hold"} {
		resp, rb = rawRequest{method: "GET", path: "/" + b + "/k", query: url.Values{sub: {""}}}.do(t)
		wantRawError(t, resp, rb, 400, "InvalidRequest", "GET /bucket/k?"+sub+" without lock")
	}
	// RestoreObject is implemented, for tiered objects: one whose data is
	// local is refused as S3 refuses a restore of a non-archived object.
	body := []byte(`<RestoreRequest><Days>1</Days></RestoreRequest>`)
	resp, rb = rawRequest{method: "POST", path: "/" + b + "/k", query: url.Values{"restore": {""}}, body: body,
		header: map[string]string{"Content-MD5": md5b64(body)}}.do(t)
	wantRawError(t, resp, rb, 403, "InvalidObjectState", "POST /bucket/k?restore of a local object")
	// Nothing changed: the object is still there.
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}); string(got) != "x" {
		t.Errorf("object after unimplemented requests = %q", got)
	}
}

// TestErrorResponses checks the shape of S3 errors: an XML body with Code,
// Message and RequestId, and an x-amz-request-id header that matches.
func TestErrorResponses(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "k", []byte("x"))
	missing := bucketName(t)
	for _, tc := range []struct {
		req    rawRequest
		status int
		code   string
	}{
		{rawRequest{method: "GET", path: "/" + missing + "/k"}, 404, "NoSuchBucket"},
		{rawRequest{method: "GET", path: "/" + b + "/missing"}, 404, "NoSuchKey"},
		{rawRequest{method: "PUT", path: "/Invalid_Bucket_Name"}, 400, "InvalidBucketName"},
		{rawRequest{method: "DELETE", path: "/" + b}, 409, "BucketNotEmpty"},
		{rawRequest{method: "GET", path: "/" + b + "/k", anonymous: true}, 403, "AccessDenied"},
		{rawRequest{method: "GET", path: "/" + b + "/k", header: map[string]string{"Range": "bytes=5-9"}}, 416, "InvalidRange"},
		{rawRequest{method: "GET", path: "/" + b + "/k", accessKey: tgt.accessKey, secretKey: "wrong"}, 403, "SignatureDoesNotMatch"},
	} {
		what := tc.req.method + " " + strings.Replace(tc.req.path, b, "bucket", 1)
		resp, body := tc.req.do(t)
		wantRawError(t, resp, body, tc.status, tc.code, what)
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "xml") {
			t.Errorf("%s: error Content-Type %q; want application/xml", what, ct)
		}
	}
	// A HEAD error has no body, but still a request ID.
	resp, body := rawRequest{method: "HEAD", path: "/" + b + "/missing"}.do(t)
	if resp.StatusCode != 404 || len(body) != 0 || resp.Header.Get("X-Amz-Request-Id") == "" {
		t.Errorf("HEAD of a missing key: HTTP %d, %d body bytes, x-amz-request-id %q; want 404, none, set", resp.StatusCode, len(body), resp.Header.Get("X-Amz-Request-Id"))
	}
	// Successes carry a request ID too, each its own.
	r1, _ := rawRequest{method: "GET", path: "/"}.do(t)
	r2, _ := rawRequest{method: "GET", path: "/"}.do(t)
	if r1.StatusCode != 200 || r1.Header.Get("X-Amz-Request-Id") == "" || r1.Header.Get("X-Amz-Request-Id") == r2.Header.Get("X-Amz-Request-Id") {
		t.Errorf("ListBuckets: HTTP %d, request IDs %q and %q; want 200 and two distinct IDs", r1.StatusCode, r1.Header.Get("X-Amz-Request-Id"), r2.Header.Get("X-Amz-Request-Id"))
	}
}

package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func crc32b64(b []byte) string {
	var s [4]byte
	v := crc32.ChecksumIEEE(b)
	s[0], s[1], s[2], s[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return base64.StdEncoding.EncodeToString(s[:])
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestPutGetObject round-trips an object with metadata through the SDK,
// over plain HTTP (CRC32 header, signed payload) and over TLS (aws-chunked
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer): both are the
// SDK's defaults and must work unchanged.
func TestPutGetObject(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(testing.TB, Backend, ...envOption) *testEnv
	}{{"http", newEnv}, {"tls trailer", newTLSEnv}} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env(t, newFakeBackend())
			e.mustBucket("bkt")
			ctx := t.Context()
			data := bytes.Repeat([]byte("cairn "), 100000)
			out, err := e.client.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String("dir/obj"), Body: bytes.NewReader(data),
				ContentType: aws.String("text/plain"), CacheControl: aws.String("no-cache"),
				ContentDisposition: aws.String(`attachment; filename="x"`), ContentLanguage: aws.String("en"),
				Metadata: map[string]string{"Color": "blue", "size": "xl"}, Tagging: aws.String("a=1&b=two%20words"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.ETag) != `"`+md5hex(data)+`"` {
				t.Errorf("ETag %s", aws.ToString(out.ETag))
			}
			if aws.ToString(out.ChecksumCRC32) != crc32b64(data) {
				t.Errorf("PUT checksum %q, want %q", aws.ToString(out.ChecksumCRC32), crc32b64(data))
			}
			in := e.fake.lastPut
			if in.Size != int64(len(data)) || in.Meta.ContentType != "text/plain" || in.Meta.CacheControl != "no-cache" ||
				in.Meta.User["color"] != "blue" || in.Meta.Tags["b"] != "two words" || in.Meta.ContentEncoding != "" {
				t.Errorf("backend got %+v", in)
			}

			got, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj"), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil || !bytes.Equal(body, data) {
				t.Fatalf("body: %v (%d bytes)", err, len(body))
			}
			if aws.ToString(got.ContentType) != "text/plain" || got.Metadata["color"] != "blue" || aws.ToInt32(got.TagCount) != 2 ||
				aws.ToString(got.ChecksumCRC32) != crc32b64(data) || got.ChecksumType != types.ChecksumTypeFullObject ||
				aws.ToString(got.AcceptRanges) != "bytes" || aws.ToInt64(got.ContentLength) != int64(len(data)) ||
				aws.ToString(got.ContentDisposition) != `attachment; filename="x"` || got.LastModified == nil {
				t.Errorf("GET headers: %+v", got)
			}
			head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj")})
			if err != nil || aws.ToString(head.ETag) != aws.ToString(out.ETag) || aws.ToInt64(head.ContentLength) != int64(len(data)) || head.ChecksumCRC32 != nil {
				t.Fatalf("HEAD: %v %+v", err, head)
			}
			ov, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj"),
				ResponseContentType: aws.String("application/x-test"), ResponseCacheControl: aws.String("max-age=1"),
				ResponseContentDisposition: aws.String("inline"), ResponseExpires: aws.Time(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))})
			if err != nil {
				t.Fatal(err)
			}
			ov.Body.Close()
			if aws.ToString(ov.ContentType) != "application/x-test" || aws.ToString(ov.CacheControl) != "max-age=1" || aws.ToString(ov.ContentDisposition) != "inline" {
				t.Errorf("overrides: %+v", ov)
			}
		})
	}
}

func TestPutObjectRefusals(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	data := []byte("payload")
	for _, tc := range []struct {
		name   string
		path   string
		hdr    http.Header
		status int
		code   string
	}{
		{"bad Content-MD5", "/bkt/o", http.Header{"Content-Md5": {contentMD5([]byte("other"))}}, 400, "BadDigest"},
		{"invalid Content-MD5", "/bkt/o", http.Header{"Content-Md5": {"not base64"}}, 400, "InvalidDigest"},
		{"empty Content-MD5", "/bkt/o", http.Header{"Content-Md5": {""}}, 400, "InvalidDigest"},
		{"bad crc32", "/bkt/o", http.Header{"X-Amz-Checksum-Crc32": {crc32b64([]byte("other"))}}, 400, "BadDigest"},
		{"metadata 2 KiB+1", "/bkt/o", http.Header{"X-Amz-Meta-Big": {strings.Repeat("x", 2046)}}, 400, "MetadataTooLarge"},
		{"key 1025 bytes", "/bkt/" + strings.Repeat("k", 1025), nil, 400, "KeyTooLongError"},
		{"public-read", "/bkt/o", http.Header{"X-Amz-Acl": {"public-read"}}, 501, "NotImplemented"},
		{"grant", "/bkt/o", http.Header{"X-Amz-Grant-Read": {"id=x"}}, 501, "NotImplemented"},
		// A backend without ObjectLockBackend: refused, after the
		// headers are checked (objectlock_test.go covers one with it).
		{"object lock, backend without it", "/bkt/o", http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"},
			"X-Amz-Object-Lock-Retain-Until-Date": {"2099-01-01T00:00:00Z"}}, 501, "NotImplemented"},
		{"object lock mode alone", "/bkt/o", http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}}, 400, "InvalidArgument"},
		// Malformed encryption headers: 400 with AWS's codes (sse.go).
		{"sse unknown", "/bkt/o", http.Header{"X-Amz-Server-Side-Encryption": {"AES512"}}, 400, "InvalidArgument"},
		{"sse dsse", "/bkt/o", http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms:dsse"}}, 400, "InvalidArgument"},
		{"kms key without aws:kms", "/bkt/o", http.Header{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {"k"}}, 400, "InvalidArgument"},
		{"kms bad arn", "/bkt/o", http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {"arn:aws:s3:::bucket"}}, 400, "KMS.NotFoundException"},
		{"sse-c algorithm", "/bkt/o", ssecHeader("AES128", testCustomerKey, ""), 400, "InvalidEncryptionAlgorithmError"},
		{"sse-c no key", "/bkt/o", ssecHeader("AES256", nil, ""), 400, "InvalidArgument"},
		{"sse-c no md5", "/bkt/o", ssecHeader("AES256", testCustomerKey, "-"), 400, "InvalidArgument"},
		{"sse-c md5 mismatch", "/bkt/o", ssecHeader("AES256", testCustomerKey, contentMD5([]byte("x"))), 400, "InvalidArgument"},
		{"sse-c short key", "/bkt/o", ssecHeader("AES256", []byte("short"), ""), 400, "InvalidArgument"},
		{"sse-c with sse-s3", "/bkt/o", func() http.Header {
			h := ssecHeader("AES256", testCustomerKey, "")
			h.Set("X-Amz-Server-Side-Encryption", "AES256")
			return h
		}(), 400, "InvalidArgument"},
		{"glacier", "/bkt/o", http.Header{"X-Amz-Storage-Class": {"GLACIER"}}, 400, "InvalidStorageClass"},
		{"unknown class", "/bkt/o", http.Header{"X-Amz-Storage-Class": {"CHEAP"}}, 400, "InvalidStorageClass"},
		{"bad tagging", "/bkt/o", http.Header{"X-Amz-Tagging": {"a=1&a=2"}}, 400, "InvalidTag"},
		{"If-None-Match etag", "/bkt/o", http.Header{"If-None-Match": {`"abc"`}}, 501, "NotImplemented"},
		{"no bucket", "/nobkt/o", nil, 404, "NoSuchBucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do("PUT", tc.path, data, tc.hdr)
			wantStatus(t, resp, body, tc.status, tc.code)
		})
	}
	// Nothing of the refused writes was stored.
	resp, body := e.do("GET", "/bkt/o", nil, nil)
	wantStatus(t, resp, body, 404, "NoSuchKey")

	// The key limit is 1024 bytes exactly.
	resp, body = e.do("PUT", "/bkt/"+strings.Repeat("k", 1024), data, nil)
	wantStatus(t, resp, body, 200, "")
	resp, body = e.do("PUT", "/bkt/m", data, http.Header{"X-Amz-Meta-Big": {strings.Repeat("x", 2045)}})
	wantStatus(t, resp, body, 200, "")
}

func TestConditionalWrites(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	ctx := t.Context()
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("1"), IfMatch: aws.String(`"abc"`)})
	if apiCode(err) != "NoSuchKey" {
		t.Fatalf("If-Match on a missing key: %v", err)
	}
	first, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("1"), IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatal(err)
	}
	if e.fake.lastPut.IfNoneMatch != "*" {
		t.Errorf("IfNoneMatch %q", e.fake.lastPut.IfNoneMatch)
	}
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("2"), IfNoneMatch: aws.String("*")})
	if apiCode(err) != "PreconditionFailed" {
		t.Fatalf("If-None-Match * on an existing key: %v", err)
	}
	if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("2"), IfMatch: first.ETag}); err != nil {
		t.Fatal(err)
	}
	if e.fake.lastPut.IfMatch != strings.Trim(*first.ETag, `"`) {
		t.Errorf("IfMatch reached the backend as %q", e.fake.lastPut.IfMatch)
	}
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("3"), IfMatch: first.ETag})
	if apiCode(err) != "PreconditionFailed" {
		t.Fatalf("stale If-Match: %v", err)
	}
}

// TestPayloadLength covers the length checks, which need requests net/http's
// client will not send: the handler is called directly.
func TestPayloadLength(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	for _, tc := range []struct {
		name   string
		mod    func(r *http.Request)
		status int
		code   string
	}{
		{"over 5 GiB", func(r *http.Request) {
			r.ContentLength = 5<<30 + 1
			r.Header.Set("Content-Length", fmt.Sprint(r.ContentLength))
		}, 400, "EntityTooLarge"},
		{"no length", func(r *http.Request) { r.ContentLength = 0; r.Header.Del("Content-Length") }, 411, "MissingContentLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("PUT", "http://"+e.srv.Listener.Addr().String()+"/bkt/big", strings.NewReader("x"))
			req.Header.Set("Content-Length", "1")
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			tc.mod(req)
			signWith(t, req, testAccessKey, testSecret)
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			wantStatus(t, rec.Result(), rec.Body.Bytes(), tc.status, tc.code)
		})
	}
}

func TestGetObjectRange(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "o", "0123456789")
	e.mustPut("bkt", "empty", "")
	for _, tc := range []struct {
		key, rng     string
		status       int
		body, crange string
	}{
		{"o", "bytes=0-3", 206, "0123", "bytes 0-3/10"},
		{"o", "bytes=7-", 206, "789", "bytes 7-9/10"},
		{"o", "bytes=-2", 206, "89", "bytes 8-9/10"},
		{"o", "bytes=-20", 206, "0123456789", "bytes 0-9/10"},
		{"o", "bytes=5-100", 206, "56789", "bytes 5-9/10"},
		{"o", "bytes=9-9", 206, "9", "bytes 9-9/10"},
		{"o", "bytes=10-", 416, "", "bytes */10"},
		{"o", "bytes=-0", 416, "", "bytes */10"},
		{"o", "bytes=0-1,4-5", 200, "0123456789", ""}, // several ranges: the whole object, as S3
		{"o", "bytes=5-2", 200, "0123456789", ""},     // invalid: ignored
		{"o", "items=0-1", 200, "0123456789", ""},
		{"o", "bytes=x-1", 200, "0123456789", ""},
		{"empty", "bytes=0-", 416, "", "bytes */0"},
	} {
		t.Run(tc.key+" "+tc.rng, func(t *testing.T) {
			resp, body := e.do("GET", "/bkt/"+tc.key, nil, http.Header{"Range": {tc.rng}})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 416 {
				if errorCode(body) != "InvalidRange" {
					t.Errorf("body %s", body)
				}
			} else if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if got := resp.Header.Get("Content-Range"); got != tc.crange {
				t.Errorf("Content-Range %q, want %q", got, tc.crange)
			}
		})
	}
	// The SDK's ranged GET (what its downloader does) gets no full-object checksum.
	out, err := e.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("o"), Range: aws.String("bytes=2-4"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "234" || out.ChecksumCRC32 != nil || aws.ToString(out.ContentRange) != "bytes 2-4/10" {
		t.Fatalf("ranged SDK GET: %q %+v", b, out)
	}
}

func TestGetObjectConditionals(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	put := e.mustPut("bkt", "o", "data")
	tag := aws.ToString(put.ETag)
	head, err := e.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("o")})
	if err != nil {
		t.Fatal(err)
	}
	lm := *head.LastModified
	before := lm.Add(-time.Hour).Format(http.TimeFormat)
	at := lm.Format(http.TimeFormat)
	after := lm.Add(time.Hour).Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		hdr    http.Header
		status int
	}{
		{"If-Match hit", http.Header{"If-Match": {tag}}, 200},
		{"If-Match list", http.Header{"If-Match": {`"zzz", ` + tag}}, 200},
		{"If-Match star", http.Header{"If-Match": {"*"}}, 200},
		{"If-Match miss", http.Header{"If-Match": {`"zzz"`}}, 412},
		{"If-None-Match hit", http.Header{"If-None-Match": {tag}}, 304},
		{"If-None-Match miss", http.Header{"If-None-Match": {`"zzz"`}}, 200},
		{"If-Modified-Since before", http.Header{"If-Modified-Since": {before}}, 200},
		{"If-Modified-Since at", http.Header{"If-Modified-Since": {at}}, 304},
		{"If-Unmodified-Since before", http.Header{"If-Unmodified-Since": {before}}, 412},
		{"If-Unmodified-Since after", http.Header{"If-Unmodified-Since": {after}}, 200},
		{"bad date ignored", http.Header{"If-Unmodified-Since": {"yesterday"}}, 200},
		// S3's documented pairs.
		{"If-Match true + If-Unmodified-Since false", http.Header{"If-Match": {tag}, "If-Unmodified-Since": {before}}, 200},
		{"If-None-Match false + If-Modified-Since true", http.Header{"If-None-Match": {tag}, "If-Modified-Since": {before}}, 304},
		// 412 wins over 304.
		{"If-Match miss + If-None-Match hit", http.Header{"If-Match": {`"zzz"`}, "If-None-Match": {tag}}, 412},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []string{"GET", "HEAD"} {
				resp, body := e.do(m, "/bkt/o", nil, tc.hdr)
				if resp.StatusCode != tc.status {
					t.Fatalf("%s: status %d, want %d: %s", m, resp.StatusCode, tc.status, body)
				}
				if (tc.status == 304 || m == "HEAD") && len(body) != 0 {
					t.Errorf("%s %d with a body: %s", m, tc.status, body)
				}
				if tc.status == 304 && resp.Header.Get("ETag") != tag {
					t.Errorf("304 without the ETag: %v", resp.Header)
				}
				if tc.status == 412 && m == "GET" && errorCode(body) != "PreconditionFailed" {
					t.Errorf("412 body %s", body)
				}
			}
		})
	}
}

func TestVersionsAndDeleteMarkers(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	ctx := t.Context()
	c := e.client
	// Unversioned: deleting a missing key succeeds, without version headers.
	resp, body := e.do("DELETE", "/bkt/nothing", nil, nil)
	wantStatus(t, resp, body, 204, "")
	if resp.Header.Get("x-amz-version-id") != "" || resp.Header.Get("x-amz-delete-marker") != "" {
		t.Errorf("unversioned delete headers %v", resp.Header)
	}

	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bkt"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1 := e.mustPut("bkt", "k", "one")
	v2 := e.mustPut("bkt", "k", "two")
	if aws.ToString(v1.VersionId) == "" || aws.ToString(v1.VersionId) == aws.ToString(v2.VersionId) {
		t.Fatalf("version IDs %v %v", v1.VersionId, v2.VersionId)
	}
	old, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), VersionId: v1.VersionId})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(old.Body)
	old.Body.Close()
	if string(b) != "one" || aws.ToString(old.VersionId) != aws.ToString(v1.VersionId) || e.fake.lastGet != aws.ToString(v1.VersionId) {
		t.Fatalf("old version: %q %v", b, old.VersionId)
	}
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("delete: %v %+v", err, del)
	}
	resp, body = e.do("GET", "/bkt/k", nil, nil)
	wantStatus(t, resp, body, 404, "NoSuchKey")
	if resp.Header.Get("x-amz-delete-marker") != "true" || resp.Header.Get("x-amz-version-id") != aws.ToString(del.VersionId) {
		t.Errorf("404 of a delete marker: %v", resp.Header)
	}
	resp, body = e.do("HEAD", "/bkt/k?versionId="+aws.ToString(del.VersionId), nil, nil)
	wantStatus(t, resp, body, 405, "")
	if len(body) != 0 || resp.Header.Get("x-amz-delete-marker") != "true" {
		t.Errorf("HEAD of a delete marker version: %v %s", resp.Header, body)
	}
	// Removing the marker by version brings the object back.
	del2, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), VersionId: del.VersionId})
	if err != nil || !aws.ToBool(del2.DeleteMarker) || aws.ToString(del2.VersionId) != aws.ToString(del.VersionId) {
		t.Fatalf("delete marker removal: %v %+v", err, del2)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	// versionId=null reaches the backend as "null".
	resp, _ = e.do("HEAD", "/bkt/k?versionId=null", nil, nil)
	if e.fake.lastGet != "null" || resp.StatusCode != 404 {
		t.Errorf("versionId=null: backend got %q, status %d", e.fake.lastGet, resp.StatusCode)
	}
}

func TestGetObjectPartNumber(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "o", "0123456789")
	resp, body := e.do("GET", "/bkt/o?partNumber=1", nil, nil)
	if resp.StatusCode != 206 || string(body) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 0-9/10" || resp.Header.Get("x-amz-mp-parts-count") != "" {
		t.Fatalf("part 1 of a simple object: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = e.do("GET", "/bkt/o?partNumber=2", nil, nil)
	wantStatus(t, resp, body, 416, "InvalidPartNumber")
	resp, body = e.do("GET", "/bkt/o?partNumber=0", nil, nil)
	wantStatus(t, resp, body, 400, "InvalidArgument")
	resp, body = e.do("GET", "/bkt/o?partNumber=1", nil, http.Header{"Range": {"bytes=0-1"}})
	wantStatus(t, resp, body, 400, "InvalidRequest")
}

func TestObjectTaggingAndACL(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "o", "x")
	ctx := t.Context()
	c := e.client
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("o"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("tier"), Value: aws.String("cold")}}}}); err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("o")})
	if err != nil || len(tg.TagSet) != 1 || *tg.TagSet[0].Value != "cold" {
		t.Fatalf("tags %v %+v", err, tg)
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("o"),
		Tagging: &types.Tagging{TagSet: manyTags(11)}})
	if apiCode(err) != "InvalidTag" {
		t.Fatalf("11 tags: %v", err)
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("o")}); err != nil {
		t.Fatal(err)
	}
	tg, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("o")})
	if err != nil || len(tg.TagSet) != 0 {
		t.Fatalf("tags after delete: %v %+v", err, tg)
	}
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	if apiCode(err) != "NoSuchKey" {
		t.Fatalf("tags of a missing key: %v", err)
	}

	acl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bkt"), Key: aws.String("o")})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("GetObjectAcl %v %+v", err, acl)
	}
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("bkt"), Key: aws.String("o"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("bkt"), Key: aws.String("o"), ACL: types.ObjectCannedACLPublicRead})
	if apiCode(err) != "NotImplemented" {
		t.Fatalf("public-read: %v", err)
	}
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	if apiCode(err) != "NoSuchKey" {
		t.Fatalf("ACL of a missing key: %v", err)
	}
}

func manyTags(n int) []types.Tag {
	tags := make([]types.Tag, n)
	for i := range tags {
		tags[i] = types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")}
	}
	return tags
}

func TestEmptyObject(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(testing.TB, Backend, ...envOption) *testEnv
	}{{"http", newEnv}, {"tls", newTLSEnv}} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env(t, newFakeBackend())
			e.mustBucket("bkt")
			out := e.mustPut("bkt", "folder/", "")
			if aws.ToString(out.ETag) != `"d41d8cd98f00b204e9800998ecf8427e"` {
				t.Fatalf("ETag %s", aws.ToString(out.ETag))
			}
			h, err := e.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("folder/")})
			if err != nil || aws.ToInt64(h.ContentLength) != 0 {
				t.Fatalf("HEAD: %v %+v", err, h)
			}
		})
	}
}

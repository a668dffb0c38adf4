package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// getBytes GETs an object and returns its bytes, failing the test on error.
func getBytes(t testing.TB, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(t.Context(), in)
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s: reading body: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	return b, out
}

func put(t testing.TB, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return out
}

func TestPutGetHeadDeleteObject(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := seededBytes(1, 100_000)
	pout := put(t, c, b, "dir/object.bin", data)
	if got, want := unquote(pout.ETag), md5hex(data); got != want {
		t.Errorf("PutObject ETag %q; want the MD5 %q", got, want)
	}
	if pout.VersionId != nil {
		t.Errorf("PutObject on an unversioned bucket returned VersionId %q", aws.ToString(pout.VersionId))
	}

	got, gout := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")})
	if !bytes.Equal(got, data) {
		t.Errorf("GetObject returned %d bytes that differ from the %d put", len(got), len(data))
	}
	if aws.ToInt64(gout.ContentLength) != int64(len(data)) || unquote(gout.ETag) != md5hex(data) {
		t.Errorf("GetObject ContentLength %d ETag %s; want %d %s", aws.ToInt64(gout.ContentLength), unquote(gout.ETag), len(data), md5hex(data))
	}
	if lm := aws.ToTime(gout.LastModified); time.Since(lm) > time.Hour || time.Until(lm) > 5*time.Minute {
		t.Errorf("GetObject LastModified %v; want about now", lm)
	}
	if gout.AcceptRanges == nil || aws.ToString(gout.AcceptRanges) != "bytes" {
		t.Errorf("GetObject Accept-Ranges %q; want bytes", aws.ToString(gout.AcceptRanges))
	}

	hout, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")})
	must(t, err, "HeadObject")
	if aws.ToInt64(hout.ContentLength) != int64(len(data)) || unquote(hout.ETag) != md5hex(data) {
		t.Errorf("HeadObject ContentLength %d ETag %s; want %d %s", aws.ToInt64(hout.ContentLength), unquote(hout.ETag), len(data), md5hex(data))
	}
	if !aws.ToTime(hout.LastModified).Equal(aws.ToTime(gout.LastModified)) {
		t.Errorf("HeadObject LastModified %v differs from GetObject's %v", hout.LastModified, gout.LastModified)
	}

	// Overwrite: the new bytes win.
	data2 := []byte("second version")
	put(t, c, b, "dir/object.bin", data2)
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")}); !bytes.Equal(got, data2) {
		t.Errorf("GetObject after overwrite = %q; want %q", truncate(got, 40), data2)
	}

	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")})
	must(t, err, "DeleteObject")
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")})
	wantErr(t, err, 404, "NoSuchKey", "GetObject after DeleteObject")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")})
	wantErr(t, err, 404, "", "HeadObject after DeleteObject")
	// Deleting what is not there succeeds.
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("dir/object.bin")})
	must(t, err, "DeleteObject of a missing key")
}

func TestObjectMissingBucket(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	nb := bucketName(t)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &nb, Key: aws.String("k"), Body: strings.NewReader("x")})
	wantErr(t, err, 404, "NoSuchBucket", "PutObject into a missing bucket")
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &nb, Key: aws.String("k")})
	wantErr(t, err, 404, "NoSuchBucket", "GetObject from a missing bucket")
	_, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &nb})
	wantErr(t, err, 404, "NoSuchBucket", "ListObjectsV2 of a missing bucket")
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &nb, Key: aws.String("k")})
	wantErr(t, err, 404, "NoSuchBucket", "DeleteObject in a missing bucket")
}

func TestEmptyObject(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("empty"), Body: bytes.NewReader(nil)})
	must(t, err, "PutObject of 0 bytes")
	const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"
	if unquote(out.ETag) != emptyMD5 {
		t.Errorf("ETag of an empty object %q; want %q", unquote(out.ETag), emptyMD5)
	}
	got, gout := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("empty")})
	if len(got) != 0 || aws.ToInt64(gout.ContentLength) != 0 {
		t.Errorf("GetObject of an empty object: %d bytes, Content-Length %d", len(got), aws.ToInt64(gout.ContentLength))
	}
	// A "directory marker": an empty object whose key ends in a slash.
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("folder/"), Body: bytes.NewReader(nil)})
	must(t, err, "PutObject folder/")
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("folder/")})
	must(t, err, "HeadObject folder/")
	if aws.ToInt64(h.ContentLength) != 0 {
		t.Errorf("HeadObject folder/ ContentLength %d", aws.ToInt64(h.ContentLength))
	}
}

func TestObjectKeys(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	keys := []string{
		"日本語/ファイル名.txt",
		"Ünïcødé ✓ 😀",
		"with space/and more spaces ",
		"plus+sign+",
		"percent%20not-an-escape%",
		"double//slash//",
		"/leading-slash",
		"dot/./segment",
		"dotdot/../segment",
		"./leading-dot",
		"trailing-dots/..",
		"special !$&'()*,;=:@[]{}^`|~\"<>#?",
		"tab\there",
		strings.Repeat("k", 1024), // the longest key S3 allows
		strings.Repeat("é", 512),  // 1024 bytes of UTF-8
	}
	for i, k := range keys {
		body := []byte(fmt.Sprintf("object %d", i))
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: bytes.NewReader(body)}); err != nil {
			t.Errorf("PutObject %q: %v", truncate([]byte(k), 60), err)
			continue
		}
		out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String(k)})
		if err != nil {
			t.Errorf("GetObject %q: %v", truncate([]byte(k), 60), err)
			continue
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, body) {
			t.Errorf("GetObject %q = %q; want %q", truncate([]byte(k), 60), got, body)
		}
	}
	// Every key is listed exactly as it was written.
	listed := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &b})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		must(t, err, "ListObjectsV2")
		for _, o := range page.Contents {
			listed[aws.ToString(o.Key)] = true
		}
	}
	for _, k := range keys {
		if !listed[k] {
			t.Errorf("ListObjectsV2 does not list %q", truncate([]byte(k), 60))
		}
	}
	if len(listed) != len(keys) {
		t.Errorf("ListObjectsV2 listed %d keys; want %d: %v", len(listed), len(keys), listed)
	}
}

func TestKeyTooLong(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	k := strings.Repeat("k", 1025)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: &k, Body: strings.NewReader("x")})
	wantErr(t, err, 400, "KeyTooLongError", "PutObject with a 1025-byte key")
	k2 := strings.Repeat("é", 513) // 1026 bytes
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: &k2, Body: strings.NewReader("x")})
	wantErr(t, err, 400, "KeyTooLongError", "PutObject with a 1026-byte UTF-8 key")
}

// userMeta returns n metadata entries whose keys and values add up to
// exactly total bytes.
func userMeta(total int) map[string]string {
	m := map[string]string{}
	const n = 8
	per := total / n
	for i := range n {
		k := fmt.Sprintf("m%02d", i)
		size := per
		if i == n-1 {
			size = total - per*(n-1)
		}
		m[k] = strings.Repeat(string(rune('a'+i)), size-len(k))
	}
	return m
}

func TestUserMetadata(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	small := map[string]string{"color": "blue", "multi-word-key": "Value With Spaces", "empty-ish": "-"}
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("small"), Body: strings.NewReader("x"), Metadata: small})
	must(t, err, "PutObject with metadata")
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("small")})
	must(t, err, "HeadObject")
	for k, v := range small {
		if h.Metadata[k] != v {
			t.Errorf("HeadObject metadata %q = %q; want %q (all: %v)", k, h.Metadata[k], v, h.Metadata)
		}
	}
	// Keys are case-insensitive HTTP headers: S3 stores them lower-case.
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("case"), Body: strings.NewReader("x"), Metadata: map[string]string{"MixedCase": "V"}})
	must(t, err, "PutObject with a mixed-case metadata key")
	h, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("case")})
	must(t, err, "HeadObject")
	if h.Metadata["mixedcase"] != "V" {
		t.Errorf("metadata MixedCase=V came back as %v; want mixedcase=V", h.Metadata)
	}

	// 2 KiB of keys and values is the limit S3 allows.
	full := userMeta(2048)
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("full"), Body: strings.NewReader("x"), Metadata: full})
	must(t, err, "PutObject with exactly 2048 bytes of user metadata")
	g, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("full")})
	must(t, err, "GetObject")
	g.Body.Close()
	for k, v := range full {
		if g.Metadata[k] != v {
			t.Errorf("GetObject metadata %q has %d bytes; want %d", k, len(g.Metadata[k]), len(v))
		}
	}
}

func TestMetadataTooLarge(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("over"), Body: strings.NewReader("x"), Metadata: userMeta(2049)})
	wantErr(t, err, 400, "MetadataTooLarge", "PutObject with 2049 bytes of user metadata")
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("over"), Body: strings.NewReader("x"), Metadata: userMeta(4000)})
	wantErr(t, err, 400, "MetadataTooLarge", "PutObject with 4000 bytes of user metadata")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("over")})
	wantErr(t, err, 404, "", "HeadObject after refused PutObjects")
	_, err = c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("over"), Metadata: userMeta(2049)})
	wantErr(t, err, 400, "MetadataTooLarge", "CreateMultipartUpload with 2049 bytes of user metadata")
}

func TestContentHeadersRoundTrip(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	expires := time.Date(2031, 4, 5, 6, 7, 8, 0, time.UTC)
	in := &s3.PutObjectInput{
		Bucket:             &b,
		Key:                aws.String("page.html"),
		Body:               strings.NewReader("<p>hello</p>"),
		ContentType:        aws.String("text/html; charset=utf-8"),
		ContentEncoding:    aws.String("identity"),
		ContentDisposition: aws.String(`attachment; filename="page.html"`),
		CacheControl:       aws.String("max-age=3600, must-revalidate"),
		ContentLanguage:    aws.String("de-CH"),
		Expires:            &expires,
	}
	_, err := c.PutObject(t.Context(), in)
	must(t, err, "PutObject with content headers")
	check := func(what string, ct, ce, cd, cc, cl, exp *string) {
		t.Helper()
		for _, f := range []struct{ name, got, want string }{
			{"Content-Type", aws.ToString(ct), *in.ContentType},
			{"Content-Encoding", aws.ToString(ce), *in.ContentEncoding},
			{"Content-Disposition", aws.ToString(cd), *in.ContentDisposition},
			{"Cache-Control", aws.ToString(cc), *in.CacheControl},
			{"Content-Language", aws.ToString(cl), *in.ContentLanguage},
			{"Expires", aws.ToString(exp), expires.Format(http.TimeFormat)},
		} {
			if f.got != f.want {
				t.Errorf("%s %s = %q; want %q", what, f.name, f.got, f.want)
			}
		}
	}
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: in.Key})
	must(t, err, "HeadObject")
	check("HeadObject", h.ContentType, h.ContentEncoding, h.ContentDisposition, h.CacheControl, h.ContentLanguage, h.ExpiresString)
	_, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: in.Key})
	check("GetObject", g.ContentType, g.ContentEncoding, g.ContentDisposition, g.CacheControl, g.ContentLanguage, g.ExpiresString)

	// Without a Content-Type, S3 answers a default one.
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("plain"), Body: strings.NewReader("x")})
	must(t, err, "PutObject")
	h, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("plain")})
	must(t, err, "HeadObject")
	if aws.ToString(h.ContentType) == "" {
		t.Errorf("HeadObject of an object put without Content-Type has none; S3 answers binary/octet-stream")
	}
}

func TestRangeGet(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := seededBytes(2, 1000)
	put(t, c, b, "r", data)
	for _, tc := range []struct {
		rng          string
		first, last  int
		contentRange string
	}{
		{"bytes=0-9", 0, 9, "bytes 0-9/1000"},
		{"bytes=100-100", 100, 100, "bytes 100-100/1000"},
		{"bytes=990-", 990, 999, "bytes 990-999/1000"},
		{"bytes=-10", 990, 999, "bytes 990-999/1000"},
		{"bytes=995-5000", 995, 999, "bytes 995-999/1000"}, // the end is clipped
		{"bytes=-5000", 0, 999, "bytes 0-999/1000"},        // suffix longer than the object
		{"bytes=0-", 0, 999, "bytes 0-999/1000"},
	} {
		out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("r"), Range: aws.String(tc.rng)})
		if err != nil {
			t.Errorf("GetObject Range %s: %v", tc.rng, err)
			continue
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, data[tc.first:tc.last+1]) {
			t.Errorf("Range %s: got %d bytes, want bytes %d-%d", tc.rng, len(got), tc.first, tc.last)
		}
		if aws.ToString(out.ContentRange) != tc.contentRange {
			t.Errorf("Range %s: Content-Range %q; want %q", tc.rng, aws.ToString(out.ContentRange), tc.contentRange)
		}
		if aws.ToInt64(out.ContentLength) != int64(tc.last-tc.first+1) {
			t.Errorf("Range %s: Content-Length %d; want %d", tc.rng, aws.ToInt64(out.ContentLength), tc.last-tc.first+1)
		}
	}
	// The status is 206 Partial Content.
	resp, _ := rawRequest{method: "GET", path: "/" + b + "/r", header: map[string]string{"Range": "bytes=0-9"}}.do(t)
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("GET with Range: HTTP %d; want 206", resp.StatusCode)
	}

	for _, rng := range []string{"bytes=1000-", "bytes=2000-3000", "bytes=1000-1000"} {
		_, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("r"), Range: aws.String(rng)})
		wantErr(t, err, 416, "InvalidRange", "GetObject Range "+rng+" of a 1000-byte object")
	}
}

// TestConditionalGet covers If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since on GET and HEAD, with S3's rules for combining them.
func TestConditionalGet(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := []byte("conditional")
	put(t, c, b, "k", data)
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
	must(t, err, "HeadObject")
	etag := aws.ToString(h.ETag) // quoted
	lm := aws.ToTime(h.LastModified)
	before := lm.Add(-time.Hour)

	for _, tc := range []struct {
		name   string
		in     s3.GetObjectInput
		status int // 200 for success
	}{
		{"If-Match equal", s3.GetObjectInput{IfMatch: &etag}, 200},
		{"If-Match other", s3.GetObjectInput{IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, 412},
		{"If-None-Match equal", s3.GetObjectInput{IfNoneMatch: &etag}, 304},
		{"If-None-Match other", s3.GetObjectInput{IfNoneMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, 200},
		{"If-Modified-Since before", s3.GetObjectInput{IfModifiedSince: &before}, 200},
		{"If-Modified-Since LastModified", s3.GetObjectInput{IfModifiedSince: &lm}, 304},
		{"If-Unmodified-Since before", s3.GetObjectInput{IfUnmodifiedSince: &before}, 412},
		{"If-Unmodified-Since LastModified", s3.GetObjectInput{IfUnmodifiedSince: &lm}, 200},
		// S3: If-Match true and If-Unmodified-Since false -> 200.
		{"If-Match true + If-Unmodified-Since false", s3.GetObjectInput{IfMatch: &etag, IfUnmodifiedSince: &before}, 200},
		// S3: If-None-Match false and If-Modified-Since true -> 304.
		{"If-None-Match false + If-Modified-Since true", s3.GetObjectInput{IfNoneMatch: &etag, IfModifiedSince: &before}, 304},
		{"If-Match false + If-None-Match other", s3.GetObjectInput{IfMatch: aws.String(`"00000000000000000000000000000000"`), IfNoneMatch: aws.String(`"11111111111111111111111111111111"`)}, 412},
	} {
		in := tc.in
		in.Bucket, in.Key = &b, aws.String("k")
		out, err := c.GetObject(t.Context(), &in)
		if tc.status == 200 {
			if err != nil {
				t.Errorf("GET %s: %v; want 200", tc.name, err)
				continue
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("GET %s: body %q", tc.name, got)
			}
		} else {
			code := "PreconditionFailed"
			if tc.status == 304 {
				code = "" // 304 has no body
			}
			wantErr(t, err, tc.status, code, "GET "+tc.name)
			if tc.status == 304 {
				if e := responseHeader(err, "ETag"); e != etag {
					t.Errorf("GET %s: 304 has ETag %q; want %q", tc.name, e, etag)
				}
			}
		}

		hin := s3.HeadObjectInput{Bucket: &b, Key: aws.String("k"), IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch, IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince}
		_, err = c.HeadObject(t.Context(), &hin)
		if tc.status == 200 {
			if err != nil {
				t.Errorf("HEAD %s: %v; want 200", tc.name, err)
			}
		} else {
			wantErr(t, err, tc.status, "", "HEAD "+tc.name)
		}
	}
}

func TestResponseHeaderOverrides(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("o"), Body: strings.NewReader("override me"), ContentType: aws.String("text/plain")})
	must(t, err, "PutObject")
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, out := getBytes(t, c, &s3.GetObjectInput{
		Bucket:                     &b,
		Key:                        aws.String("o"),
		ResponseContentType:        aws.String("application/x-override"),
		ResponseContentDisposition: aws.String(`attachment; filename="x y.txt"`),
		ResponseContentEncoding:    aws.String("x-enc"),
		ResponseContentLanguage:    aws.String("fr"),
		ResponseCacheControl:       aws.String("no-store"),
		ResponseExpires:            &exp,
	})
	for _, f := range []struct{ name, got, want string }{
		{"Content-Type", aws.ToString(out.ContentType), "application/x-override"},
		{"Content-Disposition", aws.ToString(out.ContentDisposition), `attachment; filename="x y.txt"`},
		{"Content-Encoding", aws.ToString(out.ContentEncoding), "x-enc"},
		{"Content-Language", aws.ToString(out.ContentLanguage), "fr"},
		{"Cache-Control", aws.ToString(out.CacheControl), "no-store"},
		{"Expires", aws.ToString(out.ExpiresString), exp.Format(http.TimeFormat)},
	} {
		if f.got != f.want {
			t.Errorf("response-%s override: got %q; want %q", strings.ToLower(f.name), f.got, f.want)
		}
	}
	// The override is for that response only.
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("o")})
	must(t, err, "HeadObject")
	if aws.ToString(h.ContentType) != "text/plain" {
		t.Errorf("stored Content-Type %q after an overriding GET; want text/plain", aws.ToString(h.ContentType))
	}
}

func TestConditionalPut(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("first"), IfNoneMatch: aws.String("*")})
	must(t, err, "PutObject If-None-Match: * of a new key")
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("second"), IfNoneMatch: aws.String("*")})
	wantErr(t, err, 412, "PreconditionFailed", "PutObject If-None-Match: * of an existing key")

	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("third"), IfMatch: aws.String(`"` + md5hex([]byte("other")) + `"`)})
	wantErr(t, err, 412, "PreconditionFailed", "PutObject If-Match with another ETag")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}); string(got) != "first" {
		t.Errorf("after refused conditional PUTs the object is %q; want first", got)
	}

	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("fourth"), IfMatch: aws.String(`"` + md5hex([]byte("first")) + `"`)})
	must(t, err, "PutObject If-Match with the current ETag")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}); string(got) != "fourth" {
		t.Errorf("after If-Match PUT the object is %q; want fourth", got)
	}

	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("missing"), Body: strings.NewReader("x"), IfMatch: aws.String(`"` + md5hex([]byte("x")) + `"`)})
	wantErr(t, err, 404, "NoSuchKey", "PutObject If-Match of a missing key")

	// The same conditions on CompleteMultipartUpload.
	id := createUpload(t, c, b, "k")
	part := uploadPart(t, c, b, "k", id, 1, []byte("multipart body"))
	_, err = c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{part}}, IfNoneMatch: aws.String("*")})
	wantErr(t, err, 412, "PreconditionFailed", "CompleteMultipartUpload If-None-Match: * of an existing key")
	_, err = c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{part}}, IfMatch: aws.String(`"` + md5hex([]byte("first")) + `"`)})
	wantErr(t, err, 412, "PreconditionFailed", "CompleteMultipartUpload If-Match with an old ETag")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}); string(got) != "fourth" {
		t.Errorf("after refused conditional Completes the object is %q; want fourth", got)
	}
	_, err = c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{part}}, IfMatch: aws.String(`"` + md5hex([]byte("fourth")) + `"`)})
	must(t, err, "CompleteMultipartUpload If-Match with the current ETag")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}); string(got) != "multipart body" {
		t.Errorf("after the If-Match Complete the object is %q", got)
	}
}

// TestConcurrentPutsSameKey races PUTs of different bodies to one key: the
// object ends up whole and equal to one of them, never a mix.
func TestConcurrentPutsSameKey(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	const n = 8
	bodies := make([][]byte, n)
	errs := make(chan error, n)
	for i := range n {
		bodies[i] = seededBytes(uint64(160+i), 1*mib+i)
		go func() {
			_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("raced"), Body: bytes.NewReader(bodies[i])})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent PutObject: %v", err)
		}
	}
	got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("raced")})
	for _, body := range bodies {
		if bytes.Equal(got, body) {
			if unquote(out.ETag) != md5hex(body) {
				t.Errorf("object after racing PUTs has the bytes of one and ETag %s", unquote(out.ETag))
			}
			return
		}
	}
	t.Errorf("object after %d racing PUTs (%d bytes) equals none of them", n, len(got))
}

// TestInterruptedPut sends part of a declared body and hangs up: nothing is
// stored, and an existing object under the key is untouched.
func TestInterruptedPut(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "kept", []byte("the old bytes"))
	// "control" sends the whole body, proving the hand-made request is good.
	for _, key := range []string{"control", "never", "kept"} {
		body := seededBytes(170, 1*mib)
		req, err := http.NewRequestWithContext(t.Context(), "PUT", tgt.endpoint+objectPath(b, key), nil)
		must(t, err, "NewRequest")
		req.ContentLength = int64(len(body))
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		must(t, v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: tgt.accessKey, SecretAccessKey: tgt.secretKey}, req, "UNSIGNED-PAYLOAD", "s3", tgt.region, time.Now()), "sign")
		conn, err := net.Dial("tcp", tgt.hostPort)
		must(t, err, "dial")
		var head bytes.Buffer
		fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.EscapedPath(), req.Host, len(body))
		for k, vs := range req.Header {
			for _, v := range vs {
				fmt.Fprintf(&head, "%s: %s\r\n", k, v)
			}
		}
		head.WriteString("\r\n")
		conn.Write(head.Bytes())
		if key == "control" {
			conn.Write(body)
			resp, err := http.ReadResponse(bufio.NewReader(conn), req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("the complete hand-made PUT failed (%v, %v): the interrupted ones prove nothing", err, resp)
			}
			conn.Close()
			continue
		}
		conn.Write(body[:len(body)/3])
		time.Sleep(200 * time.Millisecond)
		conn.Close()
	}
	time.Sleep(500 * time.Millisecond) // let the server notice
	_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("never")})
	wantErr(t, err, 404, "", "HeadObject after an interrupted PUT")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("kept")}); string(got) != "the old bytes" {
		t.Errorf("an interrupted PUT over an existing object left %d bytes %q", len(got), truncate(got, 40))
	}
	lu, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b})
	must(t, err, "ListMultipartUploads")
	if len(lu.Uploads) != 0 {
		t.Errorf("interrupted PUTs left %d uploads", len(lu.Uploads))
	}
}

func TestContentMD5(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	body := []byte("payload with an MD5")
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("ok"), Body: bytes.NewReader(body), ContentMD5: aws.String(md5b64(body))})
	must(t, err, "PutObject with the right Content-MD5")

	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("bad"), Body: bytes.NewReader(body), ContentMD5: aws.String(md5b64([]byte("something else")))})
	wantErr(t, err, 400, "BadDigest", "PutObject with a wrong Content-MD5")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("bad")})
	wantErr(t, err, 404, "", "HeadObject after a BadDigest PutObject")

	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("bad"), Body: bytes.NewReader(body), ContentMD5: aws.String("not-base64-md5")})
	wantErr(t, err, 400, "InvalidDigest", "PutObject with a malformed Content-MD5")
}

func TestDeleteObjects(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	for _, k := range []string{"a", "b", "c/d", "e f", "keep"} {
		put(t, c, b, k, []byte(k))
	}
	ids := func(keys ...string) []types.ObjectIdentifier {
		var r []types.ObjectIdentifier
		for _, k := range keys {
			r = append(r, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return r
	}
	out, err := c.DeleteObjects(t.Context(), &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: ids("a", "c/d", "missing-1", "missing/2")}})
	must(t, err, "DeleteObjects")
	deleted := map[string]bool{}
	for _, d := range out.Deleted {
		deleted[aws.ToString(d.Key)] = true
	}
	// S3 reports keys that did not exist as deleted too.
	for _, k := range []string{"a", "c/d", "missing-1", "missing/2"} {
		if !deleted[k] {
			t.Errorf("DeleteObjects result does not report %q deleted (Deleted %v, Errors %v)", k, deleted, out.Errors)
		}
	}
	if len(out.Errors) != 0 {
		t.Errorf("DeleteObjects errors: %+v", out.Errors)
	}

	// Quiet mode reports only errors.
	qout, err := c.DeleteObjects(t.Context(), &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: ids("b", "e f", "missing-3"), Quiet: aws.Bool(true)}})
	must(t, err, "DeleteObjects quiet")
	if len(qout.Deleted) != 0 || len(qout.Errors) != 0 {
		t.Errorf("quiet DeleteObjects reported Deleted %d Errors %d; want none", len(qout.Deleted), len(qout.Errors))
	}

	l, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b})
	must(t, err, "ListObjectsV2")
	if len(l.Contents) != 1 || aws.ToString(l.Contents[0].Key) != "keep" {
		var keys []string
		for _, o := range l.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		t.Errorf("after DeleteObjects the bucket holds %q; want [keep]", keys)
	}

	// More than 1000 keys is refused.
	var many []types.ObjectIdentifier
	for i := range 1001 {
		many = append(many, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("k%d", i))})
	}
	_, err = c.DeleteObjects(t.Context(), &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: many}})
	wantErr(t, err, 400, "MalformedXML", "DeleteObjects with 1001 keys")
}

func TestObjectTagging(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("t"), Body: strings.NewReader("x"), Tagging: aws.String("project=cairn&kind=test%20data")})
	must(t, err, "PutObject with x-amz-tagging")
	out, err := c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("t")})
	must(t, err, "GetObjectTagging")
	if got := tagMap(out.TagSet); len(got) != 2 || got["project"] != "cairn" || got["kind"] != "test data" {
		t.Errorf("GetObjectTagging = %v; want project=cairn kind=test data", got)
	}
	_, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("t")})
	if aws.ToInt32(g.TagCount) != 2 {
		t.Errorf("GetObject x-amz-tagging-count %d; want 2", aws.ToInt32(g.TagCount))
	}

	_, err = c.PutObjectTagging(t.Context(), &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String("t"), Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}})
	must(t, err, "PutObjectTagging")
	out, err = c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("t")})
	must(t, err, "GetObjectTagging")
	if got := tagMap(out.TagSet); len(got) != 1 || got["only"] != "one" {
		t.Errorf("GetObjectTagging after PutObjectTagging = %v; want only=one", got)
	}

	_, err = c.DeleteObjectTagging(t.Context(), &s3.DeleteObjectTaggingInput{Bucket: &b, Key: aws.String("t")})
	must(t, err, "DeleteObjectTagging")
	out, err = c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("t")})
	must(t, err, "GetObjectTagging after DeleteObjectTagging")
	if len(out.TagSet) != 0 {
		t.Errorf("GetObjectTagging after delete = %v; want an empty set", tagMap(out.TagSet))
	}

	_, err = c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("missing")})
	wantErr(t, err, 404, "NoSuchKey", "GetObjectTagging of a missing key")
	var eleven []types.Tag
	for i := range 11 {
		eleven = append(eleven, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	_, err = c.PutObjectTagging(t.Context(), &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String("t"), Tagging: &types.Tagging{TagSet: eleven}})
	wantErrOneOf(t, err, 400, []string{"BadRequest", "InvalidTag"}, "PutObjectTagging with 11 tags (S3 allows 10)")
}

func TestACLs(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := bucketName(t)
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b, ACL: types.BucketCannedACLPrivate})
	must(t, err, "CreateBucket x-amz-acl: private")
	cleanupBucket(t, c, b)
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("o"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPrivate})
	must(t, err, "PutObject x-amz-acl: private")

	checkOwnerFull := func(what string, owner *types.Owner, grants []types.Grant) {
		t.Helper()
		if owner == nil || aws.ToString(owner.ID) == "" {
			t.Errorf("%s: no Owner ID", what)
			return
		}
		for _, g := range grants {
			if g.Grantee != nil && aws.ToString(g.Grantee.ID) == aws.ToString(owner.ID) && g.Permission == types.PermissionFullControl {
				return
			}
		}
		t.Errorf("%s: no FULL_CONTROL grant to the owner %q in %+v", what, aws.ToString(owner.ID), grants)
	}
	bacl, err := c.GetBucketAcl(t.Context(), &s3.GetBucketAclInput{Bucket: &b})
	must(t, err, "GetBucketAcl")
	checkOwnerFull("GetBucketAcl", bacl.Owner, bacl.Grants)
	oacl, err := c.GetObjectAcl(t.Context(), &s3.GetObjectAclInput{Bucket: &b, Key: aws.String("o")})
	must(t, err, "GetObjectAcl")
	checkOwnerFull("GetObjectAcl", oacl.Owner, oacl.Grants)
	if aws.ToString(bacl.Owner.ID) != aws.ToString(oacl.Owner.ID) {
		t.Errorf("bucket owner %q and object owner %q differ", aws.ToString(bacl.Owner.ID), aws.ToString(oacl.Owner.ID))
	}
	_, err = c.GetObjectAcl(t.Context(), &s3.GetObjectAclInput{Bucket: &b, Key: aws.String("missing")})
	wantErr(t, err, 404, "NoSuchKey", "GetObjectAcl of a missing key")
}

// TestPublicACL: canned public ACLs on PutObject and CreateBucket make the
// object readable and the bucket listable without a signature; with
// BlockPublicAcls they are refused (AccessDenied) and change nothing.
func TestPublicACL(t *testing.T) {
	t.Parallel()
	requireCairn(t, "new S3 buckets refuse ACLs (BucketOwnerEnforced) unless their ownership control is changed")
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("o"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	must(t, err, "PutObject x-amz-acl: public-read")
	anon := func(path string) int {
		resp, err := http.Get(tgt.endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := anon("/" + b + "/o"); code != 200 {
		t.Errorf("anonymous GET of a public-read object: %d", code)
	}
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("private"), Body: strings.NewReader("x")})
	must(t, err, "PutObject private")
	if code := anon("/" + b + "/private"); code != 403 {
		t.Errorf("anonymous GET of a private object: %d", code)
	}
	b2 := bucketName(t)
	_, err = c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b2, ACL: types.BucketCannedACLPublicRead})
	must(t, err, "CreateBucket x-amz-acl: public-read")
	cleanupBucket(t, c, b2)
	if code := anon("/" + b2); code != 200 {
		t.Errorf("anonymous list of a public-read bucket: %d", code)
	}
	_, err = c.PutPublicAccessBlock(t.Context(), &s3.PutPublicAccessBlockInput{Bucket: &b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}})
	must(t, err, "PutPublicAccessBlock")
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("o2"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	wantErr(t, err, 403, "AccessDenied", "PutObject public-read under BlockPublicAcls")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("o2")})
	wantErr(t, err, 404, "", "HeadObject after the refused PutObject")
}

package s3api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestParseCopySource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want copySource
		err  bool
	}{
		{in: "bkt/key", want: copySource{bucket: "bkt", key: "key"}},
		{in: "/bkt/dir/key", want: copySource{bucket: "bkt", key: "dir/key"}},
		{in: "bkt/a%20b%3Fc%2Bd", want: copySource{bucket: "bkt", key: "a b?c+d"}},
		{in: "bkt/k+plus", want: copySource{bucket: "bkt", key: "k+plus"}},
		{in: "bkt/key?versionId=v1", want: copySource{bucket: "bkt", key: "key", versionID: "v1"}},
		{in: "bkt/key?versionId=", err: true},
		{in: "bkt/key?other=1", err: true},
		{in: "bkt", err: true},
		{in: "bkt/", err: true},
		{in: "/key", err: true},
		{in: "bkt/%zz", err: true},
		{in: "arn:aws:s3:us-east-1:1:accesspoint/ap/object/k", err: true},
	} {
		got, err := parseCopySource(tc.in)
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("parseCopySource(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestCopyObject(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("src")
	e.mustBucket("dst")
	ctx := t.Context()
	c := e.client
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a b+c"), Body: stringsReader("data"),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"m": "1"}, Tagging: aws.String("t=1")}); err != nil {
		t.Fatal(err)
	}
	src := "src/" + url.PathEscape("a b+c")

	out, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String(src)})
	if err != nil {
		t.Fatal(err)
	}
	if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ETag) != `"`+md5hex([]byte("data"))+`"` || out.CopyObjectResult.LastModified == nil {
		t.Fatalf("CopyObjectResult %+v", out.CopyObjectResult)
	}
	in := e.fake.lastCopy
	if in.SrcBucket != "src" || in.SrcKey != "a b+c" || in.DstBucket != "dst" || in.DstKey != "copy" || in.Meta != nil || in.Tags != nil {
		t.Fatalf("COPY directive input %+v", in)
	}
	got, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if err != nil || got.Metadata["m"] != "1" || aws.ToString(got.ContentType) != "text/plain" {
		t.Fatalf("copied metadata: %v %+v", err, got)
	}

	// REPLACE: new metadata and tags, with their own directives.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String(src),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"n": "2"}, ContentType: aws.String("x/y"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("u=2")}); err != nil {
		t.Fatal(err)
	}
	in = e.fake.lastCopy
	if in.Meta == nil || in.Meta.User["n"] != "2" || in.Meta.ContentType != "x/y" || in.Meta.Tags != nil || in.Tags["u"] != "2" {
		t.Fatalf("REPLACE input %+v meta %+v", in, in.Meta)
	}

	// Onto itself without REPLACE: S3's InvalidRequest.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("a b+c"), CopySource: aws.String(src)})
	if apiCode(err) != "InvalidRequest" {
		t.Fatalf("copy onto itself: %v", err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("a b+c"), CopySource: aws.String(src),
		MetadataDirective: types.MetadataDirectiveReplace}); err != nil {
		t.Fatalf("copy onto itself with REPLACE: %v", err)
	}

	// Source conditionals.
	lm := got.LastModified.Add(-time.Hour)
	for _, tc := range []struct {
		name string
		in   s3.CopyObjectInput
		ok   bool
	}{
		{"if-match hit", s3.CopyObjectInput{CopySourceIfMatch: got.ETag}, true},
		{"if-match miss", s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"nope"`)}, false},
		{"if-none-match hit", s3.CopyObjectInput{CopySourceIfNoneMatch: got.ETag}, false},
		{"if-unmodified-since before", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &lm}, false},
		{"if-match true + if-unmodified-since false", s3.CopyObjectInput{CopySourceIfMatch: got.ETag, CopySourceIfUnmodifiedSince: &lm}, true},
		{"if-none-match false + if-modified-since true", s3.CopyObjectInput{CopySourceIfNoneMatch: got.ETag, CopySourceIfModifiedSince: &lm}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Bucket, in.Key, in.CopySource = aws.String("dst"), aws.String("cond"), aws.String("dst/copy")
			_, err := c.CopyObject(ctx, &in)
			if tc.ok && err != nil || !tc.ok && apiCode(err) != "PreconditionFailed" {
				t.Fatalf("err %v", err)
			}
		})
	}

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
	if apiCode(err) != "NoSuchKey" {
		t.Fatalf("missing source: %v", err)
	}
	resp, body := e.do("PUT", "/dst/x", nil, http.Header{"X-Amz-Copy-Source": {"src"}})
	wantStatus(t, resp, body, 400, "InvalidArgument")
	resp, body = e.do("PUT", "/dst/x", nil, http.Header{"X-Amz-Copy-Source": {src}, "X-Amz-Metadata-Directive": {"MERGE"}})
	wantStatus(t, resp, body, 400, "InvalidArgument")
}

// TestCopySourceVersion checks ?versionId in x-amz-copy-source and the
// x-amz-copy-source-version-id answer.
func TestCopySourceVersion(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	ctx := t.Context()
	if _, err := e.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bkt"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1 := e.mustPut("bkt", "k", "one")
	e.mustPut("bkt", "k", "two")
	out, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		CopySource: aws.String("bkt/k?versionId=" + aws.ToString(v1.VersionId))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.CopySourceVersionId) != aws.ToString(v1.VersionId) || aws.ToString(out.VersionId) == "" {
		t.Fatalf("version headers: %+v", out)
	}
	g, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(b) != "one" {
		t.Fatalf("restored version holds %q", b)
	}
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	for _, k := range []string{"a", "b", "c"} {
		e.mustPut("bkt", k, k)
	}
	ctx := t.Context()
	// The SDK sends its default CRC32 checksum header, not Content-MD5.
	out, err := e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("a")}, {Key: aws.String("missing")}, {Key: aws.String(strings.Repeat("k", 1025))},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 2 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "KeyTooLongError" {
		t.Fatalf("DeleteObjects: %+v %+v", out.Deleted, out.Errors)
	}
	out, err = e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("b")}}}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet: %v %+v", err, out)
	}
	_, err = e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("nobkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a")}}}})
	var nsb *types.NoSuchBucket
	if !errors.As(err, &nsb) && apiCode(err) != "NoSuchBucket" {
		t.Fatalf("missing bucket: %v", err)
	}

	body := []byte(`<Delete><Object><Key>c</Key></Object></Delete>`)
	resp, rb := e.do("POST", "/bkt?delete", body, nil)
	wantStatus(t, resp, rb, 400, "InvalidRequest")
	if want := "Missing required header for this request: Content-MD5"; !contains(rb, want) {
		t.Errorf("message: %s", rb)
	}
	resp, rb = e.do("POST", "/bkt?delete", body, http.Header{"Content-Md5": {contentMD5([]byte("x"))}})
	wantStatus(t, resp, rb, 400, "BadDigest")
	resp, rb = e.do("POST", "/bkt?delete", body, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(body)}})
	wantStatus(t, resp, rb, 200, "")
	if !contains(rb, "<Deleted><Key>c</Key></Deleted>") {
		t.Errorf("verbose result: %s", rb)
	}
	for _, doc := range []string{``, `<Delete></Delete>`, `<Delete><Object><Key>a</Key></Object>`, `<Delete><Object><VersionId>x</VersionId></Object></Delete>`, deleteDoc(1001)} {
		resp, rb := e.do("POST", "/bkt?delete", []byte(doc), http.Header{"Content-Md5": {contentMD5([]byte(doc))}})
		if resp.StatusCode != 400 {
			t.Errorf("body %.60q: status %d %s", doc, resp.StatusCode, rb)
		}
	}
}

func deleteDoc(n int) string {
	b := []byte("<Delete>")
	for range n {
		b = append(b, "<Object><Key>k</Key></Object>"...)
	}
	return string(append(b, "</Delete>"...))
}

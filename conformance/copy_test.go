package conformance

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// copySource is the x-amz-copy-source value for bucket/key[?versionId=v].
func copySource(bucket, key, versionID string) *string {
	// Escaped like a path, '+' included so that no decoder reads a space.
	s := bucket + "/" + strings.ReplaceAll(url.PathEscape(key), "+", "%2B")
	s = strings.ReplaceAll(s, "%2F", "/")
	if versionID != "" {
		s += "?versionId=" + url.QueryEscape(versionID)
	}
	return &s
}

func TestCopyObjectMetadataDirective(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	src, dst := newBucket(t, c), newBucket(t, c)
	data := seededBytes(3, 300_000)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: &src, Key: aws.String("dir/src obj+ü"), Body: bytes.NewReader(data),
		ContentType: aws.String("application/x-source"), Metadata: map[string]string{"origin": "source"},
		Tagging: aws.String("t=src"),
	})
	must(t, err, "PutObject source")

	// COPY (the default): bytes, metadata and tags come along; the ETag of a
	// single-part object is its MD5, so it is unchanged.
	out, err := c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("copied"), CopySource: copySource(src, "dir/src obj+ü", "")})
	must(t, err, "CopyObject (COPY)")
	if out.CopyObjectResult == nil || unquote(out.CopyObjectResult.ETag) != md5hex(data) {
		t.Errorf("CopyObject result ETag %+v; want %s", out.CopyObjectResult, md5hex(data))
	} else if lm := aws.ToTime(out.CopyObjectResult.LastModified); time.Since(lm) > time.Hour {
		t.Errorf("CopyObject result LastModified %v; want about now", lm)
	}
	got, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &dst, Key: aws.String("copied")})
	if !bytes.Equal(got, data) {
		t.Errorf("copied object differs from the source (%d vs %d bytes)", len(got), len(data))
	}
	if aws.ToString(g.ContentType) != "application/x-source" || g.Metadata["origin"] != "source" {
		t.Errorf("COPY directive: Content-Type %q metadata %v; want the source's", aws.ToString(g.ContentType), g.Metadata)
	}
	tg, err := c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &dst, Key: aws.String("copied")})
	must(t, err, "GetObjectTagging of the copy")
	if m := tagMap(tg.TagSet); m["t"] != "src" || len(m) != 1 {
		t.Errorf("copy's tags %v; want the source's t=src", m)
	}

	// REPLACE: the request's metadata and tags replace the source's.
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{
		Bucket: &dst, Key: aws.String("replaced"), CopySource: copySource(src, "dir/src obj+ü", ""),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-new"),
		Metadata:         map[string]string{"fresh": "yes"},
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("t=new&u=2"),
	})
	must(t, err, "CopyObject (REPLACE)")
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &dst, Key: aws.String("replaced")})
	must(t, err, "HeadObject")
	if aws.ToString(h.ContentType) != "text/x-new" || h.Metadata["fresh"] != "yes" || h.Metadata["origin"] != "" {
		t.Errorf("REPLACE directive: Content-Type %q metadata %v; want text/x-new and only fresh=yes", aws.ToString(h.ContentType), h.Metadata)
	}
	if aws.ToInt64(h.ContentLength) != int64(len(data)) {
		t.Errorf("REPLACE copy has %d bytes; want %d", aws.ToInt64(h.ContentLength), len(data))
	}
	tg, err = c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: &dst, Key: aws.String("replaced")})
	must(t, err, "GetObjectTagging")
	if m := tagMap(tg.TagSet); len(m) != 2 || m["t"] != "new" || m["u"] != "2" {
		t.Errorf("tags after TaggingDirective REPLACE = %v; want t=new u=2", m)
	}

	// Deleting the source leaves the copies whole.
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &src, Key: aws.String("dir/src obj+ü")})
	must(t, err, "DeleteObject source")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &dst, Key: aws.String("copied")}); !bytes.Equal(got, data) {
		t.Errorf("the copy changed after its source was deleted")
	}

	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: copySource(src, "missing", "")})
	wantErr(t, err, 404, "NoSuchKey", "CopyObject from a missing key")
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: copySource(bucketName(t), "k", "")})
	wantErr(t, err, 404, "NoSuchBucket", "CopyObject from a missing bucket")
}

func TestCopyObjectConditionals(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := []byte("copy conditionals")
	put(t, c, b, "src", data)
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("src")})
	must(t, err, "HeadObject")
	etag, lm := aws.ToString(h.ETag), aws.ToTime(h.LastModified)
	before := lm.Add(-time.Hour)
	other := `"0123456789abcdef0123456789abcdef"`
	for _, tc := range []struct {
		name string
		in   s3.CopyObjectInput
		ok   bool
	}{
		{"if-match equal", s3.CopyObjectInput{CopySourceIfMatch: &etag}, true},
		{"if-match other", s3.CopyObjectInput{CopySourceIfMatch: &other}, false},
		{"if-none-match equal", s3.CopyObjectInput{CopySourceIfNoneMatch: &etag}, false},
		{"if-none-match other", s3.CopyObjectInput{CopySourceIfNoneMatch: &other}, true},
		{"if-modified-since before", s3.CopyObjectInput{CopySourceIfModifiedSince: &before}, true},
		{"if-modified-since LastModified", s3.CopyObjectInput{CopySourceIfModifiedSince: &lm}, false},
		{"if-unmodified-since before", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &before}, false},
		{"if-unmodified-since LastModified", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &lm}, true},
		// S3: if-match true and if-unmodified-since false -> copies.
		{"if-match true + if-unmodified-since false", s3.CopyObjectInput{CopySourceIfMatch: &etag, CopySourceIfUnmodifiedSince: &before}, true},
		// S3: if-none-match false and if-modified-since true -> 412.
		{"if-none-match false + if-modified-since true", s3.CopyObjectInput{CopySourceIfNoneMatch: &etag, CopySourceIfModifiedSince: &before}, false},
	} {
		in := tc.in
		dstKey := "dst " + tc.name
		in.Bucket, in.Key, in.CopySource = &b, &dstKey, copySource(b, "src", "")
		_, err := c.CopyObject(t.Context(), &in)
		if tc.ok {
			if err != nil {
				t.Errorf("CopyObject x-amz-copy-source-%s: %v; want success", tc.name, err)
			}
			continue
		}
		wantErr(t, err, 412, "PreconditionFailed", "CopyObject x-amz-copy-source-"+tc.name)
		if _, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: &dstKey}); err == nil {
			t.Errorf("CopyObject x-amz-copy-source-%s failed but created the destination", tc.name)
		}
	}
}

func TestCopyObjectVersion(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	enableVersioning(t, c, b)
	v1 := put(t, c, b, "k", []byte("version one"))
	put(t, c, b, "k", []byte("version two"))
	out, err := c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: aws.String("restored"), CopySource: copySource(b, "k", aws.ToString(v1.VersionId))})
	must(t, err, "CopyObject of an old version")
	if aws.ToString(out.CopySourceVersionId) != aws.ToString(v1.VersionId) {
		t.Errorf("x-amz-copy-source-version-id %q; want %q", aws.ToString(out.CopySourceVersionId), aws.ToString(v1.VersionId))
	}
	if aws.ToString(out.VersionId) == "" {
		t.Errorf("CopyObject into a versioned bucket returned no x-amz-version-id")
	}
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("restored")}); string(got) != "version one" {
		t.Errorf("copy of version one = %q", got)
	}
	// Copying a version onto its own key makes it current again.
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: aws.String("k"), CopySource: copySource(b, "k", aws.ToString(v1.VersionId))})
	must(t, err, "CopyObject of an old version onto its key")
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}); string(got) != "version one" {
		t.Errorf("current version after restoring v1 = %q", got)
	}
}

func TestCopyObjectOntoItself(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("self"), Body: strings.NewReader("same"), Metadata: map[string]string{"v": "1"}})
	must(t, err, "PutObject")
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: aws.String("self"), CopySource: copySource(b, "self", "")})
	wantErr(t, err, 400, "InvalidRequest", "CopyObject onto itself without changing anything")

	// With REPLACE it is how S3 clients change metadata in place.
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{
		Bucket: &b, Key: aws.String("self"), CopySource: copySource(b, "self", ""),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"v": "2"},
	})
	must(t, err, "CopyObject onto itself with REPLACE")
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("self")})
	must(t, err, "HeadObject")
	if h.Metadata["v"] != "2" {
		t.Errorf("metadata after in-place REPLACE = %v; want v=2", h.Metadata)
	}
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("self")}); string(got) != "same" {
		t.Errorf("bytes after in-place REPLACE = %q; want same", got)
	}
}

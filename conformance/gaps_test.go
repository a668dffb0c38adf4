package conformance

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// withEmptyContentMD5 makes the SDK send "Content-MD5:" with no value, which
// its own serializer never does (it skips an empty string).
func withEmptyContentMD5(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Build.Add(middleware.BuildMiddlewareFunc("EmptyContentMD5", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header["Content-Md5"] = []string{""}
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	})
}

// TestEmptyContentMD5 checks that an empty Content-MD5 header is 400
// InvalidDigest on PutObject and UploadPart, and stores nothing.
func TestEmptyContentMD5(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	body := []byte("payload")
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: bytes.NewReader(body)}, withEmptyContentMD5)
	wantErr(t, err, 400, "InvalidDigest", "PutObject with an empty Content-MD5")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "", "HeadObject after an empty Content-MD5 PutObject")

	mp, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(body)}, withEmptyContentMD5)
	wantErr(t, err, 400, "InvalidDigest", "UploadPart with an empty Content-MD5")
	parts, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId})
	must(t, err, "ListParts")
	if len(parts.Parts) != 0 {
		t.Errorf("ListParts after a refused UploadPart: %d parts", len(parts.Parts))
	}
}

// TestSuspendedVersioningWritesNoVersionID checks that PutObject and
// CompleteMultipartUpload in a bucket whose versioning is Suspended answer
// without x-amz-version-id (they write the null version), while enabled
// versioning answers one and a read of the null version says "null".
func TestSuspendedVersioningWritesNoVersionID(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	setVersioning(t, c, b, types.BucketVersioningStatusEnabled)
	if v := put(t, c, b, "k", []byte("enabled")).VersionId; aws.ToString(v) == "" || aws.ToString(v) == "null" {
		t.Errorf("PutObject with versioning Enabled: version ID %q", aws.ToString(v))
	}
	setVersioning(t, c, b, types.BucketVersioningStatusSuspended)
	if v := put(t, c, b, "k", []byte("suspended")).VersionId; v != nil {
		t.Errorf("PutObject with versioning Suspended: x-amz-version-id %q; want none", *v)
	}
	mp, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	part, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("only part")})
	must(t, err, "UploadPart")
	done, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	must(t, err, "CompleteMultipartUpload")
	if done.VersionId != nil {
		t.Errorf("CompleteMultipartUpload with versioning Suspended: x-amz-version-id %q; want none", *done.VersionId)
	}
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("mp")})
	must(t, err, "HeadObject")
	if aws.ToString(head.VersionId) != "null" {
		t.Errorf("HeadObject of the null version: x-amz-version-id %q; want null", aws.ToString(head.VersionId))
	}
}

// TestGetObjectAttributes checks GetObjectAttributes: ETag (without
// quotes), ObjectSize, StorageClass and Checksum of a simple object; the
// parts of a multipart object with their checksums, paged by max-parts and
// part-number-marker; and the InvalidArgument of a missing attribute list.
func TestGetObjectAttributes(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}

	p, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("simple"), Body: strings.NewReader("attributes"), ChecksumAlgorithm: types.ChecksumAlgorithmSha1})
	must(t, err, "PutObject")
	out, err := c.GetObjectAttributes(t.Context(), &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("simple"), ObjectAttributes: all})
	must(t, err, "GetObjectAttributes")
	if aws.ToString(out.ETag) != strings.Trim(aws.ToString(p.ETag), `"`) || aws.ToInt64(out.ObjectSize) != 10 || out.StorageClass != types.StorageClassStandard || out.ObjectParts != nil {
		t.Errorf("simple object: ETag %q size %d class %q parts %+v", aws.ToString(out.ETag), aws.ToInt64(out.ObjectSize), out.StorageClass, out.ObjectParts)
	}
	if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumSHA1) != aws.ToString(p.ChecksumSHA1) {
		t.Errorf("simple object: Checksum %+v; want SHA1 %s", out.Checksum, aws.ToString(p.ChecksumSHA1))
	}

	mp, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	must(t, err, "CreateMultipartUpload")
	var done []types.CompletedPart
	var want []string
	for i := range 3 {
		size := 5 << 20
		if i == 2 {
			size = 1000
		}
		up, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			Body: bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, size)), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		must(t, err, "UploadPart")
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
		want = append(want, fmt.Sprintf("%d:%d:%s", i+1, size, aws.ToString(up.ChecksumCRC32)))
	}
	_, err = c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	must(t, err, "CompleteMultipartUpload")
	var got []string
	marker := ""
	for page := 0; page < 5; page++ {
		in := &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("mp"), ObjectAttributes: all, MaxParts: aws.Int32(2)}
		if marker != "" {
			in.PartNumberMarker = aws.String(marker)
		}
		out, err := c.GetObjectAttributes(t.Context(), in)
		must(t, err, "GetObjectAttributes of a multipart object")
		if out.ObjectParts == nil || aws.ToInt32(out.ObjectParts.TotalPartsCount) != 3 {
			t.Fatalf("ObjectParts %+v; want 3 parts", out.ObjectParts)
		}
		for _, p := range out.ObjectParts.Parts {
			got = append(got, fmt.Sprintf("%d:%d:%s", aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), aws.ToString(p.ChecksumCRC32)))
		}
		if !aws.ToBool(out.ObjectParts.IsTruncated) {
			break
		}
		marker = aws.ToString(out.ObjectParts.NextPartNumberMarker)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("parts %v; want %v", got, want)
	}

	resp, body := rawRequest{method: "GET", path: "/" + b + "/simple?attributes"}.do(t)
	wantRawError(t, resp, body, 400, "InvalidArgument", "GetObjectAttributes without x-amz-object-attributes")
	resp, body = rawRequest{method: "GET", path: "/" + b + "/simple?attributes", header: map[string]string{"x-amz-object-attributes": "Size"}}.do(t)
	wantRawError(t, resp, body, 400, "InvalidArgument", "GetObjectAttributes with an unknown attribute")
	_, err = c.GetObjectAttributes(t.Context(), &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("missing"), ObjectAttributes: all})
	wantErr(t, err, 404, "NoSuchKey", "GetObjectAttributes of a missing key")
}

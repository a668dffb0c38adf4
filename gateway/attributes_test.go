package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/s3api"
)

// TestGetObjectAttributesOverHTTP drives GetObjectAttributes with
// aws-sdk-go-v2 against a served gateway: a simple object, and a multipart
// one uploaded with SHA256 checksums whose parts' checksums come back, paged,
// and survive a CopyObject.
func TestGetObjectAttributesOverHTTP(t *testing.T) {
	g := open(t, testConfig(t))
	c, _ := serveS3(t, g)
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}

	simple, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("simple"), Body: strings.NewReader("hello"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("b"), Key: aws.String("simple"), ObjectAttributes: all})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.ETag) != strings.Trim(aws.ToString(simple.ETag), `"`) || aws.ToInt64(out.ObjectSize) != 5 || out.StorageClass != types.StorageClassStandard ||
		out.ObjectParts != nil || out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32C) != aws.ToString(simple.ChecksumCRC32C) ||
		aws.ToString(out.VersionId) != aws.ToString(simple.VersionId) {
		t.Errorf("simple object: %+v (checksum %+v)", out, out.Checksum)
	}

	// Three parts with SHA256 checksums (COMPOSITE).
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("b"), Key: aws.String("mp"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	var want []string
	for i, size := range []int{2 << 10, 3 << 10, 100} {
		data := random(uint64(i+1), size)
		sum := sha256.Sum256(data)
		want = append(want, base64.StdEncoding.EncodeToString(sum[:]))
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("b"), Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag, ChecksumSHA256: p.ChecksumSHA256})
	}
	fin, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("b"), Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String("copy"), CopySource: aws.String("b/mp")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"mp", "copy"} {
		var got []string
		marker := ""
		for page := 0; page < 5; page++ {
			in := &s3.GetObjectAttributesInput{Bucket: aws.String("b"), Key: aws.String(key), ObjectAttributes: all, MaxParts: aws.Int32(2)}
			if marker != "" {
				in.PartNumberMarker = aws.String(marker)
			}
			out, err := c.GetObjectAttributes(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.ETag) != strings.Trim(aws.ToString(fin.ETag), `"`) || aws.ToInt64(out.ObjectSize) != 5<<10+100 ||
				out.Checksum == nil || aws.ToString(out.Checksum.ChecksumSHA256) != aws.ToString(fin.ChecksumSHA256) || out.Checksum.ChecksumType != types.ChecksumTypeComposite {
				t.Fatalf("%s: %+v checksum %+v", key, out, out.Checksum)
			}
			op := out.ObjectParts
			if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 {
				t.Fatalf("%s: ObjectParts %+v", key, op)
			}
			for _, p := range op.Parts {
				got = append(got, aws.ToString(p.ChecksumSHA256))
			}
			if !aws.ToBool(op.IsTruncated) {
				break
			}
			marker = aws.ToString(op.NextPartNumberMarker)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: part checksums %v, want %v", key, got, want)
		}
	}

	// A delete marker answers 404 with x-amz-delete-marker.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("simple")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("b"), Key: aws.String("simple"), ObjectAttributes: all})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("GetObjectAttributes of a deleted key: %v", err)
	}
	// The old version is still there by ID.
	out, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("b"), Key: aws.String("simple"), VersionId: simple.VersionId, ObjectAttributes: all})
	if err != nil || aws.ToInt64(out.ObjectSize) != 5 {
		t.Errorf("by version ID: %v %+v", err, out)
	}
}

package s3api

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSuspendedWritesNoVersionID: a write that made the null version (the
// fake answers "null" in a Suspended bucket, as gateway does) answers no
// x-amz-version-id; a delete marker's "null" is still said.
func TestSuspendedWritesNoVersionID(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	ctx := t.Context()
	if _, err := e.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bkt"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatal(err)
	}
	if out := e.mustPut("bkt", "k", "x"); out.VersionId != nil {
		t.Errorf("PutObject: x-amz-version-id %q", *out.VersionId)
	}
	mp, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("p")})
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}})
	if err != nil || done.VersionId != nil {
		t.Errorf("CompleteMultipartUpload: %v, x-amz-version-id %v", err, done.VersionId)
	}
	cp, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/k")})
	if err != nil || cp.VersionId != nil {
		t.Errorf("CopyObject: %v, x-amz-version-id %v", err, cp.VersionId)
	}
	del, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil || aws.ToString(del.VersionId) != "null" {
		t.Errorf("DeleteObject: %v, x-amz-version-id %q; want null", err, aws.ToString(del.VersionId))
	}
}

package s3api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var _ ObjectAttributesBackend = (*fakeBackend)(nil)

func (f *fakeBackend) ObjectParts(ctx context.Context, bucket, key, versionID string) (ObjectInfo, []ObjectPart, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("ObjectParts")
	b, err := f.bucket(bucket)
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	o, err := b.resolve(key, versionID)
	if o == nil || err != nil {
		if o != nil {
			return o.info, nil, err
		}
		return ObjectInfo{}, nil, err
	}
	var parts []ObjectPart
	for i, sz := range o.parts {
		parts = append(parts, ObjectPart{PartNumber: i + 1, Size: sz})
	}
	return o.info, parts, nil
}

// multipartObject completes an upload of parts (sizes) through the handler.
func (e *testEnv) multipartObject(bucket, key string, sizes ...int) {
	e.t.Helper()
	ctx := e.t.Context()
	mp, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		e.t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, sz := range sizes {
		p, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader(strings.Repeat("p", sz))})
		if err != nil {
			e.t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag})
	}
	if _, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		e.t.Fatal(err)
	}
}

func TestGetObjectAttributes(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	put := e.mustPut("bkt", "simple", "hello")
	ctx := t.Context()
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}

	out, err := e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("bkt"), Key: aws.String("simple"), ObjectAttributes: all})
	if err != nil {
		t.Fatal(err)
	}
	// The ETag comes without quotes, unlike every header and listing.
	if got, want := aws.ToString(out.ETag), strings.Trim(aws.ToString(put.ETag), `"`); got != want {
		t.Errorf("ETag %q, want %q", got, want)
	}
	if aws.ToInt64(out.ObjectSize) != 5 || out.StorageClass != types.StorageClassStandard || out.ObjectParts != nil || out.LastModified == nil {
		t.Errorf("simple object: size %d class %q parts %+v modified %v", aws.ToInt64(out.ObjectSize), out.StorageClass, out.ObjectParts, out.LastModified)
	}

	// Only what was asked for.
	out, err = e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("bkt"), Key: aws.String("simple"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
	if err != nil || out.ETag != nil || out.StorageClass != "" || aws.ToInt64(out.ObjectSize) != 5 {
		t.Errorf("ObjectSize only: %v %+v", err, out)
	}

	// Parts, paged by max-parts and part-number-marker.
	e.multipartObject("bkt", "mp", 10, 20, 30)
	var got []string
	marker := ""
	for page := 0; ; page++ {
		in := &s3.GetObjectAttributesInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), ObjectAttributes: all, MaxParts: aws.Int32(2)}
		if marker != "" {
			in.PartNumberMarker = aws.String(marker)
		}
		out, err := e.client.GetObjectAttributes(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		op := out.ObjectParts
		if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || aws.ToInt32(op.MaxParts) != 2 {
			t.Fatalf("page %d: ObjectParts %+v", page, op)
		}
		for _, p := range op.Parts {
			got = append(got, fmt.Sprintf("%d:%d", aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size)))
		}
		if !aws.ToBool(op.IsTruncated) {
			break
		}
		marker = aws.ToString(op.NextPartNumberMarker)
		if page > 3 {
			t.Fatal("paging does not end")
		}
	}
	if strings.Join(got, " ") != "1:10 2:20 3:30" {
		t.Errorf("parts %v", got)
	}
}

func TestGetObjectAttributesRefusals(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "k", "x")
	for _, tc := range []struct {
		name   string
		method string
		path   string
		hdr    http.Header
		status int
		code   string
	}{
		{"no attributes header", "GET", "/bkt/k?attributes", nil, 400, "InvalidArgument"},
		{"empty attributes header", "GET", "/bkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {" , "}}, 400, "InvalidArgument"},
		{"unknown attribute", "GET", "/bkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag,Size"}}, 400, "InvalidArgument"},
		{"case matters", "GET", "/bkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {"etag"}}, 400, "InvalidArgument"},
		{"bad max-parts", "GET", "/bkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag"}, "X-Amz-Max-Parts": {"-1"}}, 400, "InvalidArgument"},
		{"bad marker", "GET", "/bkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag"}, "X-Amz-Part-Number-Marker": {"x"}}, 400, "InvalidArgument"},
		{"missing key", "GET", "/bkt/nokey?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag"}}, 404, "NoSuchKey"},
		{"missing bucket", "GET", "/nobkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag"}}, 404, "NoSuchBucket"},
		{"bucket level", "GET", "/bkt?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag"}}, 501, "NotImplemented"},
		{"PUT", "PUT", "/bkt/k?attributes", http.Header{"X-Amz-Object-Attributes": {"ETag"}}, 501, "NotImplemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(tc.method, tc.path, nil, tc.hdr)
			wantStatus(t, resp, body, tc.status, tc.code)
		})
	}
	// Two header lines add up.
	resp, body := e.do("GET", "/bkt/k?attributes", nil, http.Header{"X-Amz-Object-Attributes": {"ETag", "ObjectSize"}})
	wantStatus(t, resp, body, 200, "")
	if !contains(body, "<ObjectSize>1</ObjectSize>") || !contains(body, "<ETag>") {
		t.Errorf("two header lines: %s", body)
	}
}

func FuzzObjectAttributes(f *testing.F) {
	f.Add("ETag,Checksum, ObjectParts ,StorageClass,ObjectSize")
	f.Add(" , ")
	f.Add("etag")
	f.Fuzz(func(t *testing.T, line string) {
		want, err := parseObjectAttributes(http.Header{"X-Amz-Object-Attributes": {line}})
		if err != nil {
			if err != errNoObjectAttributes && err != errBadObjectAttribute {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(want) == 0 {
			t.Fatal("accepted no attribute")
		}
		for name := range want {
			switch name {
			case attrETag, attrChecksum, attrObjectParts, attrStorageClass, attrObjectSize:
			default:
				t.Fatalf("accepted %q", name)
			}
		}
	})
}

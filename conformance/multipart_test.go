package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const mib = 1 << 20

func createUpload(t testing.TB, c *s3.Client, b, key string) string {
	t.Helper()
	out, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: &key})
	must(t, err, "CreateMultipartUpload "+key)
	if aws.ToString(out.UploadId) == "" {
		t.Fatalf("CreateMultipartUpload %s: no UploadId", key)
	}
	return aws.ToString(out.UploadId)
}

func uploadPart(t testing.TB, c *s3.Client, b, key, id string, n int32, data []byte) types.CompletedPart {
	t.Helper()
	out, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: &id, PartNumber: &n, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("UploadPart %d of %s: %v", n, key, err)
	}
	if got := unquote(out.ETag); got != md5hex(data) {
		t.Errorf("UploadPart %d ETag %q; want the part's MD5 %q", n, got, md5hex(data))
	}
	return types.CompletedPart{PartNumber: &n, ETag: out.ETag}
}

func complete(c *s3.Client, t testing.TB, b, key, id string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
}

func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	p1, p2, p3 := seededBytes(10, 5*mib), seededBytes(11, 5*mib+123), seededBytes(12, 1000)
	cu, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{
		Bucket: &b, Key: aws.String("mp"), ContentType: aws.String("application/x-mp"),
		Metadata: map[string]string{"who": "multipart"}, Tagging: aws.String("mp=yes"),
	})
	must(t, err, "CreateMultipartUpload")
	id := aws.ToString(cu.UploadId)
	if aws.ToString(cu.Bucket) != b || aws.ToString(cu.Key) != "mp" || id == "" {
		t.Errorf("CreateMultipartUpload: Bucket %q Key %q UploadId %q", aws.ToString(cu.Bucket), aws.ToString(cu.Key), id)
	}
	lu, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b})
	must(t, err, "ListMultipartUploads")
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != id || aws.ToString(lu.Uploads[0].Key) != "mp" || lu.Uploads[0].Initiated == nil {
		t.Errorf("ListMultipartUploads = %+v; want the one upload %s of mp", lu.Uploads, id)
	}

	// Parts may arrive in any order, and a part may be uploaded again.
	c3 := uploadPart(t, c, b, "mp", id, 3, p3)
	c1 := uploadPart(t, c, b, "mp", id, 1, seededBytes(99, 5*mib))
	c1 = uploadPart(t, c, b, "mp", id, 1, p1)
	c2 := uploadPart(t, c, b, "mp", id, 2, p2)

	// The object does not exist before Complete.
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("mp")})
	wantErr(t, err, 404, "", "HeadObject during a multipart upload")

	out, err := complete(c, t, b, "mp", id, c1, c2, c3)
	must(t, err, "CompleteMultipartUpload")
	want := multipartETag(p1, p2, p3)
	if unquote(out.ETag) != want {
		t.Errorf("CompleteMultipartUpload ETag %q; want %q (MD5 of the part MD5s, -3)", unquote(out.ETag), want)
	}
	if aws.ToString(out.Key) != "mp" || aws.ToString(out.Bucket) != b {
		t.Errorf("CompleteMultipartUpload Bucket %q Key %q", aws.ToString(out.Bucket), aws.ToString(out.Key))
	}

	body, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("mp")})
	if !bytes.Equal(body, slices.Concat(p1, p2, p3)) {
		t.Errorf("completed object: %d bytes that differ from the %d uploaded", len(body), len(p1)+len(p2)+len(p3))
	}
	if unquote(g.ETag) != want || aws.ToString(g.ContentType) != "application/x-mp" || g.Metadata["who"] != "multipart" || aws.ToInt32(g.TagCount) != 1 {
		t.Errorf("completed object: ETag %s Content-Type %q metadata %v tag count %d", unquote(g.ETag), aws.ToString(g.ContentType), g.Metadata, aws.ToInt32(g.TagCount))
	}
	// A range across the part boundary.
	r, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("mp"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", 5*mib-10, 5*mib+9))})
	if !bytes.Equal(r, slices.Concat(p1[5*mib-10:], p2[:10])) {
		t.Errorf("range across parts 1 and 2 differs")
	}

	lu, err = c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b})
	must(t, err, "ListMultipartUploads")
	if len(lu.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after Complete: %d uploads", len(lu.Uploads))
	}
	_, err = c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("mp"), UploadId: &id})
	wantErr(t, err, 404, "NoSuchUpload", "ListParts after Complete")
}

func TestMultipartGetPartNumber(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "k")
	p1, p2 := seededBytes(20, 5*mib), seededBytes(21, 4321)
	_, err := complete(c, t, b, "k", id, uploadPart(t, c, b, "k", id, 1, p1), uploadPart(t, c, b, "k", id, 2, p2))
	must(t, err, "CompleteMultipartUpload")
	body, out := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k"), PartNumber: aws.Int32(2)})
	if !bytes.Equal(body, p2) {
		t.Errorf("GetObject partNumber=2: %d bytes that are not part 2", len(body))
	}
	if aws.ToInt32(out.PartsCount) != 2 {
		t.Errorf("GetObject partNumber=2: x-amz-mp-parts-count %d; want 2", aws.ToInt32(out.PartsCount))
	}
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k"), PartNumber: aws.Int32(1)})
	must(t, err, "HeadObject partNumber=1")
	if aws.ToInt64(h.ContentLength) != 5*mib || aws.ToInt32(h.PartsCount) != 2 {
		t.Errorf("HeadObject partNumber=1: length %d parts count %d; want %d 2", aws.ToInt64(h.ContentLength), aws.ToInt32(h.PartsCount), 5*mib)
	}
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k"), PartNumber: aws.Int32(3)})
	wantErr(t, err, 416, "InvalidPartNumber", "GetObject partNumber=3 of a 2-part object")
}

func TestUploadPartCopy(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	src := seededBytes(30, 7*mib)
	put(t, c, b, "src", src)
	id := createUpload(t, c, b, "dst")
	n1, n2 := int32(1), int32(2)
	cp, err := c.UploadPartCopy(t.Context(), &s3.UploadPartCopyInput{
		Bucket: &b, Key: aws.String("dst"), UploadId: &id, PartNumber: &n1,
		CopySource: copySource(b, "src", ""), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", mib, 6*mib-1)),
	})
	must(t, err, "UploadPartCopy with a range")
	part1 := src[mib : 6*mib]
	if cp.CopyPartResult == nil || unquote(cp.CopyPartResult.ETag) != md5hex(part1) {
		t.Errorf("UploadPartCopy ETag %+v; want the MD5 of the copied range %s", cp.CopyPartResult, md5hex(part1))
	}
	// The whole source as part 2 (no range).
	cp2, err := c.UploadPartCopy(t.Context(), &s3.UploadPartCopyInput{Bucket: &b, Key: aws.String("dst"), UploadId: &id, PartNumber: &n2, CopySource: copySource(b, "src", "")})
	must(t, err, "UploadPartCopy without a range")
	_, err = complete(c, t, b, "dst", id,
		types.CompletedPart{PartNumber: &n1, ETag: cp.CopyPartResult.ETag},
		types.CompletedPart{PartNumber: &n2, ETag: cp2.CopyPartResult.ETag})
	must(t, err, "CompleteMultipartUpload")
	body, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("dst")})
	if !bytes.Equal(body, slices.Concat(part1, src)) {
		t.Errorf("object from copied parts differs (%d bytes)", len(body))
	}
	if unquote(g.ETag) != multipartETag(part1, src) {
		t.Errorf("ETag %s; want %s", unquote(g.ETag), multipartETag(part1, src))
	}

	id2 := createUpload(t, c, b, "bad")
	_, err = c.UploadPartCopy(t.Context(), &s3.UploadPartCopyInput{
		Bucket: &b, Key: aws.String("bad"), UploadId: &id2, PartNumber: &n1,
		CopySource: copySource(b, "src", ""), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 7*mib-10, 8*mib)),
	})
	wantErr(t, err, 416, "InvalidRange", "UploadPartCopy with a range past the source's end")
	_, err = c.UploadPartCopy(t.Context(), &s3.UploadPartCopyInput{
		Bucket: &b, Key: aws.String("bad"), UploadId: &id2, PartNumber: &n1,
		CopySource: copySource(b, "src", ""), CopySourceIfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`),
	})
	wantErr(t, err, 412, "PreconditionFailed", "UploadPartCopy with a failing x-amz-copy-source-if-match")
}

func TestMultipartEntityTooSmall(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "small")
	p1 := uploadPart(t, c, b, "small", id, 1, seededBytes(40, 1024))
	p2 := uploadPart(t, c, b, "small", id, 2, seededBytes(41, 1024))
	_, err := complete(c, t, b, "small", id, p1, p2)
	wantErr(t, err, 400, "EntityTooSmall", "CompleteMultipartUpload with a 1 KiB part before the last")
	// The upload survives a refused Complete.
	lp, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("small"), UploadId: &id})
	must(t, err, "ListParts after EntityTooSmall")
	if len(lp.Parts) != 2 {
		t.Errorf("ListParts after EntityTooSmall: %d parts; want 2", len(lp.Parts))
	}
	// A single small part is a valid upload: the last part may be any size.
	out, err := complete(c, t, b, "small", id, p1)
	must(t, err, "CompleteMultipartUpload with one small part")
	if want := multipartETag(seededBytes(40, 1024)); unquote(out.ETag) != want {
		t.Errorf("ETag %s; want %s", unquote(out.ETag), want)
	}
}

func TestMultipartInvalidPart(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "k")
	p1 := uploadPart(t, c, b, "k", id, 1, seededBytes(50, 5*mib))
	n2 := int32(2)
	_, err := complete(c, t, b, "k", id, p1, types.CompletedPart{PartNumber: &n2, ETag: aws.String(`"` + md5hex([]byte("never")) + `"`)})
	wantErr(t, err, 400, "InvalidPart", "CompleteMultipartUpload naming a part never uploaded")
	n1 := int32(1)
	_, err = complete(c, t, b, "k", id, types.CompletedPart{PartNumber: &n1, ETag: aws.String(`"` + md5hex([]byte("wrong")) + `"`)})
	wantErr(t, err, 400, "InvalidPart", "CompleteMultipartUpload with a wrong part ETag")
	_, err = c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{}})
	wantErrOneOf(t, err, 400, []string{"MalformedXML", "InvalidRequest"}, "CompleteMultipartUpload with no parts")
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: &id, PartNumber: aws.Int32(10001), Body: bytes.NewReader([]byte("x"))})
	wantErr(t, err, 400, "InvalidArgument", "UploadPart partNumber=10001")
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: &id, PartNumber: aws.Int32(0), Body: bytes.NewReader([]byte("x"))})
	wantErr(t, err, 400, "InvalidArgument", "UploadPart partNumber=0")
}

func TestMultipartInvalidPartOrder(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "k")
	p1 := uploadPart(t, c, b, "k", id, 1, seededBytes(60, 5*mib))
	p2 := uploadPart(t, c, b, "k", id, 2, seededBytes(61, 10))
	_, err := complete(c, t, b, "k", id, p2, p1)
	wantErr(t, err, 400, "InvalidPartOrder", "CompleteMultipartUpload with parts 2, 1")
	_, err = complete(c, t, b, "k", id, p1, p1, p2)
	wantErr(t, err, 400, "InvalidPartOrder", "CompleteMultipartUpload with part 1 twice")
	// Parts may be left out, and numbers need not be contiguous.
	id2 := createUpload(t, c, b, "gaps")
	q1 := uploadPart(t, c, b, "gaps", id2, 1, seededBytes(62, 5*mib))
	uploadPart(t, c, b, "gaps", id2, 2, seededBytes(63, 5*mib))
	q5 := uploadPart(t, c, b, "gaps", id2, 5, seededBytes(64, 10))
	out, err := complete(c, t, b, "gaps", id2, q1, q5)
	must(t, err, "CompleteMultipartUpload with parts 1 and 5 of 1, 2, 5")
	if want := multipartETag(seededBytes(62, 5*mib), seededBytes(64, 10)); unquote(out.ETag) != want {
		t.Errorf("ETag %s; want %s", unquote(out.ETag), want)
	}
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("gaps")})
	must(t, err, "HeadObject")
	if aws.ToInt64(h.ContentLength) != 5*mib+10 {
		t.Errorf("object from parts 1 and 5: %d bytes; want %d", aws.ToInt64(h.ContentLength), 5*mib+10)
	}
}

func TestMultipartNoSuchUpload(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	bogus := "no-such-upload-id-0123456789"
	_, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: &bogus, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x"))})
	wantErr(t, err, 404, "NoSuchUpload", "UploadPart to an unknown upload ID")
	_, err = c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("k"), UploadId: &bogus})
	wantErr(t, err, 404, "NoSuchUpload", "ListParts of an unknown upload ID")
	n1 := int32(1)
	_, err = complete(c, t, b, "k", bogus, types.CompletedPart{PartNumber: &n1, ETag: aws.String(`"` + md5hex(nil) + `"`)})
	wantErr(t, err, 404, "NoSuchUpload", "CompleteMultipartUpload of an unknown upload ID")
	_, err = c.AbortMultipartUpload(t.Context(), &s3.AbortMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &bogus})
	wantErr(t, err, 404, "NoSuchUpload", "AbortMultipartUpload of an unknown upload ID")

	// An upload ID is bound to its key.
	id := createUpload(t, c, b, "k")
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("other"), UploadId: &id, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x"))})
	wantErr(t, err, 404, "NoSuchUpload", "UploadPart with another key's upload ID")
}

func TestMultipartAbort(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "k")
	p1 := uploadPart(t, c, b, "k", id, 1, seededBytes(70, 1000))
	_, err := c.AbortMultipartUpload(t.Context(), &s3.AbortMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &id})
	must(t, err, "AbortMultipartUpload")
	lu, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b})
	must(t, err, "ListMultipartUploads")
	if len(lu.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after Abort: %d uploads", len(lu.Uploads))
	}
	_, err = complete(c, t, b, "k", id, p1)
	wantErr(t, err, 404, "NoSuchUpload", "CompleteMultipartUpload after Abort")
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: &id, PartNumber: aws.Int32(2), Body: bytes.NewReader([]byte("x"))})
	wantErr(t, err, 404, "NoSuchUpload", "UploadPart after Abort")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "", "HeadObject after Abort")
	// With no uploads left, the bucket can go.
	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &b})
	must(t, err, "DeleteBucket after Abort")
}

func TestListParts(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	cu, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("k"), StorageClass: types.StorageClassStandard})
	must(t, err, "CreateMultipartUpload")
	id := aws.ToString(cu.UploadId)
	var want []int32
	for _, n := range []int32{1, 2, 3, 4, 7} {
		uploadPart(t, c, b, "k", id, n, []byte(fmt.Sprint("part ", n)))
		want = append(want, n)
	}
	var got []int32
	marker := (*string)(nil)
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("ListParts paging did not end")
		}
		out, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("k"), UploadId: &id, MaxParts: aws.Int32(2), PartNumberMarker: marker})
		must(t, err, "ListParts max-parts 2")
		if len(out.Parts) > 2 {
			t.Errorf("page %d: %d parts with max-parts 2", page, len(out.Parts))
		}
		for _, p := range out.Parts {
			n := aws.ToInt32(p.PartNumber)
			got = append(got, n)
			data := []byte(fmt.Sprint("part ", n))
			if aws.ToInt64(p.Size) != int64(len(data)) || unquote(p.ETag) != md5hex(data) || p.LastModified == nil {
				t.Errorf("part %d: Size %d ETag %s LastModified %v", n, aws.ToInt64(p.Size), unquote(p.ETag), p.LastModified)
			}
		}
		if aws.ToString(out.UploadId) != id || aws.ToString(out.Key) != "k" {
			t.Errorf("ListParts UploadId %q Key %q", aws.ToString(out.UploadId), aws.ToString(out.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if aws.ToString(out.NextPartNumberMarker) == "" {
			t.Fatalf("page %d truncated without NextPartNumberMarker", page)
		}
		marker = out.NextPartNumberMarker
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListParts paging gave parts %v; want %v", got, want)
	}
}

func TestListMultipartUploads(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	type up struct{ key, id string }
	var ups []up
	for _, k := range []string{"a", "b/1", "b/2", "b/2", "c"} {
		ups = append(ups, up{k, createUpload(t, c, b, k)})
		time.Sleep(10 * time.Millisecond) // distinct initiation times
	}
	out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b})
	must(t, err, "ListMultipartUploads")
	var got []string
	for _, u := range out.Uploads {
		got = append(got, aws.ToString(u.Key))
	}
	if !slices.Equal(got, []string{"a", "b/1", "b/2", "b/2", "c"}) {
		t.Errorf("ListMultipartUploads keys %q; want [a b/1 b/2 b/2 c]", got)
	}

	out, err = c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b, Prefix: aws.String("b/")})
	must(t, err, "ListMultipartUploads prefix b/")
	if len(out.Uploads) != 3 {
		t.Errorf("prefix b/: %d uploads; want 3", len(out.Uploads))
	}
	out, err = c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b, Delimiter: aws.String("/")})
	must(t, err, "ListMultipartUploads delimiter /")
	if len(out.Uploads) != 2 || !slices.Equal(prefixesOf(out.CommonPrefixes), []string{"b/"}) {
		t.Errorf("delimiter /: %d uploads, prefixes %q; want 2 and [b/]", len(out.Uploads), prefixesOf(out.CommonPrefixes))
	}

	// Page one upload at a time.
	var paged []up
	var km, um *string
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("ListMultipartUploads paging did not end")
		}
		out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b, MaxUploads: aws.Int32(1), KeyMarker: km, UploadIdMarker: um})
		must(t, err, "ListMultipartUploads max-uploads 1")
		for _, u := range out.Uploads {
			paged = append(paged, up{aws.ToString(u.Key), aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		km, um = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if !slices.Equal(paged, ups) {
		t.Errorf("paged uploads %v; want %v (key order, then initiation order)", paged, ups)
	}
}

// TestMultipart10000Parts uploads the most parts S3 allows (tiny ones, in
// parallel) and pages through ListParts.
func TestMultipart10000Parts(t *testing.T) {
	t.Parallel()
	skipShort(t)
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "many")
	start := time.Now()
	const parts, workers = 10000, 8
	next := make(chan int32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				data := []byte(fmt.Sprint(n))
				out, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("many"), UploadId: &id, PartNumber: &n, Body: bytes.NewReader(data)})
				if err == nil && unquote(out.ETag) != md5hex(data) {
					err = fmt.Errorf("ETag %s; want %s", unquote(out.ETag), md5hex(data))
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("part %d: %v", n, err))
					mu.Unlock()
				}
			}
		}()
	}
	for n := int32(1); n <= parts; n++ {
		next <- n
	}
	close(next)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d UploadPart calls failed; first: %s", len(failures), parts, failures[0])
	}
	t.Logf("uploaded %d parts in %s", parts, time.Since(start).Round(time.Millisecond))

	seen := make([]bool, parts+1)
	var marker *string
	pages := 0
	for {
		pages++
		if pages > parts/1000+2 {
			t.Fatalf("ListParts paging did not end after %d pages", pages)
		}
		out, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("many"), UploadId: &id, PartNumberMarker: marker})
		must(t, err, "ListParts")
		if len(out.Parts) > 1000 {
			t.Errorf("ListParts page of %d parts; S3 answers at most 1000", len(out.Parts))
		}
		for _, p := range out.Parts {
			n := aws.ToInt32(p.PartNumber)
			if n < 1 || n > parts || seen[n] {
				t.Fatalf("ListParts: part %d out of range or listed twice", n)
			}
			seen[n] = true
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = out.NextPartNumberMarker
	}
	for n := 1; n <= parts; n++ {
		if !seen[n] {
			t.Fatalf("ListParts never listed part %d", n)
		}
	}
	t.Logf("listed %d parts in %d pages", parts, pages)
	_, err := c.AbortMultipartUpload(t.Context(), &s3.AbortMultipartUploadInput{Bucket: &b, Key: aws.String("many"), UploadId: &id})
	must(t, err, "AbortMultipartUpload of 10,000 parts")
}

package conformance

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestInvalidUTF8Key: S3 keys are UTF-8, and S3 answers 400 to a key that
// is not. Storing one would list it under another name (XML cannot carry
// the bytes, so a listing shows U+FFFD), which no later request matches.
func TestInvalidUTF8Key(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	k := "bad\xffkey"
	codes := []string{"InvalidURI", "InvalidArgument"}
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: &k, Body: strings.NewReader("x")})
	wantErrOneOf(t, err, 400, codes, "PutObject with a key that is not UTF-8")
	_, err = c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: &k})
	wantErrOneOf(t, err, 400, codes, "CreateMultipartUpload with a key that is not UTF-8")
	put(t, c, b, "good", []byte("x"))
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: &k, CopySource: copySource(b, "good", "")})
	wantErrOneOf(t, err, 400, codes, "CopyObject to a key that is not UTF-8")

	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b})
	must(t, err, "ListObjectsV2")
	if keys := keysOf(out.Contents); len(keys) != 1 || keys[0] != "good" {
		t.Errorf("ListObjectsV2 after refused writes: %q; want only \"good\"", keys)
	}
	ups, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &b})
	must(t, err, "ListMultipartUploads")
	if len(ups.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after a refused CreateMultipartUpload: %d uploads", len(ups.Uploads))
	}
}

// TestSystemMetadataTooLarge: S3 refuses a request whose header section
// exceeds 8 KiB, so no object carries more metadata than that. A server
// that stored a megabyte of Content-Disposition per object would hold a
// gigabyte to answer one page of a listing.
func TestSystemMetadataTooLarge(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	big := aws.String(strings.Repeat("a", 16<<10))
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("x"), ContentDisposition: big})
	wantErr(t, err, 400, "", "PutObject with 16 KiB of Content-Disposition")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "", "HeadObject after the refused PutObject")
	_, err = c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("k"), CacheControl: big})
	wantErr(t, err, 400, "", "CreateMultipartUpload with 16 KiB of Cache-Control")
	put(t, c, b, "src", []byte("x"))
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: aws.String("k"), CopySource: copySource(b, "src", ""),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: big})
	wantErr(t, err, 400, "", "CopyObject REPLACE with 16 KiB of Content-Type")

	// What fits S3's header stays accepted.
	ok := aws.String(strings.Repeat("b", 4<<10))
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("ok"), Body: strings.NewReader("x"), ContentDisposition: ok})
	must(t, err, "PutObject with 4 KiB of Content-Disposition")
}

// TestCopyObjectOfMultipartPartNumber: whatever parts count a copy of a
// multipart object reports, each of its parts can be read by number.
func TestCopyObjectOfMultipartPartNumber(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	id := createUpload(t, c, b, "src")
	p1, p2 := seededBytes(40, 5*mib), seededBytes(41, 1234)
	_, err := complete(c, t, b, "src", id, uploadPart(t, c, b, "src", id, 1, p1), uploadPart(t, c, b, "src", id, 2, p2))
	must(t, err, "CompleteMultipartUpload")
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: aws.String("dst"), CopySource: copySource(b, "src", "")})
	must(t, err, "CopyObject of a multipart object")
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("dst"), PartNumber: aws.Int32(1)})
	must(t, err, "HeadObject partNumber=1 of the copy")
	n := aws.ToInt32(h.PartsCount)
	if n == 0 {
		return // the copy is a simple object (S3 may make it one): nothing more to check
	}
	if n != 2 {
		t.Fatalf("copy reports %d parts; the source has 2", n)
	}
	body, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("dst"), PartNumber: aws.Int32(2)})
	if string(body) != string(p2) {
		t.Errorf("GetObject partNumber=2 of the copy: %d bytes that are not part 2", len(body))
	}
}

package s3api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestMultipart(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(testing.TB, Backend, ...envOption) *testEnv
	}{{"http", newEnv}, {"tls trailer", newTLSEnv}} {
		t.Run(tc.name, func(t *testing.T) {
			testMultipart(t, tc.env(t, newFakeBackend()))
		})
	}
}

func testMultipart(t *testing.T, e *testEnv) {
	e.mustBucket("bkt")
	e.mustPut("bkt", "src", "0123456789")
	ctx := t.Context()
	c := e.client
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"),
		ContentType: aws.String("application/x-tar"), Metadata: map[string]string{"m": "v"}, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	if e.fake.lastCreate.ChecksumAlgorithm != "CRC32" || e.fake.lastCreate.Meta.ContentType != "application/x-tar" || e.fake.lastCreate.Meta.User["m"] != "v" {
		t.Errorf("create input %+v", e.fake.lastCreate)
	}
	if cr.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 || cr.ChecksumType != types.ChecksumTypeComposite {
		t.Errorf("create answer %+v", cr)
	}
	id := cr.UploadId
	p1 := bytes.Repeat([]byte{'a'}, 5<<20)
	u1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(p1), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(u1.ETag) != `"`+md5hex(p1)+`"` || aws.ToString(u1.ChecksumCRC32) != crc32b64(p1) {
		t.Errorf("part 1 answer %+v", u1)
	}
	u2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumber: aws.Int32(2),
		CopySource: aws.String("bkt/src"), CopySourceRange: aws.String("bytes=2-5")})
	if err != nil {
		t.Fatal(err)
	}
	if pc := e.fake.lastPartCopy; !pc.Ranged || pc.First != 2 || pc.Last != 5 || pc.SrcKey != "src" || pc.PartNumber != 2 {
		t.Errorf("part copy input %+v", pc)
	}
	if u2.CopyPartResult == nil || aws.ToString(u2.CopyPartResult.ETag) != `"`+md5hex([]byte("2345"))+`"` {
		t.Errorf("part copy answer %+v", u2.CopyPartResult)
	}

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, MaxParts: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.Parts) != 1 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "1" || aws.ToInt64(lp.Parts[0].Size) != 5<<20 ||
		aws.ToString(lp.Parts[0].ChecksumCRC32) != crc32b64(p1) || lp.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 {
		t.Fatalf("ListParts: %+v", lp)
	}
	lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumberMarker: lp.NextPartNumberMarker})
	if err != nil || len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 2 || aws.ToBool(lp.IsTruncated) {
		t.Fatalf("ListParts page 2: %v %+v", err, lp)
	}

	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(id) || aws.ToString(lu.Uploads[0].Key) != "big" {
		t.Fatalf("ListMultipartUploads: %v %+v", err, lu)
	}

	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"bad"`)}}}})
	if apiCode(err) != "InvalidPart" {
		t.Fatalf("bad ETag: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: u1.ETag, ChecksumCRC32: u1.ChecksumCRC32},
			{PartNumber: aws.Int32(2), ETag: u2.CopyPartResult.ETag},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if cp := e.fake.lastComplete; len(cp) != 2 || cp[0].ETag != md5hex(p1) || cp[0].Checksum.Algorithm != "CRC32" || cp[0].Checksum.Value != crc32b64(p1) {
		t.Errorf("complete input %+v", cp)
	}
	if aws.ToString(done.ETag) == "" || aws.ToString(done.Key) != "big" || aws.ToString(done.Bucket) != "bkt" || aws.ToString(done.Location) == "" {
		t.Errorf("complete answer %+v", done)
	}
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if len(got) != 5<<20+4 || !strings.HasSuffix(aws.ToString(g.ETag), `-2"`) || g.PartsCount != nil {
		t.Fatalf("assembled %d bytes, ETag %s, PartsCount %v", len(got), aws.ToString(g.ETag), g.PartsCount)
	}
	// ?partNumber serves one part, with the part count.
	pg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(2), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(pg.Body)
	pg.Body.Close()
	if string(part) != "2345" || aws.ToInt32(pg.PartsCount) != 2 || aws.ToString(pg.ContentRange) != fmt.Sprintf("bytes %d-%d/%d", 5<<20, 5<<20+3, 5<<20+4) {
		t.Fatalf("part 2: %q %+v", part, pg)
	}
	ph, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(1)})
	if err != nil || aws.ToInt64(ph.ContentLength) != 5<<20 || aws.ToInt32(ph.PartsCount) != 2 {
		t.Fatalf("HEAD part 1: %v %+v", err, ph)
	}
	resp, body := e.do("GET", "/bkt/big?partNumber=3", nil, nil)
	wantStatus(t, resp, body, 416, "InvalidPartNumber")

	// Abort.
	cr2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("gone")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("gone"), UploadId: cr2.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("gone"), UploadId: cr2.UploadId})
	if apiCode(err) != "NoSuchUpload" {
		t.Fatalf("aborted upload: %v", err)
	}
}

func TestMultipartRefusals(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "src", "0123456789")
	resp, body := e.do("POST", "/bkt/k?uploads", nil, nil)
	wantStatus(t, resp, body, 200, "")
	var init initiateMultipartUploadResult
	if err := decodeXML(body, &init); err != nil {
		t.Fatal(err)
	}
	q := "?uploadId=" + init.UploadID
	for _, tc := range []struct {
		name, method, path string
		hdr                http.Header
		body               string
		status             int
		code               string
	}{
		{"part 0", "PUT", "/bkt/k" + q + "&partNumber=0", nil, "x", 400, "InvalidArgument"},
		{"part 10001", "PUT", "/bkt/k" + q + "&partNumber=10001", nil, "x", 400, "InvalidArgument"},
		{"part abc", "PUT", "/bkt/k" + q + "&partNumber=abc", nil, "x", 400, "InvalidArgument"},
		{"copy range open", "PUT", "/bkt/k" + q + "&partNumber=1", http.Header{"X-Amz-Copy-Source": {"bkt/src"}, "X-Amz-Copy-Source-Range": {"bytes=1-"}}, "", 400, "InvalidArgument"},
		{"copy range beyond", "PUT", "/bkt/k" + q + "&partNumber=1", http.Header{"X-Amz-Copy-Source": {"bkt/src"}, "X-Amz-Copy-Source-Range": {"bytes=5-50"}}, "", 416, "InvalidRange"},
		{"complete empty", "POST", "/bkt/k" + q, nil, "", 400, "MalformedXML"},
		{"complete no parts", "POST", "/bkt/k" + q, nil, "<CompleteMultipartUpload></CompleteMultipartUpload>", 400, "MalformedXML"},
		{"complete garbage", "POST", "/bkt/k" + q, nil, "<CompleteMultipartUpload><Part>", 400, "MalformedXML"},
		{"complete part 0", "POST", "/bkt/k" + q, nil, "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", 400, "InvalidArgument"},
		{"complete order", "POST", "/bkt/k" + q, nil, "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>x</ETag></Part><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", 400, "InvalidPartOrder"},
		{"complete full-object checksum", "POST", "/bkt/k" + q, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", 501, "NotImplemented"},
		{"unknown upload", "PUT", "/bkt/k?uploadId=nope&partNumber=1", nil, "x", 404, "NoSuchUpload"},
		{"create sha256 full object", "POST", "/bkt/k?uploads", http.Header{"X-Amz-Checksum-Algorithm": {"SHA256"}, "X-Amz-Checksum-Type": {"FULL_OBJECT"}}, "", 400, "InvalidRequest"},
		{"create bad algorithm", "POST", "/bkt/k?uploads", http.Header{"X-Amz-Checksum-Algorithm": {"MD4"}}, "", 400, "InvalidRequest"},
		{"list parts bad max", "GET", "/bkt/k" + q + "&max-parts=-1", nil, "", 400, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(tc.method, tc.path, []byte(tc.body), tc.hdr)
			wantStatus(t, resp, body, tc.status, tc.code)
		})
	}
}

// noParts hides the fake's PartRanger, as a backend without it.
type noParts struct{ Backend }

func TestPartNumberWithoutPartRanger(t *testing.T) {
	fake := newFakeBackend()
	e := newEnv(t, noParts{fake})
	e.fake = fake
	e.mustBucket("bkt")
	ctx := t.Context()
	cr, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	up, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("GET", "/bkt/k?partNumber=1", nil, nil)
	wantStatus(t, resp, body, 501, "NotImplemented")
}

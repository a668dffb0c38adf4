package gateway

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// sseServer is a gateway served over S3 on loopback, with a bucket.
func sseServer(t *testing.T) (*s3.Client, *Gateway, Config) {
	t.Helper()
	cfg := testConfig(t)
	g := open(t, cfg)
	client, _ := serveS3(t, g)
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("sec")}); err != nil {
		t.Fatal(err)
	}
	return client, g, cfg
}

// wantAPIError checks an SDK error's S3 code and HTTP status.
func checkAPIError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	var re *awshttp.ResponseError
	got := 0
	if errors.As(err, &re) {
		got = re.HTTPStatusCode()
	}
	if ae.ErrorCode() != code || got != status {
		t.Errorf("%s: %s (%d) %q, want %s (%d)", what, ae.ErrorCode(), got, ae.ErrorMessage(), code, status)
	}
}

// customerKey is an SSE-C key and its headers' values.
type customerKey struct{ key, md5 string }

func newCustomerKey(seed byte) customerKey {
	k := bytes.Repeat([]byte{seed}, 32)
	sum := md5.Sum(k)
	return customerKey{base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(sum[:])}
}

func readGot(t *testing.T, out *s3.GetObjectOutput, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSSES3 writes with x-amz-server-side-encryption: AES256 and reads
// back whole, by range and by HEAD, the header answered each time; a plain
// object answers none; a restart (a new gateway on the same directory)
// reads it back with the key unwrapped again.
func TestSSES3(t *testing.T) {
	ctx := t.Context()
	client, g, cfg := sseServer(t)
	data := random(1, 700<<10)
	put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String("a"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		t.Fatal(err)
	}
	if put.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("PUT answered SSE %q", put.ServerSideEncryption)
	}
	if sum := md5.Sum(data); strings.Trim(aws.ToString(put.ETag), `"`) != encodeHex(sum[:]) {
		t.Errorf("SSE-S3 ETag %s is not the MD5, as S3 has it", aws.ToString(put.ETag))
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sec"), Key: aws.String("a")})
	if got := readGot(t, out, err); !bytes.Equal(got, data) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("GET: equal %v, SSE %q", bytes.Equal(got, data), out.ServerSideEncryption)
	}
	out, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sec"), Key: aws.String("a"), Range: aws.String("bytes=300000-400009")})
	if got := readGot(t, out, err); !bytes.Equal(got, data[300000:400010]) {
		t.Fatal("range GET of an SSE-S3 object")
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sec"), Key: aws.String("a")})
	if err != nil || head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("HEAD: %v, SSE %q", err, head.ServerSideEncryption)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String("plain"), Body: bytes.NewReader(data[:1000])}); err != nil {
		t.Fatal(err)
	}
	head, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sec"), Key: aws.String("plain")})
	if err != nil || head.ServerSideEncryption != "" {
		t.Fatalf("HEAD of a plain object: %v, SSE %q", err, head.ServerSideEncryption)
	}
	// The master key file is private.
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "sse-master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", err, fi)
	}
	g.Close()
	g2 := open(t, cfg)
	got, _, err := get(t, g2, "sec", "a", "")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a restart: %v", err)
	}
}

func encodeHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestBucketDefaultEncryption: no default is S3's not-found error; a
// default applies to writes without headers, and answers as set; a
// request's own header wins; after DeleteBucketEncryption writes are plain
// again; bad configurations get S3's errors and change nothing.
func TestBucketDefaultEncryption(t *testing.T) {
	ctx := t.Context()
	client, g, _ := sseServer(t)
	b := aws.String("sec")
	_, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	checkAPIError(t, "no default", err, "ServerSideEncryptionConfigurationNotFoundError", 404)
	rule := func(alg types.ServerSideEncryption, kms *string) *types.ServerSideEncryptionConfiguration {
		return &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: alg, KMSMasterKeyID: kms}}}}
	}
	_, err = client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule("AES512", nil)})
	checkAPIError(t, "unknown algorithm", err, "MalformedXML", 400)
	_, err = client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAes256, aws.String("k"))})
	checkAPIError(t, "a KMS key with AES256", err, "InvalidArgument", 400)
	_, err = client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAwsKms, aws.String("no-such-key"))})
	checkAPIError(t, "an unknown KMS key", err, "KMS.NotFoundException", 400)
	_, err = client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	checkAPIError(t, "still no default", err, "ServerSideEncryptionConfigurationNotFoundError", 404)

	// A KMS default answers the key as it was named.
	if _, err := g.AddKMSKey("bk"); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:kms:us-east-1:111122223333:key/bk"
	if _, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAwsKms, aws.String(arn))}); err != nil {
		t.Fatal(err)
	}
	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	if err != nil || aws.ToString(enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != arn {
		t.Fatalf("GetBucketEncryption of a KMS default: %v", err)
	}
	put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("kms"), Body: strings.NewReader("under a KMS default")})
	if err != nil || put.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(put.SSEKMSKeyId) != "bk" {
		t.Fatalf("PUT under a KMS default: %v, %q %q", err, put.ServerSideEncryption, aws.ToString(put.SSEKMSKeyId))
	}

	if _, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAes256, nil)}); err != nil {
		t.Fatal(err)
	}
	enc, err = client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("GetBucketEncryption: %v", err)
	}
	put, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("d"), Body: strings.NewReader("by default")})
	if err != nil || put.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("PUT under a default: %v, SSE %q", err, put.ServerSideEncryption)
	}
	ck := newCustomerKey(1)
	put, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("c"), Body: strings.NewReader("own key"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(ck.key), SSECustomerKeyMD5: aws.String(ck.md5)})
	if err != nil || put.ServerSideEncryption != "" || aws.ToString(put.SSECustomerKeyMD5) != ck.md5 {
		t.Fatalf("SSE-C PUT under a default: %v, SSE %q", err, put.ServerSideEncryption)
	}
	if _, err := client.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	put, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("p"), Body: strings.NewReader("plain again")})
	if err != nil || put.ServerSideEncryption != "" {
		t.Fatalf("PUT after the default is gone: %v, SSE %q", err, put.ServerSideEncryption)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("d")})
	if got := readGot(t, out, err); string(got) != "by default" || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("an object written under the default: %q %q", got, out.ServerSideEncryption)
	}
}

// TestSSEC: an SSE-C object reads back only with its key: without it is
// 400 InvalidRequest, with another 403 AccessDenied, SSE-C headers on a
// plain object 400; the key MD5 is checked; copies need the source's key
// in the copy-source headers and re-encrypt to the destination's choice;
// multipart needs the key with every part, and GET ?partNumber works.
func TestSSEC(t *testing.T) {
	ctx := t.Context()
	client, _, _ := sseServer(t)
	b := aws.String("sec")
	k1, k2 := newCustomerKey(1), newCustomerKey(2)
	data := random(3, 500<<10)
	put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("c"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1.key), SSECustomerKeyMD5: aws.String(k1.md5)})
	if err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(data); strings.Trim(aws.ToString(put.ETag), `"`) == encodeHex(sum[:]) {
		t.Error("the ETag of an SSE-C object is the MD5 of its plaintext")
	}
	get := func(k *customerKey, rng *string) (*s3.GetObjectOutput, error) {
		in := &s3.GetObjectInput{Bucket: b, Key: aws.String("c"), Range: rng}
		if k != nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
		}
		return client.GetObject(ctx, in)
	}
	_, err = get(nil, nil)
	checkAPIError(t, "GET without the key", err, "InvalidRequest", 400)
	_, err = get(&k2, nil)
	checkAPIError(t, "GET with another key", err, "AccessDenied", 403)
	out, err := get(&k1, nil)
	if got := readGot(t, out, err); !bytes.Equal(got, data) || aws.ToString(out.SSECustomerKeyMD5) != k1.md5 || aws.ToString(out.SSECustomerAlgorithm) != "AES256" {
		t.Fatalf("GET with the key: equal %v, headers %v %v", bytes.Equal(got, data), aws.ToString(out.SSECustomerAlgorithm), aws.ToString(out.SSECustomerKeyMD5))
	}
	out, err = get(&k1, aws.String("bytes=1000-2000"))
	if got := readGot(t, out, err); !bytes.Equal(got, data[1000:2001]) {
		t.Fatal("range GET of an SSE-C object")
	}
	_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("c")})
	checkAPIError(t, "HEAD without the key", err, "BadRequest", 400) // a HEAD answer has no body: the SDK names the status
	bad := k1
	bad.md5 = k2.md5
	_, err = get(&bad, nil)
	checkAPIError(t, "a key MD5 that does not match", err, "InvalidArgument", 400)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("p"), Body: strings.NewReader("plain")}); err != nil {
		t.Fatal(err)
	}
	_, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("p"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1.key), SSECustomerKeyMD5: aws.String(k1.md5)})
	checkAPIError(t, "SSE-C headers on a plain object", err, "InvalidRequest", 400)

	// Copies: the source's key in the copy-source headers.
	_, err = client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("c2"), CopySource: aws.String("sec/c")})
	checkAPIError(t, "copy without the source's key", err, "InvalidRequest", 400)
	cp, err := client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("c2"), CopySource: aws.String("sec/c"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k1.key), CopySourceSSECustomerKeyMD5: aws.String(k1.md5),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || cp.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy SSE-C to SSE-S3: %v", err)
	}
	out, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("c2")})
	if got := readGot(t, out, err); !bytes.Equal(got, data) {
		t.Fatal("an SSE-C object copied to SSE-S3 reads back wrong")
	}
	_, err = client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("c3"), CopySource: aws.String("sec/c2"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k2.key), SSECustomerKeyMD5: aws.String(k2.md5)})
	if err != nil {
		t.Fatalf("copy SSE-S3 to SSE-C: %v", err)
	}
	out, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("c3"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k2.key), SSECustomerKeyMD5: aws.String(k2.md5)})
	if got := readGot(t, out, err); !bytes.Equal(got, data) {
		t.Fatal("an SSE-S3 object copied to SSE-C under another key reads back wrong")
	}

	// Multipart: the key with every part.
	mp, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("m"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1.key), SSECustomerKeyMD5: aws.String(k1.md5)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("m"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(data[:200<<10])})
	checkAPIError(t, "a part without the key", err, "InvalidRequest", 400)
	var parts []types.CompletedPart
	for i, p := range [][]byte{data[:200<<10], data[200<<10:]} {
		up, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("m"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1.key), SSECustomerKeyMD5: aws.String(k1.md5)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("m"), UploadId: mp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	out, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("m"), PartNumber: aws.Int32(2),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1.key), SSECustomerKeyMD5: aws.String(k1.md5)})
	if got := readGot(t, out, err); !bytes.Equal(got, data[200<<10:]) {
		t.Fatal("GET ?partNumber=2 of an SSE-C multipart object")
	}
	// Copied under another key, a multipart object is one object: no
	// parts, and no checksum of parts, left over from the source.
	sseC := func(k customerKey) (*string, *string, *string) {
		return aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
	}
	alg, key1, md51 := sseC(k1)
	mk, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mk"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		SSECustomerAlgorithm: alg, SSECustomerKey: key1, SSECustomerKeyMD5: md51})
	if err != nil {
		t.Fatal(err)
	}
	var mkParts []types.CompletedPart
	for i, p := range [][]byte{data[:200<<10], data[200<<10:]} {
		up, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mk"), UploadId: mk.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, SSECustomerAlgorithm: alg, SSECustomerKey: key1, SSECustomerKeyMD5: md51})
		if err != nil {
			t.Fatal(err)
		}
		mkParts = append(mkParts, types.CompletedPart{ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mk"), UploadId: mk.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: mkParts},
		SSECustomerAlgorithm: alg, SSECustomerKey: key1, SSECustomerKeyMD5: md51}); err != nil {
		t.Fatal(err)
	}
	alg2, key2, md52 := sseC(k2)
	_, err = client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("mc"), CopySource: aws.String("sec/mk"),
		CopySourceSSECustomerAlgorithm: alg, CopySourceSSECustomerKey: key1, CopySourceSSECustomerKeyMD5: md51,
		SSECustomerAlgorithm: alg2, SSECustomerKey: key2, SSECustomerKeyMD5: md52})
	if err != nil {
		t.Fatalf("copy a multipart SSE-C object under another key: %v", err)
	}
	for _, c := range []struct {
		key            string
		alg, sk, skMD5 *string
		wantParts      bool
	}{{"mk", alg, key1, md51, true}, {"mc", alg2, key2, md52, false}} {
		attrs, err := client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String(c.key),
			ObjectAttributes:     []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesChecksum},
			SSECustomerAlgorithm: c.alg, SSECustomerKey: c.sk, SSECustomerKeyMD5: c.skMD5})
		if err != nil {
			t.Fatal(err)
		}
		parts := attrs.ObjectParts != nil && aws.ToInt32(attrs.ObjectParts.TotalPartsCount) > 0
		composite := attrs.Checksum != nil && attrs.Checksum.ChecksumType == types.ChecksumTypeComposite
		if parts != c.wantParts || composite != c.wantParts {
			t.Fatalf("%s: parts %v, composite checksum %v; want %v", c.key, parts, composite, c.wantParts)
		}
	}

	// UploadPartCopy from an SSE-C source into an SSE-S3 upload.
	mp2, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("m2"), ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		t.Fatal(err)
	}
	upc, err := client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("m2"), UploadId: mp2.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String("sec/c"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k1.key), CopySourceSSECustomerKeyMD5: aws.String(k1.md5)})
	if err != nil {
		t.Fatal(err)
	}
	comp, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("m2"), UploadId: mp2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: upc.CopyPartResult.ETag, PartNumber: aws.Int32(1)}}}})
	if err != nil || comp.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("complete an SSE-S3 upload: %v", err)
	}
	out, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("m2")})
	if got := readGot(t, out, err); !bytes.Equal(got, data) {
		t.Fatal("UploadPartCopy of an SSE-C source reads back wrong")
	}
}

// TestSSEHeaderErrors: malformed encryption headers get 400 with AWS's
// codes (never 501) and store nothing.
func TestSSEHeaderErrors(t *testing.T) {
	ctx := t.Context()
	client, _, _ := sseServer(t)
	k := newCustomerKey(1)
	short := base64.StdEncoding.EncodeToString([]byte("short"))
	shortSum := md5.Sum([]byte("short"))
	for _, tc := range []struct {
		name   string
		in     s3.PutObjectInput
		code   string
		status int
	}{
		{"unknown algorithm", s3.PutObjectInput{ServerSideEncryption: "AES512"}, "InvalidArgument", 400},
		{"a KMS key without aws:kms", s3.PutObjectInput{SSEKMSKeyId: aws.String("k")}, "InvalidArgument", 400},
		{"an unknown KMS key", s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("nope")}, "KMS.NotFoundException", 400},
		{"SSE-C and SSE-S3", s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAes256, SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)}, "InvalidArgument", 400},
		{"SSE-C algorithm", s3.PutObjectInput{SSECustomerAlgorithm: aws.String("AES128"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)}, "InvalidEncryptionAlgorithmError", 400},
		{"SSE-C without a key", s3.PutObjectInput{SSECustomerAlgorithm: aws.String("AES256")}, "InvalidArgument", 400},
		{"SSE-C short key", s3.PutObjectInput{SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(short), SSECustomerKeyMD5: aws.String(base64.StdEncoding.EncodeToString(shortSum[:]))}, "InvalidArgument", 400},
		{"SSE-C MD5 mismatch", s3.PutObjectInput{SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(newCustomerKey(2).md5)}, "InvalidArgument", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Bucket, in.Key, in.Body = aws.String("sec"), aws.String("x"), strings.NewReader("data")
			_, err := client.PutObject(ctx, &in)
			checkAPIError(t, tc.name, err, tc.code, tc.status)
			if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sec"), Key: aws.String("x")}); err == nil {
				t.Error("a refused PUT stored the object")
			}
		})
	}
}

// TestSSEKMS: keys of the key ring, named as a name, alias/ or an ARN;
// the response names the key; the default key is made on first use.
func TestSSEKMS(t *testing.T) {
	ctx := t.Context()
	client, g, cfg := sseServer(t)
	if _, err := g.AddKMSKey("backup-key"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddKMSKey("backup-key"); err == nil {
		t.Fatal("a key added twice")
	}
	data := random(4, 100<<10)
	for i, id := range []string{"backup-key", "alias/backup-key", "arn:aws:kms:us-east-1:123456789012:key/backup-key", ""} {
		key := aws.String("k" + string(rune('0'+i)))
		in := &s3.PutObjectInput{Bucket: aws.String("sec"), Key: key, Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAwsKms}
		if id != "" {
			in.SSEKMSKeyId = aws.String(id)
		}
		put, err := client.PutObject(ctx, in)
		if err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		want := "backup-key"
		if id == "" {
			want = defaultKMSKey
		}
		if put.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(put.SSEKMSKeyId) != want {
			t.Errorf("%q: answered %q %q", id, put.ServerSideEncryption, aws.ToString(put.SSEKMSKeyId))
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sec"), Key: key})
		if got := readGot(t, out, err); !bytes.Equal(got, data) || aws.ToString(out.SSEKMSKeyId) != want {
			t.Fatalf("%q: read back wrong", id)
		}
	}
	if names := g.KMSKeys(); len(names) != 2 {
		t.Fatalf("key ring holds %v", names)
	}
	g.Close()
	g2 := open(t, cfg)
	if got, _, err := get(t, g2, "sec", "k1", ""); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a restart: %v", err)
	}
}

// TestSSEDiskHoldsNoPlaintext: a marker written with SSE-S3, SSE-KMS or
// SSE-C is nowhere in the group's container files (compression off, so a
// plain marker would be there verbatim); written plain, it is.
func TestSSEDiskHoldsNoPlaintext(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	cfg.ChunkStore = func(group, dir string) chunkstore.Config {
		c := chunkstore.DefaultConfig(dir)
		c.Compression = chunkstore.CompressNone
		return c
	}
	g := open(t, cfg)
	client, _ := serveS3(t, g)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sec")}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddKMSKey("k"); err != nil {
		t.Fatal(err)
	}
	k := newCustomerKey(7)
	marker := func(mode string) []byte {
		return bytes.Repeat(append([]byte("CAIRN-MARKER-"+mode+"-0123456789"), random(9, 500)...), 40)
	}
	for _, mode := range []string{"s3", "kms", "c"} {
		in := &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String(mode), Body: bytes.NewReader(marker(mode))}
		switch mode {
		case "s3":
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		case "kms":
			in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String("k")
		case "c":
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
		}
		if _, err := client.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String("plain"), Body: bytes.NewReader(marker("plain"))}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.GroupDirs()[DefaultGroup], "containers", "*"))
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for _, mode := range []string{"s3", "kms", "c"} {
		if bytes.Contains(all, []byte("CAIRN-MARKER-"+mode)) {
			t.Errorf("the %s marker is on disk in the clear", mode)
		}
	}
	if !bytes.Contains(all, []byte("CAIRN-MARKER-plain")) {
		t.Error("the plain marker is not on disk: the test proves nothing")
	}
}

// TestSSEDedup: a second upload of the same data under SSE-S3 stores
// nothing new; under SSE-C with the same key nothing, with another key
// all of it again.
func TestSSEDedup(t *testing.T) {
	ctx := t.Context()
	client, g, _ := sseServer(t)
	gr := g.buckets["sec"]
	stored := func() int64 {
		st, err := gr.store.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.StoredBytes
	}
	data := backupLike(5, 2<<20)
	k1, k2 := newCustomerKey(1), newCustomerKey(2)
	putWith := func(key string, ck *customerKey) int64 {
		before := stored()
		in := &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String(key), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256}
		if ck != nil {
			in.ServerSideEncryption = ""
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(ck.key), aws.String(ck.md5)
		}
		if _, err := client.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
		return stored() - before
	}
	first := putWith("s3-1", nil)
	if d := putWith("s3-2", nil); d != 0 {
		t.Errorf("SSE-S3 again stored %d bytes, want 0", d)
	}
	c1 := putWith("c-1", &k1)
	if c1 < first*9/10 {
		t.Errorf("SSE-C stored %d bytes, the SSE-S3 copy %d: domains must not share", c1, first)
	}
	if d := putWith("c-2", &k1); d != 0 {
		t.Errorf("SSE-C with the same key stored %d bytes, want 0", d)
	}
	if d := putWith("c-3", &k2); d < first*9/10 {
		t.Errorf("SSE-C with another key stored %d bytes, want about %d", d, first)
	}
	// Copies: within the domain the chunks are shared, out of it written again.
	copyWith := func(dst string, sse types.ServerSideEncryption) int64 {
		before := stored()
		if _, err := client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("sec"), Key: aws.String(dst), CopySource: aws.String("sec/s3-1"), ServerSideEncryption: sse}); err != nil {
			t.Fatal(err)
		}
		return stored() - before
	}
	if d := copyWith("copy-s3", types.ServerSideEncryptionAes256); d != 0 {
		t.Errorf("an SSE-S3 copy of an SSE-S3 object stored %d bytes, want 0", d)
	}
	if d := copyWith("copy-plain", ""); d < first*9/10 {
		t.Errorf("a plain copy of an SSE-S3 object stored %d bytes, want about %d", d, first)
	}
	if got := mustGet(t, g, "sec", "copy-plain", ""); !bytes.Equal(got, data) {
		t.Error("the plain copy reads back wrong")
	}
}

// TestBucketEncryptionOfNoBucketMakesNoKey: default encryption asked of a
// bucket that does not exist is NoSuchBucket and makes no KMS key.
func TestBucketEncryptionOfNoBucketMakesNoKey(t *testing.T) {
	_, g, _ := sseServer(t)
	before := len(g.KMSKeys())
	err := g.PutBucketEncryption(t.Context(), "nowhere", s3api.SSE{Mode: s3api.SSEModeKMS})
	if !errors.Is(err, s3api.ErrNoSuchBucket) {
		t.Fatalf("default encryption of no bucket: %v, want NoSuchBucket", err)
	}
	if n := len(g.KMSKeys()); n != before {
		t.Fatalf("%d KMS keys after, %d before: a refused request made one", n, before)
	}
}

// TestSSEMasterKeyMissingRefused: once encryption keys were made under the
// master key, a start without its file, or with another master key, is
// refused and makes no new key; with the file back, the encrypted object
// reads. A data directory that never used encryption just makes a new one.
func TestSSEMasterKeyMissingRefused(t *testing.T) {
	ctx := t.Context()
	unused := testConfig(t)
	g := open(t, unused)
	g.Close()
	keyFile := filepath.Join(unused.DataDir, "sse-master.key")
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	g = open(t, unused) // nothing was made under the old key
	g.Close()

	cfg := testConfig(t)
	g = open(t, cfg)
	newBucket(t, g, "sec", s3api.VersioningUnset)
	data := backupLike(3, 1<<20)
	wctx := s3api.WithRequestSSE(ctx, s3api.SSERequest{Object: s3api.SSE{Mode: s3api.SSEModeS3}})
	if _, err := g.PutObject(wctx, s3api.PutObjectInput{Bucket: "sec", Key: "a", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	g.Close()

	keyFile = filepath.Join(cfg.DataDir, "sse-master.key")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "master key file "+keyFile+" is missing") {
		t.Fatalf("a start without the master key: %v", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatal("a start without the master key made a new one")
	}
	other := sseMasterKeyHeader + strings.Repeat("ab", 32) + "\n"
	if err := os.WriteFile(keyFile, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "were made under master key") {
		t.Fatalf("a start with another master key: %v", err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	g = open(t, cfg)
	if got, _, err := get(t, g, "sec", "a", ""); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("with the master key back: %v", err)
	}
	// A data directory from before the record gets it at its first use.
	g.Close()
	inUse := filepath.Join(cfg.DataDir, sseInUseFile)
	if err := os.Remove(inUse); err != nil {
		t.Fatal(err)
	}
	g = open(t, cfg)
	if _, _, err := get(t, g, "sec", "a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inUse); err != nil {
		t.Fatalf("the record after a key was opened: %v", err)
	}
}

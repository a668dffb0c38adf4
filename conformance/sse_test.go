package conformance

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ssecKey is an SSE-C key: base64 of the key and of its MD5.
func ssecKey(seed byte) (string, string) {
	k := bytes.Repeat([]byte{seed}, 32)
	sum := md5.Sum(k)
	return base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(sum[:])
}

func TestSSES3(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := seededBytes(21, 300<<10)
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("s"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256})
	must(t, err, "PutObject SSE-S3")
	if out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("PutObject answered x-amz-server-side-encryption %q", out.ServerSideEncryption)
	}
	if got := aws.ToString(out.ETag); got != `"`+md5hex(data)+`"` {
		t.Errorf("SSE-S3 ETag %s, want the MD5", got)
	}
	got, gout := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("s")})
	if !bytes.Equal(got, data) || gout.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("GetObject: equal %v, SSE %q", bytes.Equal(got, data), gout.ServerSideEncryption)
	}
	got, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("s"), Range: aws.String("bytes=100-199")})
	if !bytes.Equal(got, data[100:200]) {
		t.Error("range GET of an SSE-S3 object")
	}
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("x"), Body: bytes.NewReader(data[:10]), ServerSideEncryption: "AES512"})
	wantErr(t, err, 400, "InvalidArgument", "PutObject x-amz-server-side-encryption: AES512")
}

func TestBucketEncryption(t *testing.T) {
	t.Parallel()
	requireCairn(t, "S3 buckets have had a default (AES256) since 2023: GetBucketEncryption never answers not-found there")
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.GetBucketEncryption(t.Context(), &s3.GetBucketEncryptionInput{Bucket: &b})
	wantErr(t, err, 404, "ServerSideEncryptionConfigurationNotFoundError", "GetBucketEncryption without one")
	cfg := &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
		ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}
	_, err = c.PutBucketEncryption(t.Context(), &s3.PutBucketEncryptionInput{Bucket: &b, ServerSideEncryptionConfiguration: cfg})
	must(t, err, "PutBucketEncryption")
	enc, err := c.GetBucketEncryption(t.Context(), &s3.GetBucketEncryptionInput{Bucket: &b})
	must(t, err, "GetBucketEncryption")
	if a := enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm; a != types.ServerSideEncryptionAes256 {
		t.Errorf("GetBucketEncryption answered %q", a)
	}
	if out := put(t, c, b, "d", []byte("by default")); out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("a PUT without headers under a default answered SSE %q", out.ServerSideEncryption)
	}
	_, err = c.DeleteBucketEncryption(t.Context(), &s3.DeleteBucketEncryptionInput{Bucket: &b})
	must(t, err, "DeleteBucketEncryption")
	if out := put(t, c, b, "p", []byte("plain")); out.ServerSideEncryption != "" {
		t.Errorf("a PUT after DeleteBucketEncryption answered SSE %q", out.ServerSideEncryption)
	}
	bad := []byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`)
	resp, body := rawRequest{method: "PUT", path: "/" + b, query: url.Values{"encryption": {""}}, body: bad, header: map[string]string{"Content-MD5": md5b64(bad)}}.do(t)
	wantRawError(t, resp, body, 400, "MalformedXML", "PutBucketEncryption SSEAlgorithm DES")
}

func TestSSEC(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	k1, m1 := ssecKey(1)
	k2, m2 := ssecKey(2)
	data := seededBytes(22, 200<<10)
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("c"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: &k1, SSECustomerKeyMD5: &m1})
	must(t, err, "PutObject SSE-C")
	if aws.ToString(out.SSECustomerKeyMD5) != m1 || aws.ToString(out.SSECustomerAlgorithm) != "AES256" {
		t.Errorf("PutObject SSE-C answered %q %q", aws.ToString(out.SSECustomerAlgorithm), aws.ToString(out.SSECustomerKeyMD5))
	}
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("c")})
	wantErr(t, err, 400, "InvalidRequest", "GetObject of an SSE-C object without its key")
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("c"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: &k2, SSECustomerKeyMD5: &m2})
	wantErr(t, err, 403, "AccessDenied", "GetObject of an SSE-C object with another key")
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("c"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: &k1, SSECustomerKeyMD5: &m2})
	wantErr(t, err, 400, "InvalidArgument", "GetObject with a key MD5 that does not match")
	got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("c"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: &k1, SSECustomerKeyMD5: &m1})
	if !bytes.Equal(got, data) {
		t.Error("GetObject with the key read back wrong bytes")
	}
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("x"), Body: bytes.NewReader(data[:10]),
		SSECustomerAlgorithm: aws.String("AES128"), SSECustomerKey: &k1, SSECustomerKeyMD5: &m1})
	wantErr(t, err, 400, "InvalidEncryptionAlgorithmError", "PutObject SSE-C algorithm AES128")
	// CopyObject with the source's key in the copy-source headers, to a
	// destination under another key.
	_, err = c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: &b, Key: aws.String("c2"), CopySource: copySource(b, "c", ""),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: &k1, CopySourceSSECustomerKeyMD5: &m1,
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: &k2, SSECustomerKeyMD5: &m2})
	must(t, err, "CopyObject SSE-C to SSE-C under another key")
	got, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("c2"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: &k2, SSECustomerKeyMD5: &m2})
	if !bytes.Equal(got, data) {
		t.Error("the copy read back wrong bytes")
	}
}

func TestSSEKMSDefaultKey(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := seededBytes(23, 64<<10)
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAwsKms})
	must(t, err, "PutObject aws:kms with the default key")
	if out.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(out.SSEKMSKeyId) == "" {
		t.Errorf("PutObject aws:kms answered %q %q", out.ServerSideEncryption, aws.ToString(out.SSEKMSKeyId))
	}
	got, gout := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
	if !bytes.Equal(got, data) || gout.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Error("GetObject of an SSE-KMS object")
	}
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("x"), Body: bytes.NewReader(data), SSEKMSKeyId: aws.String("k")})
	wantErr(t, err, 400, "InvalidArgument", "a KMS key ID without aws:kms")
}

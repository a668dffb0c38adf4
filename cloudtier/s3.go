package cloudtier

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Config names an S3 bucket (and a prefix in it) on AWS or any
// S3-compatible service, and the access key that signs for it.
type S3Config struct {
	// Endpoint is the service's URL (https://s3.example.net); "" is AWS,
	// whose endpoint follows from Region.
	Endpoint string
	Region   string // the region requests are signed for; "" is us-east-1 off AWS
	Bucket   string
	Prefix   string // a directory of the bucket, "" for its root
	// AccessKey and SecretKey are a static credential.
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket in the path (host/bucket/key), not in
	// the host name (bucket.host/key): most services other than AWS want it.
	PathStyle bool
}

// s3Target is a Target on one S3 bucket.
type s3Target struct {
	c      *s3.Client
	bucket string
	desc   string // String(): no credential
	prefix string // "" or ends with '/'
}

var _ Target = (*s3Target)(nil)

// NewS3 returns the Target of c. It checks the configuration, not the
// service: Probe does that.
//
// The SDK's standard retryer retries what S3 throttles (503 SlowDown, 429,
// and the other throttling codes) and fails transiently (500, 502, 503,
// 504, RequestTimeout) and the network's failures, within retryAttempts
// tries.
func NewS3(c S3Config) (Target, error) {
	base := "aws"
	if c.Endpoint != "" {
		u, err := checkServiceURL("Endpoint", c.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("cloudtier: s3: %w", err)
		}
		base = u
	}
	region := c.Region
	switch {
	case region == "" && c.Endpoint == "":
		return nil, errors.New("cloudtier: s3: Region is empty; AWS needs the bucket's region")
	case region == "":
		region = "us-east-1" // what services other than AWS accept
	}
	if err := checkBucketName("Bucket", c.Bucket); err != nil {
		return nil, fmt.Errorf("cloudtier: s3: %w", err)
	}
	prefix, err := cleanPrefix("Prefix", c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("cloudtier: s3: %w", err)
	}
	switch {
	case c.AccessKey == "":
		return nil, errors.New("cloudtier: s3: AccessKey is empty")
	case c.SecretKey == "":
		return nil, fmt.Errorf("cloudtier: s3: SecretKey of access key %q is empty", c.AccessKey)
	}
	opts := s3.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		UsePathStyle: c.PathStyle,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = retryAttempts
			o.MaxBackoff = s3MaxBackoff
			// No client-side retry quota: when a burst of throttling drains
			// it, the SDK fails puts at once ("retry quota exceeded") instead
			// of backing off, and a mover would give up on a tier that only
			// asked it to slow down. retryAttempts bounds each operation.
			o.RateLimiter = ratelimit.None
		}),
		// Content-MD5 is our integrity check on the way in; a CRC the SDK
		// adds of its own accord would be a trailer in aws-chunked
		// encoding, which some S3-compatible services refuse. On the way
		// out a pack's sealing authenticates every byte, and a response
		// checksum, of the whole object, cannot check a range anyway.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if c.Endpoint != "" {
		opts.BaseEndpoint = aws.String(base)
	}
	return &s3Target{
		c:      s3.New(opts),
		bucket: c.Bucket,
		desc:   "s3 " + base + "/" + c.Bucket + "/" + prefix,
		prefix: prefix,
	}, nil
}

// checkBucketName applies S3's rules for bucket names, so a mistyped name
// is refused here rather than as a puzzling answer from the service.
func checkBucketName(field, name string) error {
	const rules = "3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", field)
	case len(name) < 3 || len(name) > 63:
		return fmt.Errorf("%s %q: %d characters; want %s", field, name, len(name), rules)
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return fmt.Errorf("%s %q: want %s", field, name, rules)
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; !isAlnum(b) && b != '.' && b != '-' {
			return fmt.Errorf("%s %q: has %q; want %s", field, name, b, rules)
		}
	}
	return nil
}

func isAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

func (t *s3Target) String() string { return t.desc }

func (t *s3Target) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, md5 []byte) error {
	sec, err := putBody(name, body, size, md5)
	if err != nil {
		return t.fail(ctx, "put", name, err)
	}
	// One PutObject: the object appears whole or not at all, and with
	// Content-MD5 the service refuses (400 BadDigest) bytes that are not
	// the ones hashed. The body is seekable, so SigV4 can hash it over
	// plain HTTP and a retry can rewind it.
	out, err := t.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &t.bucket,
		Key:           aws.String(t.prefix + name),
		Body:          sec,
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(md5)),
	})
	if err != nil {
		return t.fail(ctx, "put", name, err)
	}
	// A service that ignores Content-MD5 still answers the MD5 as the ETag
	// of a plain PutObject (without SSE-KMS): a mismatch is a copy that
	// is not ours. An ETag of another form says nothing either way.
	if etag := strings.Trim(aws.ToString(out.ETag), `"`); len(etag) == 32 && !strings.EqualFold(etag, hex.EncodeToString(md5)) {
		return t.fail(ctx, "put", name, fmt.Errorf("the service stored bytes whose MD5 is %s, not %x", etag, md5))
	}
	return nil
}

func (t *s3Target) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, t.fail(ctx, "get", name, err)
	}
	if off < 0 {
		return nil, t.fail(ctx, "get", name, fmt.Errorf("negative offset %d", off))
	}
	key := aws.String(t.prefix + name)
	if n == 0 {
		// No Range names zero bytes; ask whether the object exists instead.
		if _, err := t.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &t.bucket, Key: key}); err != nil {
			return nil, t.fail(ctx, "get", name, err)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: &t.bucket, Key: key}
	switch {
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	out, err := t.c.GetObject(ctx, in)
	if err != nil {
		return nil, t.fail(ctx, "get", name, err)
	}
	return &readCloser{ReadCloser: out.Body, wrap: func(err error) error { return t.fail(ctx, "get", name, err) }}, nil
}

func (t *s3Target) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return t.fail(ctx, "delete", name, err)
	}
	// S3 answers 204 for an absent key too; NoSuchKey is for services
	// that say so.
	_, err := t.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &t.bucket, Key: aws.String(t.prefix + name)})
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey" {
		return nil
	}
	return t.fail(ctx, "delete", name, err)
}

func (t *s3Target) List(ctx context.Context, prefix string, fn func(name string, size int64) error) error {
	p := s3.NewListObjectsV2Paginator(t.c, &s3.ListObjectsV2Input{Bucket: &t.bucket, Prefix: aws.String(t.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return t.fail(ctx, "list", prefix, err)
		}
		// The service lists in name order (UTF-8 binary), so does fn see them.
		for _, o := range page.Contents {
			if o.Key == nil {
				continue
			}
			if err := fn(strings.TrimPrefix(*o.Key, t.prefix), aws.ToInt64(o.Size)); err != nil {
				return err
			}
		}
	}
	return nil
}

// fail makes err, from the SDK (or our own checks), the opError of op.
func (t *s3Target) fail(ctx context.Context, op, name string, err error) error {
	e := &opError{target: t.desc, op: op, name: name, err: err}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		e.msg = s3Message(status, ae)
		code := ae.ErrorCode()
		// A missing bucket is a missing object too, for a reader.
		e.notFound = op == "get" && (status == http.StatusNotFound || code == "NoSuchKey" || code == "NoSuchBucket" || code == "NotFound")
	case status != 0:
		e.msg = fmt.Sprintf("%d %s", status, http.StatusText(status))
		e.notFound = op == "get" && status == http.StatusNotFound
	default:
		e.msg = netMessage(err)
	}
	endOfContext(ctx, e)
	return e
}

// s3Message is "404 NoSuchKey: The specified key does not exist." from an
// S3 error response (an answer to HEAD has no body, so no message).
func s3Message(status int, ae smithy.APIError) string {
	msg := ae.ErrorCode()
	if status != 0 {
		msg = fmt.Sprintf("%d %s", status, msg)
	}
	if m := ae.ErrorMessage(); m != "" {
		msg += ": " + m
	}
	return shorten(msg)
}

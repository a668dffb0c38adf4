package conformance

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// newClient returns an SDK client for the target with the settings a
// program gets from config.LoadDefaultConfig (request checksums and response
// validation WhenSupported: s3.New alone leaves them unset, which sends no
// checksum) except: path-style addressing and no retries, so that a failure
// is seen as it happened.
func newClient(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	o := defaultOptions(tgt.endpoint)
	o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(5 * time.Minute)
	return s3.New(o, optFns...)
}

func defaultOptions(endpoint string) s3.Options {
	return s3.Options{
		Region:                     tgt.region,
		Credentials:                credentials.NewStaticCredentialsProvider(tgt.accessKey, tgt.secretKey, ""),
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
}

// withCreds returns an option that signs with the given keys.
func withCreds(ak, sk string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, "")
	}
}

// tlsFront is an HTTPS reverse proxy in front of the target. The SDK sends
// checksums as aws-chunked trailers (STREAMING-UNSIGNED-PAYLOAD-TRAILER) only
// over HTTPS, so this is how its default upload path reaches a plain-HTTP
// server. It passes requests through unchanged, Host header included (it is
// signed), and records the headers of each request it forwards.
type tlsFront struct {
	srv *httptest.Server
	mu  struct {
		sync.Mutex
		seen []http.Header
	}
}

func newTLSFront(t testing.TB) *tlsFront {
	t.Helper()
	backend, err := url.Parse(tgt.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFront{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Host = r.In.Host
			f.mu.Lock()
			f.mu.seen = append(f.mu.seen, r.In.Header.Clone())
			f.mu.Unlock()
		},
	}
	f.srv = httptest.NewUnstartedServer(proxy)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// client returns an SDK client (default settings) that talks to the target
// through the proxy over HTTPS.
func (f *tlsFront) client(optFns ...func(*s3.Options)) *s3.Client {
	tr := f.srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	o := defaultOptions(f.srv.URL)
	o.HTTPClient = &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	return s3.New(o, optFns...)
}

// requests returns the headers of the requests forwarded so far.
func (f *tlsFront) requests() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.mu.seen...)
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// bucketName returns a fresh valid bucket name that says which test made it.
func bucketName(t testing.TB) string {
	var r [4]byte
	rand.Read(r[:])
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	base = strings.TrimPrefix(base, "test")
	if len(base) > 42 {
		base = base[:42]
	}
	return strings.Trim("cf-"+strings.Trim(base, "-"), "-") + "-" + hex.EncodeToString(r[:])
}

// newBucket creates a uniquely named bucket and removes it, with everything
// in it, when the test ends.
func newBucket(t testing.TB, c *s3.Client) string {
	t.Helper()
	b := bucketName(t)
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b}); err != nil {
		t.Fatalf("CreateBucket %s: %v", b, err)
	}
	cleanupBucket(t, c, b)
	return b
}

// cleanupBucket registers the removal of bucket b (versions, delete markers,
// uploads, then the bucket) at the end of the test. A failure to clean up is
// logged, not failed: the tests of those operations report it.
func cleanupBucket(t testing.TB, c *s3.Client, b string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := emptyBucket(ctx, c, b); err != nil {
			if isCode(err, "NoSuchBucket") {
				return
			}
			t.Logf("cleanup: emptying %s: %v", b, err)
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b}); err != nil && !isCode(err, "NoSuchBucket") {
			t.Logf("cleanup: DeleteBucket %s: %v", b, err)
		}
	})
}

// emptyBucket removes every version, delete marker and multipart upload of b.
func emptyBucket(ctx context.Context, c *s3.Client, b string) error {
	var errs []error
	up := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: &b})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, u := range page.Uploads {
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b, Key: u.Key, UploadId: u.UploadId}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var keyMarker, versionMarker *string
	for {
		// encoding-type=url, so that keys XML cannot carry come back whole.
		page, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &b, KeyMarker: keyMarker, VersionIdMarker: versionMarker, EncodingType: types.EncodingTypeUrl})
		if err != nil {
			errs = append(errs, err)
			break
		}
		key := func(k *string) *string {
			if page.EncodingType != types.EncodingTypeUrl {
				return k
			}
			if d, err := url.QueryUnescape(aws.ToString(k)); err == nil {
				return &d
			}
			return k
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: key(v.Key), VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: key(m.Key), VersionId: m.VersionId})
		}
		for _, id := range ids {
			// Bypass: the object lock tests lock versions in GOVERNANCE mode.
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: id.Key, VersionId: id.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err != nil {
				errs = append(errs, err)
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		keyMarker, versionMarker = key(page.NextKeyMarker), page.NextVersionIdMarker
	}
	// A server whose ListObjectVersions is broken still gets its current
	// objects removed.
	lp := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &b})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: o.Key}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// isCode reports whether err is an S3 error with the given code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// httpStatus returns the HTTP status of a failed SDK call, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// responseHeader returns a header of the response a failed SDK call got.
func responseHeader(err error, name string) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

// wantErr fails t unless err is an S3 error with the HTTP status and, when
// code is not empty, the error code given. what names the request.
func wantErr(t testing.TB, err error, status int, code, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want HTTP %d %s", what, status, code)
		return
	}
	got := httpStatus(err)
	var ae smithy.APIError
	gotCode := ""
	if errors.As(err, &ae) {
		gotCode = ae.ErrorCode()
	}
	if got != status || (code != "" && gotCode != code) {
		t.Errorf("%s: got HTTP %d %q; want HTTP %d %q (error: %v)", what, got, gotCode, status, code, err)
	}
}

// wantErrOneOf is wantErr where S3 implementations legitimately differ in
// the code.
func wantErrOneOf(t testing.TB, err error, status int, codes []string, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want HTTP %d %v", what, status, codes)
		return
	}
	var ae smithy.APIError
	gotCode := ""
	if errors.As(err, &ae) {
		gotCode = ae.ErrorCode()
	}
	got := httpStatus(err)
	ok := got == status
	if ok {
		ok = false
		for _, c := range codes {
			ok = ok || c == gotCode
		}
	}
	if !ok {
		t.Errorf("%s: got HTTP %d %q; want HTTP %d and one of %v (error: %v)", what, got, gotCode, status, codes, err)
	}
}

// must fails the test now when err is not nil.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ctxTimeout returns a context for one step, canceled when the test ends.
func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

package conformance

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lifecycleDay is how long a lifecycle day lasts on the Cairn TestMain
// starts (--lifecycle-day).
const lifecycleDay = 2 * time.Second

func TestBucketLifecycleConfiguration(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	ctx := t.Context()

	_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchLifecycleConfiguration", "GetBucketLifecycleConfiguration of a bucket without one")

	rules := []types.LifecycleRule{{
		ID:         aws.String("logs"),
		Status:     types.ExpirationStatusEnabled,
		Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)},
	}, {
		ID:                             aws.String("uploads"),
		Status:                         types.ExpirationStatusEnabled,
		Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
		AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)},
	}}
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: &b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &b})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 2 || aws.ToString(got.Rules[0].ID) != "logs" || got.Rules[0].Expiration == nil ||
		aws.ToInt32(got.Rules[0].Expiration.Days) != 30 || got.Rules[1].AbortIncompleteMultipartUpload == nil {
		t.Errorf("GetBucketLifecycleConfiguration = %+v", got.Rules)
	}

	// x-amz-expiration on PUT and HEAD of what a rule will expire.
	out := put(t, c, b, "logs/a", []byte("x"))
	if !strings.Contains(aws.ToString(out.Expiration), `rule-id="logs"`) {
		t.Errorf("PutObject Expiration = %q", aws.ToString(out.Expiration))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("logs/a")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(head.Expiration), "expiry-date=") {
		t.Errorf("HeadObject Expiration = %q", aws.ToString(head.Expiration))
	}

	// Bad configurations are refused and change nothing.
	_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: &b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("zero"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(0)},
		}}},
	})
	wantErr(t, err, 400, "InvalidArgument", "Expiration Days 0")
	doc := []byte(`<LifecycleConfiguration><Rule><ID>r</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`)
	resp, body := rawRequest{method: "PUT", path: "/" + b, query: url.Values{"lifecycle": {""}}, body: doc}.do(t)
	wantRawError(t, resp, body, 400, "InvalidRequest", "PutBucketLifecycleConfiguration without Content-MD5")
	if got, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &b}); err != nil || len(got.Rules) != 2 {
		t.Errorf("after refused configurations: %v rules, %v", len(got.Rules), err)
	}

	if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: &b}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchLifecycleConfiguration", "GetBucketLifecycleConfiguration after DeleteBucketLifecycle")
}

// TestLifecycleExpirationEndToEnd sets rules with the aws CLI, lets a
// (short) lifecycle day pass, runs the scanner with `cairn admin lifecycle
// run` and checks what went and what stayed, in a versioned bucket.
func TestLifecycleExpirationEndToEnd(t *testing.T) {
	t.Parallel()
	requireCairn(t, "the lifecycle day is a Cairn setting")
	skipShort(t)
	cli := newAWSCLI(t)
	c := newClient(t)
	b := newBucket(t, c)
	ctx := t.Context()
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "lc.json")
	if err := os.WriteFile(cfg, []byte(`{"Rules": [
		{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
		 "Expiration": {"Days": 1}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
		{"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
		 "Expiration": {"ExpiredObjectDeleteMarker": true},
		 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli.run(time.Minute, "s3api", "put-bucket-lifecycle-configuration", "--bucket", b, "--lifecycle-configuration", "file://"+cfg)
	if out := cli.run(time.Minute, "s3api", "get-bucket-lifecycle-configuration", "--bucket", b); !strings.Contains(out, `"markers"`) {
		t.Fatalf("aws s3api get-bucket-lifecycle-configuration:\n%s", out)
	}
	put(t, c, b, "tmp/a", []byte("one"))
	put(t, c, b, "tmp/a", []byte("two"))
	put(t, c, b, "keep/b", []byte("kept"))
	uploads := map[string]string{}
	for _, key := range []string{"tmp/u", "keep/u"} {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: strings.NewReader("part")}); err != nil {
			t.Fatal(err)
		}
		uploads[key] = *up.UploadId
	}
	time.Sleep(2 * lifecycleDay)

	out := string(cairnAdmin(t, "lifecycle", "run", b))
	if !strings.Contains(out, "1 expired, 1 noncurrent expired") || !strings.Contains(out, "1 uploads aborted") {
		t.Errorf("cairn admin lifecycle run said:\n%s", out)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 1 || *ups.Uploads[0].Key != "keep/u" {
		t.Errorf("uploads after the run: %+v", ups.Uploads)
	}
	if _, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: &b, Key: aws.String("tmp/u"), UploadId: aws.String(uploads["tmp/u"])}); httpStatus(err) != 404 {
		t.Errorf("ListParts of the aborted upload: %v, want 404 NoSuchUpload", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b, Key: aws.String("keep/u"), UploadId: aws.String(uploads["keep/u"])}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("tmp/a")}); httpStatus(err) != 404 {
		t.Errorf("HEAD tmp/a after expiry: %v, want 404", err)
	}
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("keep/b")}); string(got) != "kept" {
		t.Errorf("keep/b = %q", got)
	}
	// A day on, the last noncurrent version goes, then its lone marker.
	time.Sleep(2 * lifecycleDay)
	out = string(cairnAdmin(t, "lifecycle", "run", b))
	if !strings.Contains(out, "1 noncurrent expired, 1 delete markers removed") {
		t.Errorf("second cairn admin lifecycle run said:\n%s", out)
	}
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &b, Prefix: aws.String("tmp/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions)+len(vs.DeleteMarkers) != 0 {
		t.Errorf("tmp/ still has %d versions and %d delete markers", len(vs.Versions), len(vs.DeleteMarkers))
	}
	if st := string(cairnAdmin(t, "lifecycle", "status")); !strings.Contains(st, b) {
		t.Errorf("cairn admin lifecycle status does not list %s:\n%s", b, st)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("keep/b")}); err != nil {
		t.Fatal(err)
	}
}

package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// newSiteWith is newSite with a configuration of the test's own.
func newSiteWith(t *testing.T, cfg Config) *site {
	t.Helper()
	s := &site{cfg: cfg}
	s.serve(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.c = s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("rootkey", "rootsecret", ""),
	})
	return s
}

// wantAPIError fails unless err is an S3 error with code and status.
func wantAPIError(t *testing.T, err error, code string, status int, what string) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("%s: %v, want %d %s", what, err, status, code)
	}
}

// lockBucket makes a bucket with object lock through CreateBucket, as a
// backup tool's admin would.
func lockBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

func putLocked(t *testing.T, c *s3.Client, bucket, key string, data []byte, mode types.ObjectLockMode, until time.Time, hold bool) string {
	t.Helper()
	// A checksum, which S3 requires of a write that lock keeps (the SDK
	// sends none of its own over plain HTTP).
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}
	if mode != "" {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = mode, aws.Time(until)
	}
	if hold {
		in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
	}
	out, err := c.PutObject(t.Context(), in)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return aws.ToString(out.VersionId)
}

func deleteVersion(c *s3.Client, t *testing.T, bucket, key, vid string, bypass bool) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(vid)}
	if bypass {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	_, err := c.DeleteObject(t.Context(), in)
	return err
}

func readVersion(t *testing.T, c *s3.Client, bucket, key, vid string) []byte {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(vid)})
	if err != nil {
		t.Fatalf("get %s %s: %v", key, vid, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObjectLockBucketConfiguration: CreateBucket with lock turns
// versioning on for good; a bucket without lock has no configuration; lock
// can be enabled on an existing bucket once its versioning is Enabled;
// malformed configurations are refused and change nothing.
func TestObjectLockBucketConfiguration(t *testing.T) {
	s := newSite(t)
	c, ctx := s.c, t.Context()
	lockBucket(t, c, "worm")
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("worm")})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning of a lock bucket: %+v, %v", v, err)
	}
	cfg, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("worm")})
	if err != nil || cfg.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled || cfg.ObjectLockConfiguration.Rule != nil {
		t.Fatalf("GetObjectLockConfiguration: %+v, %v", cfg, err)
	}
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("worm"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	wantAPIError(t, err, "InvalidBucketState", 409, "suspending versioning on a lock bucket")

	// A default rule, then the bad ones, which leave it in place.
	put := func(rule *types.ObjectLockRule) error {
		_, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("worm"),
			ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: rule}})
		return err
	}
	if err := put(&types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Years: aws.Int32(2)}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		rule   *types.ObjectLockRule
		code   string
		status int
	}{
		{"days and years", &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1), Years: aws.Int32(1)}}, "MalformedXML", 400},
		{"no period", &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance}}, "MalformedXML", 400},
		{"bad mode", &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: "FOREVER", Days: aws.Int32(1)}}, "MalformedXML", 400},
		{"zero days", &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(0)}}, "InvalidArgument", 400},
		{"negative years", &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Years: aws.Int32(-1)}}, "InvalidArgument", 400},
		{"rule without retention", &types.ObjectLockRule{}, "MalformedXML", 400},
	} {
		wantAPIError(t, put(tc.rule), tc.code, tc.status, tc.name)
	}
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("worm"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{}})
	wantAPIError(t, err, "MalformedXML", 400, "a configuration that does not enable lock")
	cfg, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("worm")})
	if err != nil || cfg.ObjectLockConfiguration.Rule == nil || cfg.ObjectLockConfiguration.Rule.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance ||
		aws.ToInt32(cfg.ObjectLockConfiguration.Rule.DefaultRetention.Years) != 2 || cfg.ObjectLockConfiguration.Rule.DefaultRetention.Days != nil {
		t.Fatalf("the configuration after refused changes: %+v, %v", cfg.ObjectLockConfiguration, err)
	}

	// A bucket without lock.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	wantAPIError(t, err, "ObjectLockConfigurationNotFoundError", 404, "GetObjectLockConfiguration without lock")
	err = put(nil) // still on worm: no rule is no default retention
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	wantAPIError(t, err, "InvalidBucketState", 409, "lock on a bucket without versioning")
	s.put(t, "plain", "k", []byte("x"), "")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k2"), Body: strings.NewReader("x"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))})
	wantAPIError(t, err, "InvalidRequest", 400, "a PUT with lock headers in a bucket without lock")
	if !strings.Contains(err.Error(), "Bucket is missing Object Lock Configuration") {
		t.Fatalf("a PUT with lock headers in a bucket without lock: %v", err)
	}
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("plain"), Key: aws.String("k"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(time.Hour))}})
	wantAPIError(t, err, "InvalidRequest", 400, "PutObjectRetention in a bucket without lock")
	_, err = c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	wantAPIError(t, err, "InvalidRequest", 400, "GetObjectLegalHold in a bucket without lock")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("plain"), Key: aws.String("k2")}); err == nil {
		t.Fatal("the refused PUT stored an object")
	}
	// S3 allows lock on an existing bucket once versioning is Enabled.
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("plain"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}}); err != nil {
		t.Fatalf("lock on an existing versioned bucket: %v", err)
	}
	// Its object from before has no retention.
	_, err = c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	wantAPIError(t, err, "NoSuchObjectLockConfiguration", 404, "GetObjectRetention of a version without one")
	_, err = c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	wantAPIError(t, err, "NoSuchObjectLockConfiguration", 404, "GetObjectLegalHold of a version without one")
}

// TestObjectLockRetention: default retention applies to new versions;
// GOVERNANCE yields to bypass only; COMPLIANCE can only be extended, not
// shortened, removed, turned into GOVERNANCE, nor deleted through, even by
// the root key with bypass; HEAD and GET show the lock; a DELETE without a
// version ID adds a delete marker; once retention has passed the version
// can be deleted.
func TestObjectLockRetention(t *testing.T) {
	s := newSite(t)
	c, ctx := s.c, t.Context()
	lockBucket(t, c, "worm")
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("worm"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}

	// Default retention: GOVERNANCE for a day from now.
	before := time.Now()
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("worm"), Key: aws.String("gov"), Body: strings.NewReader("governed")})
	wantAPIError(t, err, "InvalidRequest", 400, "a PUT without a digest into a bucket with default retention")
	gov := putLocked(t, c, "worm", "gov", []byte("governed"), "", time.Time{}, false)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("gov")})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil ||
		head.ObjectLockRetainUntilDate.Before(before.Add(24*time.Hour-time.Second)) || head.ObjectLockRetainUntilDate.After(time.Now().Add(24*time.Hour+time.Second)) {
		t.Fatalf("HEAD of a default-retained version: %+v, %v", head, err)
	}
	wantAPIError(t, deleteVersion(c, t, "worm", "gov", gov, false), "AccessDenied", 403, "deleting a GOVERNANCE version")
	// Shortening GOVERNANCE needs bypass; extending does not.
	shorter := time.Now().Add(time.Hour).Truncate(time.Second)
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("gov"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(shorter)}})
	wantAPIError(t, err, "AccessDenied", 403, "shortening GOVERNANCE without bypass")
	if _, err := c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("gov"), BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(shorter)}}); err != nil {
		t.Fatalf("shortening GOVERNANCE with bypass: %v", err)
	}
	ret, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("gov"), VersionId: aws.String(gov)})
	if err != nil || ret.Retention.Mode != types.ObjectLockRetentionModeGovernance || !ret.Retention.RetainUntilDate.Equal(shorter) {
		t.Fatalf("GetObjectRetention: %+v, %v", ret.Retention, err)
	}
	// A DELETE without a version ID only hides it.
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("worm"), Key: aws.String("gov")})
	if err != nil || !aws.ToBool(del.DeleteMarker) {
		t.Fatalf("DELETE without version ID: %+v, %v", del, err)
	}
	if got := readVersion(t, c, "worm", "gov", gov); string(got) != "governed" {
		t.Fatalf("the version behind the marker: %q", got)
	}
	if err := deleteVersion(c, t, "worm", "gov", gov, true); err != nil {
		t.Fatalf("deleting a GOVERNANCE version with bypass: %v", err)
	}

	// COMPLIANCE from the headers of a PUT.
	until := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	comp := putLocked(t, c, "worm", "comp", []byte("compliant"), types.ObjectLockModeCompliance, until, false)
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("comp")})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeCompliance || !head.ObjectLockRetainUntilDate.Equal(until) {
		t.Fatalf("HEAD of a COMPLIANCE version: %+v, %v", head, err)
	}
	for _, tc := range []struct {
		name string
		ret  *types.ObjectLockRetention
	}{
		{"shortening COMPLIANCE", &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(-time.Hour))}},
		{"COMPLIANCE to GOVERNANCE", &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until.Add(time.Hour))}},
		{"removing COMPLIANCE", &types.ObjectLockRetention{}},
	} {
		_, err := c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("comp"), BypassGovernanceRetention: aws.Bool(true), Retention: tc.ret})
		wantAPIError(t, err, "AccessDenied", 403, tc.name+" (root, with bypass)")
	}
	wantAPIError(t, deleteVersion(c, t, "worm", "comp", comp, true), "AccessDenied", 403, "deleting a COMPLIANCE version (root, with bypass)")
	later := until.Add(24 * time.Hour)
	if _, err := c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("comp"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(later)}}); err != nil {
		t.Fatalf("extending COMPLIANCE: %v", err)
	}
	if got := readVersion(t, c, "worm", "comp", comp); string(got) != "compliant" {
		t.Fatalf("COMPLIANCE version: %q", got)
	}

	// Bad headers and documents.
	for _, tc := range []struct {
		name   string
		in     *s3.PutObjectInput
		code   string
		status int
	}{
		{"mode without date", &s3.PutObjectInput{ObjectLockMode: types.ObjectLockModeGovernance}, "InvalidArgument", 400},
		{"date without mode", &s3.PutObjectInput{ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))}, "InvalidArgument", 400},
		{"date in the past", &s3.PutObjectInput{ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(-time.Hour))}, "InvalidArgument", 400},
		{"unknown mode", &s3.PutObjectInput{ObjectLockMode: "FOREVER", ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))}, "InvalidArgument", 400},
		{"bad legal hold", &s3.PutObjectInput{ObjectLockLegalHoldStatus: "MAYBE"}, "InvalidArgument", 400},
	} {
		tc.in.Bucket, tc.in.Key, tc.in.Body = aws.String("worm"), aws.String("bad"), strings.NewReader("x")
		_, err := c.PutObject(ctx, tc.in)
		wantAPIError(t, err, tc.code, tc.status, tc.name)
	}
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("comp"),
		Retention: &types.ObjectLockRetention{Mode: "FOREVER", RetainUntilDate: aws.Time(later.Add(time.Hour))}})
	wantAPIError(t, err, "MalformedXML", 400, "PutObjectRetention with an unknown mode")
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("comp"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(time.Now().Add(-time.Hour))}})
	wantAPIError(t, err, "InvalidArgument", 400, "PutObjectRetention with a date in the past")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("bad")}); err == nil {
		t.Fatal("a refused PUT stored an object")
	}

	// Retention passes: the version can go. The server's clock decides;
	// the test waits for it.
	soon := time.Now().Add(1500 * time.Millisecond)
	short := putLocked(t, c, "worm", "short", []byte("brief"), types.ObjectLockModeCompliance, soon, false)
	wantAPIError(t, deleteVersion(c, t, "worm", "short", short, true), "AccessDenied", 403, "deleting before retention passed")
	for time.Now().Before(soon.Add(10 * time.Millisecond)) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := deleteVersion(c, t, "worm", "short", short, false); err != nil {
		t.Fatalf("deleting after retention passed: %v", err)
	}
}

// TestObjectLockLegalHold: a legal hold blocks deletion whatever the
// retention (none, or removed with bypass), and lifting it lets the
// version go.
func TestObjectLockLegalHold(t *testing.T) {
	s := newSite(t)
	c, ctx := s.c, t.Context()
	lockBucket(t, c, "worm")
	held := putLocked(t, c, "worm", "held", []byte("evidence"), "", time.Time{}, true)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("held")})
	if err != nil || head.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn || head.ObjectLockMode != "" {
		t.Fatalf("HEAD of a held version: %+v, %v", head, err)
	}
	wantAPIError(t, deleteVersion(c, t, "worm", "held", held, true), "AccessDenied", 403, "deleting a held version with bypass")
	plain := s.put(t, "worm", "later", []byte("x"), "")
	if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("worm"), Key: aws.String("later"), VersionId: aws.String(plain),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	lh, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("worm"), Key: aws.String("later")})
	if err != nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("GetObjectLegalHold: %+v, %v", lh, err)
	}
	wantAPIError(t, deleteVersion(c, t, "worm", "later", plain, false), "AccessDenied", 403, "deleting a version put on hold")
	_, err = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("worm"), Key: aws.String("later"),
		LegalHold: &types.ObjectLockLegalHold{Status: "MAYBE"}})
	wantAPIError(t, err, "MalformedXML", 400, "a legal hold of MAYBE")
	for _, key := range []string{"held", "later"} {
		if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("worm"), Key: aws.String(key),
			LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
			t.Fatal(err)
		}
	}
	lh, err = c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("worm"), Key: aws.String("held")})
	if err != nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOff {
		t.Fatalf("GetObjectLegalHold after OFF: %+v, %v", lh, err)
	}
	if err := deleteVersion(c, t, "worm", "held", held, false); err != nil {
		t.Fatalf("deleting after the hold was lifted: %v", err)
	}
	if err := deleteVersion(c, t, "worm", "later", plain, false); err != nil {
		t.Fatalf("deleting after the hold was lifted: %v", err)
	}
}

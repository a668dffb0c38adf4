package conformance

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Object lock (WORM). These tests lock with GOVERNANCE (which the cleanup
// deletes through with x-amz-bypass-governance-retention) or with
// COMPLIANCE for a few seconds they wait out, so every bucket can be
// removed when its test ends.

// newLockBucket creates a bucket with object lock, removed at the end.
func newLockBucket(t *testing.T, c *s3.Client) string {
	t.Helper()
	b := bucketName(t)
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b, ObjectLockEnabledForBucket: aws.Bool(true)})
	must(t, err, "CreateBucket with object lock")
	cleanupBucket(t, c, b)
	return b
}

// TestObjectLockConfiguration: CreateBucket with
// x-amz-bucket-object-lock-enabled turns versioning on for good; the
// configuration reads back; the errors of a bucket without lock and of bad
// documents are S3's.
func TestObjectLockConfiguration(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	b := newLockBucket(t, c)
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b})
	must(t, err, "GetBucketVersioning")
	if v.Status != types.BucketVersioningStatusEnabled {
		t.Errorf("versioning of a lock bucket: %q, want Enabled", v.Status)
	}
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	wantErr(t, err, 409, "InvalidBucketState", "suspending versioning of a lock bucket")
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
	must(t, err, "PutObjectLockConfiguration")
	cfg, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &b})
	must(t, err, "GetObjectLockConfiguration")
	if r := cfg.ObjectLockConfiguration.Rule; cfg.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled || r == nil ||
		r.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance || aws.ToInt32(r.DefaultRetention.Days) != 1 {
		t.Errorf("GetObjectLockConfiguration: %+v", cfg.ObjectLockConfiguration)
	}
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1), Years: aws.Int32(1)}}}})
	wantErr(t, err, 400, "MalformedXML", "default retention with Days and Years")
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(0)}}}})
	wantErr(t, err, 400, "InvalidArgument", "default retention of 0 days")
	// Without Content-MD5 or a checksum.
	doc := []byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`)
	resp, body := rawRequest{method: "PUT", path: "/" + b, query: url.Values{"object-lock": {""}}, body: doc, payloadHash: "UNSIGNED-PAYLOAD"}.do(t)
	wantRawError(t, resp, body, 400, "InvalidRequest", "PutObjectLockConfiguration without Content-MD5")

	// A bucket without lock.
	plain := newBucket(t, c)
	_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &plain})
	wantErr(t, err, 404, "ObjectLockConfigurationNotFoundError", "GetObjectLockConfiguration of a bucket without lock")
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &plain,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	wantErr(t, err, 409, "InvalidBucketState", "PutObjectLockConfiguration on a bucket without versioning")
	put(t, c, plain, "k", []byte("x"))
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: &plain, Key: aws.String("k"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(time.Hour))}})
	wantErr(t, err, 400, "InvalidRequest", "PutObjectRetention in a bucket without lock")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &plain, Key: aws.String("k2"), Body: bytes.NewReader([]byte("x")),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))})
	wantErr(t, err, 400, "InvalidRequest", "PutObject with lock headers in a bucket without lock")
}

// TestObjectLockRetention: default and explicit retention show on HEAD;
// a locked version cannot be deleted (403 AccessDenied) but DELETE without
// a version ID adds a delete marker; GOVERNANCE yields to bypass;
// COMPLIANCE cannot be shortened even with it.
func TestObjectLockRetention(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	b := newLockBucket(t, c)
	_, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
	must(t, err, "PutObjectLockConfiguration")
	// With a default retention every PUT needs Content-MD5 or a checksum;
	// a signed payload hash is not enough.
	resp, body := rawRequest{method: "PUT", path: "/" + b + "/nodigest", body: []byte("x")}.do(t)
	wantRawError(t, resp, body, 400, "InvalidRequest", "PutObject without a digest into a bucket with default retention")
	pout, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("gov"), Body: bytes.NewReader([]byte("governed")), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	must(t, err, "PutObject with a checksum")
	gov := aws.ToString(pout.VersionId)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("gov")})
	must(t, err, "HeadObject")
	if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil || head.ObjectLockRetainUntilDate.Before(time.Now().Add(23*time.Hour)) {
		t.Errorf("HEAD of a default-retained version: mode %q until %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("gov"), VersionId: &gov})
	wantErr(t, err, 403, "AccessDenied", "DeleteObject of a GOVERNANCE version")
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("gov")})
	must(t, err, "DeleteObject without a version ID")
	if !aws.ToBool(del.DeleteMarker) {
		t.Error("DeleteObject without a version ID in a lock bucket made no delete marker")
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("gov"), VersionId: &gov, BypassGovernanceRetention: aws.Bool(true)})
	must(t, err, "DeleteObject of a GOVERNANCE version with bypass")

	until := time.Now().Add(4 * time.Second).Truncate(time.Second).Add(time.Second)
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("comp"), Body: bytes.NewReader([]byte("compliant")),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: &until})
	must(t, err, "PutObject with COMPLIANCE")
	comp := aws.ToString(out.VersionId)
	ret, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: &b, Key: aws.String("comp"), VersionId: &comp})
	must(t, err, "GetObjectRetention")
	if ret.Retention.Mode != types.ObjectLockRetentionModeCompliance || !ret.Retention.RetainUntilDate.Equal(until) {
		t.Errorf("GetObjectRetention: %+v, want COMPLIANCE until %v", ret.Retention, until)
	}
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: &b, Key: aws.String("comp"), VersionId: &comp, BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until.Add(time.Hour))}})
	wantErr(t, err, 403, "AccessDenied", "COMPLIANCE changed to GOVERNANCE")
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: &b, Key: aws.String("comp"), VersionId: &comp, BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(-time.Second))}})
	wantErr(t, err, 403, "AccessDenied", "COMPLIANCE shortened")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("comp"), VersionId: &comp, BypassGovernanceRetention: aws.Bool(true)})
	wantErr(t, err, 403, "AccessDenied", "DeleteObject of a COMPLIANCE version with bypass")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("bad"), Body: bytes.NewReader([]byte("x")),
		ObjectLockMode: types.ObjectLockModeCompliance})
	wantErr(t, err, 400, "InvalidArgument", "PutObject with a mode and no date")
	// A PUT with lock headers and neither Content-MD5 nor a checksum.
	resp, body = rawRequest{method: "PUT", path: "/" + b + "/raw", body: []byte("x"), payloadHash: "UNSIGNED-PAYLOAD",
		header: map[string]string{"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}.do(t)
	wantRawError(t, resp, body, 400, "InvalidRequest", "PutObject with lock headers and no digest")

	// Wait the COMPLIANCE retention out, so that the bucket can go.
	for time.Now().Before(until.Add(100 * time.Millisecond)) {
		time.Sleep(100 * time.Millisecond)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("comp"), VersionId: &comp})
	must(t, err, "DeleteObject once COMPLIANCE retention passed")
}

// TestObjectLockLegalHoldAndBatch: a legal hold blocks deletion with or
// without bypass; DeleteObjects with locked and unlocked versions deletes
// the unlocked and answers AccessDenied for each locked one.
func TestObjectLockLegalHoldAndBatch(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	b := newLockBucket(t, c)
	held := aws.ToString(put(t, c, b, "held", []byte("evidence")).VersionId)
	free := aws.ToString(put(t, c, b, "free", []byte("free")).VersionId)
	_, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: &b, Key: aws.String("held"), VersionId: &held,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
	must(t, err, "PutObjectLegalHold ON")
	lh, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: &b, Key: aws.String("held")})
	must(t, err, "GetObjectLegalHold")
	if lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Errorf("legal hold: %q", lh.LegalHold.Status)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("held")})
	must(t, err, "HeadObject")
	if head.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Errorf("HEAD legal hold: %q", head.ObjectLockLegalHoldStatus)
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, BypassGovernanceRetention: aws.Bool(true), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("held"), VersionId: &held}, {Key: aws.String("free"), VersionId: &free}}}})
	must(t, err, "DeleteObjects")
	if len(out.Deleted) != 1 || aws.ToString(out.Deleted[0].Key) != "free" || len(out.Errors) != 1 ||
		aws.ToString(out.Errors[0].Key) != "held" || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
		t.Errorf("DeleteObjects of a held and a free version: deleted %+v, errors %+v", out.Deleted, out.Errors)
	}
	_, err = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: &b, Key: aws.String("held"), VersionId: &held,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	must(t, err, "PutObjectLegalHold OFF")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("held"), VersionId: &held})
	must(t, err, "DeleteObject once the hold is lifted")
}

package gateway

// One test per path that could remove a locked version, each showing that
// it cannot: DeleteObjects, lifecycle expiration run by the scanner, the
// cleaner, replication (the source's deletes, and a replica that is told
// to drop one), overwrites; and the writes that make locked versions
// (multipart, copy).

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/replicator"
	"github.com/cairn-backup/cairn/s3api"
)

// TestObjectLockDeleteObjectsAndCleaner: a DeleteObjects batch mixing
// locked and unlocked versions deletes the unlocked ones and answers
// AccessDenied for each locked one; with bypass, GOVERNANCE goes but
// COMPLIANCE and legal hold stay. A cleaner run afterwards leaves every
// locked version readable, byte for byte.
func TestObjectLockDeleteObjectsAndCleaner(t *testing.T) {
	s := newSite(t)
	c, ctx := s.c, t.Context()
	lockBucket(t, c, "worm")
	until := time.Now().Add(time.Hour)
	data := map[string][]byte{}
	vids := map[string]string{}
	for i, tc := range []struct {
		key  string
		mode types.ObjectLockMode
		hold bool
	}{{"comp", types.ObjectLockModeCompliance, false}, {"gov", types.ObjectLockModeGovernance, false}, {"held", "", true}, {"free", "", false}} {
		data[tc.key] = random(uint64(100+i), 1<<20)
		vids[tc.key] = putLocked(t, c, "worm", tc.key, data[tc.key], tc.mode, until, tc.hold)
	}
	batch := func(bypass bool, keys ...string) (deleted, refused []string) {
		t.Helper()
		var objs []types.ObjectIdentifier
		for _, k := range keys {
			objs = append(objs, types.ObjectIdentifier{Key: aws.String(k), VersionId: aws.String(vids[k])})
		}
		in := &s3.DeleteObjectsInput{Bucket: aws.String("worm"), Delete: &types.Delete{Objects: objs}}
		if bypass {
			in.BypassGovernanceRetention = aws.Bool(true)
		}
		out, err := c.DeleteObjects(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.Deleted {
			deleted = append(deleted, aws.ToString(d.Key))
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "AccessDenied" {
				t.Fatalf("DeleteObjects error for %s: %s %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			refused = append(refused, aws.ToString(e.Key))
		}
		return deleted, refused
	}
	deleted, refused := batch(false, "comp", "gov", "held", "free")
	if strings.Join(deleted, ",") != "free" || strings.Join(refused, ",") != "comp,gov,held" {
		t.Fatalf("batch without bypass: deleted %q, refused %q", deleted, refused)
	}
	deleted, refused = batch(true, "comp", "gov", "held")
	if strings.Join(deleted, ",") != "gov" || strings.Join(refused, ",") != "comp,held" {
		t.Fatalf("batch with bypass: deleted %q, refused %q", deleted, refused)
	}
	// Single deletes are refused too; then the cleaner runs.
	for _, k := range []string{"comp", "held"} {
		wantAPIError(t, deleteVersion(c, t, "worm", k, vids[k], true), "AccessDenied", 403, "delete "+k)
	}
	if _, err := s.g.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"comp", "held"} {
		if got := readVersion(t, c, "worm", k, vids[k]); !bytes.Equal(got, data[k]) {
			t.Fatalf("%s after the cleaner: %d bytes, want its %d", k, len(got), len(data[k]))
		}
	}
	// An overwrite in a lock bucket is a new version: the locked one stays.
	s.put(t, "worm", "comp", []byte("new"), "")
	if got := readVersion(t, c, "worm", "comp", vids["comp"]); !bytes.Equal(got, data["comp"]) {
		t.Fatal("an overwrite replaced a locked version")
	}
	// The bucket cannot go while locked versions are in it.
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("worm")})
	wantAPIError(t, err, "BucketNotEmpty", 409, "deleting a bucket holding locked versions")
}

// TestObjectLockLifecycle: lifecycle rules that expire current and
// noncurrent versions run by the scanner: an unlocked key goes entirely;
// a locked version survives every run (its current expiration only adds a
// delete marker, as S3's does), counted as skipped, and stays readable
// after the cleaner.
func TestObjectLockLifecycle(t *testing.T) {
	s := newSiteWith(t, lifecycleConfig(t))
	c, ctx := s.c, t.Context()
	lockBucket(t, c, "worm")
	putLifecycle(t, s.g, "worm", `<Rule><ID>r</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>`)
	data := random(7, 1<<20)
	locked := putLocked(t, c, "worm", "locked", data, types.ObjectLockModeCompliance, time.Now().Add(time.Hour), false)
	s.put(t, "worm", "free", []byte("free"), "")
	var skipped int64
	for range 5 {
		time.Sleep(2 * lifecycleDay)
		skipped += runLifecycle(t, s.g, "worm").LockedSkipped
	}
	if got := strings.Join(versionsOf(t, s.g, "worm", "free"), ","); got != "" {
		t.Fatalf("the unlocked key after the runs: %q, want nothing", got)
	}
	if got := strings.Join(versionsOf(t, s.g, "worm", "locked"), ","); got != "dm,v" {
		t.Fatalf("the locked key after the runs: %q, want dm,v", got)
	}
	if skipped == 0 {
		t.Fatal("no run counted the locked version it skipped")
	}
	if _, err := s.g.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readVersion(t, c, "worm", "locked", locked); !bytes.Equal(got, data) {
		t.Fatal("the locked version changed")
	}
}

// TestObjectLockReplication: versions replicate with their retention and
// legal hold; the source's delete of an unlocked version applies at the
// replica while its delete of a locked one is refused at the source; lock
// changes replicate as metadata; a replica told to drop a COMPLIANCE
// version (which no source could send) refuses.
func TestObjectLockReplication(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	lockBucket(t, src.c, "worm")
	defaultGovernance(t, src.c, "worm")
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "worm", Remote: "dr", ReplicaBucket: "worm-dr", DeleteMarkers: true}); err != nil {
		t.Fatal(err)
	}
	// The replica keeps its source's configuration.
	cfg, err := dst.c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("worm-dr")})
	if err != nil || cfg.ObjectLockConfiguration.Rule == nil || cfg.ObjectLockConfiguration.Rule.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance {
		t.Fatalf("the replica's lock configuration: %+v, %v", cfg, err)
	}
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	comp := putLocked(t, src.c, "worm", "comp", []byte("compliant"), types.ObjectLockModeCompliance, until, false)
	held := putLocked(t, src.c, "worm", "held", []byte("held"), "", time.Time{}, true)
	free := putLocked(t, src.c, "worm", "free", []byte("free"), "", time.Time{}, false) // GOVERNANCE by default
	if _, err := src.g.RunReplication(ctx, "worm"); err != nil {
		t.Fatal(err)
	}
	head := func(key, vid string) *s3.HeadObjectOutput {
		t.Helper()
		out, err := dst.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm-dr"), Key: aws.String(key), VersionId: aws.String(vid)})
		if err != nil {
			t.Fatalf("replica HEAD %s: %v", key, err)
		}
		return out
	}
	if h := head("comp", comp); h.ObjectLockMode != types.ObjectLockModeCompliance || !h.ObjectLockRetainUntilDate.Equal(until) {
		t.Fatalf("replica of a COMPLIANCE version: mode %q until %v", h.ObjectLockMode, h.ObjectLockRetainUntilDate)
	}
	if h := head("held", held); h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("replica of a held version: %q", h.ObjectLockLegalHoldStatus)
	}

	wantAPIError(t, deleteVersion(src.c, t, "worm", "comp", comp, true), "AccessDenied", 403, "source delete of a COMPLIANCE version")
	if err := deleteVersion(src.c, t, "worm", "free", free, true); err != nil {
		t.Fatal(err)
	}
	later := until.Add(24 * time.Hour)
	if _, err := src.c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String("comp"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(later)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("worm"), Key: aws.String("held"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.g.RunReplication(ctx, "worm"); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm-dr"), Key: aws.String("free"), VersionId: aws.String(free)}); err == nil {
		t.Fatal("the source's delete of an unlocked version did not reach the replica")
	}
	if h := head("comp", comp); !h.ObjectLockRetainUntilDate.Equal(later) {
		t.Fatalf("replica retention after an extension: %v, want %v", h.ObjectLockRetainUntilDate, later)
	}
	if h := head("held", held); h.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn {
		t.Fatal("replica legal hold still on after the source lifted it")
	}
	// The replica answers reads of its versions' locks.
	ret, err := dst.c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("worm-dr"), Key: aws.String("comp"), VersionId: aws.String(comp)})
	if err != nil || ret.Retention.Mode != types.ObjectLockRetentionModeCompliance || !ret.Retention.RetainUntilDate.Equal(later) {
		t.Fatalf("replica GetObjectRetention: %+v, %v", ret, err)
	}
	_, err = dst.c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("worm-dr"), Key: aws.String("comp"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
	wantAPIError(t, err, "AccessDenied", 403, "a client's legal hold in the replica")
	// Clients cannot delete in a replica; and a forged drop is refused.
	wantAPIError(t, deleteVersion(dst.c, t, "worm-dr", "comp", comp, true), "AccessDenied", 403, "a client's delete in the replica")
	var seq []byte
	err = dst.g.viewBucket("worm-dr", func(_ *chunkstore.Tx, k *bkt) error {
		v, err := k.find("comp", comp)
		seq = v.seq
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []replOp{
		{Op: replDrop, Key: "comp", Seq: seq},
		{Op: replLock, Key: "comp", Seq: seq, Rec: &versionRecord{}},
	} {
		doc, _ := json.Marshal(op)
		err = replTarget{g: dst.g}.Apply(ctx, "worm-dr", doc)
		var te *replicator.TargetError
		if !errors.As(err, &te) || te.Code != "ObjectLocked" {
			t.Fatalf("the replica applying %s of a COMPLIANCE version: %v", op.Op, err)
		}
	}
	if h := head("comp", comp); h.ObjectLockMode != types.ObjectLockModeCompliance {
		t.Fatal("the replica's version lost its lock")
	}
}

// defaultGovernance gives a lock bucket a default GOVERNANCE retention of
// a day.
func defaultGovernance(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.PutObjectLockConfiguration(t.Context(), &s3.PutObjectLockConfigurationInput{Bucket: aws.String(bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
}

// TestObjectLockReverse: a reversal makes the replica a source with its
// old source's lock configuration, so writes after a failover are locked
// as before it.
func TestObjectLockReverse(t *testing.T) {
	a, b := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := a.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: b.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.g.AddRemote(ctx, RemoteConfig{Name: "home", Endpoint: a.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	lockBucket(t, a.c, "worm")
	if err := a.g.AddReplication(ctx, ReplicationSpec{Bucket: "worm", Remote: "dr", ReplicaBucket: "worm-dr", DeleteMarkers: true}); err != nil {
		t.Fatal(err)
	}
	defaultGovernance(t, a.c, "worm") // after the claim: the promotion brings it
	old := putLocked(t, a.c, "worm", "before", []byte("before"), "", time.Time{}, false)
	if _, err := a.g.RunReplication(ctx, "worm"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.g.ReverseReplication(ctx, "worm", "home", false); err != nil {
		t.Fatal(err)
	}
	cfg, err := b.c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("worm-dr")})
	if err != nil || cfg.ObjectLockConfiguration.Rule == nil || cfg.ObjectLockConfiguration.Rule.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance {
		t.Fatalf("the promoted bucket's lock configuration: %+v, %v", cfg, err)
	}
	putLocked(t, b.c, "worm-dr", "after", []byte("after"), "", time.Time{}, false)
	h, err := b.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm-dr"), Key: aws.String("after")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeGovernance {
		t.Fatalf("a write after the failover: %+v, %v", h, err)
	}
	wantAPIError(t, deleteVersion(b.c, t, "worm-dr", "before", old, false), "AccessDenied", 403, "deleting a locked version at the new source")
	_, err = b.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("worm-dr"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	wantAPIError(t, err, "InvalidBucketState", 409, "suspending versioning at the new source")
}

// TestObjectLockMultipartAndCopy: a multipart upload's lock headers lock
// the object it completes, and an upload without them gets the default
// retention; a copy takes the lock its request asks for (or the default),
// never its source's; an aborted upload leaves no version.
func TestObjectLockMultipartAndCopy(t *testing.T) {
	s := newSite(t)
	c, ctx := s.c, t.Context()
	lockBucket(t, c, "worm")
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("worm"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	upload := func(key string, lock bool) string {
		t.Helper()
		in := &s3.CreateMultipartUploadInput{Bucket: aws.String("worm"), Key: aws.String(key)}
		if lock {
			in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeCompliance, aws.Time(until)
			in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
		}
		up, err := c.CreateMultipartUpload(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("worm"), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part one")), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("worm"), Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	mp := upload("mp", true)
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("mp")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeCompliance || !h.ObjectLockRetainUntilDate.Equal(until) || h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("HEAD of a locked multipart object: %+v, %v", h, err)
	}
	wantAPIError(t, deleteVersion(c, t, "worm", "mp", mp, true), "AccessDenied", 403, "deleting a locked multipart object")
	upload("mp-default", false)
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("mp-default")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeGovernance || h.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("HEAD of a default-retained multipart object: %+v, %v", h, err)
	}
	// An aborted upload with lock headers leaves nothing.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("worm"), Key: aws.String("aborted"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("worm"), Key: aws.String("aborted"), UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(t, s.g, "worm", "aborted"); len(got) != 0 {
		t.Fatalf("an aborted upload left %q", got)
	}

	// Copies: the default, or what the request asks; never the source's.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("worm"), Key: aws.String("copy"), CopySource: aws.String("worm/mp")}); err != nil {
		t.Fatal(err)
	}
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("copy")})
	if err != nil || h.ObjectLockMode != types.ObjectLockModeGovernance || h.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("HEAD of a copy of a COMPLIANCE object: %+v, %v", h, err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("worm"), Key: aws.String("copy-held"), CopySource: aws.String("worm/mp"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn}); err != nil {
		t.Fatal(err)
	}
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("worm"), Key: aws.String("copy-held")})
	if err != nil || h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("HEAD of a copy put on hold: %+v, %v", h, err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("plain"), Key: aws.String("copy"), CopySource: aws.String("worm/mp")}); err != nil {
		t.Fatal(err)
	}
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("plain"), Key: aws.String("copy")})
	if err != nil || h.ObjectLockMode != "" || h.ObjectLockLegalHoldStatus != "" {
		t.Fatalf("HEAD of a copy in a bucket without lock: %+v, %v", h, err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("plain"), Key: aws.String("copy2"), CopySource: aws.String("worm/mp"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	wantAPIError(t, err, "InvalidRequest", 400, "a copy with lock headers into a bucket without lock")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("plain"), Key: aws.String("mp"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	wantAPIError(t, err, "InvalidRequest", 400, "an upload with lock headers into a bucket without lock")
}

// TestObjectLockTierMove: a tier move releases a locked version's local
// chunks but keeps the version: it still reads (from the tier), keeps its
// lock, and still cannot be deleted; cleaning the store and the tier takes
// nothing it needs.
func TestObjectLockTierMove(t *testing.T) {
	ctx := t.Context()
	g := open(t, lifecycleConfig(t))
	addS3Tier(t, g, "cold")
	newBucket(t, g, "worm", s3api.VersioningEnabled)
	if err := g.PutObjectLockConfiguration(ctx, "worm", s3api.ObjectLockConfig{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	data := backupLike(71, 2<<20)
	until := time.Now().Add(time.Hour).UTC()
	info, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "worm", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data)),
		Lock: s3api.ObjectLock{Mode: s3api.LockCompliance, RetainUntil: until}})
	if err != nil {
		t.Fatal(err)
	}
	moveNowIn(t, g, "worm", "k")
	if _, err := g.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = g.DeleteObject(ctx, "worm", "k", info.VersionID)
	wantErr(t, err, s3api.ErrObjectLocked)
	if _, err := g.CleanTier(ctx, "cold"); err != nil {
		t.Fatal(err)
	}
	got, gi, err := get(t, g, "worm", "k", info.VersionID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET of the moved locked version: %d bytes, %v", len(got), err)
	}
	if gi.StorageClass != "cold" || gi.Lock.Mode != s3api.LockCompliance || !gi.Lock.RetainUntil.Equal(until) {
		t.Fatalf("the moved version: class %q, lock %+v", gi.StorageClass, gi.Lock)
	}
}

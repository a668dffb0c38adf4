package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/policy"
	"github.com/cairn-backup/cairn/s3api"
)

// lifecycleDay is the lifecycle day of these tests: rules of one day fall
// due after it. Objects the tests keep are kept by filters, never by racing
// the clock.
const lifecycleDay = 150 * time.Millisecond

func lifecycleConfig(t testing.TB) Config {
	cfg := testConfig(t)
	cfg.LifecycleDay = lifecycleDay
	cfg.LifecycleInterval = 0 // on demand only
	cfg.LifecycleRate = 0
	return cfg
}

func putLifecycle(t testing.TB, g *Gateway, bucket, rules string) {
	t.Helper()
	doc := `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + rules + `</LifecycleConfiguration>`
	if err := g.PutBucketLifecycle(t.Context(), bucket, []byte(doc)); err != nil {
		t.Fatalf("put lifecycle: %v", err)
	}
}

func runLifecycle(t testing.TB, g *Gateway, bucket string) ScanCounts {
	t.Helper()
	rep, err := g.RunLifecycle(t.Context(), bucket, nil)
	if err != nil {
		t.Fatalf("lifecycle run: %v", err)
	}
	return rep.Buckets[bucket]
}

// versionsOf lists every version of key, newest first: "v" for a version,
// "dm" for a delete marker.
func versionsOf(t testing.TB, g *Gateway, bucket, key string) []string {
	t.Helper()
	res, err := g.ListObjectVersions(t.Context(), s3api.ListVersionsInput{Bucket: bucket, Prefix: key, MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range res.Versions {
		if v.Key != key {
			continue
		}
		if v.DeleteMarker {
			out = append(out, "dm")
		} else {
			out = append(out, "v")
		}
	}
	return out
}

func TestLifecycleConfiguration(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	ctx := t.Context()

	_, err := g.GetBucketLifecycle(ctx, "b")
	wantErr(t, err, s3api.ErrNoSuchLifecycleConfiguration)
	for _, tc := range []struct {
		doc  string
		want *s3api.Error
	}{
		{`<LifecycleConfiguration><Rule>`, s3api.ErrMalformedXML},
		{`<LifecycleConfiguration><Rule><ID>x</ID><Status>Enabled</Status><Filter><Prefix>a/</Prefix></Filter><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>`, s3api.ErrInvalidArgument},
		{`<LifecycleConfiguration><Rule><ID>x</ID><Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>`, s3api.ErrInvalidStorageClass},
	} {
		err := g.PutBucketLifecycle(ctx, "b", []byte(tc.doc))
		wantErr(t, err, tc.want)
		_, err = g.GetBucketLifecycle(ctx, "b")
		wantErr(t, err, s3api.ErrNoSuchLifecycleConfiguration) // a refused configuration changes nothing
	}
	putLifecycle(t, g, "b", `<Rule><ID>old-logs</ID><Status>Enabled</Status><Filter><Prefix>logs/</Prefix></Filter><Expiration><Days>30</Days></Expiration></Rule>`)
	doc, err := g.GetBucketLifecycle(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<ID>old-logs</ID>", "<Prefix>logs/</Prefix>", "<Days>30</Days>"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("GetBucketLifecycle lacks %s:\n%s", want, doc)
		}
	}
	// x-amz-expiration names the rule on PUT, HEAD and GET of what it will expire.
	info := put(t, g, "b", "logs/a", []byte("x"))
	if !strings.Contains(info.Expiration, `rule-id="old-logs"`) || !strings.Contains(info.Expiration, "expiry-date=") {
		t.Errorf("PUT x-amz-expiration = %q", info.Expiration)
	}
	head, err := g.HeadObject(ctx, "b", "logs/a", "")
	if err != nil || head.Expiration != info.Expiration {
		t.Errorf("HEAD x-amz-expiration = %q (%v), PUT said %q", head.Expiration, err, info.Expiration)
	}
	if other := put(t, g, "b", "data/a", []byte("x")); other.Expiration != "" {
		t.Errorf("an object no rule expires has x-amz-expiration %q", other.Expiration)
	}
	if err := g.DeleteBucketLifecycle(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	_, err = g.GetBucketLifecycle(ctx, "b")
	wantErr(t, err, s3api.ErrNoSuchLifecycleConfiguration)
	if head, _ := g.HeadObject(ctx, "b", "logs/a", ""); head.Expiration != "" {
		t.Errorf("after DeleteBucketLifecycle, x-amz-expiration = %q", head.Expiration)
	}
}

func TestLifecycleExpiresUnversioned(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	putLifecycle(t, g, "b", `<Rule><ID>tmp</ID><Status>Enabled</Status><Filter><Prefix>tmp/</Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule>`)
	for i := range 5 {
		put(t, g, "b", fmt.Sprintf("tmp/%d", i), random(uint64(i), 20000))
	}
	put(t, g, "b", "keep/x", random(9, 20000))
	time.Sleep(2 * lifecycleDay)

	c := runLifecycle(t, g, "b")
	if c.Expired != 5 || c.Errors != 0 {
		t.Errorf("first run: %+v, want 5 expired", c)
	}
	for i := range 5 {
		_, _, err := get(t, g, "b", fmt.Sprintf("tmp/%d", i), "")
		wantErr(t, err, s3api.ErrNoSuchKey)
	}
	mustGet(t, g, "b", "keep/x", "")
	// Idempotent: a second run changes nothing.
	if c := runLifecycle(t, g, "b"); c.Expired+c.NoncurrentExpired+c.MarkersRemoved+c.UploadsAborted != 0 {
		t.Errorf("second run changed something: %+v", c)
	}
}

func TestLifecycleVersioned(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningEnabled)
	putLifecycle(t, g, "b", `<Rule><ID>current</ID><Status>Enabled</Status><Filter><Prefix>k</Prefix></Filter><Expiration><Days>1</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>`+
		`<Rule><ID>markers</ID><Status>Enabled</Status><Filter><Prefix>k</Prefix></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`)
	put(t, g, "b", "k", []byte("one"))
	put(t, g, "b", "k", []byte("two"))
	time.Sleep(2 * lifecycleDay)

	// The current version expires into a delete marker; "one", noncurrent
	// for a day, goes; "two" has only just become noncurrent and stays.
	c := runLifecycle(t, g, "b")
	if c.Expired != 1 || c.NoncurrentExpired != 1 || c.Errors != 0 {
		t.Errorf("first run: %+v, want 1 expired, 1 noncurrent expired", c)
	}
	if got := strings.Join(versionsOf(t, g, "b", "k"), ","); got != "dm,v" {
		t.Errorf("after the first run: versions %s, want dm,v", got)
	}
	if c := runLifecycle(t, g, "b"); c.Expired+c.NoncurrentExpired+c.MarkersRemoved != 0 {
		t.Errorf("a second run at once changed something: %+v", c)
	}
	// A day later "two" goes, and the delete marker, alone, with it.
	time.Sleep(2 * lifecycleDay)
	c = runLifecycle(t, g, "b")
	if c.NoncurrentExpired != 1 || c.MarkersRemoved != 1 {
		t.Errorf("later run: %+v, want 1 noncurrent expired and 1 marker removed", c)
	}
	if got := versionsOf(t, g, "b", "k"); len(got) != 0 {
		t.Errorf("versions left: %v", got)
	}
}

func TestLifecycleAbortsIncompleteUploads(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	putLifecycle(t, g, "b", `<Rule><ID>mpu</ID><Status>Enabled</Status><Filter><Prefix>up/</Prefix></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`)
	ctx := t.Context()
	id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "up/big"})
	if err != nil {
		t.Fatal(err)
	}
	part := random(3, 4096)
	if _, err := g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "up/big", UploadID: id, PartNumber: 1, Body: strings.NewReader(string(part)), Size: int64(len(part))}); err != nil {
		t.Fatal(err)
	}
	keep, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "other/big"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * lifecycleDay)
	if c := runLifecycle(t, g, "b"); c.UploadsAborted != 1 {
		t.Errorf("run: %+v, want 1 upload aborted", c)
	}
	res, err := g.ListMultipartUploads(ctx, s3api.ListUploadsInput{Bucket: "b", MaxUploads: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 1 || res.Uploads[0].UploadID != keep {
		t.Errorf("uploads left: %+v, want only %s", res.Uploads, keep)
	}
	if err := g.AbortMultipartUpload(ctx, "b", "other/big", keep); err != nil {
		t.Fatal(err)
	}
}

// TestLifecycleResumesAfterRestart stops a scan after its first batches,
// reopens the gateway and checks that the run resumes where it stopped:
// every due object expires exactly once, nothing else does.
func TestLifecycleResumesAfterRestart(t *testing.T) {
	cfg := lifecycleConfig(t)
	g, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	newBucket(t, g, "b", s3api.VersioningUnset)
	putLifecycle(t, g, "b", `<Rule><ID>old</ID><Status>Enabled</Status><Filter><Prefix>old/</Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule>`)
	const n = 3*scanBatch + 17
	for i := range n {
		put(t, g, "b", fmt.Sprintf("old/%05d", i), []byte{byte(i)})
		if i%3 == 0 {
			put(t, g, "b", fmt.Sprintf("new/%05d", i), []byte{byte(i)})
		}
	}
	time.Sleep(2 * lifecycleDay)
	ctx, cancel := context.WithCancel(t.Context())
	batches := 0
	_, err = g.RunLifecycle(ctx, "b", func(string, ScanCounts) {
		if batches++; batches == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	st, err := g.LifecycleStatus(t.Context())
	if err != nil || len(st) != 1 || st[0].Running == nil {
		t.Fatalf("status after the interruption: %+v, %v; want a run in progress", st, err)
	}
	first := st[0].Running.Expired
	if first == 0 || first >= n {
		t.Fatalf("the interrupted run expired %d of %d", first, n)
	}
	g.Close()

	g = open(t, cfg)
	c := runLifecycle(t, g, "b")
	if c.Expired != n || c.Errors != 0 {
		t.Errorf("resumed run: %+v, want %d expired in all (%d before the restart)", c, n, first)
	}
	list, err := g.ListObjects(t.Context(), s3api.ListInput{Bucket: "b", MaxKeys: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + 2) / 3; len(list.Objects) != want {
		t.Errorf("%d objects left, want the %d under new/", len(list.Objects), want)
	}
	for _, o := range list.Objects {
		if !strings.HasPrefix(o.Key, "new/") {
			t.Errorf("%s was not expired", o.Key)
		}
	}
	st, err = g.LifecycleStatus(t.Context())
	if err != nil || len(st) != 1 || st[0].Running != nil || st[0].Last == nil || st[0].Last.Expired != n {
		t.Errorf("status after the run: %+v, %v", st, err)
	}
}

// TestCloudPolicyAndTransitions: a cloud policy and a lifecycle Transition
// may name only a configured tier; the scan finds what is due for it, the
// mover copies (policy mode copy) or moves (Transition) it there, and the
// next run finds nothing more due. Every object reads the same throughout.
func TestCloudPolicyAndTransitions(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	ctx := t.Context()

	doc := []byte(`{"tier": "azure1", "mode": "copy", "idle": "24h", "include_ext": [".VBK"], "exclude_dirs": ["tmp/"]}`)
	var pe *policy.Error
	if err := g.PutCloudPolicy(ctx, "b", doc); !errors.As(err, &pe) || !strings.Contains(pe.Message, `no configured tier: "azure1"`) {
		t.Fatalf("a policy naming no tier: %v", err)
	}
	if err := g.PutBucketLifecycle(ctx, "b", []byte(`<LifecycleConfiguration><Rule><ID>t</ID><Status>Enabled</Status><Filter><Prefix>c</Prefix></Filter>`+
		`<Transition><Days>1</Days><StorageClass>azure1</StorageClass></Transition></Rule></LifecycleConfiguration>`)); !errors.Is(err, s3api.ErrInvalidStorageClass) {
		t.Fatalf("a transition naming no tier: %v", err)
	}
	addS3Tier(t, g, "azure1")
	if err := g.PutCloudPolicy(ctx, "b", []byte(`{"tier": "azure1", "mode": "copy-then-move"}`)); !errors.As(err, &pe) || !strings.Contains(pe.Message, `"after" is required`) {
		t.Fatalf("copy-then-move without after: %v", err)
	}
	if err := g.PutCloudPolicy(ctx, "nope", doc); !errors.Is(err, s3api.ErrNoSuchBucket) {
		t.Fatalf("a policy for no bucket: %v", err)
	}
	if err := g.PutCloudPolicy(ctx, "b", doc); err != nil {
		t.Fatal(err)
	}
	got, err := g.GetCloudPolicy(ctx, "b")
	if err != nil || !strings.Contains(string(got), `"include_ext":[".vbk"]`) || !strings.Contains(string(got), `"tier":"azure1"`) {
		t.Fatalf("GetCloudPolicy: %s, %v", got, err)
	}
	putLifecycle(t, g, "b", `<Rule><ID>t</ID><Status>Enabled</Status><Filter><Prefix>c</Prefix></Filter>`+
		`<Transition><Days>1</Days><StorageClass>azure1</StorageClass></Transition></Rule>`)

	for _, k := range []string{"a.vbk", "tmp/b.vbk", "c.txt", "d.txt"} {
		put(t, g, "b", k, []byte(k))
	}
	time.Sleep(2 * lifecycleDay)
	for run, due := range []int64{2, 0} {
		c := runLifecycle(t, g, "b")
		// a.vbk by the cloud policy, c.txt by the transition; tmp/ and .txt
		// outside both. Once done, nothing is due.
		if c.TransitionsDue != due || c.Scanned != 4 || c.Expired+c.NoncurrentExpired+c.MarkersRemoved+c.Errors != 0 {
			t.Fatalf("run %d: %+v", run, c)
		}
		if st := waitMover(t, g, "azure1"); run == 0 && (st.Copied != 2 || st.Moved != 1 || st.Failed != 0) {
			t.Fatalf("the mover: %+v", st)
		}
	}
	for k, class := range map[string]string{"a.vbk": "azure1", "tmp/b.vbk": "STANDARD", "c.txt": "azure1", "d.txt": "STANDARD"} {
		info, err := g.HeadObject(ctx, "b", k, "")
		if err != nil || info.StorageClass != class {
			t.Fatalf("%s: class %q, want %q (%v)", k, info.StorageClass, class, err)
		}
	}
	for _, k := range []string{"a.vbk", "tmp/b.vbk", "c.txt", "d.txt"} {
		if data, _, err := get(t, g, "b", k, ""); err != nil || string(data) != k {
			t.Fatalf("%s after the runs: %q, %v", k, data, err)
		}
	}
	st, err := g.LifecycleStatus(ctx)
	if err != nil || len(st) != 1 || !st[0].CloudPolicy || st[0].Rules != 1 || st[0].Last == nil || st[0].Last.TransitionsDue != 0 {
		t.Fatalf("LifecycleStatus: %+v, %v", st, err)
	}
	if err := g.DeleteCloudPolicy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.GetCloudPolicy(ctx, "b"); !errors.Is(err, s3api.ErrNoSuchKey) {
		t.Fatalf("GetCloudPolicy after rm: %v", err)
	}
	if err := g.DeleteCloudPolicy(ctx, "b"); !errors.Is(err, s3api.ErrNoSuchKey) {
		t.Fatalf("a second rm: %v", err)
	}
}

// TestLifecycleDaysRuleRemovesLoneMarkers: as in AWS, a rule that expires
// current versions also removes an expired object delete marker once no
// version is left under it, without ExpiredObjectDeleteMarker.
func TestLifecycleDaysRuleRemovesLoneMarkers(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningEnabled)
	putLifecycle(t, g, "b", `<Rule><ID>r</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>`)
	put(t, g, "b", "k", []byte("x"))
	var seen []string
	for range 4 {
		time.Sleep(2 * lifecycleDay)
		runLifecycle(t, g, "b")
		seen = append(seen, strings.Join(versionsOf(t, g, "b", "k"), ","))
		if seen[len(seen)-1] == "" {
			break
		}
	}
	// The second run deletes the noncurrent version, and then the marker,
	// a day old and alone.
	if got := strings.Join(seen, " | "); got != "dm,v | " {
		t.Fatalf("runs left %q, want %q", got, "dm,v | ")
	}
}

// TestLifecycleBadRecordIsPassed: a key whose records cannot be read is
// counted and named in the run; the keys around it still expire, and the
// next run is not stuck on it.
func TestLifecycleBadRecordIsPassed(t *testing.T) {
	g := open(t, lifecycleConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	putLifecycle(t, g, "b", `<Rule><ID>r</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>`)
	put(t, g, "b", "a", []byte("a"))
	put(t, g, "b", "z", []byte("z"))
	bad := composite("m", newSeq(1))
	setBad := func(v []byte) {
		err := g.updateBucket("b", func(_ *chunkstore.Tx, k *bkt) error {
			if v == nil {
				return k.ver.Delete(bad)
			}
			return k.ver.Put(bad, v)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setBad([]byte("{not json"))
	defer setBad(nil) // for open's consistency check
	time.Sleep(2 * lifecycleDay)
	c := runLifecycle(t, g, "b")
	if c.Expired != 2 || c.Errors != 1 {
		t.Fatalf("run: %+v, want 2 expired and 1 error", c)
	}
	st, err := g.LifecycleStatus(t.Context())
	if err != nil || st[0].Last == nil || !strings.Contains(st[0].Last.LastError, `key "m"`) {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if c := runLifecycle(t, g, "b"); c.Errors != 1 || c.Expired != 0 {
		t.Fatalf("second run: %+v", c)
	}
}

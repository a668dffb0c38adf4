package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/cloudtier/azuritetest"
	"github.com/cairn-backup/cairn/gateway"
)

// s3Tier starts a second cairn serve to be an S3 tier, with a bucket
// "tier", and writes the credentials file `tier add` takes. It returns the
// server, its data directory and the credentials file.
func s3Tier(t *testing.T) (*server, string, string) {
	t.Helper()
	dir := t.TempDir()
	s := startServe(t, dir)
	if _, err := client(t, s, dir).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("tier")}); err != nil {
		t.Fatal(err)
	}
	c, err := loadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	cred := filepath.Join(t.TempDir(), "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key": c.AccessKey, "secret_key": c.SecretKey})
	if err := os.WriteFile(cred, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return s, dir, cred
}

// tierAdd runs cairn admin tier add with args against the server of dir.
func tierAdd(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, errOut, code := cairn(t, nil, append(append([]string{"admin", "tier", "add"}, args...), "--data", dir)...); code != 0 {
		t.Fatalf("tier add: %s%s", out, errOut)
	}
}

// lifecycleRun runs a bucket's lifecycle scan now.
func lifecycleRun(t *testing.T, dir, bucket string) {
	t.Helper()
	if _, errOut, code := cairn(t, nil, "admin", "lifecycle", "run", bucket, "--data", dir); code != 0 {
		t.Fatalf("lifecycle run: %s", errOut)
	}
}

func tierStatus(t *testing.T, dir, name string) gateway.TierStatus {
	t.Helper()
	out, errs, code := cairn(t, nil, "admin", "tier", "ls", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("tier ls: %s", errs)
	}
	var st []gateway.TierStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("tier ls JSON: %v\n%s", err, out)
	}
	for _, s := range st {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no tier %s in %s", name, out)
	return gateway.TierStatus{}
}

// TestTierTransitionEndToEnd: a lifecycle Transition to an S3 tier (a
// second cairn serve) moves objects there; HEAD and LIST show the tier as
// their storage class, the local copies go at the next clean, GET and range
// GET read through from the tier byte-exact, the second object of the same
// data sends nothing new, and the tier's raw objects hold nothing in the
// clear. With the tier down, a GET fails clearly; back up, it reads again.
func TestTierTransitionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers; run without -short")
	}
	needBinary(t)
	ctx := t.Context()
	tierSrv, tierDir, cred := s3Tier(t)

	dir := t.TempDir()
	s := startServe(t, dir, "--lifecycle-day", "1s", "--lifecycle-interval", "0")
	cl := client(t, s, dir)
	bucket := aws.String("tiered-vm-backups")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}

	// Refusals first: they change nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cold", "--kind", "s3", "--endpoint", tierSrv.url(), "--credentials", cred}, "needs --bucket"},
		{[]string{"cold", "--kind", "s3", "--endpoint", tierSrv.url(), "--bucket", "nope", "--credentials", cred}, "write"},
		{[]string{"GLACIER", "--kind", "s3", "--endpoint", tierSrv.url(), "--bucket", "tier", "--credentials", cred}, "AWS storage class"},
		{[]string{"cold", "--kind", "azure", "--account-url", "http://127.0.0.1:1/x", "--container", "c", "--credentials", cred}, "account_name and account_key"},
	} {
		_, errOut, code := cairn(t, nil, append(append([]string{"admin", "tier", "add"}, tc.args...), "--data", dir)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("tier add %q: exit %d, %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
	if out, _, _ := cairn(t, nil, "admin", "tier", "ls", "--data", dir); !strings.Contains(out, "no tiers") {
		t.Fatalf("after refused adds, tier ls: %s", out)
	}

	tierAdd(t, dir, "cold", "--kind", "s3", "--endpoint", tierSrv.url(),
		"--bucket", "tier", "--prefix", "cairn/", "--credentials", cred)
	data := random(11, 24<<20)
	for _, k := range []string{"vm1/full.vbk", "vm2/full.vbk"} { // the same bytes twice: dedup in the tier
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("to-cold"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("vm")},
			Transitions: []types.Transition{{Days: aws.Int32(1), StorageClass: "cold"}},
		}}}}); err != nil {
		t.Fatal(err)
	}
	// tier rm is refused while a rule names the tier.
	if _, errOut, code := cairn(t, nil, "admin", "tier", "rm", "cold", "--data", dir); code != 1 || !strings.Contains(errOut, "rules of bucket tiered-vm-backups") {
		t.Fatalf("tier rm with a rule naming it: exit %d, %s", code, errOut)
	}
	time.Sleep(2500 * time.Millisecond) // past the next midnight of a 1 s day
	lifecycleRun(t, dir, "tiered-vm-backups")
	waitFor(t, "the mover", func() bool { st := tierStatus(t, dir, "cold"); return st.Moved == 2 && st.Queued == 0 })
	st := tierStatus(t, dir, "cold")
	if st.Failed != 0 || st.Packs == 0 {
		t.Fatalf("tier status %+v", st)
	}
	// Dedup in the tier: the second object sent nothing, and what went is
	// the data once plus per-pack overhead.
	if st.SentBytes > int64(len(data))*105/100 {
		t.Errorf("sent %d bytes to the tier for %d unique bytes", st.SentBytes, len(data))
	}

	head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("vm1/full.vbk")})
	if err != nil || head.StorageClass != "cold" {
		t.Fatalf("HEAD: storage class %q, %v", head.StorageClass, err)
	}
	list, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
	if err != nil || len(list.Contents) != 2 || list.Contents[0].StorageClass != "cold" {
		t.Fatalf("LIST: %+v, %v", list.Contents, err)
	}
	if _, errOut, code := cairn(t, nil, "admin", "clean", "--data", dir); code != 0 {
		t.Fatalf("admin clean: %s", errOut)
	}
	gs := adminStats(t, dir).Groups[0]
	if gs.TieredBytes < int64(len(data)) || gs.LiveBytes > 1<<20 {
		t.Fatalf("after the move and a clean: %+v", gs)
	}
	for _, k := range []string{"vm1/full.vbk", "vm2/full.vbk"} {
		if got, err := getBytes(t, cl, "tiered-vm-backups", k); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GET %s through the tier: %d bytes, %v", k, len(got), err)
		}
	}
	rng, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("vm2/full.vbk"), Range: aws.String("bytes=12345678-12399999")})
	if err != nil {
		t.Fatal(err)
	}
	part := new(bytes.Buffer)
	part.ReadFrom(rng.Body)
	rng.Body.Close()
	if !bytes.Equal(part.Bytes(), data[12345678:12400000]) {
		t.Fatalf("range GET through the tier: %d bytes differ", part.Len())
	}

	// What the tier holds: nothing in the clear.
	tc := client(t, tierSrv, tierDir)
	objs, err := tc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tier")})
	if err != nil || len(objs.Contents) == 0 {
		t.Fatalf("tier bucket: %v, %v", objs, err)
	}
	for _, o := range objs.Contents {
		if !strings.HasPrefix(*o.Key, "cairn/") || strings.Contains(*o.Key, "vm") || strings.Contains(*o.Key, "vbk") {
			t.Errorf("tier object name %q", *o.Key)
		}
		raw, err := getBytes(t, tc, "tier", *o.Key)
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range [][]byte{[]byte("tiered-vm-backups"), []byte("vm1/full.vbk"), data[1000:1032], data[20<<20 : 20<<20+32]} {
			if bytes.Contains(raw, needle) {
				t.Errorf("tier object %s holds %q in the clear", *o.Key, needle)
			}
		}
	}

	// The tier down: a GET fails, and says why; back up, it reads. The
	// server restarts first, so that no range it read before is cached.
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
	s = startServe(t, dir, "--lifecycle-day", "1s", "--lifecycle-interval", "0")
	cl = client(t, s, dir)
	tierSrv.stop(syscall.SIGKILL)
	once := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url()), UsePathStyle: true,
		Credentials: readCreds(t, dir), RetryMaxAttempts: 1})
	if _, err := getBytes(t, once, "tiered-vm-backups", "vm1/full.vbk"); err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") || !strings.Contains(err.Error(), "in a tier") ||
		strings.Contains(err.Error(), tierSrv.url()) {
		t.Fatalf("GET with the tier down: %v; want ServiceUnavailable saying why without the tier's address", err)
	}
	// The log comes through a pipe: it may trail the response.
	waitFor(t, "the server log to say which tier failed", func() bool {
		log := s.stderr.String()
		return strings.Contains(log, "read from a tier failed") && strings.Contains(log, "tier cold")
	})
	tierSrv = startServe(t, tierDir, "--listen", strings.TrimPrefix(tierSrv.url(), "http://"))
	if got, err := getBytes(t, cl, "tiered-vm-backups", "vm1/full.vbk"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET with the tier back: %d bytes, %v", len(got), err)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}

	// Scrub the tier, offline; then alter a pack in the cloud: the scrub
	// names it and a GET fails rather than answer a wrong byte.
	if out, errOut, code := cairn(t, nil, "admin", "scrub", "--tier", "cold", "--read-data", "--data", dir); code != 0 || !strings.Contains(out, "tier cold: ok") {
		t.Fatalf("scrub --tier: exit %d\n%s%s", code, out, errOut)
	}
	tc = client(t, tierSrv, tierDir)
	objs, err = tc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tier"), Prefix: aws.String("cairn/p/")})
	if err != nil || len(objs.Contents) == 0 {
		t.Fatalf("tier packs: %v, %v", objs, err)
	}
	// Every pack altered in its first package: whichever holds the
	// object's first bytes, the GET fails before it answers.
	victim := *objs.Contents[0].Key
	for _, o := range objs.Contents {
		raw, err := getBytes(t, tc, "tier", *o.Key)
		if err != nil {
			t.Fatal(err)
		}
		raw[1000] ^= 0x40
		if _, err := tc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tier"), Key: o.Key, Body: bytes.NewReader(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	packName := strings.TrimPrefix(victim, "cairn/")
	if out, _, code := cairn(t, nil, "admin", "scrub", "--tier", "cold", "--data", dir); code != 0 {
		t.Fatalf("scrub --tier without --read-data reads indexes only, which are intact: exit %d\n%s", code, out)
	}
	if out, _, code := cairn(t, nil, "admin", "scrub", "--tier", "cold", "--read-data", "--data", dir); code != 1 || !strings.Contains(out, packName) {
		t.Fatalf("scrub --tier --read-data of an altered pack: exit %d\n%s", code, out)
	}
	s = startServe(t, dir)
	cl = client(t, s, dir)
	if _, err := getBytes(t, once, "tiered-vm-backups", "vm1/full.vbk"); err == nil {
		t.Fatal("GET of an altered pack succeeded")
	}
	got, err := getBytes(t, cl, "tiered-vm-backups", "vm1/full.vbk")
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("GET of an altered pack: %d bytes, %v; want an error that says damaged", len(got), err)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
}

// TestTierAzureCloudPolicy: a cloud policy copies objects to an Azure tier
// (Azurite): the local copy stays, so reads need no tier; switched to move,
// the local copies go and reads come through Azure; Azure stopped, a read
// answers ServiceUnavailable.
func TestTierAzureCloudPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Azurite and a server; run without -short")
	}
	needBinary(t)
	ctx := t.Context()
	root := azuritetest.Start(t, "cairn-tier")
	cred := filepath.Join(t.TempDir(), "azure.json")
	b, _ := json.Marshal(map[string]string{"account_name": azuritetest.Account, "account_key": azuritetest.Key})
	os.WriteFile(cred, b, 0o600)

	dir := t.TempDir()
	s := startServe(t, dir, "--lifecycle-day", "1s", "--lifecycle-interval", "0")
	cl := client(t, s, dir)
	bucket := aws.String("nightly-veeam")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	tierAdd(t, dir, "azure1", "--kind", "azure", "--account-url", root+"/"+azuritetest.Account,
		"--container", "cairn-tier", "--prefix", "site-a", "--credentials", cred)
	data := random(31, 9<<20)
	notes := random(32, 1<<20)
	for k, b := range map[string][]byte{"job1/full.vbk": data, "job1/inc.vib": data, "job1/notes.txt": notes} {
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	policy := func(mode string) {
		t.Helper()
		if out, errOut, code := cairn(t, nil, "admin", "policy", "set", "nightly-veeam", "--tier", "azure1", "--mode", mode,
			"--idle", "24h", "--ext", ".vbk,.vib", "--data", dir); code != 0 {
			t.Fatalf("policy set: %s%s", out, errOut)
		}
		time.Sleep(1500 * time.Millisecond) // a lifecycle day: idle long enough
		lifecycleRun(t, dir, "nightly-veeam")
	}
	policy("copy")
	waitFor(t, "the copies", func() bool { st := tierStatus(t, dir, "azure1"); return st.Copied == 2 && st.Queued == 0 })
	for k, want := range map[string]types.ObjectStorageClass{"job1/full.vbk": "azure1", "job1/inc.vib": "azure1", "job1/notes.txt": ""} {
		h, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(k)})
		if err != nil || string(h.StorageClass) != string(want) {
			t.Fatalf("HEAD %s: class %q, want %q (%v)", k, h.StorageClass, want, err)
		}
	}
	if st := tierStatus(t, dir, "azure1"); st.SentBytes > int64(len(data))*105/100 {
		t.Errorf("sent %d bytes for %d unique", st.SentBytes, len(data))
	}

	policy("move")
	waitFor(t, "the moves", func() bool { st := tierStatus(t, dir, "azure1"); return st.Moved == 2 && st.Queued == 0 })
	if st := tierStatus(t, dir, "azure1"); st.SentBytes > int64(len(data))*105/100 || st.Failed != 0 {
		t.Errorf("after the move: %+v", st)
	}
	if _, errOut, code := cairn(t, nil, "admin", "clean", "--data", dir); code != 0 {
		t.Fatalf("admin clean: %s", errOut)
	}
	if gs := adminStats(t, dir).Groups[0]; gs.TieredBytes < int64(len(data)) || gs.LiveBytes > 2<<20 {
		t.Fatalf("after the move and a clean: %+v", gs)
	}
	for k, want := range map[string][]byte{"job1/full.vbk": data, "job1/inc.vib": data, "job1/notes.txt": notes} {
		if got, err := getBytes(t, cl, "nightly-veeam", k); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("GET %s: %d bytes, %v", k, len(got), err)
		}
	}
	// RestoreObject, as the SDK sends it: the data comes home for a while.
	if _, err := cl.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: bucket, Key: aws.String("job1/full.vbk"),
		RestoreRequest: &types.RestoreRequest{Days: aws.Int32(2)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restore", func() bool {
		h, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("job1/full.vbk")})
		return err == nil && strings.HasPrefix(aws.ToString(h.Restore), `ongoing-request="false", expiry-date=`)
	})
	if _, err := cl.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: bucket, Key: aws.String("job1/notes.txt"),
		RestoreRequest: &types.RestoreRequest{Days: aws.Int32(2)}}); err == nil || !strings.Contains(err.Error(), "InvalidObjectState") {
		t.Fatalf("restore of a local object: %v", err)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
}

// TestTierKillMidTransition: the gateway killed (-9) while it moves objects
// to a tier resumes at the next scan: every object ends in the tier,
// byte-exact, and after tier clean the tier holds exactly the packs the
// gateway records (no orphan of a cut upload).
func TestTierKillMidTransition(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers and kills one; run without -short")
	}
	needBinary(t)
	ctx := t.Context()
	tierSrv, tierDir, cred := s3Tier(t)
	dir := t.TempDir()
	args := []string{"--lifecycle-day", "1s", "--lifecycle-interval", "0"}
	s := startServe(t, dir, args...)
	cl := client(t, s, dir)
	bucket := aws.String("backup-jobs")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	tierAdd(t, dir, "cold", "--kind", "s3", "--endpoint", tierSrv.url(),
		"--bucket", "tier", "--credentials", cred)
	objs := map[string][]byte{}
	for i := range 4 {
		k := fmt.Sprintf("job/%d.vbk", i)
		objs[k] = random(uint64(40+i), 40<<20)
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: bytes.NewReader(objs[k])}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("cold"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Transitions: []types.Transition{{Days: aws.Int32(1), StorageClass: "cold"}},
		}}}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	for _, d := range []time.Duration{400 * time.Millisecond, 900 * time.Millisecond} {
		lifecycleRun(t, dir, "backup-jobs")
		time.Sleep(d)
		s.stop(syscall.SIGKILL)
		t.Logf("killed %v into the moves", d)
		s = startServe(t, dir, args...)
	}
	lifecycleRun(t, dir, "backup-jobs")
	cl = client(t, s, dir)
	waitFor(t, "every object in the tier", func() bool {
		for k := range objs {
			h, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(k)})
			if err != nil || h.StorageClass != "cold" {
				return false
			}
		}
		return tierStatus(t, dir, "cold").Queued == 0
	})
	out, errOut, code := cairn(t, nil, "admin", "tier", "clean", "cold", "--data", dir)
	if code != 0 {
		t.Fatalf("tier clean: %s%s", out, errOut)
	}
	t.Log(strings.TrimSpace(out))
	st := tierStatus(t, dir, "cold")
	tc := client(t, tierSrv, tierDir)
	list, err := tc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tier"), Prefix: aws.String("p/")})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(list.Contents)) != st.Packs {
		t.Fatalf("the tier holds %d packs, the gateway records %d", len(list.Contents), st.Packs)
	}
	if _, errOut, code := cairn(t, nil, "admin", "clean", "--data", dir); code != 0 {
		t.Fatalf("admin clean: %s", errOut)
	}
	for k, want := range objs {
		if got, err := getBytes(t, cl, "backup-jobs", k); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("GET %s: %d bytes, %v", k, len(got), err)
		}
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
}

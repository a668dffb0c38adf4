package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestRecoverFromTier is the disaster: objects of a versioned bucket are
// tiered to an S3 tier (a second cairn serve), the master key is escrowed
// under a passphrase, one tiered version is deleted, and the gateway's data
// directory is lost. A wrong passphrase writes nothing; the right one
// rebuilds every tiered version (data byte-exact, metadata, tags, version
// IDs, versioning, lifecycle rules) and not the deleted one, even with the
// recovery killed (-9) and run again; an object never tiered is not there.
func TestRecoverFromTier(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three servers; run without -short")
	}
	needBinary(t)
	ctx := t.Context()
	tierSrv, _, cred := s3Tier(t)

	dir := t.TempDir()
	s := startServe(t, dir, "--lifecycle-day", "1s", "--lifecycle-interval", "0", "--tier-catalog-interval", "200ms")
	cl := client(t, s, dir)
	bucket := aws.String("finance-archive")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: bucket,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("ledger")}}}}); err != nil {
		t.Fatal(err)
	}
	tierAdd(t, dir, "cold", "--kind", "s3", "--endpoint", tierSrv.url(),
		"--bucket", "tier", "--credentials", cred)
	type obj struct {
		key  string
		data []byte
		vid  string
	}
	var objs []obj
	put := func(key string, data []byte) string {
		out, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key), Body: bytes.NewReader(data),
			ContentType: aws.String("application/x-ledger"), Metadata: map[string]string{"origin": "erp"}, Tagging: aws.String("year=2026")})
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj{key, data, *out.VersionId})
		return *out.VersionId
	}
	put("ledger/2026-01.db", random(21, 5<<20))
	put("ledger/2026-01.db", random(22, 3<<20)) // a second version
	doomed := put("ledger/2026-02.db", random(23, 2<<20))
	put("ledger/empty.db", nil)
	for i := range 150 { // enough versions that a kill lands mid-recovery
		put(fmt.Sprintf("ledger/daily/%03d.log", i), random(uint64(100+i), 4096+i))
	}
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("scratch/never-tiered"), Body: bytes.NewReader(random(24, 1<<20))}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("ledger-to-cold"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("ledger/")},
			Transitions:                  []types.Transition{{Days: aws.Int32(1), StorageClass: "cold"}},
			NoncurrentVersionTransitions: []types.NoncurrentVersionTransition{{NoncurrentDays: aws.Int32(1), StorageClass: "cold"}},
		}}}}); err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("short\n"), 0o600)
	if _, errOut, code := cairn(t, nil, "admin", "tier", "escrow", "cold", "--passphrase-file", pass, "--data", dir); code != 1 || !strings.Contains(errOut, "too short") {
		t.Fatalf("escrow with a short passphrase: exit %d, %s", code, errOut)
	}
	os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600)
	if out, errOut, code := cairn(t, nil, "admin", "tier", "escrow", "cold", "--passphrase-file", pass, "--data", dir); code != 0 {
		t.Fatalf("escrow: %s%s", out, errOut)
	}
	time.Sleep(2500 * time.Millisecond)
	lifecycleRun(t, dir, "finance-archive")
	waitFor(t, "the mover", func() bool { st := tierStatus(t, dir, "cold"); return st.Moved == int64(len(objs)) && st.Queued == 0 })
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("ledger/2026-02.db"), VersionId: aws.String(doomed)}); err != nil {
		t.Fatal(err)
	}
	objs = slices.DeleteFunc(objs, func(o obj) bool { return o.vid == doomed })
	waitFor(t, "the forget in the catalog", func() bool { return tierStatus(t, dir, "cold").Forgets == 0 })

	// The disaster.
	s.stop(syscall.SIGKILL)
	newDir := filepath.Join(t.TempDir(), "data")
	tierCfg := filepath.Join(t.TempDir(), "tier.json")
	c, _ := os.ReadFile(cred)
	os.WriteFile(tierCfg, []byte(`{"name":"cold","kind":"s3","endpoint":"`+tierSrv.url()+`","bucket":"tier","credentials":`+string(c)+`}`), 0o600)

	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not the passphrase at all"), 0o600)
	if _, errOut, code := cairn(t, nil, "recover", "--tier-config", tierCfg, "--passphrase-file", wrong, "--data", newDir); code != 1 || !strings.Contains(errOut, "passphrase does not open") {
		t.Fatalf("recover with a wrong passphrase: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(newDir); !os.IsNotExist(err) {
		t.Fatalf("a refused recovery wrote %s (%v)", newDir, err)
	}
	if _, errOut, code := cairn(t, nil, "recover", "--tier-config", tierCfg, "--passphrase-file", pass, "--data", dir); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("recover into a used directory: exit %d, %s", code, errOut)
	}

	// Killed mid-recovery, at a few points, then run to the end (unless a
	// run finished before its kill).
	finished, recovered := false, ""
	for _, d := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond} {
		var out syncBuffer
		cmd := exec.Command(cairnBin, "recover", "--tier-config", tierCfg, "--passphrase-file", pass, "--data", newDir)
		cmd.Env, cmd.Stdout, cmd.Stderr = cleanEnv(), &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		cmd.Process.Kill()
		err := cmd.Wait()
		if err == nil {
			t.Logf("recover finished within %v: %s", d, out.String())
			finished, recovered = true, out.String()
			break
		}
		t.Logf("recover killed at %v: %s", d, out.String())
	}
	if !finished {
		out, errOut, code := cairn(t, nil, "recover", "--tier-config", tierCfg, "--passphrase-file", pass, "--data", newDir)
		if code != 0 {
			t.Fatalf("recover: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("recover: %s", out)
		recovered = out
		if !strings.Contains(out, "recovered 1 buckets") {
			t.Fatalf("recover said: %s", out)
		}
	}
	if _, errOut, code := cairn(t, nil, "recover", "--tier-config", tierCfg, "--passphrase-file", pass, "--data", newDir); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("recover again over a finished recovery: exit %d, %s", code, errOut)
	}
	// scratch/never-tiered is named as missing, by count.
	if !strings.Contains(recovered, "not recoverable: bucket finance-archive: 1 of the 154 versions") {
		t.Fatalf("the summary does not say what was never tiered:\n%s", recovered)
	}

	s2 := startServe(t, newDir)
	cl2 := client(t, s2, newDir)
	vers, err := cl2.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(vers.Versions) != len(objs) {
		t.Fatalf("%d versions recovered, want %d: %+v", len(vers.Versions), len(objs), vers.Versions)
	}
	for _, o := range objs {
		g, err := cl2.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(o.key), VersionId: aws.String(o.vid)})
		if err != nil {
			t.Fatalf("GET %s %s: %v", o.key, o.vid, err)
		}
		var got bytes.Buffer
		got.ReadFrom(g.Body)
		g.Body.Close()
		if !bytes.Equal(got.Bytes(), o.data) || aws.ToString(g.ContentType) != "application/x-ledger" || g.Metadata["origin"] != "erp" || g.StorageClass != "cold" {
			t.Fatalf("GET %s %s: %d bytes (want %d), type %q, meta %v, class %q", o.key, o.vid, got.Len(), len(o.data), aws.ToString(g.ContentType), g.Metadata, g.StorageClass)
		}
		tags, err := cl2.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bucket, Key: aws.String(o.key), VersionId: aws.String(o.vid)})
		if err != nil || len(tags.TagSet) != 1 || *tags.TagSet[0].Value != "2026" {
			t.Fatalf("tags of %s: %+v, %v", o.key, tags, err)
		}
	}
	if _, err := cl2.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("scratch/never-tiered")}); err == nil {
		t.Fatal("an object never tiered came back")
	}
	v, err := cl2.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bucket})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning: %+v, %v", v, err)
	}
	if lc, err := cl2.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bucket}); err != nil || len(lc.Rules) != 1 {
		t.Fatalf("lifecycle: %+v, %v", lc, err)
	}
	if bt, err := cl2.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bucket}); err != nil || len(bt.TagSet) != 1 {
		t.Fatalf("bucket tags: %+v, %v", bt, err)
	}
	// New writes go on top of the recovered versions.
	fresh := random(25, 1000)
	if _, err := cl2.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("ledger/2026-01.db"), Body: bytes.NewReader(fresh)}); err != nil {
		t.Fatal(err)
	}
	if got, err := getBytes(t, cl2, "finance-archive", "ledger/2026-01.db"); err != nil || !bytes.Equal(got, fresh) {
		t.Fatalf("a new version after recovery: %d bytes, %v", len(got), err)
	}
	if code := s2.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s2.stderr)
	}
	if out, errOut, code := cairn(t, nil, "admin", "scrub", "--data", newDir); code != 0 {
		t.Fatalf("scrub after recovery: %s%s", out, errOut)
	}
}

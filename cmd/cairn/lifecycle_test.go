package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/gateway"
)

// TestLifecycleScanSurvivesKill: kill -9 in the middle of a lifecycle scan.
// The interrupted run is durable (its cursor and counts are in the data
// directory), the restarted gateway resumes it at start and completes it,
// and every version due was expired exactly once: the run's counts and the
// bucket agree, and nothing outside the rule was touched. A second run
// changes nothing.
func TestLifecycleScanSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a server mid-scan; run without -short")
	}
	needBinary(t)
	ctx := t.Context()
	dir := t.TempDir()
	const expiring, kept = 2000, 400
	// 300 versions a second: the scan of 2400 takes about 8 s, and a
	// lifecycle interval of 0 keeps the gateway from scanning on its own.
	slow := []string{"--lifecycle-rate", "300", "--lifecycle-interval", "0"}
	s := startServe(t, dir, slow...)
	cl := client(t, s, dir)
	bucket := aws.String("lcb")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	keys := make(chan string)
	go func() {
		defer close(keys)
		for i := range expiring {
			keys <- fmt.Sprintf("old/%04d", i)
		}
		for i := range kept {
			keys <- fmt.Sprintf("keep/%04d", i)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A date in the past: every current version under old/ is due now,
	// whatever a lifecycle day lasts.
	if _, err := cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID:         aws.String("old"),
			Status:     types.ExpirationStatusEnabled,
			Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("old/")},
			Expiration: &types.LifecycleExpiration{Date: aws.Time(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))},
		}}}}); err != nil {
		t.Fatal(err)
	}

	run := exec.Command(cairnBin, "admin", "lifecycle", "run", "lcb", "--data", dir)
	run.Env = cleanEnv()
	var runOut bytes.Buffer
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a committed part of the scan", func() bool {
		r := lifecycleStatus(t, dir).Running
		return r != nil && r.Scanned >= 300
	})
	s.stop(syscall.SIGKILL)
	if err := run.Wait(); err == nil {
		t.Fatalf("lifecycle run finished before the kill:\n%s", runOut.String())
	}

	// What the kill left: a run in progress, part of the way.
	s = startServe(t, dir, slow...)
	st := lifecycleStatus(t, dir)
	if st.Running == nil || st.Running.Cursor == nil || st.Running.Scanned == 0 || st.Running.Scanned >= expiring+kept || st.Last != nil {
		t.Fatalf("after the kill, the bucket's scan state is %+v", st)
	}
	t.Logf("killed after %d of %d versions (%d expired)", st.Running.Scanned, expiring+kept, st.Running.Expired)
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}

	// With its interval on, the gateway resumes the run as it starts.
	s = startServe(t, dir, "--lifecycle-rate", "300")
	cl = client(t, s, dir)
	waitFor(t, "the resumed scan to finish", func() bool { return lifecycleStatus(t, dir).Last != nil })
	last := lifecycleStatus(t, dir).Last
	if last.Scanned != expiring+kept || last.Expired != expiring || last.NoncurrentExpired+last.MarkersRemoved+last.Errors != 0 {
		t.Fatalf("the resumed run counted %+v; want %d scanned, %d expired, nothing else", last.ScanCounts, expiring+kept, expiring)
	}
	if !last.Started.Before(last.Finished) {
		t.Fatalf("run %+v", last)
	}

	// Each old/ key: its version, now noncurrent, under one delete marker;
	// each keep/ key: its version, current.
	type stack struct{ versions, markers, latestMarkers int }
	seen := map[string]*stack{}
	p := s3.NewListObjectVersionsPaginator(cl, &s3.ListObjectVersionsInput{Bucket: bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		at := func(k *string) *stack {
			if seen[*k] == nil {
				seen[*k] = &stack{}
			}
			return seen[*k]
		}
		for _, v := range page.Versions {
			at(v.Key).versions++
			if *v.IsLatest != strings.HasPrefix(*v.Key, "keep/") {
				t.Fatalf("%s: version latest=%v", *v.Key, *v.IsLatest)
			}
		}
		for _, m := range page.DeleteMarkers {
			st := at(m.Key)
			st.markers++
			if *m.IsLatest {
				st.latestMarkers++
			}
		}
	}
	if len(seen) != expiring+kept {
		t.Fatalf("%d keys listed, want %d", len(seen), expiring+kept)
	}
	for k, st := range seen {
		want := stack{versions: 1}
		if strings.HasPrefix(k, "old/") {
			want = stack{versions: 1, markers: 1, latestMarkers: 1}
		}
		if *st != want {
			t.Fatalf("%s: %+v, want %+v", k, *st, want)
		}
	}
	if got, err := getBytes(t, cl, "lcb", "keep/0007"); err != nil || string(got) != "keep/0007" {
		t.Fatalf("keep/0007: %q, %v", got, err)
	}

	// Idempotent: a second run finds nothing due.
	out, errOut, code := cairn(t, nil, "admin", "lifecycle", "run", "lcb", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("lifecycle run: %s", errOut)
	}
	var rep gateway.LifecycleReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if c := rep.Buckets["lcb"]; c.Scanned != expiring*2+kept || c.Expired+c.NoncurrentExpired+c.MarkersRemoved != 0 {
		t.Fatalf("second run: %+v", c)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
}

// lifecycleStatus is `cairn admin lifecycle status --json` for bucket lcb.
func lifecycleStatus(t *testing.T, dir string) gateway.BucketLifecycle {
	t.Helper()
	out, errs, code := cairn(t, nil, "admin", "lifecycle", "status", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("lifecycle status: exit %d: %s", code, errs)
	}
	var st []gateway.BucketLifecycle
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	for _, b := range st {
		if b.Bucket == "lcb" {
			return b
		}
	}
	t.Fatalf("no bucket lcb in %s", out)
	return gateway.BucketLifecycle{}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAdminPolicyMessages: `cairn admin policy` says what to fix, and a
// refused policy leaves the bucket without one.
func TestAdminPolicyMessages(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	if _, err := client(t, s, dir).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("vms")}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(file, []byte(`{"tier": "azure1", "mode": "copy", "idel": "72h"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "--tier", "azure1", "--mode", "copy"}, "name the bucket"},
		{[]string{"set", "vms", "--tier", "azure1"}, "needs --tier NAME and --mode"},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy", "--ext", ".vbk", "--exclude-ext", ".tmp"}, `"include_ext" and "exclude_ext" cannot both be set`},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy-then-move"}, `"after" is required with mode "copy-then-move"`},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy", "--after", "30d"}, `"after" is only for mode "copy-then-move"`},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy", "--ext", "vbk"}, `write it with its dot`},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy", "--dir", "/backups"}, `must end in "/"`},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy", "--idle", "soon"}, `idle`},
		{[]string{"set", "vms", "--file", file}, `idel`},
		{[]string{"set", "vms", "--file", file, "--mode", "move"}, "--file gives the whole policy"},
		{[]string{"set", "vms", "--tier", "azure1", "--mode", "copy-then-move", "--after", "30d", "--idle", "72h", "--ext", ".vbk,.vib", "--exclude-dir", "tmp/"}, `no configured tier: "azure1"`},
		{[]string{"set", "nobucket", "--tier", "azure1", "--mode", "copy"}, "nobucket"},
		{[]string{"get", "vms"}, "has no cloud policy"},
	} {
		out, errOut, code := cairn(t, nil, append(append([]string{"admin", "policy"}, tc.args...), "--data", dir)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("cairn admin policy %q: exit %d, %q%q; want exit 1 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	out, errOut, code := cairn(t, nil, "admin", "lifecycle", "status", "--data", dir)
	if code != 0 || !strings.Contains(out, "vms") || !strings.Contains(out, "never") {
		t.Fatalf("lifecycle status: exit %d: %s%s", code, out, errOut)
	}
}

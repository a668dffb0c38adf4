package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/replicator"
	"github.com/cairn-backup/cairn/tlsproxy/linktest"
)

// versionLines lists a bucket's versions and delete markers as sorted
// "key id etag size" lines.
func versionLines(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	var lines []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	for {
		out, err := c.ListObjectVersions(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			lines = append(lines, fmt.Sprintf("%s %s %s %d", aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToString(v.ETag), aws.ToInt64(v.Size)))
		}
		for _, m := range out.DeleteMarkers {
			lines = append(lines, fmt.Sprintf("%s %s marker", aws.ToString(m.Key), aws.ToString(m.VersionId)))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	slices.Sort(lines)
	return lines
}

func replicationStatus(t *testing.T, env []string) []gateway.ReplicationStatus {
	t.Helper()
	out, errs, code := cairn(t, env, "admin", "replication", "ls", "--json")
	if code != 0 {
		t.Fatalf("replication ls: exit %d: %s", code, errs)
	}
	var st []gateway.ReplicationStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("replication ls JSON: %v\n%s", err, out)
	}
	return st
}

// Two cairn serve processes: a bucket replicates to the other site through
// the admin commands; the second generation of a backup costs its new
// bytes on the wire; the replica is read-only; and kill -9 of the target
// and then of the source in the middle of replication loses nothing: the
// replica converges to exactly the source's versions.
func TestReplicationTwoSites(t *testing.T) {
	needBinary(t)
	ctx := context.Background()
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src, dst := startServe(t, srcDir), startServe(t, dstDir)
	srcEnv, dstEnv := []string{"CAIRN_DATA=" + srcDir}, []string{"CAIRN_DATA=" + dstDir}
	dcreds := readCreds(t, dstDir).Value

	out, errs, code := cairn(t, srcEnv, "admin", "remote", "add", "dr", "--endpoint", dst.url(), "--access-key", dcreds.AccessKeyID, "--secret-key", "nope")
	if code == 0 || !strings.Contains(errs, "refused the keys") {
		t.Fatalf("remote add with a wrong key: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "remote", "add", "dr", "--endpoint", dst.url(), "--access-key", dcreds.AccessKeyID, "--secret-key", dcreds.SecretAccessKey)
	if code != 0 || !strings.Contains(out, "remote dr added") || !strings.Contains(out, fmt.Sprintf("replication protocol %d", replicator.ProtocolVersion)) {
		t.Fatalf("remote add: exit %d\n%s%s", code, out, errs)
	}
	sc, dc := client(t, src, srcDir), client(t, dst, dstDir)
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("backups")}); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "add", "backups", "--remote", "dr", "--bucket", "backups-dr")
	if code == 0 || !strings.Contains(errs, "Versioning must be 'Enabled'") {
		t.Fatalf("replication of an unversioned bucket: exit %d\n%s%s", code, out, errs)
	}
	if _, err := sc.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("backups"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "add", "backups", "--remote", "dr", "--bucket", "backups-dr", "--schedule", "25:00-26:00")
	if code == 0 || !strings.Contains(errs, "daily window") {
		t.Fatalf("a bad schedule: exit %d\n%s%s", code, out, errs)
	}
	// A window that opens two hours from now: closed for the whole test.
	later := time.Now().Add(2 * time.Hour)
	window := fmt.Sprintf("%02d:%02d-%02d:%02d", later.Hour(), later.Minute(), later.Add(time.Hour).Hour(), later.Minute())
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "add", "backups", "--remote", "dr", "--bucket", "backups-dr", "--schedule", window, "--bandwidth", "500MB/s")
	if code != 0 {
		t.Fatalf("replication add: exit %d\n%s%s", code, out, errs)
	}
	put := func(key string, data []byte) {
		t.Helper()
		if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	gen1 := random(1, 24<<20)
	put("vm.img", gen1)
	// Outside its window, nothing is sent until
	// a run says so.
	time.Sleep(500 * time.Millisecond)
	if st := replicationStatus(t, srcEnv); len(st) != 1 || st[0].PendingChanges != 1 || !strings.Contains(st[0].State, "window") {
		t.Fatalf("outside its window: %+v", st)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "run", "backups")
	if code != 0 || !strings.Contains(out, "bucket backups replicated: 1 versions") {
		t.Fatalf("replication run: exit %d\n%s%s", code, out, errs)
	}

	// The second generation: 1 MiB changed in the middle.
	gen2 := bytes.Clone(gen1)
	copy(gen2[12<<20:], random(2, 1<<20))
	before := adminStats(t, srcDir).Groups[0].StoredBytes
	put("vm.img", gen2)
	newBytes := adminStats(t, srcDir).Groups[0].StoredBytes - before
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "run", "backups", "--json")
	if code != 0 {
		t.Fatalf("replication run: exit %d\n%s%s", code, out, errs)
	}
	var run gateway.ReplicationRun
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatal(err)
	}
	t.Logf("second generation: %d new stored bytes at the source, %d bytes sent (%.2fx)", newBytes, run.BytesSent, float64(run.BytesSent)/float64(newBytes))
	if run.Versions != 1 || run.BytesSent > newBytes*11/10+4096 {
		t.Fatalf("the second generation sent %d bytes for %d new: want at most 1.1x", run.BytesSent, newBytes)
	}

	// Read-only to S3 clients of the replica.
	_, err := dc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups-dr"), Key: aws.String("x"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "replica of") {
		t.Fatalf("a PUT to the replica: %v", err)
	}

	// Continuous now, and kill -9 on both sides while it runs.
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "add", "backups", "--remote", "dr", "--bucket", "backups-dr")
	if code != 0 {
		t.Fatalf("replication add (continuous): exit %d\n%s%s", code, out, errs)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 12 {
		put(fmt.Sprintf("inc/%02d", i), random(uint64(100+i), 1<<20+r.IntN(1<<20)))
		if i == 3 {
			dst.cmd.Process.Kill() // mid-transfer, likely
		}
		if i%5 == 4 {
			if _, err := sc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String(fmt.Sprintf("inc/%02d", i-1))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-dst.done
	dst = startServe(t, dstDir, "--listen", dst.addr)
	time.Sleep(300 * time.Millisecond)
	src.cmd.Process.Signal(syscall.SIGKILL)
	<-src.done
	src = startServe(t, srcDir, "--listen", src.addr)
	sc, dc = client(t, src, srcDir), client(t, dst, dstDir)
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "run", "backups")
	if code != 0 {
		t.Fatalf("replication run after the kills: exit %d\n%s%s\n%s", code, out, errs, src.stderr)
	}
	if a, b := versionLines(t, sc, "backups"), versionLines(t, dc, "backups-dr"); !slices.Equal(a, b) {
		t.Fatalf("after kill -9 on both sides the replica differs:\nsource  %q\nreplica %q", a, b)
	}
	got, err := getBytes(t, dc, "backups-dr", "vm.img")
	if err != nil || !bytes.Equal(got, gen2) {
		t.Fatalf("the replica's vm.img: %v", err)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "ls")
	if code != 0 || !strings.Contains(out, "backups-dr") || !strings.Contains(out, "0 (0 B)") {
		t.Fatalf("replication ls: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "stats")
	if code != 0 || !strings.Contains(out, "REPLICA") || !strings.Contains(out, "backups-dr") {
		t.Fatalf("admin stats shows no replication: exit %d\n%s%s", code, out, errs)
	}

	// Failback: the replica becomes the source, this site its replica.
	screds := readCreds(t, srcDir).Value
	out, errs, code = cairn(t, dstEnv, "admin", "remote", "add", "home", "--endpoint", src.url(), "--access-key", screds.AccessKeyID, "--secret-key", screds.SecretAccessKey)
	if code != 0 {
		t.Fatalf("remote add at the replica: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, srcEnv, "admin", "replication", "reverse", "backups", "--back", "home")
	if code != 0 || !strings.Contains(out, "is now a read-only replica") {
		t.Fatalf("replication reverse: exit %d\n%s%s", code, out, errs)
	}
	if _, err := dc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups-dr"), Key: aws.String("after-failover"), Body: strings.NewReader("ok")}); err != nil {
		t.Fatalf("a PUT to the promoted replica: %v", err)
	}
	_, err = sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("x"), Body: strings.NewReader("x")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("a PUT to the old source: %v", err)
	}
	out, errs, code = cairn(t, dstEnv, "admin", "replication", "run", "backups-dr")
	if code != 0 {
		t.Fatalf("replication run back: exit %d\n%s%s", code, out, errs)
	}
	if got, err := getBytes(t, sc, "backups", "after-failover"); err != nil || string(got) != "ok" {
		t.Fatalf("replicated back: %q, %v", got, err)
	}
}

// Replication across a WAN through secure connect: the source runs the
// tunnel to the replica's secure connect port itself (remote add
// --secure-connect), and the WAN link is cut while a backup replicates;
// the replica converges.
func TestReplicationOverSecureConnect(t *testing.T) {
	needBinary(t)
	ctx := context.Background()
	srcDir, dstDir := t.TempDir(), t.TempDir()
	dst := startServe(t, dstDir, "--secure-listen", "127.0.0.1:0", "--secure-keepalive", "250ms")
	secureAddr := waitForFile(t, filepath.Join(dstDir, secureAddrFile), dst)
	cred := filepath.Join(t.TempDir(), "site-a.pem")
	out, errs, code := cairn(t, nil, "admin", "secure-connect", "issue", "site-a", "--data", dstDir, "--out", cred)
	m := regexp.MustCompile(`--fingerprint (SHA256:\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("issue: exit %d\n%s%s", code, out, errs)
	}
	wan := linktest.New(t, secureAddr)

	src := startServe(t, srcDir)
	srcEnv := []string{"CAIRN_DATA=" + srcDir}
	dcreds := readCreds(t, dstDir).Value
	out, errs, code = cairn(t, srcEnv, "admin", "remote", "add", "dr", "--secure-connect", wan.Addr(), "--credential", cred, "--fingerprint", m[1],
		"--access-key", dcreds.AccessKeyID, "--secret-key", dcreds.SecretAccessKey)
	if code != 0 || !strings.Contains(out, "secure connect") {
		t.Fatalf("remote add through secure connect: exit %d\n%s%s", code, out, errs)
	}
	sc := client(t, src, srcDir)
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("wan")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("wan"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := cairn(t, srcEnv, "admin", "replication", "add", "wan", "--remote", "dr", "--bucket", "wan-dr"); code != 0 {
		t.Fatalf("replication add: exit %d\n%s%s", code, out, errs)
	}
	data := random(77, 48<<20)
	if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("wan"), Key: aws.String("image"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	wan.ResetAll() // the WAN drops while the image replicates
	time.Sleep(150 * time.Millisecond)
	wan.Stall(500 * time.Millisecond)
	if out, errs, code := cairn(t, srcEnv, "admin", "replication", "run", "wan"); code != 0 {
		t.Fatalf("replication run: exit %d\n%s%s", code, out, errs)
	}
	got, err := getBytes(t, client(t, dst, dstDir), "wan-dr", "image")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the replica through secure connect: %v", err)
	}
	// The tunnel comes back with the source after a restart.
	src.stop(syscall.SIGTERM)
	src = startServe(t, srcDir, "--listen", src.addr)
	if _, err := client(t, src, srcDir).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("wan"), Key: aws.String("next"), Body: strings.NewReader("after a restart")}); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := cairn(t, srcEnv, "admin", "replication", "run", "wan"); code != 0 {
		t.Fatalf("replication run after a restart: exit %d\n%s%s", code, out, errs)
	}
	if got, err := getBytes(t, client(t, dst, dstDir), "wan-dr", "next"); err != nil || string(got) != "after a restart" {
		t.Fatalf("replicated after a restart: %q, %v", got, err)
	}
}

// Three cairn serve processes: two sites replicate into replica buckets of
// the third's default group, which dedups across them: the second site's
// copy of the image the first already sent costs only its own change.
func TestReplicationManyToOneProcesses(t *testing.T) {
	needBinary(t)
	ctx := context.Background()
	hubDir := t.TempDir()
	hub := startServe(t, hubDir)
	hcreds := readCreds(t, hubDir).Value
	image := random(31, 16<<20)
	var sent [2]int64
	for i := range 2 {
		dir := t.TempDir()
		s := startServe(t, dir)
		env := []string{"CAIRN_DATA=" + dir}
		if out, errs, code := cairn(t, env, "admin", "remote", "add", "hub", "--endpoint", hub.url(), "--access-key", hcreds.AccessKeyID, "--secret-key", hcreds.SecretAccessKey); code != 0 {
			t.Fatalf("remote add: exit %d\n%s%s", code, out, errs)
		}
		c := client(t, s, dir)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vms")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("vms"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
		replica := fmt.Sprintf("site%d-vms", i)
		if out, errs, code := cairn(t, env, "admin", "replication", "add", "vms", "--remote", "hub", "--bucket", replica); code != 0 {
			t.Fatalf("replication add: exit %d\n%s%s", code, out, errs)
		}
		data := bytes.Clone(image)
		copy(data[8<<20:], random(uint64(40+i), 512<<10)) // the site's own change
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vms"), Key: aws.String("golden.img"), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		out, errs, code := cairn(t, env, "admin", "replication", "run", "vms", "--json")
		if code != 0 {
			t.Fatalf("replication run: exit %d\n%s%s", code, out, errs)
		}
		var run gateway.ReplicationRun
		if err := json.Unmarshal([]byte(out), &run); err != nil {
			t.Fatal(err)
		}
		sent[i] = run.BytesSent
		got, err := getBytes(t, client(t, hub, hubDir), replica, "golden.img")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("site %d's replica at the hub: %v", i, err)
		}
	}
	t.Logf("the first site sent %d bytes, the second %d for the same 16 MiB image with its own 512 KiB change", sent[0], sent[1])
	if sent[1] > sent[0]/8 {
		t.Fatalf("the second site sent %d bytes, the first %d: the hub did not dedup across them", sent[1], sent[0])
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cairn-backup/cairn/gateway"
)

// An admin adds a performance group with a quota while the server runs, a
// backup fills it: the SDK gets 507 QuotaExceeded naming the group, reads
// go on, and after deletes the cleaner frees
// the space on its own and writes resume. The group outlives a restart
// without --group, and group rm refuses while a bucket uses it.
func TestGroupQuotaEndToEnd(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir, "--min-quota", "1MiB", "--clean-check", "100ms", "--clean-gap", "200ms", "--metrics-listen", "127.0.0.1:0")
	env := []string{"CAIRN_DATA=" + dir}
	fast := filepath.Join(t.TempDir(), "ssd")

	out, errs, code := cairn(t, env, "admin", "group", "add", "fast", "--path", fast, "--performance", "--quota", "10", "--streams", "4")
	if code == 0 || !strings.Contains(errs, "below the minimum of 1 MiB") {
		t.Fatalf("a quota below the minimum: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, env, "admin", "group", "add", "fast", "--path", fast, "--performance", "--quota", "24MiB", "--streams", "4", "--compression", "s2")
	if code != 0 || !strings.Contains(out, "storage group fast added: performance tier") || !strings.Contains(out, "quota 24.0 MiB") || !strings.Contains(out, "compression s2") {
		t.Fatalf("group add: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, env, "admin", "group", "set", "fast", "--quota", "1TiB0")
	if code == 0 || !strings.Contains(errs, "--quota") {
		t.Fatalf("a bad size: exit %d\n%s%s", code, out, errs)
	}

	ctx := context.Background()
	c := client(t, s, dir)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vms"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "fast"}}); err != nil {
		t.Fatal(err)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("vms")})
	if err != nil || loc.LocationConstraint != "fast" {
		t.Fatalf("GetBucketLocation: %v, %v", loc, err)
	}
	putObj := func(key string, seed uint64) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vms"), Key: aws.String(key), Body: bytes.NewReader(random(seed, 4<<20))})
		return err
	}
	var keys []string
	var refused error
	for i := range 12 {
		key := "full-" + string(rune('a'+i))
		if refused = putObj(key, uint64(i)); refused != nil {
			break
		}
		keys = append(keys, key)
	}
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	if !errors.As(refused, &apiErr) || apiErr.ErrorCode() != "QuotaExceeded" || !strings.Contains(apiErr.ErrorMessage(), `"fast"`) ||
		!errors.As(refused, &respErr) || respErr.HTTPStatusCode() != http.StatusInsufficientStorage {
		t.Fatalf("a PUT past the quota: %v", refused)
	}
	if len(keys) == 0 {
		t.Fatal("nothing fitted under a 24 MiB quota")
	}
	// Again, now refused before the body is read.
	if err := putObj("again", 99); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "QuotaExceeded" {
		t.Fatalf("a PUT at the quota: %v", err)
	}
	for i, k := range keys {
		got, err := getBytes(t, c, "vms", k)
		if err != nil || !bytes.Equal(got, random(uint64(i), 4<<20)) {
			t.Fatalf("GET %s at the quota: %v", k, err)
		}
	}
	out, errs, code = cairn(t, env, "admin", "group", "ls")
	if code != 0 || !strings.Contains(out, "fast (perf)") || !strings.Contains(out, fast) || !strings.Contains(out, "vms") {
		t.Fatalf("group ls: exit %d\n%s%s", code, out, errs)
	}
	for _, k := range keys {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vms"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody runs the cleaner: the refusals nudged it, and it runs again
	// while the group stays near its quota.
	deadline := time.Now().Add(60 * time.Second)
	for putObj("after", 100) != nil {
		if time.Now().After(deadline) {
			out, _, _ := cairn(t, env, "admin", "clean", "status")
			t.Fatalf("writes did not resume after deletes:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, errs, code = cairn(t, env, "admin", "clean", "status")
	if code != 0 || !strings.Contains(out, "runs on its own") || !strings.Contains(out, "quota") {
		t.Fatalf("clean status: exit %d\n%s%s", code, out, errs)
	}
	// A PUT admitted but refused halfway through its body still gets its
	// S3 error, not a connection reset in the middle of sending.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vms"), Key: aws.String("too-big"), Body: bytes.NewReader(random(101, 40<<20))})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "QuotaExceeded" {
		t.Fatalf("a PUT refused halfway: %v", err)
	}
	// The metrics tell the same story.
	maddr, err := os.ReadFile(filepath.Join(dir, metricsAddrFile))
	if err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, get(t, "http://"+strings.TrimSpace(string(maddr))+"/metrics", "", http.StatusOK))
	if v, ok := metricValue(fams, "cairn_group_quota_bytes", "group", "fast"); !ok || v != 24<<20 {
		t.Fatalf("cairn_group_quota_bytes{group=fast} = %v, %v", v, ok)
	}
	if v, ok := metricValue(fams, "cairn_group_used_bytes", "group", "fast"); !ok || v <= 0 || v > 24<<20 {
		t.Fatalf("cairn_group_used_bytes{group=fast} = %v, %v", v, ok)
	}
	if v, ok := metricValue(fams, "cairn_cleaner_runs_total", "group", "fast"); !ok || v < 1 {
		t.Fatalf("cairn_cleaner_runs_total{group=fast} = %v, %v", v, ok)
	}
	if v, ok := metricValue(fams, "cairn_s3_requests_total", "operation", "PutObject", "status", "507"); !ok || v < 2 {
		t.Fatalf("PutObject 507s counted: %v, %v", v, ok)
	}
	out, errs, code = cairn(t, env, "admin", "group", "rm", "fast")
	if code == 0 || !strings.Contains(errs, "holds buckets vms") {
		t.Fatalf("group rm with a bucket: exit %d\n%s%s", code, out, errs)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	s = startServe(t, dir, "--min-quota", "1MiB")
	c = client(t, s, dir)
	if got, err := getBytes(t, c, "vms", "after"); err != nil || !bytes.Equal(got, random(100, 4<<20)) {
		t.Fatalf("GET after a restart without --group: %v", err)
	}
	out, errs, code = cairn(t, env, "admin", "group", "ls", "--json")
	if code != 0 || !strings.Contains(out, `"performance": true`) || !strings.Contains(out, `"quota": 25165824`) || !strings.Contains(out, `"streams": 4`) || !strings.Contains(out, `"compression": "s2"`) {
		t.Fatalf("group ls after a restart: exit %d\n%s%s", code, out, errs)
	}
}

// An admin chooses how a group compresses (cairn admin group set
// --compression): text written under none is stored whole, under zstd in
// a fraction of its size; the setting survives a restart, everything reads
// back, and a codec the store does not know is refused and changes nothing.
func TestGroupCompression(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	env := []string{"CAIRN_DATA=" + dir}
	s := startServe(t, dir)
	ctx := context.Background()
	text := func(seed int) []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < 4<<20; i++ {
			fmt.Fprintf(&b, "object %d line %d: the quick brown fox jumps over the lazy dog\n", seed, i)
		}
		return b.Bytes()
	}
	stored := func() int64 {
		t.Helper()
		out, errs, code := cairn(t, env, "admin", "group", "ls", "--json")
		var gs []gateway.GroupInfo
		if code != 0 || json.Unmarshal([]byte(out), &gs) != nil || len(gs) != 1 {
			t.Fatalf("group ls: exit %d\n%s%s", code, out, errs)
		}
		return gs[0].StoredBytes
	}
	putText := func(c *s3.Client, key string, seed int) int64 {
		t.Helper()
		before := stored()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("docs"), Key: aws.String(key), Body: bytes.NewReader(text(seed))}); err != nil {
			t.Fatal(err)
		}
		return stored() - before
	}

	out, errs, code := cairn(t, env, "admin", "group", "set", gateway.DefaultGroup, "--compression", "lz4")
	if code == 0 || !strings.Contains(errs, `compression "lz4": want none, s2, zstd or zstd-later`) {
		t.Fatalf("an unknown codec: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, env, "admin", "group", "set", gateway.DefaultGroup, "--compression", "none")
	if code != 0 || !strings.Contains(out, "compression none") {
		t.Fatalf("group set --compression none: exit %d\n%s%s", code, out, errs)
	}
	c := client(t, s, dir)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("docs")}); err != nil {
		t.Fatal(err)
	}
	if n := putText(c, "raw", 1); n < 4<<20 {
		t.Fatalf("4 MiB of text stored in %d bytes under compression none", n)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	s = startServe(t, dir)
	c = client(t, s, dir)
	out, errs, code = cairn(t, env, "admin", "group", "ls")
	if code != 0 || !strings.Contains(out, "COMPRESSION") || !strings.Contains(out, " none ") {
		t.Fatalf("group ls after a restart: exit %d\n%s%s", code, out, errs)
	}
	if n := putText(c, "raw-again", 2); n < 4<<20 {
		t.Fatalf("after a restart, 4 MiB of text stored in %d bytes: compression none did not stay", n)
	}
	out, errs, code = cairn(t, env, "admin", "group", "set", gateway.DefaultGroup, "--compression", "zstd")
	if code != 0 || !strings.Contains(out, "compression zstd") {
		t.Fatalf("group set --compression zstd: exit %d\n%s%s", code, out, errs)
	}
	if n := putText(c, "zstd", 3); n > 1<<20 {
		t.Fatalf("4 MiB of text stored in %d bytes under zstd", n)
	}

	// zstd-later: S2 as written, shown as such, zstd after the cleaner.
	out, errs, code = cairn(t, env, "admin", "group", "set", gateway.DefaultGroup, "--compression", "zstd-later")
	if code != 0 || !strings.Contains(out, "compression zstd-later") {
		t.Fatalf("group set --compression zstd-later: exit %d\n%s%s", code, out, errs)
	}
	asS2 := putText(c, "later", 4)
	out, errs, code = cairn(t, env, "admin", "group", "ls")
	if code != 0 || !strings.Contains(out, "to recompress)") {
		t.Fatalf("group ls with S2 chunks to recompress: exit %d\n%s%s", code, out, errs)
	}
	before := stored()
	out, errs, code = cairn(t, env, "admin", "clean")
	if code != 0 || !strings.Contains(out, "recompressed with zstd") {
		t.Fatalf("admin clean: exit %d\n%s%s", code, out, errs)
	}
	if after := stored(); after >= before {
		t.Fatalf("after the clean the group stores %d bytes, %d before (%d of them the S2 text)", after, before, asS2)
	}
	out, errs, code = cairn(t, env, "admin", "group", "ls", "--json")
	if code != 0 || !strings.Contains(out, `"later_bytes": 0`) {
		t.Fatalf("group ls --json after the clean: exit %d\n%s%s", code, out, errs)
	}
	for key, seed := range map[string]int{"raw": 1, "raw-again": 2, "zstd": 3, "later": 4} {
		if got, err := getBytes(t, c, "docs", key); err != nil || !bytes.Equal(got, text(seed)) {
			t.Fatalf("GET %s: %v", key, err)
		}
	}
}

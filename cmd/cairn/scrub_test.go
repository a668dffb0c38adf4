package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestAdminScrub: scrub refuses to run beside a server, passes a healthy
// store, and reports a flipped byte as a fault with exit status 1.
func TestAdminScrub(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("scrubbed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("scrubbed"), Key: aws.String("k"), Body: bytes.NewReader(random(5, 2<<20))}); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := cairn(t, nil, "admin", "scrub", "--data", dir); code != 1 || !strings.Contains(errs, "stop cairn serve before scrubbing") {
		t.Fatalf("scrub beside a running server: exit %d, %s", code, errs)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	if out, errs, code := cairn(t, nil, "admin", "scrub", "--data", dir); code != 0 || !strings.Contains(out, "group default: ok") {
		t.Fatalf("scrub of a healthy store: exit %d\n%s%s", code, out, errs)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "groups", "default", "containers", "*.ctr"))
	if len(files) == 0 {
		t.Fatal("no container file")
	}
	b, _ := os.ReadFile(files[0])
	b[len(b)/2] ^= 1
	os.WriteFile(files[0], b, 0o600)
	out, errs, code := cairn(t, nil, "admin", "scrub", "--data", dir)
	if code != 1 || !strings.Contains(out, "FAULTS") || !strings.Contains(out, `damaged: bucket scrubbed key "k"`) || !strings.Contains(errs, "back them up again") {
		t.Fatalf("scrub of a flipped byte: exit %d\n%s%s", code, out, errs)
	}
	// --repair rebuilds the index, but the object stays damaged: not 0.
	out, errs, code = cairn(t, nil, "admin", "scrub", "--data", dir, "--repair")
	if code != 1 || !strings.Contains(out, `damaged: bucket scrubbed key "k"`) {
		t.Fatalf("scrub --repair with a damaged object: exit %d\n%s%s", code, out, errs)
	}
}

// TestAdminScrubEveryGroup: scrub without --group checks every group the
// data directory knows, not only the default one.
func TestAdminScrubEveryGroup(t *testing.T) {
	needBinary(t)
	dir, fast := t.TempDir(), t.TempDir()
	s := startServe(t, dir, "--group", "fast="+fast)
	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("quick"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "fast"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("quick"), Key: aws.String("k"), Body: bytes.NewReader(random(6, 1<<20))}); err != nil {
		t.Fatal(err)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	if out, errs, code := cairn(t, nil, "admin", "scrub", "--data", dir); code != 0 || !strings.Contains(out, "group fast: ok") || !strings.Contains(out, "group default: ok") {
		t.Fatalf("scrub without --group: exit %d\n%s%s", code, out, errs)
	}
}

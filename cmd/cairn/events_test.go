package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-backup/cairn/gateway/events"
)

// waitOutput waits until buf holds want, or the process ends, or a
// minute passes (a deadline for a hung test, not a timing assertion).
func waitOutput(t *testing.T, buf *syncBuffer, done <-chan struct{}, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(buf.String(), want) {
		select {
		case <-done:
			t.Fatalf("the process ended without printing %q:\n%s", want, buf)
		case <-deadline:
			t.Fatalf("no %q after a minute:\n%s", want, buf)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAdminEvents: cairn admin events shows what the server wrote (a disk
// nearly full), the events survive a restart of cairn serve, and --follow,
// started before, rides out the restart and shows the event an offline
// scrub wrote while the server was stopped.
func TestAdminEvents(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir, "--disk-full-percent", "0.000001") // any disk in use is past it
	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("evented")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("evented"), Key: aws.String("k"), Body: bytes.NewReader(random(9, 1<<20))}); err != nil {
		t.Fatal(err)
	}

	follow := exec.Command(cairnBin, "admin", "events", "--data", dir, "--follow")
	follow.Env = cleanEnv()
	fout, ferr := &syncBuffer{}, &syncBuffer{}
	follow.Stdout, follow.Stderr = fout, ferr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	fdone := make(chan struct{})
	var fwait error
	go func() { fwait = follow.Wait(); close(fdone) }()
	t.Cleanup(func() {
		select {
		case <-fdone:
		default:
			follow.Process.Kill()
			<-fdone
		}
	})
	waitOutput(t, fout, fdone, "disk_nearly_full  default")

	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "level=WARN msg=event kind=disk_nearly_full") {
		t.Fatalf("the event was not logged at WARN:\n%s", s.stderr)
	}
	waitOutput(t, ferr, fdone, "retrying")

	// Damage the object; the offline scrub writes an event.
	files, _ := filepath.Glob(filepath.Join(dir, "groups", "default", "containers", "*.ctr"))
	if len(files) == 0 {
		t.Fatal("no container file")
	}
	b, _ := os.ReadFile(files[0])
	b[len(b)/2] ^= 1
	os.WriteFile(files[0], b, 0o600)
	if out, errs, code := cairn(t, nil, "admin", "scrub", "--data", dir); code != 1 || !strings.Contains(out, "FAULTS") {
		t.Fatalf("scrub: exit %d\n%s%s", code, out, errs)
	}

	startServe(t, dir, "--disk-full-percent", "100") // no second disk event
	waitOutput(t, fout, fdone, "scrub_damage  default")
	waitOutput(t, ferr, fdone, "answers again")

	out, errs, code := cairn(t, nil, "admin", "events", "--data", dir)
	if code != 0 || !strings.Contains(out, "#1  disk_nearly_full  default") || !strings.Contains(out, "scrub_damage  default  scrub found faults") {
		t.Fatalf("cairn admin events after a restart: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, nil, "admin", "events", "--data", dir, "--json", "--last", "1")
	var e events.Event
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &e) != nil || e.Kind != events.ScrubDamage {
		t.Fatalf("cairn admin events --json --last 1: exit %d\n%s%s", code, out, errs)
	}

	follow.Process.Signal(syscall.SIGINT)
	<-fdone
	if fwait != nil {
		t.Fatalf("--follow after SIGINT: %v\n%s", fwait, ferr)
	}
}

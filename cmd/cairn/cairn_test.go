package main

// These tests build the real binary and drive it as an operator and an S3
// client would: processes, signals, files on disk, aws-sdk-go-v2 over HTTP.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/gateway"
)

// The binary under test is built on first need, once per run, into binDir.
var (
	binDir   string
	buildBin = sync.OnceValues(func() (string, error) {
		bin := filepath.Join(binDir, "cairn")
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build: %v\n%s", err, out)
		}
		return bin, nil
	})
	cairnBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the cairn binary; skipped with -short")
	}
	bin, err := buildBin()
	if err != nil {
		t.Fatal(err)
	}
	cairnBin = bin
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cleanEnv is the test's environment without CAIRN_ and AWS_ variables.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAIRN_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// server is one running `cairn serve`.
type server struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	addr           string
	done           chan struct{}
	err            error // Wait's, once done is closed
}

// startServe starts `cairn serve --data dir --listen 127.0.0.1:0` and waits
// for DATA/serve.addr. The process is killed at cleanup if still running.
// serveWrapper, if set, runs before cairn (prlimit, for one).
var serveWrapper []string

func startServe(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	os.Remove(filepath.Join(dir, serveAddrFile))
	s := &server{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	// Secure connect is off unless a test turns it on (a later flag wins):
	// servers running side by side would contend for its port.
	argv := append([]string{cairnBin, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--secure-listen", "off"}, args...)
	argv = append(append([]string(nil), serveWrapper...), argv...)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, serveAddrFile)); err == nil && strings.HasSuffix(string(b), "\n") {
			s.addr = strings.TrimSpace(string(b))
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("cairn serve exited (%v) before listening:\n%s", s.err, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn serve did not write %s:\n%s", serveAddrFile, s.stderr)
		}
	}
}

// stop sends sig and returns the exit code.
func (s *server) stop(sig os.Signal) int {
	s.t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("cairn serve did not stop after %v:\n%s", sig, s.stderr)
	}
	return s.cmd.ProcessState.ExitCode()
}

func (s *server) url() string { return "http://" + s.addr }

func readCreds(t *testing.T, dir string) awscreds.StaticCredentialsProvider {
	t.Helper()
	c, err := loadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	return awscreds.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")
}

func client(t *testing.T, s *server, dir string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(s.url()),
		UsePathStyle:               true,
		Credentials:                readCreds(t, dir),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
}

// cairn runs the binary to completion: stdout, stderr, exit code.
func cairn(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(cairnBin, args...)
	cmd.Env = cleanEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func adminStats(t *testing.T, dir string) gateway.Stats {
	t.Helper()
	out, errs, code := cairn(t, nil, "admin", "stats", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("cairn admin stats: exit %d: %s", code, errs)
	}
	var st gateway.Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("stats JSON: %v\n%s", err, out)
	}
	return st
}

func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func getBytes(t *testing.T, c *s3.Client, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// slowPut starts a PUT of size bytes whose body the caller feeds through
// the returned pipe; it signs UNSIGNED-PAYLOAD, so the body can stream.
// The response (or error) arrives on the channel.
func slowPut(t *testing.T, s *server, dir, bucket, key string, size int64) (*io.PipeWriter, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, s.url()+"/"+bucket+"/"+key, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds, _ := readCreds(t, dir).Retrieve(t.Context())
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("PUT: %s: %s", resp.Status, body)
			}
		}
		res <- err
	}()
	return pw, res
}

func TestServeEndToEnd(t *testing.T) {
	needBinary(t)
	ctx := t.Context()
	dir := t.TempDir()
	s := startServe(t, dir)

	// Generated credentials: saved 0600, printed once with a snippet.
	c, err := loadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, credentialsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials.json: %v %v", fi.Mode(), err)
	}
	for _, want := range []string{
		"export AWS_ACCESS_KEY_ID=" + c.AccessKey + " AWS_SECRET_ACCESS_KEY=" + c.SecretKey + " AWS_DEFAULT_REGION=us-east-1",
		"aws --endpoint-url http://" + s.addr + " s3 ls",
	} {
		// Printed before serve.addr is written, but the pipe from the
		// process may deliver it a moment after.
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.stdout.String(), want) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(s.stdout.String(), want) {
			t.Fatalf("stdout lacks %q:\n%s", want, s.stdout)
		}
	}
	// Logged before serve.addr is written; the pipe may deliver it later.
	listening := "msg=listening addr=" + s.addr
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.stderr.String(), listening) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(s.stderr.String(), listening) {
		t.Fatalf("no listening line for %s:\n%s", s.addr, s.stderr)
	}

	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("backups")}); err != nil {
		t.Fatal(err)
	}
	data := random(1, 3<<20+5)
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("night/1.tar"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if got, err := getBytes(t, cl, "backups", "night/1.tar"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET: %d bytes, %v", len(got), err)
	}
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("night/2.tar"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String("night/1.tar")}); err != nil {
		t.Fatal(err)
	}
	var nsk *types.NoSuchKey
	if _, err := getBytes(t, cl, "backups", "night/1.tar"); !errors.As(err, &nsk) {
		t.Fatalf("GET after DELETE: %v", err)
	}

	// admin stats: the table, and the JSON.
	out, errs, code := cairn(t, nil, "admin", "stats", "--data", dir)
	if code != 0 || !strings.Contains(out, "default") || !strings.Contains(out, "backups") || !strings.Contains(out, "3.0 MiB") {
		t.Fatalf("admin stats: exit %d\n%s%s", code, out, errs)
	}
	st := adminStats(t, dir)
	if len(st.Buckets) != 1 || st.Buckets[0].Objects != 1 || st.Buckets[0].LogicalBytes != int64(len(data)) || st.Groups[0].Manifests != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Not root: refused.
	_, errs, code = cairn(t, []string{"CAIRN_ROOT_ACCESS_KEY=NOTROOT", "CAIRN_ROOT_SECRET_KEY=whatever1"}, "admin", "stats", "--data", dir)
	if code != 1 || !strings.Contains(errs, "access key ID you provided does not exist") {
		t.Fatalf("admin with unknown key: exit %d: %s", code, errs)
	}
	out, errs, code = cairn(t, nil, "admin", "clean", "--endpoint", s.url(), "--data", dir)
	if code != 0 || !strings.Contains(out, "reclaimed") {
		t.Fatalf("admin clean: exit %d\n%s%s", code, out, errs)
	}

	// A second server on the same data directory fails clearly.
	_, errs, code = cairn(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	want := fmt.Sprintf("data directory %s is in use by another cairn (pid %d)", dir, s.cmd.Process.Pid)
	if code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("second serve: exit %d, stderr %q, want %q", code, errs, want)
	}

	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, s.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, serveAddrFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("serve.addr left behind: %v", err)
	}

	// Restart: the same credentials, not printed again; the data is there.
	s = startServe(t, dir)
	if strings.Contains(s.stdout.String(), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("credentials printed again:\n%s", s.stdout)
	}
	if got, err := getBytes(t, client(t, s, dir), "backups", "night/2.tar"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %d bytes, %v", len(got), err)
	}
	s.stop(syscall.SIGINT)
}

// TestSIGTERMFinishesUploadInFlight: the server stops accepting, lets the
// upload it is receiving finish, then exits 0; the object is complete.
func TestSIGTERMFinishesUploadInFlight(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	data := random(2, 12<<20)
	pw, res := slowPut(t, s, dir, "bkt", "inflight", int64(len(data)))
	if _, err := pw.Write(data[:4<<20]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server is inside the request
	s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond) // and begins its shutdown
	if _, err := pw.Write(data[4<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-res; err != nil {
		t.Fatalf("upload in flight at SIGTERM: %v\n%s", err, s.stderr)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "shutting down") {
		t.Fatalf("no shutdown line:\n%s", s.stderr)
	}
	s = startServe(t, dir)
	if got, err := getBytes(t, client(t, s, dir), "bkt", "inflight"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %d bytes, %v", len(got), err)
	}
	s.stop(syscall.SIGTERM)
}

// TestKillMidUploadLeavesNothing: kill -9 while an upload streams; after a
// restart the object is absent or complete, and once the cleaner ran the
// group holds exactly the objects that exist: nothing leaked.
func TestKillMidUploadLeavesNothing(t *testing.T) {
	needBinary(t)
	ctx := t.Context()
	dir := t.TempDir()
	s := startServe(t, dir)
	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	kept := random(3, 1<<20)
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("kept"), Body: bytes.NewReader(kept)}); err != nil {
		t.Fatal(err)
	}
	data := random(4, 48<<20)
	pw, res := slowPut(t, s, dir, "bkt", "torn", int64(len(data)))
	if _, err := pw.Write(data[:20<<20]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	s.stop(syscall.SIGKILL)
	pw.CloseWithError(errors.New("server killed"))
	if err := <-res; err == nil {
		t.Fatal("the torn upload succeeded")
	}

	s = startServe(t, dir)
	cl = client(t, s, dir)
	if got, err := getBytes(t, cl, "bkt", "kept"); err != nil || !bytes.Equal(got, kept) {
		t.Fatalf("kept object: %d bytes, %v", len(got), err)
	}
	want := int64(len(kept))
	objects := int64(1)
	if got, err := getBytes(t, cl, "bkt", "torn"); err == nil {
		if !bytes.Equal(got, data) {
			t.Fatalf("torn object visible with %d of %d bytes", len(got), len(data))
		}
		want += int64(len(data))
		objects++
	}
	if _, errs, code := cairn(t, nil, "admin", "clean", "--data", dir); code != 0 {
		t.Fatalf("admin clean: %s", errs)
	}
	st := adminStats(t, dir)
	gs := st.Groups[0]
	if gs.Manifests != objects || gs.LogicalBytes != want || gs.UniqueBytes != want || st.Buckets[0].Objects != objects {
		t.Fatalf("after kill, restart and clean: %d objects of %d bytes, but group %+v", objects, want, gs)
	}
	// The torn upload's chunks are gone from disk too: what is stored is live,
	// up to the dead fraction the cleaner tolerates per container (25%).
	if gs.StoredBytes > gs.LiveBytes+gs.LiveBytes/3 {
		t.Fatalf("after clean: stored %d bytes but only %d live", gs.StoredBytes, gs.LiveBytes)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	ctx := context.Background()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"version"}, 0, "cairn dev"},
		{[]string{"admin"}, 2, "cairn admin stats"},
		{[]string{"serve", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"serve", "--group", "nodir"}, 2, "want NAME=DIR"},
		{[]string{"serve", "--log-level", "loud", "--data", t.TempDir()}, 1, "--log-level"},
		{[]string{"admin", "stats", "--data", t.TempDir()}, 1, "root credentials"},
	}
	for _, tc := range cases {
		out.Reset()
		errb.Reset()
		code := run(ctx, tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("cairn %q: exit %d, output %q; want exit %d and %q", tc.args, code, out.String()+errb.String(), tc.code, tc.want)
		}
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CAIRN_ROOT_ACCESS_KEY", "ADMIN")
	t.Setenv("CAIRN_ROOT_SECRET_KEY", "s3cret-s3cret")
	c, created, err := rootCredentials(dir)
	if err != nil || created || c.AccessKey != "ADMIN" {
		t.Fatalf("%+v %v %v", c, created, err)
	}
	if _, err := os.Stat(filepath.Join(dir, credentialsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("credentials from the environment were written to disk")
	}
	t.Setenv("CAIRN_ROOT_SECRET_KEY", "")
	if _, _, err := rootCredentials(dir); err == nil {
		t.Fatal("half the credentials accepted")
	}
}

// TestAdminFindsServerAndSaysWhy: admin commands talk to the server a user
// expects (DATA/serve.addr, else --endpoint, with the AWS_* credentials the
// README exports); a server that is not running is named as such; an
// admin path that does not exist answers JSON, which the CLI shows.
func TestAdminFindsServerAndSaysWhy(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	c, err := loadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	// From another directory, without --data: --endpoint and AWS_*.
	env := []string{"AWS_ACCESS_KEY_ID=" + c.AccessKey, "AWS_SECRET_ACCESS_KEY=" + c.SecretKey}
	cmd := exec.Command(cairnBin, "admin", "stats", "--endpoint", s.url(), "--json")
	cmd.Dir, cmd.Env = t.TempDir(), cleanEnv(env...)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"groups"`) {
		t.Fatalf("admin stats with --endpoint and AWS_*: %v\n%s", err, out)
	}
	o := adminOptions{data: dir, region: "us-east-1"}
	if _, err := o.call(t.Context(), http.MethodGet, "/_cairn/admin/nope"); err == nil || !strings.Contains(err.Error(), "no admin endpoint is at /_cairn/admin/nope") {
		t.Fatalf("an admin path that does not exist: %v", err)
	}
	if _, err := o.call(t.Context(), http.MethodDelete, gateway.AdminStatsPath); err == nil || !strings.Contains(err.Error(), "DELETE is not allowed") {
		t.Fatalf("a method the admin path lacks: %v", err)
	}
	// What admin clean shows on a terminal while it runs.
	if body, err := o.call(t.Context(), http.MethodGet, gateway.AdminCleanPath); err != nil || !strings.Contains(string(body), `"running": false`) {
		t.Fatalf("clean status: %s, %v", body, err)
	}
	s.stop(syscall.SIGKILL)
	_, errOut, code := cairn(t, nil, "admin", "stats", "--data", dir)
	if code != 1 || !strings.Contains(errOut, "is not running") {
		t.Fatalf("admin stats with the server gone: exit %d, %s", code, errOut)
	}
}

// TestServeSurvivesConnectionFlood: 3,000 half-sent requests from one
// address, three times the server's descriptors, do not lock it: an S3
// client and an admin command from the same address are served during the
// flood.
func TestServeSurvivesConnectionFlood(t *testing.T) {
	needBinary(t)
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("needs prlimit (util-linux) to give the server a small descriptor limit")
	}
	dir := t.TempDir()
	// 1,024 descriptors: the flood is three times that.
	serveWrapper = []string{"prlimit", "--nofile=1024:1024", "--"}
	s := startServe(t, dir)
	serveWrapper = nil
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for range 3000 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			continue // shed before the dial returned
		}
		c.Write([]byte("PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"))
		flood = append(flood, c)
	}
	// Answered now, not once the flood's requests time out (30 s).
	once := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url()), UsePathStyle: true,
		Credentials: readCreds(t, dir), RetryMaxAttempts: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := once.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("during-flood")}); err != nil {
		t.Fatalf("an S3 request during the flood: %v", err)
	}
	o := adminOptions{data: dir, region: "us-east-1"}
	if _, err := o.call(ctx, http.MethodGet, gateway.AdminStatsPath); err != nil {
		t.Fatalf("admin stats during the flood: %v", err)
	}
}

package main

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/tlsproxy"
	"github.com/cairn-backup/cairn/tlsproxy/linktest"
)

// TestSecureConnectSurvivesCuts sends a 1 GiB multipart upload and its
// download through `cairn connect` -> a link-cutting proxy -> `cairn serve`'s
// secure connect, cutting the link six times in four ways. The SDK's retries
// are off: every S3 request must survive on its first connection, and the
// bytes must come back exact.
func TestSecureConnectSurvivesCuts(t *testing.T) {
	needBinary(t)
	size := int64(1 << 30)
	if v, err := strconv.ParseInt(os.Getenv("CAIRN_SECURE_TEST_MIB"), 10, 64); err == nil {
		size = v << 20
	}
	dir := t.TempDir()
	srv := startServe(t, dir, "--secure-listen", "127.0.0.1:0", "--secure-keepalive", "250ms")
	secureAddr := waitForFile(t, filepath.Join(dir, secureAddrFile), srv)

	cred := filepath.Join(t.TempDir(), "laptop.pem")
	out, errs, code := cairn(t, nil, "admin", "secure-connect", "issue", "laptop", "--data", dir, "--out", cred)
	m := regexp.MustCompile(`--fingerprint (SHA256:\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("issue: exit %d\n%s%s", code, out, errs)
	}
	proxy := linktest.New(t, secureAddr)
	local := startConnect(t, "--server", proxy.Addr(), "--credential", cred, "--fingerprint", m[1],
		"--listen", "127.0.0.1:0", "--keepalive", "250ms")

	c := s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String("http://" + local),
		UsePathStyle:               true,
		Credentials:                readCreds(t, dir),
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("wan")}); err != nil {
		t.Fatal(err)
	}

	// Upload, cutting at 15%, 40% and 65% of the bytes sent.
	var progress atomic.Int64
	cuts := cutAt(t, proxy, size, &progress, []float64{0.15, 0.40, 0.65}, []string{"reset", "stall", "blackhole"})
	src := &seededReader{r: rand.NewChaCha8([32]byte{7}), left: size, h: sha256.New(), n: &progress}
	start := time.Now()
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 16 << 20; u.Concurrency = 4 })
	if _, err := up.Upload(t.Context(), &s3.PutObjectInput{Bucket: aws.String("wan"), Key: aws.String("image"), Body: src}); err != nil {
		t.Fatalf("upload through the tunnel: %v\nconnect and serve logs follow\n%s", err, srv.stderr)
	}
	n := <-cuts
	t.Logf("uploaded %d MiB in %v with %d cuts", size>>20, time.Since(start).Round(time.Millisecond), n)
	want := src.h.Sum(nil)

	// Download, cutting at 20%, 50% and 80%.
	progress.Store(0)
	cuts = cutAt(t, proxy, size, &progress, []float64{0.20, 0.50, 0.80}, []string{"down", "reset", "blackhole"})
	start = time.Now()
	obj, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("wan"), Key: aws.String("image")})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	got, err := io.Copy(io.MultiWriter(h, counter{&progress}), obj.Body)
	obj.Body.Close()
	if err != nil || got != size {
		t.Fatalf("download through the tunnel: %d of %d bytes: %v", got, size, err)
	}
	n += <-cuts
	t.Logf("downloaded %d MiB in %v; %d cuts in all", size>>20, time.Since(start).Round(time.Millisecond), n)
	if !bytes.Equal(h.Sum(nil), want) {
		t.Fatal("the object came back different")
	}
	if n < 5 {
		t.Fatalf("only %d cuts landed during the transfers; want at least 5", n)
	}

	out, errs, code = cairn(t, nil, "admin", "stats", "--data", dir)
	r := regexp.MustCompile(`(\d+) reconnects`).FindStringSubmatch(out)
	if code != 0 || r == nil || r[1] == "0" {
		t.Fatalf("admin stats shows no secure connect reconnects: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("server: %s", strings.TrimSpace(out[strings.Index(out, "secure connect:"):]))
}

// cutAt cuts the link, in the given ways, when progress passes each
// fraction of size; it sends how many cuts it made when done (or when the
// test's transfer ended first).
func cutAt(t *testing.T, p *linktest.Proxy, size int64, progress *atomic.Int64, at []float64, kinds []string) <-chan int {
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		for i, f := range at {
			for progress.Load() < int64(f*float64(size)) {
				if t.Context().Err() != nil || progress.Load() >= size {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			switch kinds[i] {
			case "reset":
				p.ResetAll()
			case "stall":
				p.Stall(2 * time.Second)
			case "blackhole":
				p.BlackHole(-1)
			case "down":
				p.Down(time.Second)
			}
			n++
		}
	}()
	return done
}

// seededReader yields left bytes of a seeded stream, hashing and counting them.
type seededReader struct {
	r    *rand.ChaCha8
	left int64
	h    hash.Hash
	n    *atomic.Int64
}

func (s *seededReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.left)]
	s.r.Read(p)
	s.h.Write(p)
	s.left -= int64(len(p))
	s.n.Add(int64(len(p)))
	return len(p), nil
}

type counter struct{ n *atomic.Int64 }

func (c counter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// waitForFile waits for a file a server writes when it is ready.
func waitForFile(t *testing.T, path string, s *server) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // key generation takes a few seconds
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-s.done:
			t.Fatalf("cairn serve exited (%v):\n%s", s.err, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %s:\n%s", path, s.stderr)
	return ""
}

// startConnect runs `cairn connect` and returns the local address it
// listens on.
func startConnect(t *testing.T, args ...string) string {
	t.Helper()
	out, errb := &syncBuffer{}, &syncBuffer{}
	cmd := exec.Command(cairnBin, append([]string{"connect"}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("cairn connect log:\n%s", errb)
		}
	})
	re := regexp.MustCompile(`Point the backup tool at http://(\S+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case <-exited:
			t.Fatalf("cairn connect exited:\n%s%s", out, errb)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("cairn connect did not start:\n%s", errb)
	return ""
}

// TestSecureConnectIssueAndRevokeMessages: issue refuses to overwrite a
// file unless --force (and issues nothing then); revoking a name never
// issued says so rather than show a file error.
func TestSecureConnectIssueAndRevokeMessages(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	cred := filepath.Join(t.TempDir(), "laptop.pem")
	if _, errs, code := cairn(t, nil, "admin", "secure-connect", "issue", "laptop", "--data", dir, "--out", cred); code != 0 {
		t.Fatalf("issue: %s", errs)
	}
	first, _ := os.ReadFile(cred)
	if _, errs, code := cairn(t, nil, "admin", "secure-connect", "issue", "laptop", "--data", dir, "--out", cred); code != 1 || !strings.Contains(errs, "--force") {
		t.Fatalf("issue over an existing file: exit %d, %s", code, errs)
	}
	if again, _ := os.ReadFile(cred); !bytes.Equal(again, first) {
		t.Fatal("a refused issue changed the file")
	}
	if _, errs, code := cairn(t, nil, "admin", "secure-connect", "issue", "laptop", "--data", dir, "--out", cred, "--force"); code != 0 {
		t.Fatalf("issue --force: %s", errs)
	}
	if _, errs, code := cairn(t, nil, "admin", "secure-connect", "revoke", "nobody", "--data", dir); code != 1 || !strings.Contains(errs, "no credential is issued to nobody") || strings.Contains(errs, "no such file") {
		t.Fatalf("revoke of an unknown name: exit %d, %s", code, errs)
	}
}

// TestConnectDefaultListenIsNotServes: cairn connect and cairn serve, run
// on one machine with their defaults, do not want the same port.
func TestConnectDefaultListenIsNotServes(t *testing.T) {
	fs, _, err := serveFlags(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if serve, conn := fs.Lookup("listen").DefValue, tlsproxy.DefaultClientConfig().Listen; serve == conn {
		t.Fatalf("cairn serve and cairn connect both listen on %s by default", serve)
	}
}

// TestEveryFlagHasAnEnvironmentVariable: flags that had none now read
// CAIRN_<FLAG> (serve) and CAIRN_CONNECT_<FLAG> (connect); the command
// line still wins.
func TestEveryFlagHasAnEnvironmentVariable(t *testing.T) {
	t.Setenv("CAIRN_SECURE_KEEPALIVE", "7s")
	t.Setenv("CAIRN_SECURE_OUTAGE_LIMIT", "3m0s")
	t.Setenv("CAIRN_CONNECT_CONNECTIONS", "3")
	t.Setenv("CAIRN_CONNECT_FINGERPRINT", "SHA256:00")
	fs, _, err := serveFlags(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"secure-keepalive": "7s", "secure-outage-limit": "3m0s"} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("serve --%s from the environment: %s, want %s", name, got, want)
		}
	}
	cfs, cfg, _, err := connectFlags(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Connections != 3 || cfg.Fingerprint != "SHA256:00" {
		t.Errorf("connect from the environment: %d connections, fingerprint %q", cfg.Connections, cfg.Fingerprint)
	}
	if err := cfs.Parse([]string{"--connections", "5"}); err != nil || cfg.Connections != 5 {
		t.Errorf("the command line does not win: %d, %v", cfg.Connections, err)
	}
	t.Setenv("CAIRN_CONNECT_CONNECTIONS", "many")
	if _, _, _, err := connectFlags(io.Discard); err == nil || !strings.Contains(err.Error(), "CAIRN_CONNECT_CONNECTIONS") {
		t.Errorf("a bad variable: %v", err)
	}
}

// TestSecureListenFollowsS3: secure connect listens where S3 does (on
// loopback when S3 does), port 9443, unless --secure-listen says.
func TestSecureListenFollowsS3(t *testing.T) {
	for s3, want := range map[string]string{"127.0.0.1:9000": "127.0.0.1:9443", "0.0.0.0:9000": "0.0.0.0:9443", ":9000": ":9443", "[::1]:9000": "[::1]:9443"} {
		if got := secureListenFor(s3); got != want {
			t.Errorf("S3 on %s: secure connect on %s, want %s", s3, got, want)
		}
	}
}

// TestHelpAndVersion: cairn help COMMAND is COMMAND's help; cairn version
// says more than "dev" when Go recorded the build.
func TestHelpAndVersion(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(t.Context(), []string{"help", "serve"}, &out, &errs); code != 0 || !strings.Contains(out.String()+errs.String(), "  --secure-keepalive duration") ||
		strings.Contains(out.String()+errs.String(), "\n  -data") {
		t.Fatalf("cairn help serve (flags written --flag, as the README does): exit %d\n%s%s", code, &out, &errs)
	}
	out.Reset()
	if code := run(t.Context(), []string{"version"}, &out, &errs); code != 0 || !strings.HasPrefix(out.String(), "cairn ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("cairn version: exit %d, %q", code, out.String())
	}
}

// TestBenchFlagsAfterWorkloads: bench run takes flags after the workload
// names, as "run put --bytes 1MiB get".
func TestBenchFlagsAfterWorkloads(t *testing.T) {
	t.Setenv("CAIRN_ENDPOINT", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	var out, errs bytes.Buffer
	run(t.Context(), []string{"bench", "run", "put", "--bytes", "1MiB", "get"}, &out, &errs)
	if strings.Contains(errs.String(), "unknown workload") || !strings.Contains(errs.String(), "--endpoint, --access-key and --secret-key are required") {
		t.Fatalf("bench run put --bytes 1MiB get: %s", &errs)
	}
}

// TestStatsTableLongNames: a 63-character bucket name does not widen the
// stats table past a terminal.
func TestStatsTableLongNames(t *testing.T) {
	var out bytes.Buffer
	long := strings.Repeat("backup-", 9)
	st := gateway.Stats{Buckets: []gateway.BucketStats{{Name: long, Group: "default"}}}
	if err := printStats(&out, st); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if len(l) > 100 {
			t.Fatalf("a line of %d characters:\n%s", len(l), out.String())
		}
	}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests that run workloads do so against a real `cairn serve`, built
// from this module by TestMain. When the build fails they fail (they do
// not skip): a bench whose tests cannot reach a server proves nothing.

// The credentials the test servers are given. Test values only.
const (
	testAccessKey = "CAIRNBENCHTEST000001"
	testSecretKey = "bench/test/secret+0123456789abcdefXYZ"
)

// cairnBuild is the cairn binary TestMain built, or why it could not.
type cairnBuild struct {
	bin string
	err error
}

// built is set once by TestMain, before any test runs, and only read
// afterwards.
var built cairnBuild

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "cairn-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench test:", err)
		os.Exit(2)
	}
	built = buildCairn(tmp)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// buildCairn builds ./cmd/cairn of this module into dir.
func buildCairn(dir string) cairnBuild {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return cairnBuild{err: fmt.Errorf("go env GOMOD: %w", err)}
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return cairnBuild{err: errors.New("go env GOMOD: not in a module")}
	}
	bin := filepath.Join(dir, "cairn")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cairn")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		return cairnBuild{err: fmt.Errorf("go build ./cmd/cairn: %w\n%s", err, out)}
	}
	return cairnBuild{bin: bin}
}

// cairnServer is a running `cairn serve`.
type cairnServer struct {
	endpoint string // http://127.0.0.1:port
	data     string // its --data
}

// startCairn starts `cairn serve` on a fresh data directory and a free
// loopback port; the test's cleanup stops it (and shows its log when the
// test failed).
func startCairn(t *testing.T) cairnServer {
	t.Helper()
	if built.err != nil {
		t.Fatalf("the cairn binary does not build, so no workload can be tested: %v", built.err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(built.bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--secure-listen", "off")
	// The server's settings are the flags and these alone, whatever the
	// environment of the test holds.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAIRN_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"CAIRN_ROOT_ACCESS_KEY="+testAccessKey,
		"CAIRN_ROOT_SECRET_KEY="+testSecretKey,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start cairn serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("cairn serve did not stop within 30s of SIGTERM")
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("cairn serve log:\n%s", b)
			}
		}
	})

	addrFile := filepath.Join(data, "serve.addr")
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if addr := strings.TrimSpace(string(b)); err == nil && strings.HasSuffix(string(b), "\n") && validHostPort(addr) {
			endpoint := "http://" + addr
			waitHTTP(t, endpoint, deadline)
			return cairnServer{endpoint: endpoint, data: data}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("cairn serve exited before listening: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn serve wrote no %s within 60s", addrFile)
		}
	}
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != "" && port != "0"
}

// waitHTTP waits until endpoint answers any HTTP response.
func waitHTTP(t *testing.T, endpoint string, deadline time.Time) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn serve at %s does not answer HTTP: %v", endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runOpts are options for a small, quick run against srv.
func runOpts(t *testing.T, srv cairnServer, workloads ...string) RunOptions {
	return RunOptions{
		Endpoint: srv.endpoint, AccessKey: testAccessKey, SecretKey: testSecretKey,
		Workloads: workloads, Streams: 2,
		ObjectSize: 6 << 20, Bytes: 10 << 20, MultipartThreshold: 5 << 20, PartSize: 5 << 20,
		RangeReads: 8, SmallObjects: 120,
		Progress: t.Output(), JSON: filepath.Join(t.TempDir(), "report.json"),
	}
}

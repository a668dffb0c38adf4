package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// target is the server under test. It is set once by TestMain and only read
// afterwards.
type target struct {
	endpoint  string // http://host:port, no trailing slash
	hostPort  string // host:port of endpoint
	region    string
	accessKey string
	secretKey string

	// cairn is true when TestMain started the server itself; Cairn-only
	// tests run only then.
	cairn   bool
	bin     string // the built cairn binary (cairn only)
	dataDir string // the server's --data (cairn only)
	logPath string // the server's combined output (cairn only)
}

var tgt target

// The credentials the started server is given. They are test values only.
const (
	testAccessKey = "CAIRNCONFORMANCE0001"
	testSecretKey = "conformance/secret/Key+0123456789abcdefXYZ"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if ep := os.Getenv("CAIRN_CONFORMANCE_ENDPOINT"); ep != "" {
		tgt = target{
			endpoint:  strings.TrimRight(ep, "/"),
			region:    envOr("CAIRN_CONFORMANCE_REGION", "us-east-1"),
			accessKey: os.Getenv("CAIRN_CONFORMANCE_ACCESS_KEY"),
			secretKey: os.Getenv("CAIRN_CONFORMANCE_SECRET_KEY"),
		}
		if tgt.accessKey == "" || tgt.secretKey == "" {
			fmt.Fprintln(os.Stderr, "conformance: CAIRN_CONFORMANCE_ENDPOINT is set: set CAIRN_CONFORMANCE_ACCESS_KEY and CAIRN_CONFORMANCE_SECRET_KEY too")
			return 2
		}
		tgt.hostPort = strings.TrimPrefix(strings.TrimPrefix(tgt.endpoint, "http://"), "https://")
		fmt.Fprintf(os.Stderr, "conformance: running against %s (Cairn-only tests skip)\n", tgt.endpoint)
		return m.Run()
	}

	tmp, err := os.MkdirTemp("", "cairn-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 2
	}
	defer os.RemoveAll(tmp)

	srv, err := startCairn(tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		if srv != nil {
			srv.stop()
			srv.dumpLog(os.Stderr)
		}
		return 1
	}
	code := m.Run()
	if err := srv.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: stopping the server:", err)
		if code == 0 {
			code = 1
		}
	}
	if code != 0 {
		srv.dumpLog(os.Stderr)
	}
	return code
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// server is a cairn serve process started by TestMain.
type server struct {
	cmd     *exec.Cmd
	log     *os.File
	logPath string
	exited  chan struct{}
	waitErr error
}

// startCairn builds ../cmd/cairn into dir, starts `cairn serve` on a loopback
// port and waits until it answers HTTP. On error the returned server (when
// not nil) has a log worth showing.
func startCairn(dir string) (*server, error) {
	bin := filepath.Join(dir, "cairn")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/cairn")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ../cmd/cairn: %v\n%s", err, out)
	}

	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// A lifecycle day of lifecycleDay lets the lifecycle tests see rules
	// fall due; the scanner runs on demand only (cairn admin lifecycle run).
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--secure-listen", "off",
		"--lifecycle-day", lifecycleDay.String(), "--lifecycle-interval", "0")
	cmd.Env = append(cleanEnv(dir),
		"CAIRN_ROOT_ACCESS_KEY="+testAccessKey,
		"CAIRN_ROOT_SECRET_KEY="+testSecretKey,
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &server{cmd: cmd, log: logf, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	addr, err := s.waitAddr(filepath.Join(data, "serve.addr"), 60*time.Second)
	if err != nil {
		return s, err
	}
	if err := s.waitHTTP(addr, 30*time.Second); err != nil {
		return s, err
	}
	tgt = target{
		endpoint:  "http://" + addr,
		hostPort:  addr,
		region:    "us-east-1",
		accessKey: testAccessKey,
		secretKey: testSecretKey,
		cairn:     true,
		bin:       bin,
		dataDir:   data,
		logPath:   logPath,
	}
	fmt.Fprintf(os.Stderr, "conformance: cairn serve listening on %s (data %s)\n", addr, data)
	return s, nil
}

// waitAddr waits for the server to write its address to path, or to log
// `msg=listening addr=...`.
func (s *server) waitAddr(path string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	prev := ""
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			// A complete line, or the same address on two reads (a writer
			// that adds no newline), not a half-written file.
			addr := strings.TrimSpace(string(b))
			if validHostPort(addr) && (strings.HasSuffix(string(b), "\n") || addr == prev) {
				return addr, nil
			}
			prev = addr
		}
		if addr := addrFromLog(s.logPath); addr != "" {
			return addr, nil
		}
		select {
		case <-s.exited:
			return "", fmt.Errorf("cairn serve exited before listening: %v", s.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("cairn serve wrote no %s and logged no listening address within %s", path, limit)
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != "" && port != "0"
}

// addrFromLog finds addr=HOST:PORT on a log line that says msg=listening.
func addrFromLog(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "msg=listening") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "addr="); ok {
				v = strings.Trim(v, `"`)
				if validHostPort(v) {
					return v
				}
			}
		}
	}
	return ""
}

// waitHTTP waits until addr answers any HTTP response.
func (s *server) waitHTTP(addr string, limit time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get("http://" + addr + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		last = err
		select {
		case <-s.exited:
			return fmt.Errorf("cairn serve exited: %v", s.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("cairn serve at %s did not answer HTTP within %s: %v", addr, limit, last)
}

// stop sends SIGTERM and waits; a server that does not stop within 30s is
// killed and reported.
func (s *server) stop() error {
	defer s.log.Close()
	select {
	case <-s.exited:
		return fmt.Errorf("cairn serve had already exited: %v", s.waitErr)
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.waitErr != nil {
			return fmt.Errorf("cairn serve exited after SIGTERM with %v", s.waitErr)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("cairn serve did not exit within 30s of SIGTERM; killed")
	}
}

// dumpLog writes the server's log (its last 64 KiB) to w.
func (s *server) dumpLog(w io.Writer) {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	const max = 64 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		fmt.Fprintln(w, "--- cairn serve log (last 64 KiB) ---")
	} else {
		fmt.Fprintln(w, "--- cairn serve log ---")
	}
	w.Write(b)
	fmt.Fprintln(w, "--- end of cairn serve log ---")
}

// cleanEnv is the environment external programs run with: a private HOME,
// a plain PATH, and none of the caller's AWS, proxy or CA-bundle settings.
func cleanEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"TMPDIR=" + os.TempDir(),
	}
}

// requireCairn skips t unless the target is a Cairn started by TestMain.
func requireCairn(t *testing.T, why string) {
	t.Helper()
	if !tgt.cairn {
		t.Skipf("skipped against %s: %s", tgt.endpoint, why)
	}
}

// skipShort skips a slow scenario under -short (make test-short, make race).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow scenario: skipped with -short")
	}
}

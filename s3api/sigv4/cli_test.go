package sigv4

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI is Debian's awscli v2. A pyenv shim named aws (v1) may come first
// on PATH, so the path is explicit.
const awsCLI = "/usr/bin/aws"

// TestAWSCLI drives the echo server with the aws CLI (botocore): put-object
// of an awkward key, a ~20 MiB `aws s3 cp` (a multipart upload with
// signed 8 MiB parts over HTTP), get-object, and a botocore presigned URL,
// over HTTP and HTTPS.
func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skipf("%s is not installed (apt-get install awscli); skipping the aws CLI test", awsCLI)
	}
	if testing.Short() {
		t.Skip("runs the aws CLI several times")
	}
	small := randomBytes(7, 100_000)
	big := randomBytes(8, 20<<20+12345)
	dir := t.TempDir()
	for name, b := range map[string][]byte{"small": small, "big": big} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+dir, "AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-credentials"),
		"AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret, "AWS_PAGER=")

	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			echo := newEchoS3(t, &Verifier{Region: testRegion, Secret: testSecrets})
			var srv *httptest.Server
			if tls {
				srv = httptest.NewTLSServer(echo)
			} else {
				srv = httptest.NewServer(echo)
			}
			defer srv.Close()
			run := func(args ...string) string {
				t.Helper()
				args = append([]string{"--endpoint-url", srv.URL}, args...)
				if tls {
					args = append([]string{"--no-verify-ssl"}, args...)
				}
				cmd := exec.CommandContext(t.Context(), awsCLI, args...)
				cmd.Env = env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
				}
				return stdout.String()
			}

			smallKey := "cli dir/a+b %20 ünï(1).txt"
			putArgs := []string{"s3api", "put-object", "--bucket", "bucket", "--key", smallKey, "--body", filepath.Join(dir, "small")}
			if tls {
				putArgs = append(putArgs, "--checksum-algorithm", "CRC32")
			}
			run(putArgs...)
			if got, _ := echo.object("/bucket/" + smallKey); !bytes.Equal(got, small) {
				t.Fatalf("put-object stored %d bytes, sent %d", len(got), len(small))
			}

			bigKey := "big/日本 file+1.bin"
			run("s3", "cp", "--only-show-errors", filepath.Join(dir, "big"), "s3://bucket/"+bigKey)
			if got, _ := echo.object("/bucket/" + bigKey); !bytes.Equal(got, big) {
				t.Fatalf("s3 cp stored %d bytes, sent %d", len(got), len(big))
			}

			out := filepath.Join(dir, "out")
			run("s3api", "get-object", "--bucket", "bucket", "--key", smallKey, out)
			if got, _ := os.ReadFile(out); !bytes.Equal(got, small) {
				t.Fatalf("get-object returned %d bytes", len(got))
			}

			u := strings.TrimSpace(run("s3", "presign", "s3://bucket/"+smallKey, "--expires-in", "300"))
			resp, err := srv.Client().Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET of the CLI's presigned URL %s: %s", u, resp.Status)
			}

			if f := echo.failures(); len(f) > 0 {
				t.Fatalf("server rejected requests: %v", f)
			}
			t.Logf("x-amz-content-sha256 values the CLI sent: %q", uniq(echo.payloads()))
		})
	}
}

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const installHint = "install the real clients with `apt-get install awscli rclone restic s3cmd` (or `make test`, which does it)"

// requireTool fails t when the program at path is missing: a real-client
// scenario never passes or skips silently for want of its tool.
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s (Debian package %s) is missing: %s", path, pkg, installHint)
	}
}

// toolRunner runs one real client with a clean environment.
type toolRunner struct {
	t    *testing.T
	bin  string
	env  []string
	args []string // put before each command's own
}

// run runs the tool and returns its combined output; any failure fails the
// test with the output.
func (r *toolRunner) run(timeout time.Duration, args ...string) string {
	r.t.Helper()
	out, err := r.try(timeout, args...)
	if err != nil {
		r.t.Fatalf("%s %s: %v\n--- output ---\n%s", filepath.Base(r.bin), strings.Join(args, " "), err, tail(out, 16<<10))
	}
	return out
}

// try runs the tool and returns its output and error.
func (r *toolRunner) try(timeout time.Duration, args ...string) (string, error) {
	r.t.Helper()
	return r.tryIn("", timeout, args...)
}

func (r *toolRunner) tryIn(dir string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(r.t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append(slices.Clone(r.args), args...)...)
	cmd.Env = r.env
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return out.String(), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// step logs how long one step of a scenario took.
func step(t *testing.T, name string) func() {
	start := time.Now()
	return func() { t.Logf("step %-40s %s", name, time.Since(start).Round(time.Millisecond)) }
}

// scenarioTimer logs the scenario's total duration when the test ends.
func scenarioTimer(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("scenario %s took %s", t.Name(), time.Since(start).Round(time.Millisecond)) })
}

// makeTree writes a deterministic tree of n small files (0-16 KiB) under
// dir, in nested directories, some names with spaces and non-ASCII letters.
// It returns the files' relative paths.
func makeTree(t *testing.T, dir string, seed uint64, n int) []string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	var files []string
	for i := range n {
		d := fmt.Sprintf("d%02d", i%7)
		if i%3 == 0 {
			d = filepath.Join(d, fmt.Sprintf("sub %d", i%5))
		}
		if i%11 == 0 {
			d = filepath.Join(d, "tiefe/ébène")
		}
		name := filepath.Join(d, fmt.Sprintf("file-%03d.bin", i))
		size := r.IntN(16 << 10)
		writeSeededFile(t, filepath.Join(dir, name), seed*100000+uint64(i), int64(size))
		files = append(files, name)
	}
	return files
}

// treeSums maps each regular file under dir (relative path) to its SHA-256.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			m[rel] = fileSHA256(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return m
}

// compareTrees fails t unless dirs a and b hold the same files with the same bytes.
func compareTrees(t *testing.T, what, a, b string) {
	t.Helper()
	sa, sb := treeSums(t, a), treeSums(t, b)
	var diffs []string
	for k, v := range sa {
		switch w, ok := sb[k]; {
		case !ok:
			diffs = append(diffs, "missing "+k)
		case w != v:
			diffs = append(diffs, "differs "+k)
		}
	}
	for k := range sb {
		if _, ok := sa[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("... %d more", len(diffs)-20))
		}
		t.Fatalf("%s: trees differ (%d vs %d files):\n%s", what, len(sa), len(sb), strings.Join(diffs, "\n"))
	}
	if len(sa) == 0 {
		t.Fatalf("%s: both trees are empty", what)
	}
}

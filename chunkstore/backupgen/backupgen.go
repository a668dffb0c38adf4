// Package backupgen gives tests the reference data set: five generations
// of a real file tree (the Go distribution) with small edits, as tars made
// by the project's shared/bench/gen-backup-generations. It imports nothing
// of Cairn, so that the chunk store's own tests can use it.
package backupgen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

var generations struct {
	once sync.Once
	dir  string
	err  error
}

// Tars returns the paths of the five tars (about 1.3 GB, made in about 15
// s the first time) from CAIRN_BACKUPGEN_DIR, or else from the user's
// cache directory: made once per machine, not once per test binary, and
// never left behind in a temporary directory. Test binaries running at
// once take turns with a lock, so only one makes them.
func Tars(tb testing.TB) []string {
	tb.Helper()
	g := &generations
	g.once.Do(func() {
		g.dir, g.err = tarsDir()
		if g.err == nil {
			g.err = makeTars(g.dir)
		}
	})
	if g.err != nil {
		tb.Fatal(g.err)
	}
	var tars []string
	for i := 1; i <= 5; i++ {
		tars = append(tars, filepath.Join(g.dir, fmt.Sprintf("gen%d.tar", i)))
	}
	return tars
}

func tarsDir() (string, error) {
	if dir := os.Getenv("CAIRN_BACKUPGEN_DIR"); dir != "" {
		return dir, os.MkdirAll(dir, 0o755)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("backupgen: no place for the reference data set (set CAIRN_BACKUPGEN_DIR): %w", err)
	}
	dir := filepath.Join(cache, "cairn", "backupgen")
	return dir, os.MkdirAll(dir, 0o755)
}

// makeTars makes the tars in dir unless they are there: manifest.txt is
// written last, so its presence means every tar is whole.
func makeTars(dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("backupgen: lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "manifest.txt")); err == nil {
		return nil
	}
	gen, err := generator()
	if err != nil {
		return err
	}
	if out, err := exec.Command("python3", gen, dir, runtime.GOROOT()).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", gen, err, out)
	}
	return nil
}

// generator finds the script in the shared/ directory beside the
// repository.
func generator() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("backupgen: cannot tell where the repository is")
	}
	repo := filepath.Dir(filepath.Dir(filepath.Dir(file))) // chunkstore/backupgen/backupgen.go
	gen := filepath.Join(filepath.Dir(repo), "shared", "bench", "gen-backup-generations")
	if _, err := os.Stat(gen); err != nil {
		return "", fmt.Errorf("the reference data generator is missing (%v): the project's shared/ directory must sit beside the repository", err)
	}
	return gen, nil
}

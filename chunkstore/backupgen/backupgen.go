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
	"testing"
)

var generations struct {
	once sync.Once
	dir  string
	err  error
}

// Tars returns the paths of the five tars, making them once per test
// binary (about 15 s and 1.3 GB of disk) unless CAIRN_BACKUPGEN_DIR names
// a directory that holds them (or should: they are made there, so that
// several packages share them).
func Tars(tb testing.TB) []string {
	tb.Helper()
	g := &generations
	g.once.Do(func() {
		dir := os.Getenv("CAIRN_BACKUPGEN_DIR")
		if dir == "" {
			dir, g.err = os.MkdirTemp("", "cairn-backupgen-")
			if g.err != nil {
				return
			}
		}
		g.dir = dir
		// manifest.txt is written last: its presence means every tar is whole.
		if _, err := os.Stat(filepath.Join(dir, "manifest.txt")); err == nil {
			return
		}
		gen, err := generator()
		if err != nil {
			g.err = err
			return
		}
		out, err := exec.Command("python3", gen, dir, runtime.GOROOT()).CombinedOutput()
		if err != nil {
			g.err = fmt.Errorf("%s: %v\n%s", gen, err, out)
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

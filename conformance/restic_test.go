package conformance

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const resticBin = "/usr/bin/restic"

// TestRestic drives restic 0.14 against an S3 repository: init, two backups
// of a changing tree, check --read-data, restore, forget --prune, check.
// Against Cairn it then cleans and checks that the pruned data's space came
// back. It does not run in parallel: the Cairn tail measures the server's
// totals.
func TestRestic(t *testing.T) {
	skipShort(t)
	scenarioTimer(t)
	requireTool(t, resticBin, "restic")
	sdk := newClient(t)
	work := t.TempDir()
	b := bucketName(t)
	cleanupBucket(t, sdk, b) // restic creates the bucket itself
	home := t.TempDir()
	env := append(cleanEnv(home),
		"RESTIC_REPOSITORY=s3:"+tgt.endpoint+"/"+b,
		"RESTIC_PASSWORD=conformance-restic-password",
		"RESTIC_CACHE_DIR="+filepath.Join(home, "cache"),
		"AWS_ACCESS_KEY_ID="+tgt.accessKey,
		"AWS_SECRET_ACCESS_KEY="+tgt.secretKey,
		"AWS_DEFAULT_REGION="+tgt.region,
	)
	rs := &toolRunner{t: t, bin: resticBin, env: env}

	done := step(t, "init")
	rs.run(2*time.Minute, "init")
	done()

	// About 6 MB: 40 files of up to 300 KiB in nested directories.
	src := filepath.Join(work, "src")
	var files []string
	for i := range 40 {
		name := filepath.Join(fmt.Sprintf("dir%d", i%4), fmt.Sprintf("sub%d", i%3), fmt.Sprintf("file%02d.dat", i))
		writeSeededFile(t, filepath.Join(src, name), 400+uint64(i), int64(50_000+i*7_000))
		files = append(files, name)
	}
	os.WriteFile(filepath.Join(src, "marker.txt"), []byte("restic conformance tree\n"), 0o644)

	backup := func(what string) string {
		t.Helper()
		done := step(t, what)
		defer done()
		out, err := rs.tryIn(src, 5*time.Minute, "backup", "--json", ".")
		if err != nil {
			t.Fatalf("restic backup: %v\n%s", err, tail(out, 8192))
		}
		return out
	}
	backup("backup 1")

	// Change the tree: rewrite half the files (new bytes), delete some, add some.
	for i, f := range files {
		switch {
		case i%2 == 0:
			writeSeededFile(t, filepath.Join(src, f), 900+uint64(i), int64(60_000+i*5_000))
		case i%9 == 1:
			os.Remove(filepath.Join(src, f))
		}
	}
	for i := range 3 {
		writeSeededFile(t, filepath.Join(src, "new", fmt.Sprintf("added%d.dat", i)), 950+uint64(i), 120_000)
	}
	backup("backup 2")

	done = step(t, "check --read-data")
	rs.run(5*time.Minute, "check", "--read-data")
	done()

	done = step(t, "restore latest and compare")
	target := filepath.Join(work, "restore")
	rs.run(5*time.Minute, "restore", "latest", "--target", target)
	root := findMarker(t, target)
	compareTrees(t, "restic restore", src, root)
	done()

	var before stats
	if tgt.cairn {
		before = readStats(t)
	}
	done = step(t, "forget --keep-last 1 --prune")
	rs.run(5*time.Minute, "forget", "--keep-last", "1", "--prune")
	done()
	done = step(t, "check after prune")
	rs.run(5*time.Minute, "check", "--read-data")
	out := rs.run(time.Minute, "snapshots", "--json")
	var snaps []map[string]any
	if err := json.Unmarshal([]byte(out), &snaps); err != nil || len(snaps) != 1 {
		t.Errorf("restic snapshots after forget --keep-last 1: %d snapshots (%v)\n%s", len(snaps), err, tail(out, 2048))
	}
	done()

	if !tgt.cairn {
		t.Logf("skipped the Cairn tail (stored bytes after cairn admin clean) against %s", tgt.endpoint)
		return
	}
	done = step(t, "cairn admin clean")
	cairnAdmin(t, "clean")
	after := readStats(t)
	done()
	t.Logf("stored bytes: %d before the prune, %d after prune and clean", before.Stored, after.Stored)
	if after.Stored >= before.Stored {
		t.Errorf("stored bytes did not go down after restic prune and cairn admin clean: %d -> %d\n%s", before.Stored, after.Stored, after.raw)
	}
}

// findMarker returns the directory under root that holds marker.txt: where
// restic restored the backed-up tree (it keeps the absolute source path).
func findMarker(t *testing.T, root string) string {
	t.Helper()
	found := ""
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "marker.txt" && found == "" {
			found = filepath.Dir(p)
		}
		return nil
	})
	if found == "" {
		t.Fatalf("restic restore: no marker.txt under %s", root)
	}
	return found
}

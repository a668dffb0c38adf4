package chunkstore

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// untar unpacks a .tar.gz fixture into a new temporary directory.
func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o700)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o700)
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestUpgradeFromFormat1 opens a store that the code before format 2 wrote
// (testdata/format1-store.tar.gz, made by testdata/format1-store.go.txt at
// commit 3206324: manifests of several segments, raw and zstd records, a
// clone, a concatenation, an empty manifest, a release and a clean, and
// a write cut short): every
// manifest reads back bit-exact, the store scrubs clean, is upgraded, takes
// new writes that dedup against the old chunks, and releases old manifests
// down to nothing.
func TestUpgradeFromFormat1(t *testing.T) {
	root := untar(t, "testdata/format1-store.tar.gz")
	var want []struct {
		ID     ManifestID `json:"id"`
		Size   int64      `json:"size"`
		SHA256 string     `json:"sha256"`
	}
	b, err := os.ReadFile(filepath.Join(root, "manifests.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Dir = filepath.Join(root, "store")
	cfg.MinChunk, cfg.AvgChunk, cfg.MaxChunk = 64, 256, 1024 // as it was made
	s := openStore(t, cfg)
	ctx := t.Context()
	var f []byte
	s.view(func(t *txn) error { f = append(f, t.meta.Get(keyFormat)...); return nil })
	if len(f) == 0 || f[0] != storeFormat {
		t.Fatalf("format after open: %x", f)
	}
	// The fixture holds a write cut short (a pending manifest of several
	// batches): the upgrade lists it, and the drainer rolls it back.
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	interrupted := want[len(want)-1].ID + 1
	s.view(func(tx *txn) error {
		if _, ok, _ := tx.header(interrupted); ok || tx.pending.Stats().KeyN != 0 {
			t.Errorf("the interrupted write %d was not rolled back", interrupted)
		}
		return nil
	})
	before, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.LocalBytes != before.UniqueBytes || before.Manifests != int64(len(want)) {
		t.Fatalf("format 1 counters read as %+v", before)
	}
	for _, w := range want {
		got := readAll(t, s, w.ID)
		h := sha256.Sum256(got)
		if int64(len(got)) != w.Size || hex.EncodeToString(h[:]) != w.SHA256 {
			t.Fatalf("manifest %d: %d bytes, sha256 %x; want %d, %s", w.ID, len(got), h, w.Size, w.SHA256)
		}
	}
	rep, err := s.Scrub(ctx, ScrubOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("scrub of the upgraded store: %v %s", err, rep)
	}
	// New writes of old content dedup against format 1 entries.
	again := put(t, s, readAll(t, s, want[0].ID))
	st, _ := s.Stats(ctx)
	if st.UniqueBytes != before.UniqueBytes {
		t.Fatalf("rewriting old content added %d unique bytes", st.UniqueBytes-before.UniqueBytes)
	}
	if err := s.Release(ctx, again.ID); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if err := s.Release(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Clean(ctx, CleanOptions{Threshold: 1e-9}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Stats(ctx)
	if st.UniqueBytes != 0 || st.Chunks != 0 || st.LiveBytes != 0 || st.StoredBytes != 0 || st.Manifests != 0 {
		t.Fatalf("after releasing everything: %+v", st)
	}
}

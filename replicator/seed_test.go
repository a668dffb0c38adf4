package replicator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// seedSource is a test double for the gateway's SeedSource: named versions
// of one bucket, each a manifest of the store or a marker.
type seedSource struct {
	versions []seedItem
}

type seedItem struct {
	name string
	m    chunkstore.ManifestID // 0: a delete marker
}

func (s *seedSource) SeedVersions(ctx context.Context, bucket string, fn func(op json.RawMessage, m chunkstore.ManifestID, hasData bool) error) error {
	for _, v := range s.versions {
		if err := fn(op(v.name), v.m, v.m != 0); err != nil {
			return err
		}
	}
	return nil
}

// A seed carries a bucket's versions and each unique chunk once; imported,
// every version reads back byte-exact; imported again, nothing is written
// twice.
func TestSeedExportImport(t *testing.T) {
	ctx := t.Context()
	src := chunkstoretest.New(t)
	base := chunkstoretest.Data(1, 6<<20)
	gen2 := bytes.Clone(base)
	copy(gen2[3<<20:], chunkstoretest.Data(2, 256<<10))
	m1, m2 := chunkstoretest.Put(t, src, base), chunkstoretest.Put(t, src, gen2)
	empty := chunkstoretest.Put(t, src, nil)
	ss := &seedSource{versions: []seedItem{{"v1", m1.ID}, {"v2", m2.ID}, {"gone", 0}, {"empty", empty.ID}}}
	dir := filepath.Join(t.TempDir(), "seed")
	var reports int
	hdr, err := ExportSeed(ctx, src, ss, "vms", "site-a bucket vms", dir, func(SeedProgress) { reports++ })
	if err != nil {
		t.Fatal(err)
	}
	st, _ := src.Stats(ctx)
	if hdr.Versions != 3 || hdr.Markers != 1 || hdr.Chunks != st.Chunks || hdr.LogicalBytes != int64(len(base)+len(gen2)) {
		t.Fatalf("header %+v; the store holds %d chunks", hdr, st.Chunks)
	}
	if _, err := os.Stat(filepath.Join(dir, seedSeenName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the export left its working files")
	}
	if _, err := ExportSeed(ctx, src, ss, "vms", "site-a bucket vms", dir, nil); err == nil {
		t.Fatal("an export into a whole seed went through")
	}

	dst := chunkstoretest.New(t)
	tt := &testTarget{stores: map[string]*chunkstore.Store{"replica": dst}}
	p, err := ImportSeed(ctx, dir, tt, "replica", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Versions != 4 || p.Skipped != 0 || p.Chunks != hdr.Chunks {
		t.Fatalf("import: %+v", p)
	}
	v := tt.versions(t, "replica")
	for name, want := range map[string][]byte{"v1": base, "v2": gen2, "empty": nil} {
		if got := chunkstoretest.Read(t, dst, v[name]); !bytes.Equal(got, want) {
			t.Fatalf("%s reads back %d bytes, want %d", name, len(got), len(want))
		}
	}
	if len(tt.applied) != 1 {
		t.Fatalf("markers applied: %q", tt.applied)
	}
	before, _ := dst.Stats(ctx)
	p, err = ImportSeed(ctx, dir, tt, "replica", nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := dst.Stats(ctx)
	if p.Skipped != 4 || after.StoredBytes != before.StoredBytes || after.Manifests != before.Manifests {
		t.Fatalf("a second import: %+v; stored %d -> %d, manifests %d -> %d", p, before.StoredBytes, after.StoredBytes, before.Manifests, after.Manifests)
	}
	chunkstoretest.Check(t, dst)
}

// An export cut short resumes: the record files it finished are kept and
// their chunks not written again; the seed that results is whole.
func TestSeedExportResumes(t *testing.T) {
	ctx := t.Context()
	src := chunkstoretest.New(t)
	var items []seedItem
	var datas [][]byte
	for i := range 4 {
		d := chunkstoretest.Data(uint64(10+i), 2<<20)
		datas = append(datas, d)
		items = append(items, seedItem{string(rune('a' + i)), chunkstoretest.Put(t, src, d).ID})
	}
	ss := &seedSource{versions: items}
	dir := t.TempDir()
	cut, cancel := context.WithCancel(ctx)
	var got SeedProgress
	_, err := exportSeedWithFileSize(cut, src, ss, dir, 1<<20, func(p SeedProgress) {
		got = p
		if p.RecordBytes > 5<<20 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cut export: %v", err)
	}
	if _, err := ReadSeedHeader(dir); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("reading a cut seed: %v", err)
	}
	var first SeedProgress
	hdr, err := exportSeedWithFileSize(ctx, src, ss, dir, 1<<20, func(p SeedProgress) {
		if first.Chunks == 0 {
			first = p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cut at %d record bytes; the resumed export went on from %d, ended with %d", got.RecordBytes, first.RecordBytes, hdr.RecordBytes)
	if first.RecordBytes < 3<<20 {
		t.Fatalf("the resumed export started over (%d record bytes at its first chunk)", first.RecordBytes)
	}
	st, _ := src.Stats(ctx)
	if hdr.Chunks != st.Chunks {
		t.Fatalf("the resumed seed holds %d chunks, the store %d", hdr.Chunks, st.Chunks)
	}
	dst := chunkstoretest.New(t)
	tt := &testTarget{stores: map[string]*chunkstore.Store{"r": dst}}
	if _, err := ImportSeed(ctx, dir, tt, "r", nil); err != nil {
		t.Fatal(err)
	}
	v := tt.versions(t, "r")
	for i, it := range items {
		if !bytes.Equal(chunkstoretest.Read(t, dst, v[it.name]), datas[i]) {
			t.Fatalf("%s differs after a resumed export", it.name)
		}
	}
}

// A damaged seed file is named, and a record that does not match its
// chunk ID is never stored.
func TestSeedImportDamaged(t *testing.T) {
	ctx := t.Context()
	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(3, 1<<20))
	dir := t.TempDir()
	if _, err := ExportSeed(ctx, src, &seedSource{versions: []seedItem{{"v", m.ID}}}, "b", "s", dir, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, recordFileName(0))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := chunkstoretest.New(t)
	tt := &testTarget{stores: map[string]*chunkstore.Store{"r": dst}}
	_, err = ImportSeed(ctx, dir, tt, "r", nil)
	if err == nil || !strings.Contains(err.Error(), recordFileName(0)) {
		t.Fatalf("importing a damaged seed: %v", err)
	}
	if len(tt.versions(t, "r")) != 0 {
		t.Fatal("a version of a damaged seed was committed")
	}
	chunkstoretest.Check(t, dst)
}

// exportSeedWithFileSize exports bucket "b" of source "s" with record
// files of size bytes, reporting every chunk.
func exportSeedWithFileSize(ctx context.Context, store *chunkstore.Store, src SeedSource, dir string, size int64, progress func(SeedProgress)) (SeedHeader, error) {
	return exportSeed(ctx, store, src, "b", "s", dir, exportOptions{fileSize: size}, progress)
}

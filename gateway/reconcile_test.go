package gateway

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// TestOrphanReleasedAtStartup: a manifest committed to a chunk store with
// no metadata naming it (a crash between the two) is released by the next
// New; recorded objects, parts of uploads in progress and other groups'
// manifests are left alone.
func TestOrphanReleasedAtStartup(t *testing.T) {
	cfg := testConfig(t)
	cfg.Groups = map[string]string{"fast": t.TempDir()}
	g := open(t, cfg)
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	if err := g.CreateBucket(ctx, "hot", "fast"); err != nil {
		t.Fatal(err)
	}
	put(t, g, "b", "kept", []byte("kept"))
	put(t, g, "hot", "kept", []byte("hot"))
	id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "mp"})
	uploadPart(t, g, "b", "mp", id, 1, []byte("part"))

	var orphans []chunkstore.ManifestID
	for _, name := range []string{DefaultGroup, "fast"} {
		w := g.groups[name].store.NewWriter(ctx)
		w.Write(random(11, 200<<10))
		m, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		orphans = append(orphans, m.ID)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	g = open(t, cfg)
	for i, name := range []string{DefaultGroup, "fast"} {
		if _, err := g.groups[name].store.Stat(ctx, orphans[i]); !errors.Is(err, chunkstore.ErrNotFound) {
			t.Errorf("group %s: orphan %d still there (%v)", name, orphans[i], err)
		}
	}
	if got := mustGet(t, g, "b", "kept", ""); string(got) != "kept" {
		t.Fatalf("object lost: %q", got)
	}
	if got := mustGet(t, g, "hot", "kept", ""); string(got) != "hot" {
		t.Fatalf("object in group fast lost: %q", got)
	}
	p, err := g.ListParts(ctx, "b", "mp", id, 0, 10)
	if err != nil || len(p.Parts) != 1 {
		t.Fatalf("upload's part lost: %+v %v", p, err)
	}
	info, err := g.CompleteMultipartUpload(ctx, "b", "mp", id, []s3api.CompletePart{{PartNumber: 1, ETag: p.Parts[0].ETag}}, "", "")
	if err != nil || info.Size != 4 {
		t.Fatalf("complete after restart: %+v %v", info, err)
	}
	if got := mustGet(t, g, "b", "mp", ""); !bytes.Equal(got, []byte("part")) {
		t.Fatalf("completed object %q", got)
	}
}

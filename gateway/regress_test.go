package gateway

import (
	"bytes"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// A crash between CreateBucket's meta.db row and its store transaction.
func TestCrashInsideCreateBucketRestarts(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	g, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	gr := g.groups[DefaultGroup]
	g.mu.Lock()
	if err := g.mayHoldBuckets(gr); err != nil { // first commit of CreateBucket
		t.Fatal(err)
	}
	g.mu.Unlock()
	// ...the process dies here, before the store's transaction.
	g.Close()
	g2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("restart after a crash inside CreateBucket: %v", err)
	}
	g2.Close()
}

func TestMissingManifestDoesNotBlockItsKey(t *testing.T) {
	g, err := New(t.Context(), DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := t.Context()
	g.CreateBucket(ctx, "b", "")
	info, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader([]byte("x")), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = info
	// The manifest goes missing (what migrate logs as "missing from the chunk store").
	var m chunkstore.ManifestID
	g.viewBucket("b", func(_ *chunkstore.Tx, k *bkt) error { v, _ := k.find("k", ""); m = v.rec.Manifest; return nil })
	if err := g.groups[DefaultGroup].store.Release(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, err = g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader([]byte("y")), Size: 1})
	if err != nil {
		t.Errorf("overwriting a version whose manifest is missing: %v", err)
	}
	if _, err = g.DeleteObject(ctx, "b", "k", ""); err != nil {
		t.Errorf("deleting a version whose manifest is missing: %v", err)
	}
}

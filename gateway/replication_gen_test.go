package gateway

import (
	"os"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore/backupgen"
	"github.com/cairn-backup/cairn/s3api"
)

// Generations of a real backup (the reference data set: the Go tree with
// small edits) replicate at the cost of what each generation adds: the
// bytes on the wire for generation N are at most 1.1x the bytes the source
// stored for it (its new chunks, compressed as stored).
func TestReplicationGenerationsSendTheirNewBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and replicates three generations of 260 MB; run without -short")
	}
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	newBucket(t, src.g, "nightly", s3api.VersioningEnabled)
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "nightly", Remote: "dr", ReplicaBucket: "nightly-dr"}); err != nil {
		t.Fatal(err)
	}
	if err := src.g.PauseReplication("nightly", true); err != nil {
		t.Fatal(err) // one generation at a time, by run
	}
	stored := func() int64 {
		st, err := src.g.groups[DefaultGroup].store.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.StoredBytes
	}
	for i, path := range backupgen.Tars(t)[:3] {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		before := stored()
		_, err = src.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "nightly", Key: "go-tree.tar", Body: f, Size: fi.Size()})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		added := stored() - before
		run, err := src.g.RunReplication(ctx, "nightly")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("generation %d: %d logical bytes, %d new stored bytes at the source, %d sent (%.3fx the new bytes, %.4fx the logical)",
			i+1, fi.Size(), added, run.BytesSent, float64(run.BytesSent)/float64(added), float64(run.BytesSent)/float64(fi.Size()))
		if float64(run.BytesSent) > 1.1*float64(added) {
			t.Fatalf("generation %d sent %d bytes for %d new: more than 1.1x", i+1, run.BytesSent, added)
		}
	}
}

package gateway

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api"
)

// Seeding: the relationship is set with a seed, the bucket exported to a
// directory and imported at the replica, which then takes what changed
// since over the link; a seed older than the relationship is refused.
func TestReplicationSeedThenDelta(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	newBucket(t, src.g, "vms", s3api.VersioningEnabled)
	base := random(5, 8<<20)
	put(t, src.g, "vms", "a.img", base)
	put(t, src.g, "vms", "b.img", random(6, 2<<20))
	oldSeed := t.TempDir()
	if _, err := src.g.ExportSeed(ctx, "vms", oldSeed); err != nil {
		t.Fatal(err)
	}
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "vms", Remote: "dr", ReplicaBucket: "vms-dr", Seed: true, DeleteMarkers: true}); err != nil {
		t.Fatal(err)
	}
	// Written after the relationship, before the seed is imported: it
	// waits in the log, and the replica refuses it until then.
	gen2 := bytes.Clone(base)
	copy(gen2[4<<20:], random(7, 128<<10))
	put(t, src.g, "vms", "a.img", gen2)
	if _, err := src.g.DeleteObject(ctx, "vms", "b.img", ""); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if _, err := src.g.RunReplication(rctx, "vms"); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("replication before the seed is imported: %v", err)
	}
	cancel()
	if _, err := dst.g.ImportSeed(ctx, "vms-dr", oldSeed); err == nil || !strings.Contains(err.Error(), "before the replication was set") {
		t.Fatalf("importing a seed exported before the relationship: %v", err)
	}
	seed := t.TempDir()
	exp, err := src.g.ExportSeed(ctx, "vms", seed)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := dst.g.ImportSeed(ctx, "vms-dr", seed)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Progress.Versions != exp.Header.Versions+exp.Header.Markers {
		t.Fatalf("imported %+v of a seed of %+v", imp.Progress, exp.Header)
	}
	run, err := src.g.RunReplication(ctx, "vms")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the seed (%d record bytes on disk), the link carried %d bytes for %d versions", exp.Header.RecordBytes, run.BytesSent, run.Versions)
	if run.BytesSent > 512<<10 {
		t.Fatalf("after the seed, %d bytes crossed the link: want only the changes", run.BytesSent)
	}
	if a, b := listedVersions(t, src.c, "vms"), listedVersions(t, dst.c, "vms-dr"); !slices.Equal(a, b) {
		t.Fatalf("after seed and delta the replica differs:\nsource  %q\nreplica %q", a, b)
	}
	if !bytes.Equal(mustGet(t, dst.g, "vms-dr", "a.img", ""), gen2) {
		t.Fatal("a.img differs at the replica")
	}
}

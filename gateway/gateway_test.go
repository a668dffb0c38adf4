package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
	"github.com/cairn-backup/cairn/s3api"
)

// testConfig is DefaultConfig with small containers and batches (so that
// little data seals containers and the cleaner has work) and 1 KiB parts.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig(t.TempDir())
	cfg.MinPartSize = 1 << 10
	cfg.LockTimeout = 100e6
	cfg.ChunkStore = func(group, dir string) chunkstore.Config {
		c := chunkstore.DefaultConfig(dir)
		c.ContainerSize = 1 << 20
		c.BatchBytes = 256 << 10
		return c
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg
}

// open starts a gateway and, at cleanup, checks that meta.db and the chunk
// stores agree exactly (no orphan, no missing manifest: every release
// happened) and that every store scrubs clean, then closes it.
func open(t testing.TB, cfg Config) *Gateway {
	t.Helper()
	g, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !g.closed.Load() {
			checkConsistent(t, g)
		}
		g.Close()
	})
	return g
}

// checkConsistent checks that every group's records and its chunk store
// agree exactly: every manifest a version or part names is committed, and
// every committed manifest is named (nothing leaked, nothing lost), and
// that every store scrubs clean.
func checkConsistent(t testing.TB, g *Gateway) {
	t.Helper()
	ctx := context.Background()
	for name, gr := range g.groups {
		used, err := references(gr)
		if err != nil {
			t.Errorf("group %s: references: %v", name, err)
			continue
		}
		var orphans []chunkstore.ManifestID
		err = gr.store.Manifests(ctx, func(m chunkstore.Manifest) error {
			if !used[m.ID] {
				orphans = append(orphans, m.ID)
			}
			delete(used, m.ID)
			return nil
		})
		if err != nil {
			t.Errorf("group %s: manifests: %v", name, err)
		}
		if len(orphans) > 0 {
			t.Errorf("group %s: %d manifests no record names (leaked): %v", name, len(orphans), orphans)
		}
		if len(used) > 0 {
			t.Errorf("group %s: %d manifests named by records but not committed: %v", name, len(used), used)
		}
		chunkstoretest.Check(t, gr.store)
	}
}

func newBucket(t testing.TB, g *Gateway, name string, v s3api.Versioning) {
	t.Helper()
	if err := g.CreateBucket(t.Context(), name, ""); err != nil {
		t.Fatal(err)
	}
	if v != s3api.VersioningUnset {
		if err := g.PutBucketVersioning(t.Context(), name, v); err != nil {
			t.Fatal(err)
		}
	}
}

func put(t testing.TB, g *Gateway, bucket, key string, data []byte) s3api.ObjectInfo {
	t.Helper()
	info, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return info
}

func get(t testing.TB, g *Gateway, bucket, key, vid string) ([]byte, s3api.ObjectInfo, error) {
	t.Helper()
	info, r, err := g.GetObject(t.Context(), bucket, key, vid)
	if err != nil {
		return nil, info, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return b, info, nil
}

func mustGet(t testing.TB, g *Gateway, bucket, key, vid string) []byte {
	t.Helper()
	b, _, err := get(t, g, bucket, key, vid)
	if err != nil {
		t.Fatalf("get %s/%s?versionId=%s: %v", bucket, key, vid, err)
	}
	return b
}

// wantErr fails unless err is the S3 error want (same code).
func wantErr(t testing.TB, err error, want *s3api.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %s", err, want.Code)
	}
}

// random is seeded random bytes: incompressible, so they fill containers.
func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed*31+7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"negative part size", func(c *Config) { c.MinPartSize = -1 }, "MinPartSize"},
		{"negative lock timeout", func(c *Config) { c.LockTimeout = -1 }, "LockTimeout"},
		{"bad group name", func(c *Config) { c.Groups = map[string]string{"a=b": dir + "/x"} }, "bad group name"},
		{"empty group dir", func(c *Config) { c.Groups = map[string]string{"fast": ""} }, "Groups[\"fast\"]"},
		{"shared group dir", func(c *Config) {
			c.Groups = map[string]string{"fast": dir + "/g", "slow": dir + "/g/"}
		}, "share directory"},
		{"default group moved", func(c *Config) { c.Groups = map[string]string{DefaultGroup: dir + "/elsewhere"} }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig(dir)
			tc.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestSecondGatewayOnSameDataDirFails(t *testing.T) {
	cfg := testConfig(t)
	open(t, cfg)
	_, err := New(t.Context(), cfg)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second New: %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("data directory %s is in use by another cairn (pid %d)", cfg.DataDir, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q, want it to say %q", err, want)
	}
}

func TestGroupDirectoryInUseFails(t *testing.T) {
	a := testConfig(t)
	open(t, a)
	b := testConfig(t)
	b.Groups = map[string]string{"shared": filepath.Join(a.DataDir, "groups", DefaultGroup)}
	_, err := New(t.Context(), b)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), `storage group "shared"`) {
		t.Fatalf("New: %v, want the group named as in use", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	cfg := testConfig(t)
	g := open(t, cfg)
	newBucket(t, g, "b", s3api.VersioningEnabled)
	v1 := put(t, g, "b", "k", []byte("one"))
	put(t, g, "b", "k", []byte("two"))
	if err := g.PutBucketTagging(t.Context(), "b", map[string]string{"team": "ops"}); err != nil {
		t.Fatal(err)
	}
	g.Close()

	g = open(t, cfg)
	if got := mustGet(t, g, "b", "k", ""); string(got) != "two" {
		t.Fatalf("current %q", got)
	}
	if got := mustGet(t, g, "b", "k", v1.VersionID); string(got) != "one" {
		t.Fatalf("v1 %q", got)
	}
	if v, _ := g.GetBucketVersioning(t.Context(), "b"); v != s3api.VersioningEnabled {
		t.Fatalf("versioning %q", v)
	}
	tags, err := g.GetBucketTagging(t.Context(), "b")
	if err != nil || tags["team"] != "ops" {
		t.Fatalf("tags %v %v", tags, err)
	}
}

func TestBucketInUnconfiguredGroupRefusesStart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Groups = map[string]string{"fast": filepath.Join(t.TempDir(), "fast")}
	g := open(t, cfg)
	if err := g.CreateBucket(t.Context(), "hot", "fast"); err != nil {
		t.Fatal(err)
	}
	g.Close()
	cfg.Groups = nil
	_, err := New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), `storage group "fast" holds buckets`) || !strings.Contains(err.Error(), "--group fast=") {
		t.Fatalf("New: %v", err)
	}
}

func TestBuckets(t *testing.T) {
	cfg := testConfig(t)
	cfg.Groups = map[string]string{"fast": filepath.Join(t.TempDir(), "fast")}
	g := open(t, cfg)
	ctx := t.Context()

	for _, tc := range []struct{ name, loc, wantLoc string }{
		{"plain", "", ""},
		{"region", "us-east-1", ""},
		{"hot", "fast", "fast"},
	} {
		if err := g.CreateBucket(ctx, tc.name, tc.loc); err != nil {
			t.Fatalf("create %s: %v", tc.name, err)
		}
		info, err := g.HeadBucket(ctx, tc.name)
		if err != nil || info.Location != tc.wantLoc {
			t.Fatalf("head %s: %+v %v, want location %q", tc.name, info, err, tc.wantLoc)
		}
	}
	wantErr(t, g.CreateBucket(ctx, "plain", ""), s3api.ErrBucketAlreadyOwnedByYou)
	wantErr(t, g.CreateBucket(ctx, "x", "eu-west-9"), s3api.ErrInvalidLocationConstraint)
	_, err := g.HeadBucket(ctx, "nope")
	wantErr(t, err, s3api.ErrNoSuchBucket)

	list, err := g.ListBuckets(ctx)
	if err != nil || len(list) != 3 || list[0].Name != "hot" || list[2].Name != "region" {
		t.Fatalf("list %+v %v", list, err)
	}

	_, err = g.GetBucketTagging(ctx, "plain")
	wantErr(t, err, s3api.ErrNoSuchTagSet)
	if err := g.PutBucketTagging(ctx, "plain", map[string]string{"a": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteBucketTagging(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	_, err = g.GetBucketTagging(ctx, "plain")
	wantErr(t, err, s3api.ErrNoSuchTagSet)

	wantErr(t, g.PutBucketVersioning(ctx, "plain", "On"), s3api.ErrIllegalVersioningConfiguration)
	wantErr(t, g.PutBucketVersioning(ctx, "nope", s3api.VersioningEnabled), s3api.ErrNoSuchBucket)

	// Not empty while a version, a delete marker or an upload remains.
	if err := g.PutBucketVersioning(ctx, "plain", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v := put(t, g, "plain", "k", []byte("x"))
	wantErr(t, g.DeleteBucket(ctx, "plain"), s3api.ErrBucketNotEmpty)
	if _, err := g.DeleteObject(ctx, "plain", "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.DeleteObject(ctx, "plain", "k", v.VersionID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, g.DeleteBucket(ctx, "plain"), s3api.ErrBucketNotEmpty) // the delete marker
	res, err := g.ListObjectVersions(ctx, s3api.ListVersionsInput{Bucket: "plain", MaxKeys: 10})
	if err != nil || len(res.Versions) != 1 || !res.Versions[0].DeleteMarker {
		t.Fatalf("versions %+v %v", res, err)
	}
	if _, err := g.DeleteObject(ctx, "plain", "k", res.Versions[0].VersionID); err != nil {
		t.Fatal(err)
	}
	// Uploads in progress do not keep a bucket: as on S3 it is deleted and
	// the uploads with it, their parts released (checkConsistent, at
	// cleanup, finds any part manifest left without a record).
	id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "plain", Key: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "plain", Key: "m", UploadID: id, PartNumber: 1, Body: bytes.NewReader(random(7, 64<<10)), Size: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "plain", Key: "n"}); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteBucket(ctx, "plain"); err != nil {
		t.Fatalf("DeleteBucket with only uploads in progress: %v", err)
	}
	wantErr(t, g.DeleteBucket(ctx, "plain"), s3api.ErrNoSuchBucket)
	wantErr(t, g.AbortMultipartUpload(ctx, "plain", "m", id), s3api.ErrNoSuchBucket)
	// A new bucket of the same name starts with no uploads.
	if err := g.CreateBucket(ctx, "plain", ""); err != nil {
		t.Fatal(err)
	}
	ups, err := g.ListMultipartUploads(ctx, s3api.ListUploadsInput{Bucket: "plain", MaxUploads: 10})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads of the recreated bucket: %+v %v", ups, err)
	}
}

func TestIDsRoundTripAndSort(t *testing.T) {
	var prev string
	for i := range 100 {
		seq := newUID(uint64(1000 + i))
		id := formatID(seq)
		back, ok := parseID(id)
		if !ok || !bytes.Equal(back, seq) {
			t.Fatalf("id %s does not round-trip", id)
		}
		if id <= prev {
			t.Fatalf("ids out of order: %s after %s", id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "null", "x", strings.Repeat("Z", 20), formatID(newSeq(1)) + "0", strconv.Itoa(123)} {
		if _, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) accepted", bad)
		}
	}
}

func TestCompositeKeysKeepKeyOrder(t *testing.T) {
	keys := []string{"", "a", "a\x00", "a\x00b", "a\x01", "a/b", "ab", "b", "é", "\xff"}
	seq := newSeq(5)
	for i := 1; i < len(keys); i++ {
		a, b := composite(keys[i-1], seq), composite(keys[i], seq)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("composite(%q) >= composite(%q)", keys[i-1], keys[i])
		}
		if k, s, err := splitComposite(b); err != nil || k != keys[i] || !bytes.Equal(s, seq) {
			t.Errorf("split(%q) = %q %x %v", keys[i], k, s, err)
		}
	}
}

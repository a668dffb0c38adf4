package gateway

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
	bolt "go.etcd.io/bbolt"
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
		if h.Typeflag == tar.TypeReg {
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

// TestMigrateFormat1 opens a data directory that the gateway before format 2
// wrote (testdata/meta1-datadir.tar.gz, made by testdata/meta1-datadir.go.txt
// at commit 3206324: buckets in two groups, versions, a delete marker, tags
// and user metadata, a completed multipart object and an upload in
// progress, and an orphan manifest that a crash between its two commits
// left): everything reads back as it was, the orphan is released, the
// upload completes, meta.db holds no bucket any more, and new versions
// sort after the old ones.
func TestMigrateFormat1(t *testing.T) {
	root := untar(t, "testdata/meta1-datadir.tar.gz")
	var want struct {
		Objects []struct {
			Bucket, Key, VersionID, ETag, SHA256 string
			Size                                 int64
			DeleteMarker                         bool
			Tags, User                           map[string]string
			ContentType                          string
		}
		Upload struct {
			Bucket, Key, ID string
			PartETag        string `json:"part_etag"`
			PartSHA256      string `json:"part_sha256"`
			PartSize        int64  `json:"part_size"`
		}
		Orphan chunkstore.ManifestID
	}
	b, err := os.ReadFile(filepath.Join(root, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(root, "data")
	cfg.Groups = map[string]string{"fast": filepath.Join(cfg.DataDir, "fast")}
	small := cfg.ChunkStore
	cfg.ChunkStore = func(group, dir string) chunkstore.Config {
		c := small(group, dir)
		c.MinChunk, c.AvgChunk, c.MaxChunk = 64, 256, 1024 // as it was made
		return c
	}
	g := open(t, cfg)
	ctx := t.Context()
	check := func(g *Gateway) {
		t.Helper()
		for _, o := range want.Objects {
			if o.DeleteMarker {
				_, err := g.HeadObject(ctx, o.Bucket, o.Key, "")
				wantErr(t, err, s3api.ErrNoSuchKey)
				continue
			}
			data, info, err := get(t, g, o.Bucket, o.Key, o.VersionID)
			if err != nil {
				t.Fatalf("%s/%s@%s: %v", o.Bucket, o.Key, o.VersionID, err)
			}
			h := sha256.Sum256(data)
			if hex.EncodeToString(h[:]) != o.SHA256 || info.ETag != o.ETag || info.Size != o.Size {
				t.Fatalf("%s/%s@%s: %d bytes, ETag %s; want %d, %s", o.Bucket, o.Key, o.VersionID, len(data), info.ETag, o.Size, o.ETag)
			}
			if info.Meta.ContentType != o.ContentType || len(info.Meta.User) != len(o.User) || info.Meta.User["owner"] != o.User["owner"] {
				t.Fatalf("%s/%s: metadata %+v", o.Bucket, o.Key, info.Meta)
			}
			tags, _, err := g.GetObjectTagging(ctx, o.Bucket, o.Key, o.VersionID)
			if err != nil || len(tags) != len(o.Tags) || tags["k"] != o.Tags["k"] {
				t.Fatalf("%s/%s: tags %v %v", o.Bucket, o.Key, tags, err)
			}
		}
		if v, _ := g.GetBucketVersioning(ctx, "ver"); v != s3api.VersioningEnabled {
			t.Fatalf("versioning %q", v)
		}
		if tags, err := g.GetBucketTagging(ctx, "plain"); err != nil || tags["team"] != "ops" {
			t.Fatalf("bucket tags %v %v", tags, err)
		}
		if info, _ := g.HeadBucket(ctx, "hot"); info.Location != "fast" {
			t.Fatalf("bucket hot in %q", info.Location)
		}
	}
	check(g)
	if _, err := g.groups[DefaultGroup].store.Stat(ctx, want.Orphan); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("the orphan manifest %d is still there: %v", want.Orphan, err)
	}
	g.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bktBuckets) != nil || string(tx.Bucket(bktSys).Get(keyFormat)) != metaFormat {
			t.Error("meta.db was not switched to format 2")
		}
		return nil
	})
	// Reopened, as format 2: the same.
	g.Close()
	g = open(t, cfg)
	check(g)
	// The upload in progress completes.
	u := want.Upload
	info, err := g.CompleteMultipartUpload(ctx, u.Bucket, u.Key, u.ID, []s3api.CompletePart{{PartNumber: 1, ETag: u.PartETag}}, "", "")
	if err != nil || info.Size != u.PartSize {
		t.Fatalf("complete the migrated upload: %+v %v", info, err)
	}
	data := mustGet(t, g, u.Bucket, u.Key, "")
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != u.PartSHA256 {
		t.Fatal("completed upload reads back differently")
	}
	// New versions sort after the migrated ones.
	v3 := put(t, g, "ver", "k", []byte("v3"))
	res, err := g.ListObjectVersions(ctx, s3api.ListVersionsInput{Bucket: "ver", Prefix: "k", MaxKeys: 10})
	if err != nil || len(res.Versions) != 3 || res.Versions[0].VersionID != v3.VersionID || !res.Versions[0].IsLatest {
		t.Fatalf("versions after a new write: %+v %v", res.Versions, err)
	}
	if got := mustGet(t, g, "ver", "k", ""); string(got) != "v3" {
		t.Fatalf("current version %q", got)
	}
}

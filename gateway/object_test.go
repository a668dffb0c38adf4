package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

func TestPutGetByteExact(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	for _, n := range []int{0, 1, 4095, 1 << 20, 3<<20 + 17} {
		data := random(uint64(n), n)
		key := fmt.Sprintf("obj-%d", n)
		meta := s3api.ObjectMeta{ContentType: "text/plain", CacheControl: "no-cache", User: map[string]string{"a": "b"}, Tags: map[string]string{"t": "1"}}
		info, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(data), Size: -1, Meta: meta})
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(data)
		if info.ETag != hex.EncodeToString(sum[:]) || info.Size != int64(n) {
			t.Fatalf("%d bytes: info %+v", n, info)
		}
		got, oi, err := get(t, g, "b", key, "")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
		}
		if oi.Meta.ContentType != "text/plain" || oi.Meta.User["a"] != "b" || oi.Meta.Tags["t"] != "1" || oi.ETag != info.ETag {
			t.Fatalf("%d bytes: meta %+v", n, oi)
		}
	}
	// Seek and read a range, as s3api does for Range GETs.
	data := random(uint64(3<<20+17), 3<<20+17)
	_, r, err := g.GetObject(t.Context(), "b", "obj-3145745", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(2<<20+5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 1000)
	if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, data[2<<20+5:2<<20+1005]) {
		t.Fatalf("range read differs (%v)", err)
	}
}

// failingBody yields n bytes, then err.
type failingBody struct {
	n   int
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, b.err
	}
	k := min(len(p), b.n)
	b.n -= k
	return k, nil
}

func TestFailedUploadLeavesNothing(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningEnabled)
	put(t, g, "b", "k", []byte("old"))

	t.Run("digest mismatch comes back unchanged", func(t *testing.T) {
		_, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "k", Body: &failingBody{n: 2 << 20, err: s3api.ErrBadDigest}, Size: -1})
		if err != s3api.ErrBadDigest {
			t.Fatalf("error %v, want the body's own ErrBadDigest", err)
		}
	})
	t.Run("client disconnects", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		body := io.MultiReader(io.LimitReader(&failingBody{n: 1 << 30}, 1<<20), readerFunc(func([]byte) (int, error) {
			cancel()
			return 0, io.ErrUnexpectedEOF // what net/http's body answers when the client goes
		}))
		_, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Body: body, Size: 4 << 20})
		if err == nil {
			t.Fatal("upload succeeded")
		}
	})
	t.Run("short body", func(t *testing.T) {
		_, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader([]byte("abc")), Size: 10})
		wantErr(t, err, s3api.ErrIncompleteBody)
	})
	t.Run("cancelled after the last byte", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader([]byte("abc")), Size: 3})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
	})
	if got := stack(t, g, "b", "k"); fmt.Sprint(got) != "[old*]" {
		t.Fatalf("versions after failed uploads: %q", got)
	}
	// The cleanup audit proves no manifest of the failed uploads remains.
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestConditionalWrites(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningEnabled)
	cur := put(t, g, "b", "k", []byte("v1"))
	put(t, g, "b", "gone", []byte("x"))
	if _, err := g.DeleteObject(t.Context(), "b", "gone", ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, key, ifMatch, ifNoneMatch string
		want                            *s3api.Error // nil: the write succeeds
	}{
		{"if-none-match * on existing", "k", "", "*", s3api.ErrPreconditionFailed},
		{"if-none-match * on absent", "new", "", "*", nil},
		{"if-none-match * on a delete marker", "gone", "", "*", nil},
		{"if-match current ETag", "k", "CUR", "", nil},
		{"if-match quoted current ETag", "k", "QUOTED", "", nil},
		{"if-match other ETag", "k", "0123456789abcdef0123456789abcdef", "", s3api.ErrPreconditionFailed},
		{"if-none-match current ETag", "k", "", "CUR", s3api.ErrPreconditionFailed},
		{"if-match on absent", "absent", "CUR", "", s3api.ErrNoSuchKey},
		{"if-match * on existing", "k", "*", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := stack(t, g, "b", tc.key)
			data := []byte("cond " + tc.name)
			subst := func(s string) string {
				switch s {
				case "CUR":
					return cur.ETag
				case "QUOTED":
					return `"` + cur.ETag + `"`
				}
				return s
			}
			info, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: tc.key, Body: bytes.NewReader(data), Size: -1,
				IfMatch: subst(tc.ifMatch), IfNoneMatch: subst(tc.ifNoneMatch)})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tc.key == "k" {
					cur = info
				}
				return
			}
			wantErr(t, err, tc.want)
			if after := stack(t, g, "b", tc.key); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a failed condition changed the key: %q -> %q", before, after)
			}
		})
	}
}

func TestCopyObject(t *testing.T) {
	cfg := testConfig(t)
	cfg.Groups = map[string]string{"fast": t.TempDir()}
	g := open(t, cfg)
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	if err := g.CreateBucket(ctx, "hot", "fast"); err != nil {
		t.Fatal(err)
	}
	data := random(9, 300<<10)
	src, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "src", Body: bytes.NewReader(data), Size: -1,
		Meta: s3api.ObjectMeta{ContentType: "a/b", User: map[string]string{"x": "1"}, Tags: map[string]string{"t": "src"}}})
	if err != nil {
		t.Fatal(err)
	}
	put(t, g, "b", "src", []byte("newer")) // the source version stays addressable by ID

	cases := []struct {
		name     string
		in       s3api.CopyObjectInput
		wantMeta string // ContentType expected
		wantTag  string // tag t expected
	}{
		{"same group, by version, copy meta", s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", SrcVersionID: src.VersionID, DstBucket: "b", DstKey: "c1"}, "a/b", "src"},
		{"replace meta keeps tags", s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", SrcVersionID: src.VersionID, DstBucket: "b", DstKey: "c2", Meta: &s3api.ObjectMeta{ContentType: "new/type"}}, "new/type", "src"},
		{"replace tags", s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", SrcVersionID: src.VersionID, DstBucket: "b", DstKey: "c3", Tags: map[string]string{"t": "dst"}}, "a/b", "dst"},
		{"across groups", s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", SrcVersionID: src.VersionID, DstBucket: "hot", DstKey: "c4"}, "a/b", "src"},
		{"restore an old version onto its key", s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", SrcVersionID: src.VersionID, DstBucket: "b", DstKey: "src"}, "a/b", "src"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := g.CopyObject(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, oi, err := get(t, g, tc.in.DstBucket, tc.in.DstKey, "")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("copy reads back %d bytes, %v", len(got), err)
			}
			if oi.ETag != src.ETag || info.ETag != src.ETag || oi.Meta.ContentType != tc.wantMeta || oi.Meta.Tags["t"] != tc.wantTag {
				t.Fatalf("copy info %+v", oi)
			}
		})
	}

	var seen s3api.ObjectInfo
	_, err = g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", DstBucket: "b", DstKey: "c5",
		SourceCheck: func(oi s3api.ObjectInfo) error { seen = oi; return s3api.ErrPreconditionFailed }})
	wantErr(t, err, s3api.ErrPreconditionFailed)
	if seen.Size != 300<<10 || !seen.IsLatest { // the restored version is current
		t.Fatalf("source check saw %+v", seen)
	}
	_, err = g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", DstBucket: "b", DstKey: "src"})
	wantErr(t, err, s3api.ErrInvalidRequest)
	dm, _ := g.DeleteObject(ctx, "b", "src", "")
	_, err = g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", SrcVersionID: dm.VersionID, DstBucket: "b", DstKey: "c6"})
	wantErr(t, err, s3api.ErrInvalidRequest)
	_, err = g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", DstBucket: "b", DstKey: "c6"})
	wantErr(t, err, s3api.ErrNoSuchKey)
	_, err = g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "c1", DstBucket: "nope", DstKey: "c6"})
	wantErr(t, err, s3api.ErrNoSuchBucket)
}

func TestObjectTagging(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	newBucket(t, g, "plain", s3api.VersioningUnset)
	v1 := put(t, g, "b", "k", []byte("1"))
	v2 := put(t, g, "b", "k", []byte("2"))

	vid, err := g.PutObjectTagging(ctx, "b", "k", v1.VersionID, map[string]string{"old": "yes"})
	if err != nil || vid != v1.VersionID {
		t.Fatalf("put tags on v1: %q %v", vid, err)
	}
	tags, vid, err := g.GetObjectTagging(ctx, "b", "k", "")
	if err != nil || vid != v2.VersionID || len(tags) != 0 {
		t.Fatalf("current tags %v %q %v", tags, vid, err)
	}
	tags, _, err = g.GetObjectTagging(ctx, "b", "k", v1.VersionID)
	if err != nil || tags["old"] != "yes" {
		t.Fatalf("v1 tags %v %v", tags, err)
	}
	if got := stack(t, g, "b", "k"); len(got) != 2 {
		t.Fatalf("tagging made versions: %q", got)
	}
	if _, err := g.DeleteObjectTagging(ctx, "b", "k", v1.VersionID); err != nil {
		t.Fatal(err)
	}
	tags, _, _ = g.GetObjectTagging(ctx, "b", "k", v1.VersionID)
	if len(tags) != 0 {
		t.Fatalf("tags after delete: %v", tags)
	}

	put(t, g, "plain", "k", []byte("x"))
	vid, err = g.PutObjectTagging(ctx, "plain", "k", "", map[string]string{"a": "b"})
	if err != nil || vid != "" {
		t.Fatalf("unversioned tagging answers version %q, %v", vid, err)
	}
	_, _, err = g.GetObjectTagging(ctx, "plain", "nokey", "")
	wantErr(t, err, s3api.ErrNoSuchKey)
}

// TestReadSurvivesDeleteAndClean: an open reader pins its manifest, so a
// delete and a cleaner run meanwhile cannot take its chunks; the release
// happens when the reader closes (the cleanup audit checks it did).
func TestReadSurvivesDeleteAndClean(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	data := random(10, 3<<20)
	put(t, g, "b", "k", data)
	_, r, err := g.GetObject(ctx, "b", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	if _, err := g.DeleteObject(ctx, "b", "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(append(head, rest...), data) {
		t.Fatalf("read after delete+clean: %d bytes, %v", len(rest), err)
	}
	r.Close()
	r.Close() // a second Close must not unpin twice
	st, _ := g.groups[DefaultGroup].store.Stats(ctx)
	if st.Manifests != 0 {
		t.Fatalf("manifest not released after the reader closed: %+v", st)
	}
}

// TestConcurrentWrites races writers on one key of a versioned bucket with
// readers and listers; every version must be intact and listed once.
func TestConcurrentWrites(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				body := []byte(fmt.Sprintf("writer %d put %d", w, i))
				if _, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(body), Size: -1}); err != nil {
					errs <- err
				}
				if _, r, err := g.GetObject(ctx, "b", "k", ""); err == nil {
					io.Copy(io.Discard, r)
					r.Close()
				} else {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := stack(t, g, "b", "k"); len(got) != 20 {
		t.Fatalf("%d versions, want 20", len(got))
	}
}

package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// listKeys covers separators at every depth, keys that are prefixes of
// others, a NUL byte, unicode and characters sorting before '/'.
var listKeys = []string{
	"a", "a!b", "a-b", "a.b", "a/", "a/b", "a/b/c", "a/b/d", "a/c", "a\x00z", "ab",
	"photos/2023/jan.jpg", "photos/2024/feb.jpg", "photos/2024/mar.jpg", "photos/index",
	"z", "zé/1", "zé/2", "é", "éa", "日本/東京", "日本/大阪", "日本語",
}

// modelList is what a listing must answer, computed the obvious way.
func modelList(keys []string, prefix, delim, after string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		item := k
		if cp, ok := rollUp(k, prefix, delim); ok {
			item = "CP:" + cp
			if seen[item] {
				continue
			}
			seen[item] = true
			if cp <= after {
				continue
			}
		} else if k <= after {
			continue
		}
		out = append(out, item)
	}
	return out
}

// pageAll lists with MaxKeys max until the end, checking each page's bound.
func pageAll(t *testing.T, g *Gateway, in s3api.ListInput) []string {
	t.Helper()
	var out []string
	for range 1000 {
		res, err := g.ListObjects(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, o := range res.Objects {
			page = append(page, o.Key)
		}
		for _, cp := range res.CommonPrefixes {
			page = append(page, "CP:"+cp)
		}
		slices.SortFunc(page, func(a, b string) int {
			return strings.Compare(strings.TrimPrefix(a, "CP:"), strings.TrimPrefix(b, "CP:"))
		})
		if len(page) > in.MaxKeys {
			t.Fatalf("page of %d entries for MaxKeys %d", len(page), in.MaxKeys)
		}
		out = append(out, page...)
		if !res.IsTruncated {
			if res.Next != "" {
				t.Fatalf("untruncated page with Next %q", res.Next)
			}
			return out
		}
		if len(page) != in.MaxKeys || res.Next == "" {
			t.Fatalf("truncated page of %d (MaxKeys %d), Next %q", len(page), in.MaxKeys, res.Next)
		}
		if last := strings.TrimPrefix(page[len(page)-1], "CP:"); last != res.Next {
			t.Fatalf("Next %q, want the last entry %q", res.Next, last)
		}
		in.After = res.Next
	}
	t.Fatal("listing does not end")
	return nil
}

func TestListObjectsPaging(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningEnabled)
	for _, k := range listKeys {
		put(t, g, "b", k, []byte(k))
	}
	// A key whose current version is a delete marker is not listed.
	put(t, g, "b", "hidden/x", []byte("x"))
	if _, err := g.DeleteObject(t.Context(), "b", "hidden/x", ""); err != nil {
		t.Fatal(err)
	}
	keys := slices.Clone(listKeys)
	slices.Sort(keys)

	for _, prefix := range []string{"", "a", "a/", "photos/", "photos/2024/", "é", "日本", "nothing"} {
		for _, delim := range []string{"", "/", "-", "b", "é", "/2"} {
			for _, after := range []string{"", "a/b", "photos/2024/", "photos/2024/feb.jpg", "zz"} {
				want := modelList(keys, prefix, delim, after)
				for _, max := range []int{1, 2, 3, 1000} {
					name := fmt.Sprintf("prefix=%q delim=%q after=%q max=%d", prefix, delim, after, max)
					got := pageAll(t, g, s3api.ListInput{Bucket: "b", Prefix: prefix, Delimiter: delim, After: after, MaxKeys: max})
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s:\n got %q\nwant %q", name, got, want)
					}
				}
			}
		}
	}
}

func TestListObjectsEdges(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	info := put(t, g, "b", "k", []byte("hello"))

	res, err := g.ListObjects(ctx, s3api.ListInput{Bucket: "b", MaxKeys: 0})
	if err != nil || len(res.Objects) != 0 || res.IsTruncated {
		t.Fatalf("MaxKeys 0: %+v %v", res, err)
	}
	res, err = g.ListObjects(ctx, s3api.ListInput{Bucket: "b", MaxKeys: 10})
	if err != nil || len(res.Objects) != 1 {
		t.Fatalf("list: %+v %v", res, err)
	}
	o := res.Objects[0]
	if o.Key != "k" || o.Size != 5 || o.ETag != info.ETag || !o.LastModified.Equal(info.LastModified) || o.StorageClass != "STANDARD" {
		t.Fatalf("entry %+v, put answered %+v", o, info)
	}
	_, err = g.ListObjects(ctx, s3api.ListInput{Bucket: "nope", MaxKeys: 10})
	wantErr(t, err, s3api.ErrNoSuchBucket)
}

// TestListSkipsCommonPrefixBySeeking counts cursor steps: a listing with a
// delimiter over a prefix holding many keys must not visit them one by one.
func TestListSkipsCommonPrefixBySeeking(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	put(t, g, "b", "seed", []byte("x"))
	// Many keys under one prefix, written straight into the records (all
	// naming the seed's manifest would break the check at cleanup, so they
	// are removed after).
	err := g.updateBucket("b", func(_ *chunkstore.Tx, k *bkt) error {
		for i := range 5000 {
			if err := k.cur.Put([]byte(fmt.Sprintf("dir/%05d", i)), make([]byte, seqLen)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.updateBucket("b", func(_ *chunkstore.Tx, k *bkt) error {
			for i := range 5000 {
				k.cur.Delete([]byte(fmt.Sprintf("dir/%05d", i)))
			}
			return nil
		})
	})
	var visited int
	err = g.viewBucket("b", func(_ *chunkstore.Tx, k *bkt) error {
		_, err := walk(k.cur.Cursor(), plainKeys, walkOpts{delimiter: "/", max: 1000},
			func(string, []byte, []byte) error { visited++; return nil },
			func(string) { visited++ })
		return err
	})
	if err != nil || visited != 2 {
		t.Fatalf("visited %d entries (%v), want 2: the common prefix dir/ and seed", visited, err)
	}
}

func TestListObjectVersionsPaging(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	// model: key -> version IDs newest first ("DM:" prefix for markers).
	model := map[string][]string{}
	keys := []string{"a", "a/x", "a/y", "b", "c/d/e", "é"}
	for round := range 3 {
		for i, k := range keys {
			if (round+i)%4 == 3 {
				res, err := g.DeleteObject(ctx, "b", k, "")
				if err != nil {
					t.Fatal(err)
				}
				model[k] = append([]string{"DM:" + res.VersionID}, model[k]...)
				continue
			}
			info := put(t, g, "b", k, []byte(fmt.Sprint(k, round)))
			model[k] = append([]string{info.VersionID}, model[k]...)
		}
	}
	// One null version in the middle of a stack.
	if err := g.PutBucketVersioning(ctx, "b", s3api.VersioningSuspended); err != nil {
		t.Fatal(err)
	}
	put(t, g, "b", "b", []byte("null"))
	model["b"] = append([]string{nullVersion}, model["b"]...)
	if err := g.PutBucketVersioning(ctx, "b", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	info := put(t, g, "b", "b", []byte("top"))
	model["b"] = append([]string{info.VersionID}, model["b"]...)

	for _, delim := range []string{"", "/"} {
		var want []string
		for _, k := range keys {
			if cp, ok := rollUp(k, "", delim); ok {
				if len(want) == 0 || want[len(want)-1] != "CP:"+cp {
					want = append(want, "CP:"+cp)
				}
				continue
			}
			for i, v := range model[k] {
				want = append(want, fmt.Sprintf("%s@%s latest=%v", k, v, i == 0))
			}
		}
		for _, max := range []int{1, 2, 5, 1000} {
			var got []string
			in := s3api.ListVersionsInput{Bucket: "b", Delimiter: delim, MaxKeys: max}
			for page := 0; ; page++ {
				res, err := g.ListObjectVersions(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				n := len(res.Versions) + len(res.CommonPrefixes)
				if n > max || (res.IsTruncated && n != max) {
					t.Fatalf("delim %q max %d page %d: %d entries, truncated %v", delim, max, page, n, res.IsTruncated)
				}
				var entries []string
				for _, v := range res.Versions {
					id := v.VersionID
					if v.DeleteMarker {
						id = "DM:" + id
					}
					entries = append(entries, fmt.Sprintf("%s@%s latest=%v", v.Key, id, v.IsLatest))
				}
				for _, cp := range res.CommonPrefixes {
					entries = append(entries, "CP:"+cp)
				}
				slices.SortStableFunc(entries, func(a, b string) int {
					return strings.Compare(strings.TrimPrefix(strings.SplitN(a, "@", 2)[0], "CP:"), strings.TrimPrefix(strings.SplitN(b, "@", 2)[0], "CP:"))
				})
				got = append(got, entries...)
				if !res.IsTruncated {
					break
				}
				in.KeyMarker, in.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("delim %q max %d:\n got %q\nwant %q", delim, max, got, want)
			}
		}
	}

	_, err := g.ListObjectVersions(ctx, s3api.ListVersionsInput{Bucket: "b", VersionIDMarker: info.VersionID, MaxKeys: 10})
	wantErr(t, err, s3api.ErrInvalidArgument)
	_, err = g.ListObjectVersions(ctx, s3api.ListVersionsInput{Bucket: "b", KeyMarker: "b", VersionIDMarker: "junk", MaxKeys: 10})
	wantErr(t, err, s3api.ErrInvalidArgument)
}

// TestListObjectVersionsUnversioned: a bucket that never had versioning
// lists its objects as null versions, as S3 does.
func TestListObjectVersionsUnversioned(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	put(t, g, "b", "k", []byte("x"))
	res, err := g.ListObjectVersions(t.Context(), s3api.ListVersionsInput{Bucket: "b", MaxKeys: 10})
	if err != nil || len(res.Versions) != 1 || res.Versions[0].VersionID != nullVersion || !res.Versions[0].IsLatest {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestMetaRecordsAreJSON guards the on-disk format against accidental
// changes of field names.
func TestMetaRecordsAreJSON(t *testing.T) {
	b, err := json.Marshal(versionRecord{ID: "null", Manifest: 7, Size: 3})
	if err != nil || !bytes.Contains(b, []byte(`"id":"null"`)) || !bytes.Contains(b, []byte(`"m":7`)) {
		t.Fatalf("%s %v", b, err)
	}
}

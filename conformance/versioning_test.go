package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func setVersioning(t testing.TB, c *s3.Client, b string, st types.BucketVersioningStatus) {
	t.Helper()
	_, err := c.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: &b, VersioningConfiguration: &types.VersioningConfiguration{Status: st}})
	must(t, err, "PutBucketVersioning "+string(st))
}

func enableVersioning(t testing.TB, c *s3.Client, b string) {
	t.Helper()
	setVersioning(t, c, b, types.BucketVersioningStatusEnabled)
}

// getVersion GETs key at versionID ("" for current) and returns its body.
func getVersion(t testing.TB, c *s3.Client, b, key, versionID string) (string, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: &b, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	body, out := getBytes(t, c, in)
	return string(body), out
}

type versionEntry struct {
	key, id  string
	latest   bool
	isMarker bool
}

func (v versionEntry) String() string {
	s := v.key + "@" + v.id
	if v.isMarker {
		s += "(marker)"
	}
	if v.latest {
		s += "*"
	}
	return s
}

// listVersions lists every version and delete marker of b with prefix, in
// S3's order: by key, then newest first.
func listVersions(t testing.TB, c *s3.Client, b, prefix string) []versionEntry {
	t.Helper()
	out, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: &b, Prefix: &prefix})
	must(t, err, "ListObjectVersions")
	if aws.ToBool(out.IsTruncated) {
		t.Fatalf("ListObjectVersions truncated for a handful of versions")
	}
	return mergeVersions(out)
}

// mergeVersions interleaves a page's Versions and DeleteMarkers the way S3
// orders them: by key, then by LastModified newest first (ties keep
// versions before markers only if LastModified says so).
func mergeVersions(out *s3.ListObjectVersionsOutput) []versionEntry {
	type ent struct {
		versionEntry
		lm int64
	}
	var es []ent
	for _, v := range out.Versions {
		es = append(es, ent{versionEntry{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false}, aws.ToTime(v.LastModified).UnixNano()})
	}
	for _, m := range out.DeleteMarkers {
		es = append(es, ent{versionEntry{aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), true}, aws.ToTime(m.LastModified).UnixNano()})
	}
	slices.SortStableFunc(es, func(a, b ent) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		// The latest first; then newest first.
		if a.latest != b.latest {
			if a.latest {
				return -1
			}
			return 1
		}
		return int(b.lm - a.lm)
	})
	var r []versionEntry
	for _, e := range es {
		r = append(r, e.versionEntry)
	}
	return r
}

func TestVersioningEnabled(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	enableVersioning(t, c, b)
	p1 := put(t, c, b, "k", []byte("one"))
	p2 := put(t, c, b, "k", []byte("two"))
	v1, v2 := aws.ToString(p1.VersionId), aws.ToString(p2.VersionId)
	if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" || v2 == "null" {
		t.Fatalf("PutObject version IDs %q and %q; want two distinct non-null IDs", v1, v2)
	}

	for _, tc := range []struct{ id, want string }{{v1, "one"}, {v2, "two"}, {"", "two"}} {
		body, out := getVersion(t, c, b, "k", tc.id)
		if body != tc.want {
			t.Errorf("GetObject versionId %q = %q; want %q", tc.id, body, tc.want)
		}
		wantID := tc.id
		if wantID == "" {
			wantID = v2
		}
		if aws.ToString(out.VersionId) != wantID {
			t.Errorf("GetObject versionId %q: x-amz-version-id %q; want %q", tc.id, aws.ToString(out.VersionId), wantID)
		}
	}
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &v1})
	must(t, err, "HeadObject by versionId")
	if aws.ToInt64(h.ContentLength) != 3 || aws.ToString(h.VersionId) != v1 || unquote(h.ETag) != md5hex([]byte("one")) {
		t.Errorf("HeadObject v1: length %d version %q etag %s", aws.ToInt64(h.ContentLength), aws.ToString(h.VersionId), unquote(h.ETag))
	}
	if got, want := listVersions(t, c, b, ""), []versionEntry{{"k", v2, true, false}, {"k", v1, false, false}}; !slices.Equal(got, want) {
		t.Errorf("ListObjectVersions = %v; want %v", got, want)
	}

	// Deleting without a version ID adds a delete marker.
	d, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k")})
	must(t, err, "DeleteObject (versioned)")
	dm := aws.ToString(d.VersionId)
	if !aws.ToBool(d.DeleteMarker) || dm == "" || dm == v1 || dm == v2 {
		t.Fatalf("DeleteObject: DeleteMarker %v VersionId %q; want a new delete marker", aws.ToBool(d.DeleteMarker), dm)
	}
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "NoSuchKey", "GetObject of a key whose current version is a delete marker")
	if responseHeader(err, "x-amz-delete-marker") != "true" {
		t.Errorf("GetObject of a deleted key: x-amz-delete-marker %q; want true", responseHeader(err, "x-amz-delete-marker"))
	}
	if id := responseHeader(err, "x-amz-version-id"); id != dm {
		t.Errorf("GetObject of a deleted key: x-amz-version-id %q; want the marker's %q", id, dm)
	}
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "", "HeadObject of a deleted key")
	if responseHeader(err, "x-amz-delete-marker") != "true" {
		t.Errorf("HeadObject of a deleted key: x-amz-delete-marker %q; want true", responseHeader(err, "x-amz-delete-marker"))
	}
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &dm})
	wantErr(t, err, 405, "MethodNotAllowed", "GetObject of a delete marker by versionId")
	if responseHeader(err, "x-amz-delete-marker") != "true" {
		t.Errorf("GetObject of a delete marker: x-amz-delete-marker %q; want true", responseHeader(err, "x-amz-delete-marker"))
	}
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &dm})
	wantErr(t, err, 405, "", "HeadObject of a delete marker by versionId")
	if body, _ := getVersion(t, c, b, "k", v1); body != "one" {
		t.Errorf("GetObject v1 behind a delete marker = %q", body)
	}
	if got, want := listVersions(t, c, b, ""), []versionEntry{{"k", dm, true, true}, {"k", v2, false, false}, {"k", v1, false, false}}; !slices.Equal(got, want) {
		t.Errorf("ListObjectVersions after delete = %v; want %v", got, want)
	}
	l, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b})
	must(t, err, "ListObjectsV2")
	if len(l.Contents) != 0 {
		t.Errorf("ListObjectsV2 lists %q behind a delete marker", keysOf(l.Contents))
	}

	// Deleting the marker brings the object back.
	d, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &dm})
	must(t, err, "DeleteObject of the delete marker")
	if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.VersionId) != dm {
		t.Errorf("DeleteObject of a delete marker: DeleteMarker %v VersionId %q; want true %q", aws.ToBool(d.DeleteMarker), aws.ToString(d.VersionId), dm)
	}
	if body, _ := getVersion(t, c, b, "k", ""); body != "two" {
		t.Errorf("after removing the delete marker GetObject = %q; want two", body)
	}

	// Deleting a version removes it for good.
	d, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &v2})
	must(t, err, "DeleteObject by versionId")
	if aws.ToString(d.VersionId) != v2 || aws.ToBool(d.DeleteMarker) {
		t.Errorf("DeleteObject v2: VersionId %q DeleteMarker %v", aws.ToString(d.VersionId), aws.ToBool(d.DeleteMarker))
	}
	if body, _ := getVersion(t, c, b, "k", ""); body != "one" {
		t.Errorf("after deleting v2 the current version = %q; want one", body)
	}
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &v2})
	wantErr(t, err, 404, "NoSuchVersion", "GetObject of a deleted version")
	if got, want := listVersions(t, c, b, ""), []versionEntry{{"k", v1, true, false}}; !slices.Equal(got, want) {
		t.Errorf("ListObjectVersions at the end = %v; want %v", got, want)
	}
}

func TestVersioningNullVersion(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	put(t, c, b, "k", []byte("before"))
	// An object put before versioning is the null version, addressable so
	// even while versioning was never enabled.
	if body, _ := getVersion(t, c, b, "k", "null"); body != "before" {
		t.Errorf("GetObject versionId=null on an unversioned bucket = %q", body)
	}
	enableVersioning(t, c, b)
	after := aws.ToString(put(t, c, b, "k", []byte("after")).VersionId)
	if got, want := listVersions(t, c, b, ""), []versionEntry{{"k", after, true, false}, {"k", "null", false, false}}; !slices.Equal(got, want) {
		t.Errorf("ListObjectVersions = %v; want %v", got, want)
	}
	if body, out := getVersion(t, c, b, "k", "null"); body != "before" || aws.ToString(out.VersionId) != "null" {
		t.Errorf("GetObject versionId=null = %q (x-amz-version-id %q); want before, null", body, aws.ToString(out.VersionId))
	}

	// Suspended: a PUT replaces the null version and keeps the others.
	setVersioning(t, c, b, types.BucketVersioningStatusSuspended)
	put(t, c, b, "k", []byte("suspended"))
	if got, want := listVersions(t, c, b, ""), []versionEntry{{"k", "null", true, false}, {"k", after, false, false}}; !slices.Equal(got, want) {
		t.Errorf("ListObjectVersions after a suspended PUT = %v; want %v", got, want)
	}
	if body, _ := getVersion(t, c, b, "k", "null"); body != "suspended" {
		t.Errorf("null version after a suspended PUT = %q; want suspended", body)
	}
	if body, _ := getVersion(t, c, b, "k", after); body != "after" {
		t.Errorf("version %s after a suspended PUT = %q; want after", after, body)
	}

	// Suspended: a DELETE makes a null delete marker, replacing the null version.
	d, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k")})
	must(t, err, "DeleteObject (suspended)")
	if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.VersionId) != "null" {
		t.Errorf("suspended DeleteObject: DeleteMarker %v VersionId %q; want true, null", aws.ToBool(d.DeleteMarker), aws.ToString(d.VersionId))
	}
	if got, want := listVersions(t, c, b, ""), []versionEntry{{"k", "null", true, true}, {"k", after, false, false}}; !slices.Equal(got, want) {
		t.Errorf("ListObjectVersions after a suspended DELETE = %v; want %v", got, want)
	}
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
	wantErr(t, err, 404, "NoSuchKey", "GetObject after a suspended DELETE")
}

func TestListObjectVersionsPaging(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	enableVersioning(t, c, b)
	for i := range 3 {
		put(t, c, b, "a", []byte(fmt.Sprint("a", i)))
	}
	for i := range 2 {
		put(t, c, b, "b/x", []byte(fmt.Sprint("b", i)))
	}
	put(t, c, b, "c", []byte("c"))
	_, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("c")})
	must(t, err, "DeleteObject c")
	all := listVersions(t, c, b, "")
	if len(all) != 7 {
		t.Fatalf("ListObjectVersions: %d entries %v; want 7", len(all), all)
	}
	for i, e := range all {
		first := i == 0 || all[i-1].key != e.key
		if e.latest != first {
			t.Errorf("entry %v: IsLatest %v; want it on the newest entry of each key only", e, e.latest)
		}
	}

	// Page through with max-keys 1; the pages together are the whole list.
	var paged []versionEntry
	var km, vm *string
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("ListObjectVersions paging did not end")
		}
		out, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: &b, MaxKeys: aws.Int32(1), KeyMarker: km, VersionIdMarker: vm})
		must(t, err, "ListObjectVersions max-keys 1")
		got := mergeVersions(out)
		if len(got) != 1 {
			t.Errorf("page %d: %d entries with max-keys 1", page, len(got))
		}
		paged = append(paged, got...)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		km, vm = out.NextKeyMarker, out.NextVersionIdMarker
		if aws.ToString(km) == "" {
			t.Fatalf("page %d truncated without NextKeyMarker", page)
		}
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged versions %v; want %v", paged, all)
	}

	// Prefix and delimiter.
	out, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: &b, Delimiter: aws.String("/")})
	must(t, err, "ListObjectVersions delimiter /")
	if got := prefixesOf(out.CommonPrefixes); !slices.Equal(got, []string{"b/"}) {
		t.Errorf("ListObjectVersions delimiter /: common prefixes %q; want [b/]", got)
	}
	if n := len(out.Versions) + len(out.DeleteMarkers); n != 5 {
		t.Errorf("ListObjectVersions delimiter /: %d entries; want 5 (a x3, c x2)", n)
	}
	if got := listVersions(t, c, b, "b/"); len(got) != 2 {
		t.Errorf("ListObjectVersions prefix b/: %v; want 2 versions", got)
	}
	// A key marker alone starts after every version of that key.
	out, err = c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: &b, KeyMarker: aws.String("a")})
	must(t, err, "ListObjectVersions key-marker a")
	if got := mergeVersions(out); !slices.Equal(got, all[3:]) {
		t.Errorf("ListObjectVersions key-marker a = %v; want %v", got, all[3:])
	}
}

func TestVersionedDeleteObjects(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	enableVersioning(t, c, b)
	v1 := aws.ToString(put(t, c, b, "x", []byte("x1")).VersionId)
	put(t, c, b, "y", []byte("y1"))
	out, err := c.DeleteObjects(t.Context(), &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("x"), VersionId: &v1},
		{Key: aws.String("y")},
	}}})
	must(t, err, "DeleteObjects (versioned)")
	for _, d := range out.Deleted {
		switch aws.ToString(d.Key) {
		case "x":
			if aws.ToString(d.VersionId) != v1 || aws.ToBool(d.DeleteMarker) {
				t.Errorf("DeleteObjects x@v1: VersionId %q DeleteMarker %v; want %q false", aws.ToString(d.VersionId), aws.ToBool(d.DeleteMarker), v1)
			}
		case "y":
			if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) == "" {
				t.Errorf("DeleteObjects y: DeleteMarker %v DeleteMarkerVersionId %q; want a new marker", aws.ToBool(d.DeleteMarker), aws.ToString(d.DeleteMarkerVersionId))
			}
		}
	}
	if len(out.Deleted) != 2 || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects: Deleted %d Errors %+v; want 2, none", len(out.Deleted), out.Errors)
	}
	got := listVersions(t, c, b, "")
	if len(got) != 2 || got[0].key != "y" || !got[0].isMarker || got[1].key != "y" || got[1].isMarker {
		t.Errorf("versions after DeleteObjects = %v; want y's marker and y's version only", got)
	}
}

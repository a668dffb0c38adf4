package gateway

import (
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

// stack describes key's versions newest first: the body of each version,
// "DM" for a delete marker, "(null)" appended for the null version and "*"
// for the one listed as latest.
func stack(t *testing.T, g *Gateway, bucket, key string) []string {
	t.Helper()
	res, err := g.ListObjectVersions(t.Context(), s3api.ListVersionsInput{Bucket: bucket, Prefix: key, MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, v := range res.Versions {
		if v.Key != key {
			continue
		}
		s := "DM"
		if !v.DeleteMarker {
			s = string(mustGet(t, g, bucket, key, v.VersionID))
		}
		if v.VersionID == nullVersion {
			s += "(null)"
		}
		if v.IsLatest {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

// vstep is one step of a versioning scenario.
type vstep struct {
	op   string // put, del, delv (by the version ID saved under ref), enable, suspend
	data string // put: the body
	ref  string // put/del: save the version ID under this name; delv: the name to delete
	want []string
}

func TestVersioningSemantics(t *testing.T) {
	cases := []struct {
		name  string
		steps []vstep
	}{
		{"unversioned overwrites and deletes", []vstep{
			{op: "put", data: "a", want: []string{"a(null)*"}},
			{op: "put", data: "b", want: []string{"b(null)*"}},
			{op: "del", want: []string{}},
			{op: "del", want: []string{}}, // deleting nothing succeeds
		}},
		{"enabled keeps every version", []vstep{
			{op: "enable"},
			{op: "put", data: "a", ref: "a", want: []string{"a*"}},
			{op: "put", data: "b", ref: "b", want: []string{"b*", "a"}},
			{op: "del", ref: "dm", want: []string{"DM*", "b", "a"}},
			{op: "delv", ref: "dm", want: []string{"b*", "a"}}, // removing the marker restores b
			{op: "delv", ref: "b", want: []string{"a*"}},       // the previous becomes current
		}},
		{"delete a middle version", []vstep{
			{op: "enable"},
			{op: "put", data: "a"},
			{op: "put", data: "b", ref: "b"},
			{op: "put", data: "c", want: []string{"c*", "b", "a"}},
			{op: "delv", ref: "b", want: []string{"c*", "a"}},
		}},
		{"suspended writes replace the null version only", []vstep{
			{op: "enable"},
			{op: "put", data: "a"},
			{op: "suspend"},
			{op: "put", data: "b", want: []string{"b(null)*", "a"}},
			{op: "put", data: "c", want: []string{"c(null)*", "a"}},
			{op: "del", ref: "dm", want: []string{"DM(null)*", "a"}},
			{op: "enable"},
			{op: "put", data: "d", want: []string{"d*", "DM(null)", "a"}},
			{op: "put", data: "e", want: []string{"e*", "d", "DM(null)", "a"}},
			{op: "delv", ref: "null", want: []string{"e*", "d", "a"}},
		}},
		{"suspended delete without a null version only adds a marker", []vstep{
			{op: "enable"},
			{op: "put", data: "a"},
			{op: "suspend"},
			{op: "del", want: []string{"DM(null)*", "a"}},
			{op: "del", want: []string{"DM(null)*", "a"}}, // the null marker replaces itself
		}},
		{"an object from before versioning is the null version", []vstep{
			{op: "put", data: "old"},
			{op: "enable"},
			{op: "put", data: "new", want: []string{"new*", "old(null)"}},
			{op: "put", data: "newer", want: []string{"newer*", "new", "old(null)"}},
			{op: "delv", ref: "null", want: []string{"newer*", "new"}},
		}},
		{"null version keeps its place when overwritten under suspension", []vstep{
			{op: "suspend"},
			{op: "put", data: "n1"},
			{op: "enable"},
			{op: "put", data: "v1"},
			{op: "suspend"},
			{op: "put", data: "n2", want: []string{"n2(null)*", "v1"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := open(t, testConfig(t))
			newBucket(t, g, "b", s3api.VersioningUnset)
			ctx := t.Context()
			refs := map[string]string{"null": nullVersion}
			for i, st := range tc.steps {
				switch st.op {
				case "enable", "suspend":
					v := s3api.VersioningEnabled
					if st.op == "suspend" {
						v = s3api.VersioningSuspended
					}
					if err := g.PutBucketVersioning(ctx, "b", v); err != nil {
						t.Fatal(err)
					}
				case "put":
					info := put(t, g, "b", "k", []byte(st.data))
					refs[st.ref] = info.VersionID
				case "del":
					res, err := g.DeleteObject(ctx, "b", "k", "")
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					refs[st.ref] = res.VersionID
				case "delv":
					if _, err := g.DeleteObject(ctx, "b", "k", refs[st.ref]); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
				if st.want != nil {
					if got := stack(t, g, "b", "k"); !reflect.DeepEqual(got, st.want) {
						t.Fatalf("step %d (%s %s): stack %q, want %q", i, st.op, st.data, got, st.want)
					}
				}
			}
		})
	}
}

func TestVersionIDsInResponses(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "plain", s3api.VersioningUnset)
	newBucket(t, g, "ver", s3api.VersioningEnabled)
	newBucket(t, g, "sus", s3api.VersioningSuspended)

	if info := put(t, g, "plain", "k", []byte("x")); info.VersionID != "" || !info.IsLatest {
		t.Errorf("unversioned put: %+v", info)
	}
	if res, err := g.DeleteObject(ctx, "plain", "k", ""); err != nil || res != (s3api.DeleteResult{}) {
		t.Errorf("unversioned delete: %+v %v", res, err)
	}
	info := put(t, g, "ver", "k", []byte("x"))
	if _, ok := parseID(info.VersionID); !ok {
		t.Errorf("versioned put: version %q", info.VersionID)
	}
	res, err := g.DeleteObject(ctx, "ver", "k", "")
	if err != nil || !res.DeleteMarker || res.VersionID == "" || res.VersionID == info.VersionID {
		t.Errorf("versioned delete: %+v %v", res, err)
	}
	if info := put(t, g, "sus", "k", []byte("x")); info.VersionID != nullVersion {
		t.Errorf("suspended put: %+v", info)
	}
	if res, err := g.DeleteObject(ctx, "sus", "k", ""); err != nil || res != (s3api.DeleteResult{VersionID: nullVersion, DeleteMarker: true}) {
		t.Errorf("suspended delete: %+v %v", res, err)
	}
}

func TestDeleteMarkerReads(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	v1 := put(t, g, "b", "k", []byte("x"))
	dm, err := g.DeleteObject(ctx, "b", "k", "")
	if err != nil {
		t.Fatal(err)
	}

	_, info, err := get(t, g, "b", "k", "")
	wantErr(t, err, s3api.ErrNoSuchKey)
	if !info.DeleteMarker || info.VersionID != dm.VersionID {
		t.Errorf("GET of a current marker: info %+v", info)
	}
	info, err = g.HeadObject(ctx, "b", "k", "")
	wantErr(t, err, s3api.ErrNoSuchKey)
	if !info.DeleteMarker {
		t.Errorf("HEAD of a current marker: info %+v", info)
	}
	_, info, err = get(t, g, "b", "k", dm.VersionID)
	wantErr(t, err, s3api.ErrMethodNotAllowed)
	if !info.DeleteMarker || info.VersionID != dm.VersionID {
		t.Errorf("GET of a marker by ID: info %+v", info)
	}
	if got := mustGet(t, g, "b", "k", v1.VersionID); string(got) != "x" {
		t.Errorf("old version %q", got)
	}

	// Removing the marker by ID says it was a marker.
	res, err := g.DeleteObject(ctx, "b", "k", dm.VersionID)
	if err != nil || !res.DeleteMarker || res.VersionID != dm.VersionID {
		t.Errorf("delete marker by ID: %+v %v", res, err)
	}
	if got := mustGet(t, g, "b", "k", ""); string(got) != "x" {
		t.Errorf("after removing the marker: %q", got)
	}
}

func TestVersionIDErrors(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningEnabled)
	v := put(t, g, "b", "k", []byte("x"))
	gone := formatID(newSeq(12345))

	cases := []struct {
		name, key, vid string
		want           *s3api.Error
	}{
		{"malformed", "k", "not-a-version", s3api.ErrInvalidArgument},
		{"well-formed, unknown", "k", gone, s3api.ErrNoSuchVersion},
		{"another key's version", "other", v.VersionID, s3api.ErrNoSuchVersion},
		{"no null version", "k", nullVersion, s3api.ErrNoSuchVersion},
		{"no such key", "nokey", "", s3api.ErrNoSuchKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := get(t, g, "b", tc.key, tc.vid)
			wantErr(t, err, tc.want)
			_, err = g.HeadObject(ctx, "b", tc.key, tc.vid)
			wantErr(t, err, tc.want)
		})
	}
	// Deleting a version that is not there succeeds and changes nothing.
	if res, err := g.DeleteObject(ctx, "b", "k", gone); err != nil || res.VersionID != gone {
		t.Fatalf("delete unknown version: %+v %v", res, err)
	}
	_, err := g.DeleteObject(ctx, "b", "k", "bad!")
	wantErr(t, err, s3api.ErrInvalidArgument)
	_, _, err = get(t, g, "nobucket", "k", "")
	wantErr(t, err, s3api.ErrNoSuchBucket)
}

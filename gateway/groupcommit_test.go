package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

// TestConcurrentSmallWritesIsolated runs small PUTs and DELETEs at once,
// so that their commits share groups (chunkstore.Store.Batch, the writers'
// commits), with failing ones among them: conditional PUTs that fail, a
// DELETE with a malformed version ID, a DELETE of a version already gone
// (which succeeds and changes nothing). Each request gets its own answer;
// what fails changes nothing and leaks no manifest (the cleanup's
// consistency check), what succeeds is all there.
func TestConcurrentSmallWritesIsolated(t *testing.T) {
	g := open(t, testConfig(t))
	newBucket(t, g, "b", s3api.VersioningUnset)
	newBucket(t, g, "v", s3api.VersioningEnabled)
	const n = 16
	exist := make([]s3api.ObjectInfo, n)
	for i := range n {
		exist[i] = put(t, g, "b", fmt.Sprintf("e%02d", i), random(uint64(i), 4096))
		put(t, g, "b", fmt.Sprintf("d%02d", i), random(uint64(100+i), 4096))
	}
	gone := put(t, g, "v", "gone", random(999, 4096))
	if _, err := g.DeleteObject(t.Context(), "v", "gone", gone.VersionID); err != nil {
		t.Fatal(err)
	}

	newData := func(i int) []byte { return random(uint64(1000+i), 4096) }
	versions := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		ctx := t.Context()
		wg.Go(func() { // a new object
			in := s3api.PutObjectInput{Bucket: "b", Key: fmt.Sprintf("n%02d", i), Body: bytes.NewReader(newData(i)), Size: 4096}
			if _, err := g.PutObject(ctx, in); err != nil {
				t.Errorf("put n%02d: %v", i, err)
			}
		})
		wg.Go(func() { // If-None-Match * on an existing object: fails
			in := s3api.PutObjectInput{Bucket: "b", Key: fmt.Sprintf("e%02d", i), Body: bytes.NewReader(newData(i)), Size: 4096, IfNoneMatch: "*"}
			if _, err := g.PutObject(ctx, in); !errors.Is(err, s3api.ErrPreconditionFailed) {
				t.Errorf("put e%02d if-none-match *: %v", i, err)
			}
		})
		wg.Go(func() { // If-Match another ETag: fails
			in := s3api.PutObjectInput{Bucket: "b", Key: fmt.Sprintf("e%02d", i), Body: bytes.NewReader(newData(i)), Size: 4096, IfMatch: "0123456789abcdef0123456789abcdef"}
			if _, err := g.PutObject(ctx, in); !errors.Is(err, s3api.ErrPreconditionFailed) {
				t.Errorf("put e%02d if-match: %v", i, err)
			}
		})
		wg.Go(func() { // a delete
			if _, err := g.DeleteObject(ctx, "b", fmt.Sprintf("d%02d", i), ""); err != nil {
				t.Errorf("delete d%02d: %v", i, err)
			}
		})
		wg.Go(func() { // a malformed version ID: fails
			if _, err := g.DeleteObject(ctx, "b", fmt.Sprintf("e%02d", i), "not-a-version"); !errors.Is(err, s3api.ErrInvalidArgument) {
				t.Errorf("delete e%02d?versionId=not-a-version: %v", i, err)
			}
		})
		wg.Go(func() { // a version already gone: succeeds, changes nothing
			res, err := g.DeleteObject(ctx, "v", "gone", gone.VersionID)
			if err != nil || res.VersionID != gone.VersionID || res.DeleteMarker {
				t.Errorf("delete a gone version: %+v, %v", res, err)
			}
		})
		wg.Go(func() { // a new version of one key
			info, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "v", Key: "x", Body: bytes.NewReader(newData(i)), Size: 4096})
			if err != nil {
				t.Errorf("put v/x: %v", err)
			}
			versions[i] = info.VersionID
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	for i := range n {
		if got := mustGet(t, g, "b", fmt.Sprintf("n%02d", i), ""); !bytes.Equal(got, newData(i)) {
			t.Errorf("n%02d: wrong bytes", i)
		}
		got, info, err := get(t, g, "b", fmt.Sprintf("e%02d", i), "")
		if err != nil || !bytes.Equal(got, random(uint64(i), 4096)) || info.ETag != exist[i].ETag {
			t.Errorf("e%02d changed by a failed write: %v", i, err)
		}
		_, _, err = get(t, g, "b", fmt.Sprintf("d%02d", i), "")
		if !errors.Is(err, s3api.ErrNoSuchKey) {
			t.Errorf("d%02d after its delete: %v", i, err)
		}
	}
	seen := map[string]bool{}
	for i, vid := range versions {
		if vid == "" || seen[vid] {
			t.Fatalf("version IDs %v", versions)
		}
		seen[vid] = true
		if got := mustGet(t, g, "v", "x", vid); !bytes.Equal(got, newData(i)) {
			t.Errorf("v/x version %s: wrong bytes", vid)
		}
	}
	if _, _, err := get(t, g, "v", "gone", gone.VersionID); !errors.Is(err, s3api.ErrNoSuchVersion) {
		t.Errorf("the gone version: %v", err)
	}
}

package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/s3api"
)

// wantAdminErr fails unless err is an AdminError of that status whose
// message holds every one of parts.
func wantAdminErr(t *testing.T, err error, status int, parts ...string) {
	t.Helper()
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Status != status {
		t.Fatalf("error %v, want an AdminError %d", err, status)
	}
	for _, p := range parts {
		if !strings.Contains(ae.Message, p) {
			t.Fatalf("message %q does not say %q", ae.Message, p)
		}
	}
}

// A group added while the gateway runs takes buckets at once, keeps its
// settings and buckets across a restart with no --group flag, and a
// missing directory at start is an error that says what to do, never an
// empty group.
func TestGroupAddPersistsAndMissingDirFails(t *testing.T) {
	cfg := testConfig(t)
	cfg.MinQuota = 1 << 20
	g := open(t, cfg)
	fastDir := filepath.Join(t.TempDir(), "ssd")
	gi, err := g.AddGroup(t.Context(), GroupSpec{Name: "fast", Dir: fastDir, Performance: true, Quota: 64 << 20, Streams: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !gi.Performance || gi.Quota != 64<<20 || gi.Streams != 4 || gi.Capacity <= 0 || gi.Filesystem == "" {
		t.Fatalf("added group: %+v", gi)
	}
	if _, err := g.AddGroup(t.Context(), GroupSpec{Name: "fast", Dir: t.TempDir()}); err == nil {
		t.Fatal("a second group named fast was added")
	}
	if _, err := g.AddGroup(t.Context(), GroupSpec{Name: "other", Dir: filepath.Join(fastDir, "sub")}); err == nil {
		t.Fatal("a group inside another group's directory was added")
	}
	if err := g.CreateBucket(t.Context(), "vm-images", "fast"); err != nil {
		t.Fatal(err)
	}
	put(t, g, "vm-images", "a", random(1, 100<<10))
	if info, err := g.HeadBucket(t.Context(), "vm-images"); err != nil || info.Location != "fast" {
		t.Fatalf("HeadBucket: %+v, %v; want location fast", info, err)
	}
	g.Close()

	g = open(t, cfg) // no Groups in cfg: the registry brings fast back
	if !bytes.Equal(mustGet(t, g, "vm-images", "a", ""), random(1, 100<<10)) {
		t.Fatal("the object in the added group reads back wrong after a restart")
	}
	gs, err := g.Groups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[1].Name != "fast" || !gs[1].Performance || gs[1].Quota != 64<<20 || gs[1].Streams != 4 || len(gs[1].Buckets) != 1 {
		t.Fatalf("groups after a restart: %+v", gs)
	}
	// The stream limit changes while the group runs, and is kept.
	two := 2
	if gi, err := g.SetGroup(t.Context(), "fast", GroupChange{Streams: &two}); err != nil || gi.Streams != 2 || gi.ActiveStreams != 0 {
		t.Fatalf("streams 2: %+v, %v", gi, err)
	}
	zero := 0
	if _, err := g.SetGroup(t.Context(), "fast", GroupChange{Streams: &zero}); err == nil {
		t.Fatal("a stream limit of 0 was taken")
	}
	g.Close()

	// The disk is gone: the start fails and says so.
	if err := os.Rename(fastDir, fastDir+".unmounted"); err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), fastDir) {
		t.Fatalf("start with the group's directory gone: %v", err)
	}
	os.Rename(fastDir+".unmounted", fastDir)
	g = open(t, cfg)
	mustGet(t, g, "vm-images", "a", "")
}

// A group is removed only when it holds no bucket, the refusal names the
// buckets, the directory stays, and adding it again brings back what it
// holds.
func TestGroupRemove(t *testing.T) {
	cfg := testConfig(t)
	g := open(t, cfg)
	dir := t.TempDir()
	if _, err := g.AddGroup(t.Context(), GroupSpec{Name: "cold", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"b1", "b2"} {
		if err := g.CreateBucket(t.Context(), b, "cold"); err != nil {
			t.Fatal(err)
		}
	}
	wantAdminErr(t, g.RemoveGroup(t.Context(), "cold"), http.StatusConflict, "b1, b2")
	wantAdminErr(t, g.RemoveGroup(t.Context(), DefaultGroup), http.StatusConflict, "default")
	wantAdminErr(t, g.RemoveGroup(t.Context(), "nope"), http.StatusNotFound, "nope")
	for _, b := range []string{"b1", "b2"} {
		if err := g.DeleteBucket(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.RemoveGroup(t.Context(), "cold"); err != nil {
		t.Fatal(err)
	}
	if err := g.CreateBucket(t.Context(), "b3", "cold"); !errors.Is(err, s3api.ErrInvalidLocationConstraint) {
		t.Fatalf("CreateBucket in a removed group: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.db")); err != nil {
		t.Fatalf("the removed group's directory was not left as it was: %v", err)
	}
	if _, err := g.AddGroup(t.Context(), GroupSpec{Name: "cold", Dir: dir}); err != nil {
		t.Fatalf("adding the group again: %v", err)
	}
	// A directory holding another group's store is refused.
	if err := g.CreateBucket(t.Context(), "b4", "cold"); err != nil {
		t.Fatal(err)
	}
	g.Close()
	g = open(t, cfg)
	if err := g.DeleteBucket(t.Context(), "b4"); err != nil {
		t.Fatal(err)
	}
	if err := g.RemoveGroup(t.Context(), "cold"); err != nil {
		t.Fatal(err)
	}
	_, err := g.AddGroup(t.Context(), GroupSpec{Name: "warm", Dir: dir})
	wantAdminErr(t, err, http.StatusConflict, `holds storage group "cold"`)
}

// Each quota rule refuses with its numbers, and a refusal changes nothing.
func TestGroupQuotaRules(t *testing.T) {
	cfg := testConfig(t)
	g := open(t, cfg)
	newBucket(t, g, "b", s3api.VersioningUnset)
	put(t, g, "b", "k", random(2, 3<<20))

	q := int64(50 << 30)
	_, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q})
	wantAdminErr(t, err, http.StatusBadRequest, "below the minimum of 100 GiB", "50 GiB", "--min-quota")
	g.Close()

	cfg.MinQuota = 1 << 20
	g = open(t, cfg)
	q = 2 << 20
	_, err = g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q})
	wantAdminErr(t, err, http.StatusBadRequest, "below what the group uses", "2 MiB")
	q = 1 << 60
	_, err = g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q})
	wantAdminErr(t, err, http.StatusBadRequest, "above the capacity of its filesystem", "1 EiB")
	if g.groups[DefaultGroup].store.Quota() != 0 {
		t.Fatal("a refused quota was set")
	}
	q = 64 << 20
	gi, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q})
	if err != nil || gi.Quota != q {
		t.Fatalf("a valid quota: %+v, %v", gi, err)
	}
	// Reduced, but not below the use; removed with 0.
	q = 32 << 20
	if _, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q}); err != nil {
		t.Fatal(err)
	}
	q = 0
	if gi, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q}); err != nil || gi.Quota != 0 {
		t.Fatalf("removing the quota: %+v, %v", gi, err)
	}
}

// At the quota, every write that adds data or an object is refused with
// 507 QuotaExceeded naming the group, its quota and its use; reads, HEAD,
// LIST and DELETE keep working; after delete and clean, writes resume.
func TestQuotaRefusesWritesKeepsReads(t *testing.T) {
	cfg := testConfig(t)
	cfg.MinQuota = 1 << 20
	cfg.CleanInterval = 0
	g := open(t, cfg)
	newBucket(t, g, "b", s3api.VersioningUnset)
	up, err := g.CreateMultipartUpload(t.Context(), s3api.UploadInfo{Bucket: "b", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	part, err := g.UploadPart(t.Context(), s3api.UploadPartInput{Bucket: "b", Key: "mp", UploadID: up, PartNumber: 1, Body: bytes.NewReader(random(50, 1<<20)), Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	used, err := g.groups[DefaultGroup].store.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	q := used + 4<<20
	if _, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var refused error
	for i := range 10 {
		key := "obj" + string(rune('a'+i))
		_, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(random(uint64(i), 1<<20)), Size: 1 << 20})
		if err != nil {
			refused = err
			break
		}
		keys = append(keys, key)
	}
	var s3err *s3api.Error
	if !errors.As(refused, &s3err) || s3err.Code != "QuotaExceeded" || s3err.Status != http.StatusInsufficientStorage ||
		!strings.Contains(s3err.Message, `"default"`) || !strings.Contains(s3err.Message, "MiB") {
		t.Fatalf("a write past the quota: %v", refused)
	}
	// One event says so, however many writes are refused.
	evs, err := g.Events(t.Context(), 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var quotaEvents int
	for _, e := range evs {
		if e.Kind == events.QuotaReached && e.Subject == DefaultGroup {
			quotaEvents++
		}
	}
	// Every other write is refused too, before it reads a byte.
	_, err = g.UploadPart(t.Context(), s3api.UploadPartInput{Bucket: "b", Key: "mp", UploadID: up, PartNumber: 2, Body: bytes.NewReader(random(51, 1<<20)), Size: 1 << 20})
	wantErr(t, err, s3api.ErrQuotaExceeded)
	_, err = g.CompleteMultipartUpload(t.Context(), "b", "mp", up, []s3api.CompletePart{{PartNumber: 1, ETag: part.ETag}}, "", "")
	wantErr(t, err, s3api.ErrQuotaExceeded)
	_, err = g.CopyObject(t.Context(), s3api.CopyObjectInput{SrcBucket: "b", SrcKey: keys[0], DstBucket: "b", DstKey: "copy"})
	wantErr(t, err, s3api.ErrQuotaExceeded)
	// Reads, HEAD, LIST and DELETE work.
	for i, k := range keys {
		if !bytes.Equal(mustGet(t, g, "b", k, ""), random(uint64(i), 1<<20)) {
			t.Fatalf("%s reads back wrong at the quota", k)
		}
		if _, err := g.HeadObject(t.Context(), "b", k, ""); err != nil {
			t.Fatal(err)
		}
	}
	evs, err = g.Events(t.Context(), 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(evs); quotaEvents != 1 || n != 1 {
		t.Fatalf("%d quota_reached events of %d after many refusals: want 1", quotaEvents, n)
	}
	if res, err := g.ListObjects(t.Context(), s3api.ListInput{Bucket: "b", MaxKeys: 1000}); err != nil || len(res.Objects) != len(keys) {
		t.Fatalf("LIST at the quota: %d objects, %v", len(res.Objects), err)
	}
	for _, k := range keys {
		if _, err := g.DeleteObject(t.Context(), "b", k, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Clean(t.Context()); err != nil {
		t.Fatal(err)
	}
	put(t, g, "b", "after", random(99, 1<<20))
	if _, err := g.CompleteMultipartUpload(t.Context(), "b", "mp", up, []s3api.CompletePart{{PartNumber: 1, ETag: part.ETag}}, "", ""); err != nil {
		t.Fatalf("completing the upload once there is room: %v", err)
	}
}

// The cleaner runs on its own when a write is refused at the quota: after
// deletes, writes resume with nobody running cairn admin clean. Paused, it
// does not; the pause outlives a restart.
func TestAutoCleanFreesQuota(t *testing.T) {
	cfg := testConfig(t)
	cfg.MinQuota = 1 << 20
	cfg.CleanInterval = 0
	cfg.CleanCheck = 20 * time.Millisecond
	cfg.CleanGap = 20 * time.Millisecond
	// Disk pressure only on a full disk: the host's own disk (90% full on
	// a busy CI machine) must not start a run before the quota does. A
	// refused write still starts one at any pressure.
	cfg.CleanPressure = 1
	g := open(t, cfg)
	newBucket(t, g, "b", s3api.VersioningUnset)
	used, err := g.groups[DefaultGroup].store.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	q := used + 3<<20
	if _, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q}); err != nil {
		t.Fatal(err)
	}
	if err := g.PauseCleaner(true); err != nil {
		t.Fatal(err)
	}
	g.Close()
	g = open(t, cfg)
	if !g.CleanSchedule().Paused {
		t.Fatal("the pause did not outlive a restart")
	}
	fill := func() int {
		n := 0
		for i := range 10 {
			_, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "k" + string(rune('0'+i)), Body: bytes.NewReader(random(uint64(i+10*n), 1<<20)), Size: 1 << 20})
			if errors.Is(err, s3api.ErrQuotaExceeded) {
				return n
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		t.Fatal("10 MiB written under a 3 MiB quota")
		return n
	}
	n := fill()
	for i := range n {
		if _, err := g.DeleteObject(t.Context(), "b", "k"+string(rune('0'+i)), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Paused: the deleted objects' space is still taken.
	time.Sleep(100 * time.Millisecond)
	_, err = g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "x", Body: bytes.NewReader(random(77, 1<<20)), Size: 1 << 20})
	wantErr(t, err, s3api.ErrQuotaExceeded)
	if err := g.PauseCleaner(false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "x", Body: bytes.NewReader(random(77, 1<<20)), Size: 1 << 20})
		if err == nil {
			break
		}
		wantErr(t, err, s3api.ErrQuotaExceeded)
		if time.Now().After(deadline) {
			t.Fatalf("writes did not resume after deletes: %+v", g.CleanSchedule())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := g.CleanSchedule().Groups[0]
	if st.Runs == 0 || st.LastReason != "quota" {
		t.Fatalf("the cleaner's own runs: %+v", st)
	}
}

// Concurrent writers crossing the quota through the gateway: each PUT
// either commits whole and reads back, or gets 507 QuotaExceeded and
// leaves nothing (the cleanup's consistency check finds no leaked
// manifest); the group ends within a batch per writer of its quota.
func TestQuotaConcurrentPuts(t *testing.T) {
	cfg := testConfig(t)
	cfg.MinQuota = 1 << 20
	cfg.CleanInterval = 0
	g := open(t, cfg)
	newBucket(t, g, "b", s3api.VersioningUnset)
	used, err := g.groups[DefaultGroup].store.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	q := used + 6<<20
	if _, err := g.SetGroup(t.Context(), DefaultGroup, GroupChange{Quota: &q}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	stored := map[string]uint64{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 6 {
				key, seed := fmt.Sprintf("w%d/%d", w, i), uint64(100*w+i)
				_, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(random(seed, 700<<10)), Size: 700 << 10})
				if errors.Is(err, s3api.ErrQuotaExceeded) {
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", key, err)
					return
				}
				mu.Lock()
				stored[key] = seed
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(stored) == 0 || len(stored) == 24 {
		t.Fatalf("%d of 24 PUTs went through a 6 MiB quota", len(stored))
	}
	res, err := g.ListObjects(t.Context(), s3api.ListInput{Bucket: "b", MaxKeys: 1000})
	if err != nil || len(res.Objects) != len(stored) {
		t.Fatalf("%d objects listed, %d PUTs acknowledged (%v)", len(res.Objects), len(stored), err)
	}
	for key, seed := range stored {
		if !bytes.Equal(mustGet(t, g, "b", key, ""), random(seed, 700<<10)) {
			t.Fatalf("%s reads back wrong", key)
		}
	}
	after, _ := g.groups[DefaultGroup].store.PhysicalBytes()
	if over := after - q; over > 4*256<<10+1<<20 {
		t.Fatalf("the group is %d bytes over its quota", over)
	}
}

// A quota above the filesystem's capacity is refused for a group being
// added on a directory not made yet, and nothing is made.
func TestGroupAddQuotaAboveCapacityMakesNothing(t *testing.T) {
	cfg := testConfig(t)
	cfg.MinQuota = 1 << 20
	g := open(t, cfg)
	dir := filepath.Join(t.TempDir(), "not", "yet")
	_, err := g.AddGroup(t.Context(), GroupSpec{Name: "big", Dir: dir, Quota: 1 << 60})
	wantAdminErr(t, err, http.StatusBadRequest, "above the capacity")
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused group add left %s: %v", dir, err)
	}
}

// TestAutoCleanRecompresses: text PUT to the default group (zstd-later) is
// S2 until the group has had no write for RecompressIdle; then the
// cleaner's own run, for "compression", makes it zstd, the group stores
// less, and every object reads back.
func TestAutoCleanRecompresses(t *testing.T) {
	cfg := testConfig(t)
	cfg.CleanInterval = 0
	cfg.CleanCheck = 20 * time.Millisecond
	cfg.CleanGap = 20 * time.Millisecond
	cfg.RecompressIdle = time.Second
	cfg.CleanPressure = 1 // a host disk past 90% must not start a run first
	g := open(t, cfg)
	newBucket(t, g, "b", s3api.VersioningUnset)
	store := g.groups[DefaultGroup].store
	if c := store.Compression(); c != chunkstore.CompressZstdLater {
		t.Fatalf("the default group compresses with %q, want zstd-later", c)
	}
	bodies := map[string][]byte{}
	for i := range 6 {
		var b []byte
		for j := 0; len(b) < 1<<20; j++ {
			b = fmt.Appendf(b, "object %d line %d: the quick brown fox jumps over the lazy dog\n", i, j*7%1000)
		}
		key := fmt.Sprintf("text-%d", i)
		if _, err := g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(b), Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		bodies[key] = b
	}
	stored := func() int64 {
		st, err := store.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.StoredBytes
	}
	before := stored()
	deadline := time.Now().Add(30 * time.Second)
	for {
		later, err := store.LaterBytes()
		if err != nil {
			t.Fatal(err)
		}
		// Done once the run that recompressed has ended and says so.
		if st := g.CleanSchedule().Groups[0]; later == 0 && st.Runs > 0 && !st.Running {
			if st.LastReason != "compression" {
				t.Fatalf("the cleaner's own runs: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still S2 long after the writes: %+v", later, g.CleanSchedule())
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := stored()
	t.Logf("6 MiB of text: %d bytes as written, %d recompressed", before, after)
	if after >= before {
		t.Errorf("recompressed, the group stores %d bytes, %d before", after, before)
	}
	for key, want := range bodies {
		if got := mustGet(t, g, "b", key, ""); !bytes.Equal(got, want) {
			t.Fatalf("%s does not read back after the recompression", key)
		}
	}
}

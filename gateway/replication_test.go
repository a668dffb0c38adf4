package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/replicator"
	"github.com/cairn-backup/cairn/s3api"
	"github.com/cairn-backup/cairn/tlsproxy/linktest"
)

// site is one gateway served over S3 with its admin API, as cairn serve
// serves it (root key "rootkey").
type site struct {
	g   *Gateway
	url string
	c   *s3.Client
	cfg Config
	h   atomic.Pointer[http.Handler]
}

func newSite(t *testing.T) *site { return newBenchSite(t) }

// newBenchSite is newSite for a test or a benchmark.
func newBenchSite(t testing.TB) *site {
	t.Helper()
	s := &site{cfg: testConfig(t)}
	if _, bench := t.(*testing.B); bench {
		s.cfg.ChunkStore = nil // the chunk store's own defaults: what a server runs
	}
	s.serve(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.c = s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("rootkey", "rootsecret", ""),
	})
	return s
}

// serve opens the site's gateway on its data directory and serves it at
// the site's address: at a restart, the same address.
func (s *site) serve(t testing.TB) {
	t.Helper()
	s.g = open(t, s.cfg)
	h, err := s3api.NewHandler(s3api.Config{
		Region: "us-east-1",
		Secret: func(k string) (string, bool) { return "rootsecret", k == "rootkey" },
		Logger: slog.New(slog.DiscardHandler),
		Admin:  s.g.AdminHandler("rootkey"),
	}, s.g)
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	s.h.Store(&hh)
}

// restart closes the site's gateway and opens it again.
func (s *site) restart(t testing.TB) {
	t.Helper()
	s.g.Close()
	s.serve(t)
}

func (s *site) put(t *testing.T, bucket, key string, data []byte, tags string) string {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentType: aws.String("application/x-backup")}
	if tags != "" {
		in.Tagging = aws.String(tags)
	}
	out, err := s.c.PutObject(t.Context(), in)
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

// listedVersions lists every version and delete marker of a bucket as
// "key version etag size" lines, in order.
func listedVersions(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, v := range out.Versions {
		lines = append(lines, aws.ToString(v.Key)+" "+aws.ToString(v.VersionId)+" "+aws.ToString(v.ETag)+" "+string(rune('0'+int(aws.ToInt64(v.Size)%10))))
	}
	for _, m := range out.DeleteMarkers {
		lines = append(lines, aws.ToString(m.Key)+" "+aws.ToString(m.VersionId)+" marker")
	}
	slices.Sort(lines)
	return lines
}

// A relationship replicates puts (with their version IDs, ETags, metadata
// and tags), tag changes, delete markers and version deletes; a second
// generation of mostly the same data sends only what is new; the replica
// refuses writes from S3 clients, saying whose replica it is; statuses show
// on both sides.
func TestReplicationConverges(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "wrong"}); err == nil || !strings.Contains(err.Error(), "refused the keys") {
		t.Fatalf("a remote with a wrong key: %v", err)
	}
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("backups")}); err != nil {
		t.Fatal(err)
	}
	err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "backups", Remote: "dr", ReplicaBucket: "backups-dr", DeleteMarkers: true})
	if !errors.Is(err, s3api.ErrReplicationRequiresVersioning) {
		t.Fatalf("replication of an unversioned bucket: %v", err)
	}
	if _, err := src.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("backups"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	// Set through S3, as a client would.
	_, err = src.c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("backups"),
		ReplicationConfiguration: &types.ReplicationConfiguration{Role: aws.String("cairn"), Rules: []types.ReplicationRule{{
			ID: aws.String("all"), Priority: aws.Int32(1), Status: types.ReplicationRuleStatusEnabled,
			Filter:                  &types.ReplicationRuleFilter{Prefix: aws.String("")},
			DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusEnabled},
			Destination:             &types.Destination{Bucket: aws.String("arn:cairn:s3:::dr/backups-dr")},
		}}}})
	if err != nil {
		t.Fatal(err)
	}

	gen1 := random(1, 6<<20)
	v1 := src.put(t, "backups", "full.tar", gen1, "kind=full")
	gen2 := bytes.Clone(gen1)
	copy(gen2[3<<20:], random(2, 64<<10)) // a small change in the middle
	v2 := src.put(t, "backups", "full.tar", gen2, "")
	src.put(t, "backups", "gone.tar", random(3, 100<<10), "")
	if _, err := src.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String("gone.tar")}); err != nil {
		t.Fatal(err) // a delete marker
	}
	vx := src.put(t, "backups", "x", []byte("short-lived"), "")
	if _, err := src.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String("x"), VersionId: aws.String(vx)}); err != nil {
		t.Fatal(err) // a version deleted for good
	}
	if _, err := src.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("backups"), Key: aws.String("full.tar"), VersionId: aws.String(v1),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("kind"), Value: aws.String("weekly")}}}}); err != nil {
		t.Fatal(err)
	}
	run, err := src.g.RunReplication(ctx, "backups")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := listedVersions(t, src.c, "backups"), listedVersions(t, dst.c, "backups-dr"); !slices.Equal(a, b) {
		t.Fatalf("the replica's versions differ:\nsource  %q\nreplica %q", a, b)
	}
	for _, v := range []struct {
		id   string
		want []byte
	}{{v1, gen1}, {v2, gen2}} {
		out, err := dst.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("backups-dr"), Key: aws.String("full.tar"), VersionId: aws.String(v.id)})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		got.ReadFrom(out.Body)
		out.Body.Close()
		if !bytes.Equal(got.Bytes(), v.want) || aws.ToString(out.ContentType) != "application/x-backup" || out.ReplicationStatus != types.ReplicationStatusReplica {
			t.Fatalf("replica version %s: %d bytes, type %q, status %q", v.id, got.Len(), aws.ToString(out.ContentType), out.ReplicationStatus)
		}
	}
	tags, err := dst.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("backups-dr"), Key: aws.String("full.tar"), VersionId: aws.String(v1)})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Value) != "weekly" {
		t.Fatalf("replica tags: %+v, %v", tags, err)
	}
	head, err := src.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("backups"), Key: aws.String("full.tar")})
	if err != nil || head.ReplicationStatus != types.ReplicationStatusCompleted {
		t.Fatalf("source status: %q, %v", head.ReplicationStatus, err)
	}
	// The second generation cost its change, not its size.
	if run.BytesSent > int64(len(gen1))+int64(len(gen1))/4 {
		t.Fatalf("two generations of %d bytes sent %d bytes", len(gen1), run.BytesSent)
	}

	// Read-only to S3 clients, with a message that names the source.
	_, err = dst.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups-dr"), Key: aws.String("evil"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "replica of") || !strings.Contains(ae.ErrorMessage(), "backups") {
		t.Fatalf("a PUT to the replica: %v", err)
	}
	if _, err := dst.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("backups-dr"), Key: aws.String("full.tar")}); err == nil {
		t.Fatal("a DELETE in the replica went through")
	}
	st, err := src.g.Replications()
	if err != nil || len(st) != 1 || st[0].PendingChanges != 0 || st[0].Versions < 2 || st[0].State != "idle" && st[0].State != "sending" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	cfg, err := src.c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("backups")})
	if err != nil || aws.ToString(cfg.ReplicationConfiguration.Rules[0].Destination.Bucket) != "arn:cairn:s3:::dr/backups-dr" {
		t.Fatalf("GetBucketReplication: %+v, %v", cfg, err)
	}
	if err := src.g.RemoveRemote(ctx, "dr"); err == nil {
		t.Fatal("a remote in use was removed")
	}

	// Ending the relationship leaves the replica an ordinary bucket.
	if _, err := src.c.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("backups")}); err != nil {
		t.Fatal(err)
	}
	dst.put(t, "backups-dr", "now-writable", []byte("ok"), "")
	if _, err := src.c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("backups")}); !errors.As(err, &ae) || ae.ErrorCode() != "ReplicationConfigurationNotFoundError" {
		t.Fatalf("GetBucketReplication after delete: %v", err)
	}
}

// A replica at its quota pauses replication with a clear status; nothing
// is lost, and once there is room it catches up by itself.
func TestReplicationPausesOnFullReplica(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	dst.cfg.MinQuota = 64 << 10
	dst.restart(t)
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	newBucket(t, src.g, "b", s3api.VersioningEnabled)
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "b", Remote: "dr", ReplicaBucket: "b-dr"}); err != nil {
		t.Fatal(err)
	}
	used, err := dst.g.groups[DefaultGroup].store.PhysicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	q := used + 128<<10 // less than a batch left: the replica is full
	if _, err := dst.g.SetGroup(ctx, DefaultGroup, GroupChange{Quota: &q}); err != nil {
		t.Fatal(err)
	}
	data := random(9, 2<<20)
	put(t, src.g, "b", "k", data)
	rctx, cancel := context.WithTimeout(ctx, 10e9)
	_, err = src.g.RunReplication(rctx, "b")
	cancel()
	if err == nil || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("replication into a full replica: %v", err)
	}
	st, _ := src.g.Replications()
	if len(st) != 1 || st[0].PendingChanges != 1 || !strings.Contains(st[0].State, "full") {
		t.Fatalf("status of a relationship into a full replica: %+v", st)
	}
	// The metrics show the backlog and its age.
	fams := scrape(t, metricsServer(t, src.g, "0123456789abcdef0123"), "0123456789abcdef0123")
	if v := value(fams, "cairn_replication_pending_changes", "bucket", "b", "remote", "dr"); v != 1 {
		t.Fatalf("cairn_replication_pending_changes = %v, want 1", v)
	}
	if v := value(fams, "cairn_replication_lag_seconds", "bucket", "b", "remote", "dr"); v <= 0 {
		t.Fatalf("cairn_replication_lag_seconds = %v, want > 0", v)
	}
	q = 0
	if _, err := dst.g.SetGroup(ctx, DefaultGroup, GroupChange{Quota: &q}); err != nil {
		t.Fatal(err)
	}
	// The sender waits 30 s after a full replica; a run kicks it now.
	if _, err := src.g.RunReplication(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustGet(t, dst.g, "b-dr", "k", ""), data) {
		t.Fatal("the replica did not catch up")
	}
}

// A peer that speaks another replication protocol is refused when it is
// added, with a message that names both versions, and the refusal is an
// event on each side. (The peer here is the real handler told to speak
// the protocol after ours: a stand-in for a later Cairn.)
func TestReplicationIncompatiblePeer(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	var farSide []string
	later := replicator.ProtocolVersion + 1
	h := replicator.NewHandler(replTarget{g: dst.g}, replicator.HandlerOptions{Protocol: later,
		OnIncompatible: func(local, remote string) { farSide = append(farSide, local+" vs "+remote) }})
	t.Cleanup(func() { h.Close() })
	laterSrv := httptest.NewServer(h)
	t.Cleanup(laterSrv.Close)
	_, err := src.g.AddRemote(t.Context(), RemoteConfig{Name: "later", Endpoint: laterSrv.URL, AccessKey: "rootkey", SecretKey: "rootsecret"})
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Code != "IncompatiblePeer" || !strings.Contains(ae.Message, fmt.Sprintf("protocol %d", later)) || !strings.Contains(ae.Message, fmt.Sprintf("protocol %d", replicator.ProtocolVersion)) {
		t.Fatalf("adding a peer of another protocol: %v", err)
	}
	evs, err := src.g.Events(t.Context(), 0, 10, 0)
	if err != nil || len(evs) != 1 || evs[0].Kind != events.ReplicationIncompatible || evs[0].Subject != "later" {
		t.Fatalf("events at the source: %+v, %v", evs, err)
	}
	if n := src.g.replIncompatible.Load(); n != 1 {
		t.Fatalf("%d incompatible peers counted, want 1", n)
	}
	if len(src.g.Remotes()) != 0 {
		t.Fatal("an incompatible remote was registered")
	}
	// The far side refuses a request of our protocol too, and says so.
	p := replicator.NewPeer(laterSrv.URL, "rootkey", "rootsecret", "us-east-1", nil, replicator.PeerOptions{})
	if err := p.Apply(t.Context(), "b", []byte(`{"op":"claim"}`)); err == nil {
		t.Fatal("a request of our protocol to a server of the next went through")
	}
	if len(farSide) == 0 {
		t.Fatal("the far side did not report the incompatible peer")
	}
}

// Links cut again and again while a backup is written and replicated
// (every connection reset, new ones refused for a while): once the link
// holds, the replica has exactly the source's versions, byte for byte.
func TestReplicationSurvivesLinkCuts(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts links for a few seconds")
	}
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	link := linktest.New(t, strings.TrimPrefix(dst.url, "http://"))
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: "http://" + link.Addr(), AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	newBucket(t, src.g, "b", s3api.VersioningEnabled)
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "b", Remote: "dr", ReplicaBucket: "b-dr", DeleteMarkers: true}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	cutter := make(chan struct{})
	go func() {
		defer close(cutter)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			if i%5 == 4 {
				link.Refuse(50 * time.Millisecond)
			}
			link.ResetAll()
		}
	}()
	for i := range 16 {
		put(t, src.g, "b", fmt.Sprintf("k%02d", i), random(uint64(i), 512<<10+i*37<<10))
		if i%4 == 3 {
			if _, err := src.g.DeleteObject(ctx, "b", fmt.Sprintf("k%02d", i-2), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(time.Second) // replication under the cuts
	close(stop)
	<-cutter
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if _, err := src.g.RunReplication(rctx, "b"); err == nil {
			break
		} else if rctx.Err() != nil {
			t.Fatal(err)
		}
	}
	if a, b := listedVersions(t, src.c, "b"), listedVersions(t, dst.c, "b-dr"); !slices.Equal(a, b) {
		t.Fatalf("after link cuts the replica differs:\nsource  %q\nreplica %q", a, b)
	}
	for i := range 16 {
		key := fmt.Sprintf("k%02d", i)
		if i%4 == 1 {
			continue // deleted: a marker on both sides
		}
		if !bytes.Equal(mustGet(t, dst.g, "b-dr", key, ""), random(uint64(i), 512<<10+i*37<<10)) {
			t.Fatalf("%s differs at the replica", key)
		}
	}
}

// Many to one: two sources replicate into replica buckets of one storage
// group at the target, which dedups across them: the second source's copy
// of data the first already sent costs only the chunks the group lacks.
func TestReplicationManyToOneDedups(t *testing.T) {
	a, b, dst := newSite(t), newSite(t), newSite(t)
	ctx := t.Context()
	shared := random(42, 8<<20)
	var sent [2]int64
	for i, s := range []*site{a, b} {
		if _, err := s.g.AddRemote(ctx, RemoteConfig{Name: "hub", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
			t.Fatal(err)
		}
		newBucket(t, s.g, "vms", s3api.VersioningEnabled)
		if err := s.g.AddReplication(ctx, ReplicationSpec{Bucket: "vms", Remote: "hub", ReplicaBucket: fmt.Sprintf("site%d-vms", i)}); err != nil {
			t.Fatal(err)
		}
		data := bytes.Clone(shared)
		copy(data[4<<20:], random(uint64(i+1), 256<<10)) // each site's own change
		put(t, s.g, "vms", "golden.img", data)
		run, err := s.g.RunReplication(ctx, "vms")
		if err != nil {
			t.Fatal(err)
		}
		sent[i] = run.BytesSent
		if !bytes.Equal(mustGet(t, dst.g, fmt.Sprintf("site%d-vms", i), "golden.img", ""), data) {
			t.Fatalf("site %d's replica differs", i)
		}
	}
	t.Logf("first source sent %d bytes, the second %d for the same 8 MiB image with its own 256 KiB change", sent[0], sent[1])
	if sent[1] > sent[0]/8 {
		t.Fatalf("the second source sent %d bytes, the first %d: the target's group did not dedup across them", sent[1], sent[0])
	}
}

// Versions written before the relationship are sent only when asked
// (S3's ExistingObjectReplication, --existing).
func TestReplicationExistingVersions(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	for i, b := range []string{"old", "old2"} {
		newBucket(t, src.g, b, s3api.VersioningEnabled)
		for j := range 3 {
			put(t, src.g, b, fmt.Sprintf("k%d", j), random(uint64(10*i+j), 64<<10))
		}
		src.g.DeleteObject(ctx, b, "k0", "")
		err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: b, Remote: "dr", ReplicaBucket: b + "-dr", DeleteMarkers: true, Existing: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		put(t, src.g, b, "new", []byte("after"))
		if _, err := src.g.RunReplication(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := listedVersions(t, src.c, "old"), listedVersions(t, dst.c, "old-dr"); !slices.Equal(a, b) {
		t.Fatalf("with --existing the replica differs:\nsource  %q\nreplica %q", a, b)
	}
	if got := listedVersions(t, dst.c, "old2-dr"); len(got) != 1 || !strings.HasPrefix(got[0], "new ") {
		t.Fatalf("without --existing the replica holds %q: want only what was written after", got)
	}
}

// Daily windows: inside, outside, over midnight; bad ones refused.
func TestReplicationWindow(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 7, h, m, 0, 0, time.Local) }
	for _, tc := range []struct {
		w    string
		now  time.Time
		want bool
	}{
		{"", at(12, 0), true},
		{"22:00-06:00", at(23, 30), true},
		{"22:00-06:00", at(3, 0), true},
		{"22:00-06:00", at(6, 0), false},
		{"22:00-06:00", at(12, 0), false},
		{"08:30-17:00", at(8, 30), true},
		{"08:30-17:00", at(17, 0), false},
		{"00:00-24:00", at(23, 59), true},
	} {
		if got := inWindow(tc.w, tc.now); got != tc.want {
			t.Errorf("inWindow(%q, %s) = %v, want %v", tc.w, tc.now.Format("15:04"), got, tc.want)
		}
	}
	for _, bad := range []string{"25:00-01:00", "10:00-10:00", "10-12", "22:00-24:30", "aa:bb-cc:dd"} {
		if _, _, err := parseWindow(bad); err == nil {
			t.Errorf("parseWindow(%q) took it", bad)
		}
	}
}

// An empty bucket a user made on the target may become a replica, as an
// empty bucket root made may: whoever owns it, the target takes it when
// it holds nothing.
func TestReplicationClaimsAUsersEmptyBucket(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	// The target serves its users' keys, not the root key alone.
	dst.g.SetRoot("rootkey", "rootsecret")
	h, err := s3api.NewHandler(s3api.Config{Region: "us-east-1", Secret: dst.g.Secret,
		Logger: slog.New(slog.DiscardHandler), Admin: dst.g.AdminHandler("rootkey")}, dst.g)
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	dst.h.Store(&hh)
	alice := addUser(t, dst.g, dst.url, "alice", "readwrite")
	if _, err := alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alices-dr")}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("src")}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("src"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "src", Remote: "dr", ReplicaBucket: "alices-dr"}); err != nil {
		t.Fatalf("replicating into a user's empty bucket: %v", err)
	}
}

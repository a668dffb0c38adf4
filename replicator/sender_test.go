package replicator

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// TestSendVersionDedup sends an object and reads it back byte-exact from
// the replica, then sends one that shares 90% of its chunks and checks
// that only about the other 10% travels.
func TestSendVersionDedup(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	dst := ts.target.stores["replica"]

	size := testSize(20 << 20)
	data1 := chunkstoretest.Data(1, size)
	m1 := chunkstoretest.Put(t, src, data1)
	st1, err := SendVersion(ctx, src, m1.ID, p, "replica", op("v1"))
	if err != nil {
		t.Fatal(err)
	}
	srcStats, err := src.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first: %+v; source live bytes %d", st1, srcStats.LiveBytes)
	if st1.Chunks != m1.Chunks || st1.ChunksSent != m1.Chunks || st1.LogicalBytes != int64(size) || st1.Restarts != 0 {
		t.Errorf("first send: %+v, want %d chunks all sent, %d bytes, no restarts", st1, m1.Chunks, size)
	}
	// Records travel as stored, plus a 41-byte frame each.
	if want := srcStats.LiveBytes + 41*m1.Chunks; st1.BytesSent != want {
		t.Errorf("first send: %d bytes sent, want the stored size with frames, %d", st1.BytesSent, want)
	}
	if got := p.BytesSent(); got < st1.BytesSent {
		t.Errorf("peer counted %d bytes sent, fewer than the records' %d", got, st1.BytesSent)
	}
	v := ts.target.versions(t, "replica")
	if got := chunkstoretest.Read(t, dst, v["v1"]); !bytes.Equal(got, data1) {
		t.Fatalf("replica of v1: %d bytes differ from the %d sent", len(got), len(data1))
	}

	keep := size * 9 / 10
	data2 := append(bytes.Clone(data1[:keep]), chunkstoretest.Data(2, size-keep)...)
	m2 := chunkstoretest.Put(t, src, data2)
	st2, err := SendVersion(ctx, src, m2.ID, p, "replica", op("v2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second: %+v (%.1f%% of the first's bytes)", st2, 100*float64(st2.BytesSent)/float64(st1.BytesSent))
	if st2.BytesSent >= st1.BytesSent/5 {
		t.Errorf("second send: %d bytes sent, want under 20%% of the first's %d", st2.BytesSent, st1.BytesSent)
	}
	v = ts.target.versions(t, "replica")
	if got := chunkstoretest.Read(t, dst, v["v2"]); !bytes.Equal(got, data2) {
		t.Fatalf("replica of v2: %d bytes differ from the %d sent", len(got), len(data2))
	}
	if n := ts.h.Load().Transfers(); n != 0 {
		t.Errorf("%d transfers left open", n)
	}
}

// TestSendVersionIdempotent commits the same op twice: the second finds it
// applied, and the replica has one version.
func TestSendVersionIdempotent(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(3, 1<<20))
	for i, wantApplied := range []bool{false, true} {
		st, err := SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
		if err != nil {
			t.Fatal(err)
		}
		if st.AlreadyApplied != wantApplied {
			t.Errorf("send %d: AlreadyApplied %v, want %v", i+1, st.AlreadyApplied, wantApplied)
		}
		if i == 1 && st.ChunksSent != 0 {
			t.Errorf("send 2: %d chunks sent again, want 0", st.ChunksSent)
		}
	}
	if v := ts.target.versions(t, "replica"); len(v) != 1 {
		t.Errorf("replica versions %v, want one", v)
	}
	st, err := ts.target.stores["replica"].Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Manifests != 1 || st.LogicalBytes != m.Size {
		t.Errorf("replica store: %d manifests of %d bytes, want 1 of %d", st.Manifests, st.LogicalBytes, m.Size)
	}
}

// TestSendVersionRestartsWhenTransferLost restarts the target between the
// first records and the first append: the transfer is gone, the sender
// starts over, and sends again only what the lost transfer had not
// stored.
func TestSendVersionRestartsWhenTransferLost(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	data := chunkstoretest.Data(4, testSize(8<<20))
	m := chunkstoretest.Put(t, src, data)

	var restarted bool
	before := func(route string) {
		if route == "transfers/append" && !restarted {
			restarted = true
			ts.restart()
		}
	}
	ts.before.Store(&before)
	st, err := SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.Restarts != 1 {
		t.Errorf("%d restarts, want 1", st.Restarts)
	}
	// The lost transfer's records stayed in the replica's store.
	if st.ChunksSent != m.Chunks {
		t.Errorf("%d chunks sent over both attempts, want each of the %d once", st.ChunksSent, m.Chunks)
	}
	v := ts.target.versions(t, "replica")
	if got := chunkstoretest.Read(t, ts.target.stores["replica"], v["v1"]); !bytes.Equal(got, data) {
		t.Fatal("replica differs from the source")
	}
}

// TestSendVersionGivesUpAfterRestarts: a target that loses every transfer
// is reported, after maxRestarts attempts, as NoSuchTransfer.
func TestSendVersionGivesUpAfterRestarts(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(5, 256<<10))
	before := func(route string) {
		if route == "transfers/append" {
			ts.restart()
		}
	}
	ts.before.Store(&before)
	st, err := SendVersion(t.Context(), src, m.ID, ts.peer(PeerOptions{}), "replica", op("v1"))
	if !errors.Is(err, ErrNoSuchTransfer) || st.Restarts != maxRestarts {
		t.Fatalf("err %v after %d restarts; want NoSuchTransfer after %d", err, st.Restarts, maxRestarts)
	}
	if v := ts.target.versions(t, "replica"); len(v) != 0 {
		t.Errorf("versions %v committed", v)
	}
}

// TestSendEmptyVersion: a 0-byte object has no entries and commits alone.
func TestSendEmptyVersion(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, nil)
	st, err := SendVersion(t.Context(), src, m.ID, ts.peer(PeerOptions{}), "replica", op("empty"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 0 || st.BytesSent != 0 {
		t.Errorf("%+v, want nothing sent", st)
	}
	v := ts.target.versions(t, "replica")
	id, ok := v["empty"]
	if !ok {
		t.Fatalf("versions %v: no empty version", v)
	}
	if got := chunkstoretest.Read(t, ts.target.stores["replica"], id); len(got) != 0 {
		t.Errorf("empty version reads %d bytes", len(got))
	}
}

// TestSendVersionQuotaExceeded: a full replica answers 507 QuotaExceeded,
// which the caller can tell from a broken link, and keeps no transfer.
func TestSendVersionQuotaExceeded(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{})
	if err := ts.target.stores["replica"].SetQuota(1 << 20); err != nil {
		t.Fatal(err)
	}
	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(6, 4<<20))
	_, err := SendVersion(t.Context(), src, m.ID, ts.peer(PeerOptions{}), "replica", op("v1"))
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Status != 507 || pe.Code != CodeQuotaExceeded {
		t.Fatalf("err %v, want a 507 QuotaExceeded PeerError", err)
	}
	t.Log(err)
	if n := ts.h.Load().Transfers(); n != 0 {
		t.Errorf("%d transfers left open", n)
	}
	if v := ts.target.versions(t, "replica"); len(v) != 0 {
		t.Errorf("versions %v committed", v)
	}
}

// TestSendVersionNoSuchBucket: a Target's *TargetError reaches the sender
// as it said.
func TestSendVersionNoSuchBucket(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(7, 64<<10))
	_, err := SendVersion(t.Context(), src, m.ID, ts.peer(PeerOptions{}), "nope", op("v1"))
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Status != 404 || pe.Code != "NoSuchBucket" {
		t.Fatalf("err %v, want 404 NoSuchBucket", err)
	}
}

// TestSendVersionRateLimited sends 3 MiB at 1 MiB/s over loopback: it
// cannot take less than about 3 s. A lower bound the limiter sets, so the
// machine's speed cannot make it flaky.
func TestSendVersionRateLimited(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(8, 3<<20))
	p := ts.peer(PeerOptions{BytesPerSecond: 1 << 20})
	var st SendStats
	elapsed := measure(func() {
		var err error
		st, err = SendVersion(t.Context(), src, m.ID, p, "replica", op("v1"))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%d bytes in %v", p.BytesSent(), elapsed)
	if min := float64(st.BytesSent-limiterChunk) / (1 << 20); elapsed.Seconds() < math.Floor(min*10)/10 {
		t.Errorf("%d bytes at 1 MiB/s took %v, want at least %.1f s", st.BytesSent, elapsed, min)
	}
}

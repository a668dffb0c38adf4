package replicator

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// TestCommitAnswerLost: the replica commits but the answer never arrives;
// the sender sees a link error, and sending the version again (as the
// gateway's log does) finds it applied: one version at the replica.
func TestCommitAnswerLost(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	data := chunkstoretest.Data(40, 1<<20)
	m := chunkstoretest.Put(t, src, data)
	route := "transfers/commit"
	ts.dropAnswer.Store(&route)
	_, err := SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
	var pe *PeerError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("send with the commit's answer lost: %v, want a link error", err)
	}
	t.Log(err)
	st, err := SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.AlreadyApplied || st.ChunksSent != 0 {
		t.Errorf("resend: %+v, want AlreadyApplied and nothing sent", st)
	}
	v := ts.target.versions(t, "replica")
	if len(v) != 1 || !bytes.Equal(chunkstoretest.Read(t, ts.target.stores["replica"], v["v1"]), data) {
		t.Fatalf("versions %v, want v1 alone, exact", v)
	}
}

// TestLinkCutMidBody cuts the connection in the middle of a records body:
// the replica stores nothing of that body, the sender returns the link's
// error, and sending again completes the version.
func TestLinkCutMidBody(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	data := chunkstoretest.Data(41, testSize(12<<20))
	m := chunkstoretest.Put(t, src, data)

	// The first connection breaks after 10 MiB written: in the second
	// records body.
	var written atomic.Int64
	var cut atomic.Bool
	tr := ts.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
		if err != nil || cut.Load() {
			return c, err
		}
		return &cuttingConn{Conn: c, written: &written, limit: int64(testSize(10 << 20)), cut: &cut}, nil
	}
	p := NewPeer(ts.srv.URL, "k", "s", "us-east-1", &http.Client{Transport: tr}, PeerOptions{})
	st1, err := SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
	var pe *PeerError
	if err == nil || errors.As(err, &pe) || !cut.Load() {
		t.Fatalf("send over a cut link: %v (cut %v), want a link error", err, cut.Load())
	}
	t.Logf("cut: %v; %+v", err, st1)
	st2, err := SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("again: %+v", st2)
	if st1.ChunksSent+st2.ChunksSent != m.Chunks {
		t.Errorf("%d + %d chunks sent, want the first body's not sent again: %d in all", st1.ChunksSent, st2.ChunksSent, m.Chunks)
	}
	v := ts.target.versions(t, "replica")
	if !bytes.Equal(chunkstoretest.Read(t, ts.target.stores["replica"], v["v1"]), data) {
		t.Fatal("replica differs")
	}
	if n := ts.h.Load().Transfers(); n != 0 {
		t.Errorf("%d transfers left open (the sender aborts the broken one)", n)
	}
}

// cuttingConn fails its writes, and closes, once limit bytes were written
// through connections sharing written.
type cuttingConn struct {
	net.Conn
	written *atomic.Int64
	limit   int64
	cut     *atomic.Bool
}

func (c *cuttingConn) Write(b []byte) (int, error) {
	if c.written.Add(int64(len(b))) > c.limit {
		c.cut.Store(true)
		c.Conn.Close()
		return 0, errors.New("link cut")
	}
	return c.Conn.Write(b)
}

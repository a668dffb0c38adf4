package replicator

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// TestBadRecordRefused tampers with a record on the wire: the replica
// refuses the whole body (400 BadRecord naming the chunk) and stores
// nothing.
func TestBadRecordRefused(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(10, 256<<10))
	it, err := src.Entries(ctx, m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var recs []chunkstore.Record
	for it.Next() {
		r, err := src.ReadRecord(ctx, it.Entry().ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	it.Close()
	bad := len(recs) / 2
	recs[bad].Data[len(recs[bad].Data)-1] ^= 1

	tid, err := p.NewTransfer(ctx, "replica")
	if err != nil {
		t.Fatal(err)
	}
	err = p.PutRecords(ctx, tid, recs)
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest || pe.Code != CodeBadRecord {
		t.Fatalf("err %v, want 400 BadRecord", err)
	}
	if !strings.Contains(pe.Message, recs[bad].ID.String()) {
		t.Errorf("message %q does not name chunk %s", pe.Message, recs[bad].ID)
	}
	if err := p.Abort(ctx, tid); err != nil {
		t.Fatal(err)
	}
	dst := ts.target.stores["replica"]
	if err := dst.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := dst.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 0 || st.StoredBytes != 0 || st.Manifests != 0 {
		t.Errorf("replica store after a refused body: %s", st)
	}
	if v := ts.target.versions(t, "replica"); len(v) != 0 {
		t.Errorf("versions %v committed", v)
	}
}

// TestIncompatiblePeer: a replica speaking a later protocol is refused by the
// client at Hello and by the server on every other call, and both sides'
// hooks fire with both versions.
func TestIncompatiblePeer(t *testing.T) {
	ctx := t.Context()
	later := ProtocolVersion + 1
	ours, theirs := fmt.Sprintf("%d/%d", ProtocolVersion, RecordFormat), fmt.Sprintf("%d/%d", later, RecordFormat)
	type call struct{ local, remote string }
	var mu sync.Mutex
	var serverCalls, clientCalls []call
	ts := newTestServer(t, HandlerOptions{Protocol: later, Server: "replica-2", OnIncompatible: func(local, remote string) {
		mu.Lock()
		defer mu.Unlock()
		serverCalls = append(serverCalls, call{local, remote})
	}})
	p := ts.peer(PeerOptions{OnIncompatible: func(local, remote string) {
		mu.Lock()
		defer mu.Unlock()
		clientCalls = append(clientCalls, call{local, remote})
	}})

	h, err := p.Hello(ctx)
	var ie *IncompatibleError
	if !errors.Is(err, ErrIncompatible) || !errors.As(err, &ie) {
		t.Fatalf("hello: %v, want ErrIncompatible", err)
	}
	if ie.Remote != (Hello{Protocol: later, RecordFormat: RecordFormat, Server: "replica-2"}) || h != ie.Remote || ie.Local.Protocol != ProtocolVersion {
		t.Errorf("hello: %+v, error %+v", h, ie)
	}
	t.Log(err)

	src := chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(11, 64<<10))
	_, err = SendVersion(ctx, src, m.ID, p, "replica", op("v1"))
	var pe *PeerError
	if !errors.As(err, &ie) || !errors.As(err, &pe) || pe.Code != CodeIncompatiblePeer || ie.Remote.Protocol != later {
		t.Fatalf("send: %v, want IncompatibleError and a 400 IncompatiblePeer", err)
	}
	if want := fmt.Sprintf("this server speaks replication protocol %d (record format %d); the peer sent %s", later, RecordFormat, ours); pe.Message != want {
		t.Errorf("message %q, want %q", pe.Message, want)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []call{{theirs, ours}, {theirs, ours}}
	if len(serverCalls) != 2 || serverCalls[0] != want[0] || serverCalls[1] != want[1] {
		t.Errorf("server hook calls %v, want %v", serverCalls, want)
	}
	want = []call{{ours, theirs}, {ours, theirs}}
	if len(clientCalls) != 2 || clientCalls[0] != want[0] || clientCalls[1] != want[1] {
		t.Errorf("client hook calls %v, want %v", clientCalls, want)
	}
}

// TestHelloCompatible: the happy handshake.
func TestHelloCompatible(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{Server: "replica-1"})
	h, err := ts.peer(PeerOptions{}).Hello(t.Context())
	if err != nil || h != (Hello{Protocol: ProtocolVersion, RecordFormat: RecordFormat, Server: "replica-1"}) {
		t.Fatalf("hello: %+v, %v", h, err)
	}
}

// TestRequestWithoutVersionRefused: a request without the version header
// is not from a replication client of any version.
func TestRequestWithoutVersionRefused(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{})
	resp, err := ts.srv.Client().Post(ts.srv.URL+PathPrefix+"transfers?bucket=replica", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(ErrorHeader) != CodeIncompatiblePeer {
		t.Errorf("%s %s, want 400 IncompatiblePeer", resp.Status, resp.Header.Get(ErrorHeader))
	}
}

// TestAppendRepeatedRefused: an Append repeated after a lost answer is
// refused by its offset instead of doubling the object, and a commit of
// the wrong size is refused.
func TestAppendRepeatedRefused(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(12, 128<<10))
	it, err := src.Entries(ctx, m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var es []chunkstore.Entry
	var recs []chunkstore.Record
	for it.Next() {
		es = append(es, it.Entry())
		r, err := src.ReadRecord(ctx, it.Entry().ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	it.Close()
	tid, err := p.NewTransfer(ctx, "replica")
	if err != nil {
		t.Fatal(err)
	}
	var mc *chunkstore.MissingChunksError
	if err := p.Append(ctx, tid, 0, es); !errors.As(err, &mc) || len(mc.IDs) != len(es) {
		t.Fatalf("append before records: %v, want MissingChunks naming %d", err, len(es))
	}
	if err := p.PutRecords(ctx, tid, recs); err != nil {
		t.Fatal(err)
	}
	if err := p.Append(ctx, tid, 0, es); err != nil {
		t.Fatal(err)
	}
	var pe *PeerError
	if err := p.Append(ctx, tid, 0, es); !errors.As(err, &pe) || pe.Code != CodeOffsetMismatch {
		t.Fatalf("repeated append: %v, want OffsetMismatch", err)
	}
	if _, err := p.Commit(ctx, tid, m.Size+1, op("v1")); !errors.As(err, &pe) || pe.Code != CodeOffsetMismatch {
		t.Fatalf("commit of the wrong size: %v, want OffsetMismatch", err)
	}
	c, err := p.Commit(ctx, tid, m.Size, op("v1"))
	if err != nil || c.Size != m.Size || c.Chunks != m.Chunks {
		t.Fatalf("commit: %+v, %v", c, err)
	}
	if _, err := p.Need(ctx, tid, []chunkstore.ChunkID{es[0].ID}); !errors.Is(err, ErrNoSuchTransfer) {
		t.Errorf("need after commit: %v, want NoSuchTransfer", err)
	}
}

// TestIdleTransferExpires: the janitor aborts a transfer left idle, and
// the sender's next call learns it is gone.
func TestIdleTransferExpires(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{TransferIdle: 20 * time.Millisecond})
	p := ts.peer(PeerOptions{})
	tid, err := p.NewTransfer(ctx, "replica")
	if err != nil {
		t.Fatal(err)
	}
	for ts.h.Load().Transfers() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := p.Need(ctx, tid, []chunkstore.ChunkID{{1}}); !errors.Is(err, ErrNoSuchTransfer) {
		t.Errorf("need on an expired transfer: %v, want NoSuchTransfer", err)
	}
	if err := p.Abort(ctx, tid); err != nil {
		t.Errorf("abort of an expired transfer: %v, want success", err)
	}
}

// TestTooManyTransfers: the table is bounded.
func TestTooManyTransfers(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{MaxTransfers: 2})
	p := ts.peer(PeerOptions{})
	for range 2 {
		if _, err := p.NewTransfer(ctx, "replica"); err != nil {
			t.Fatal(err)
		}
	}
	var pe *PeerError
	if _, err := p.NewTransfer(ctx, "replica"); !errors.As(err, &pe) || pe.Status != http.StatusServiceUnavailable || pe.Code != CodeTooManyTransfers {
		t.Fatalf("third transfer: %v, want 503 TooManyTransfers", err)
	}
}

// TestApply passes a data-less op to the Target; a repeat is a success.
func TestApply(t *testing.T) {
	ts := newTestServer(t, HandlerOptions{})
	p := ts.peer(PeerOptions{})
	del := []byte(`{"delete":"k","version":"v1"}`)
	for range 2 {
		if err := p.Apply(t.Context(), "replica", del); err != nil {
			t.Fatal(err)
		}
	}
	if len(ts.target.applied) != 1 || ts.target.applied[0] != string(del) {
		t.Errorf("applied %q", ts.target.applied)
	}
	var pe *PeerError
	if err := p.Apply(t.Context(), "replica", []byte("not json")); !errors.As(err, &pe) || pe.Code != CodeBadRequest {
		t.Errorf("apply of a bad op: %v, want BadRequest", err)
	}
}

// TestBadBodiesRefused: malformed bodies get 400 and a message, never a
// panic or a 500.
func TestBadBodiesRefused(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	p := ts.peer(PeerOptions{})
	tid, err := p.NewTransfer(ctx, "replica")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, route string
		body        []byte
	}{
		{"ids not a multiple of 32", "transfers/need?id=" + tid, make([]byte, 33)},
		{"too many ids", "transfers/need?id=" + tid, make([]byte, (MaxBatch+1)*32)},
		{"truncated record", "transfers/records?id=" + tid, make([]byte, 40)},
		{"record of length 0", "transfers/records?id=" + tid, make([]byte, 41)},
		{"entries not a multiple of 36", "transfers/append?offset=0&id=" + tid, make([]byte, 35)},
		{"append without offset", "transfers/append?id=" + tid, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			route, q, _ := strings.Cut(tc.route, "?")
			vals := map[string][]string{}
			for _, kv := range strings.Split(q, "&") {
				k, v, _ := strings.Cut(kv, "=")
				vals[k] = []string{v}
			}
			_, err := p.do(ctx, http.MethodPost, route, vals, tc.body)
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Status/100 != 4 || pe.Code != CodeBadRequest {
				t.Fatalf("%v, want a 4xx BadRequest", err)
			}
			t.Log(pe.Message)
		})
	}
}

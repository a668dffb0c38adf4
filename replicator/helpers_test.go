package replicator

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// testTarget is a test double for the gateway (the real Target is the
// gateway's, over its buckets and object versions): it maps bucket names
// to destination stores and records each committed op, as the gateway
// records an object version, in the store's own namespace in the
// transaction that commits the manifest.
type testTarget struct {
	stores map[string]*chunkstore.Store

	mu      sync.Mutex
	applied []string // Apply ops, in order
}

// testOp is the op the test double understands: the version's name.
type testOp struct {
	Version string `json:"version"`
}

func op(version string) json.RawMessage {
	b, _ := json.Marshal(testOp{Version: version})
	return b
}

var _ Target = (*testTarget)(nil)

func (tt *testTarget) Store(ctx context.Context, bucket string) (*chunkstore.Store, error) {
	s := tt.stores[bucket]
	if s == nil {
		return nil, &TargetError{Status: http.StatusNotFound, Code: "NoSuchBucket", Message: "no replica bucket " + bucket}
	}
	return s, nil
}

func versionKey(v string) []byte { return []byte("version/" + v) }

func (tt *testTarget) CommitFunc(ctx context.Context, bucket string, raw json.RawMessage) (chunkstore.CommitFunc, error) {
	s, err := tt.Store(ctx, bucket)
	if err != nil {
		return nil, err
	}
	var o testOp
	if err := json.Unmarshal(raw, &o); err != nil || o.Version == "" {
		return nil, &TargetError{Status: http.StatusBadRequest, Code: "BadOp", Message: fmt.Sprintf("op %s", raw)}
	}
	k := versionKey(o.Version)
	err = s.View(func(tx *chunkstore.Tx) error {
		if tx.Bucket().Get(k) != nil {
			return ErrAlreadyApplied
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		if tx.Bucket().Get(k) != nil { // a concurrent commit of the same op
			return ErrAlreadyApplied
		}
		return tx.Bucket().Put(k, binary.LittleEndian.AppendUint64(nil, uint64(m.ID)))
	}, nil
}

func (tt *testTarget) Apply(ctx context.Context, bucket string, raw json.RawMessage) error {
	if _, err := tt.Store(ctx, bucket); err != nil {
		return err
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for _, a := range tt.applied {
		if a == string(raw) {
			return ErrAlreadyApplied
		}
	}
	tt.applied = append(tt.applied, string(raw))
	return nil
}

// versions lists the versions committed into bucket's store.
func (tt *testTarget) versions(t testing.TB, bucket string) map[string]chunkstore.ManifestID {
	t.Helper()
	out := map[string]chunkstore.ManifestID{}
	err := tt.stores[bucket].View(func(tx *chunkstore.Tx) error {
		return tx.Bucket().ForEach(func(k, v []byte) error {
			if name, ok := strings.CutPrefix(string(k), "version/"); ok {
				out[name] = chunkstore.ManifestID(binary.LittleEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testServer is a replica: a Handler over a testTarget on a loopback
// HTTP server. The handler can be replaced (a restart of the target),
// and before, if set, runs ahead of every request (to inject faults).
type testServer struct {
	target *testTarget
	srv    *httptest.Server
	opts   HandlerOptions
	h      atomic.Pointer[Handler]
	before atomic.Pointer[func(route string)]
	// dropAnswer names a route whose next answer is lost: the handler
	// does the work, then the connection is cut.
	dropAnswer atomic.Pointer[string]
}

// newTestServer serves buckets "replica" (and any in more) on fresh
// stores.
func newTestServer(t testing.TB, opts HandlerOptions, more ...string) *testServer {
	t.Helper()
	ts := &testServer{target: &testTarget{stores: map[string]*chunkstore.Store{}}, opts: opts}
	for _, b := range append([]string{"replica"}, more...) {
		ts.target.stores[b] = chunkstoretest.New(t)
	}
	if ts.opts.Logger == nil {
		ts.opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ts.h.Store(NewHandler(ts.target, ts.opts))
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fn := ts.before.Load(); fn != nil {
			(*fn)(strings.TrimPrefix(r.URL.Path, PathPrefix))
		}
		route := strings.TrimPrefix(r.URL.Path, PathPrefix)
		if drop := ts.dropAnswer.Load(); drop != nil && *drop == route && ts.dropAnswer.CompareAndSwap(drop, nil) {
			ts.h.Load().ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler) // cuts the connection, answer unsent
		}
		ts.h.Load().ServeHTTP(w, r)
	}))
	ts.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the cut's panic is expected
	t.Cleanup(func() {
		ts.srv.Close()
		ts.h.Load().Close()
	})
	return ts
}

// restart replaces the handler by a new one, as a target restart does:
// every open transfer is gone.
func (ts *testServer) restart() {
	old := ts.h.Swap(NewHandler(ts.target, ts.opts))
	old.Close()
}

func (ts *testServer) peer(opts PeerOptions) *Peer {
	return NewPeer(ts.srv.URL, "replication-key", "replication-secret", "us-east-1", ts.srv.Client(), opts)
}

// testSize is a size for test data, smaller under -race.
func testSize(n int) int {
	if raceEnabled {
		return n / 4
	}
	return n
}

func measure(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

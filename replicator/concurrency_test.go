package replicator

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// TestConcurrentCallsOnOneTransfer: calls racing on one transfer (a retry
// and its original) are serialized by the handler; an Import alone is not
// safe for concurrent use, which -race would show.
func TestConcurrentCallsOnOneTransfer(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(20, 512<<10))
	it, err := src.Entries(ctx, m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var recs []chunkstore.Record
	var ids []chunkstore.ChunkID
	for it.Next() {
		r, err := src.ReadRecord(ctx, it.Entry().ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		ids = append(ids, r.ID)
	}
	it.Close()
	tid, err := p.NewTransfer(ctx, "replica")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if err := p.PutRecords(ctx, tid, recs[i%2:]); err != nil {
				t.Error(err)
			}
			if _, err := p.Need(ctx, tid, ids); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	missing, err := p.Need(ctx, tid, ids)
	if err != nil || len(missing) != 0 {
		t.Fatalf("need after the records: %d missing, %v", len(missing), err)
	}
	if err := p.Abort(ctx, tid); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentSends replicates versions sharing chunks at once into one
// bucket: each reads back exact.
func TestConcurrentSends(t *testing.T) {
	ctx := t.Context()
	ts := newTestServer(t, HandlerOptions{})
	src := chunkstoretest.New(t)
	p := ts.peer(PeerOptions{})
	common := chunkstoretest.Data(21, 1<<20)
	var datas [][]byte
	var ms []chunkstore.Manifest
	for i := range 4 {
		d := append(bytes.Clone(common), chunkstoretest.Data(uint64(22+i), 256<<10)...)
		datas = append(datas, d)
		ms = append(ms, chunkstoretest.Put(t, src, d))
	}
	var wg sync.WaitGroup
	for i := range ms {
		wg.Go(func() {
			if _, err := SendVersion(ctx, src, ms[i].ID, p, "replica", op(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	v := ts.target.versions(t, "replica")
	for i, d := range datas {
		if got := chunkstoretest.Read(t, ts.target.stores["replica"], v[fmt.Sprint(i)]); !bytes.Equal(got, d) {
			t.Errorf("version %d differs", i)
		}
	}
}

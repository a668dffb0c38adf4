package replicator

import (
	"fmt"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// BenchmarkSendVersion replicates a 16 MiB object over loopback HTTP:
// unique (the replica has none of its chunks: every record travels, and
// the replica verifies and stores each) and duplicate (the replica has
// them all: only IDs and entries travel).
func BenchmarkSendVersion(b *testing.B) {
	const size = 16 << 20
	ts := newTestServer(b, HandlerOptions{})
	src := benchStore(b)
	m := chunkstoretest.Put(b, src, chunkstoretest.Data(30, size))
	p := ts.peer(PeerOptions{})

	b.Run("unique", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			bucket := fmt.Sprintf("unique-%d", i)
			ts.target.stores[bucket] = benchStore(b) // no request in flight
			b.StartTimer()
			if _, err := SendVersion(b.Context(), src, m.ID, p, bucket, op("v")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		if _, err := SendVersion(b.Context(), src, m.ID, p, "replica", op("first")); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			st, err := SendVersion(b.Context(), src, m.ID, p, "replica", op(fmt.Sprint(i)))
			if err != nil {
				b.Fatal(err)
			}
			if st.ChunksSent != 0 {
				b.Fatalf("%d chunks sent to a replica that has them all", st.ChunksSent)
			}
		}
	})
}

// benchStore is a store with the default container and batch sizes (the
// test helper's small ones multiply fsyncs and would be measured instead).
func benchStore(b *testing.B) *chunkstore.Store {
	cfg := chunkstoretest.Config(b)
	def := chunkstore.DefaultConfig(cfg.Dir)
	cfg.ContainerSize, cfg.BatchBytes = def.ContainerSize, def.BatchBytes
	return chunkstoretest.Open(b, cfg)
}

package chunkstore_test

import (
	"io"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// The chunk-level API's hot paths, on a 64 MiB manifest of random data:
// enumerating entries, reading records as stored (what tiering and
// replication send), importing them into a second store (what replication
// and seeding receive), and reading a moved manifest back through a tier.
// go test -run '^$' -bench 'Entries|Records|Import|ReadThrough' -benchtime 5x ./chunkstore/

const apiBenchSize = 64 << 20

func benchStore(b *testing.B) (*chunkstore.Store, chunkstore.Manifest) {
	cfg := chunkstore.DefaultConfig(b.TempDir())
	s, err := chunkstore.Open(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, chunkstoretest.Put(b, s, chunkstoretest.Data(1, apiBenchSize))
}

func BenchmarkEntries(b *testing.B) {
	s, m := benchStore(b)
	b.SetBytes(m.Size)
	for b.Loop() {
		it, err := s.Entries(b.Context(), m.ID, 0)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for it.Next() {
			n++
		}
		it.Close()
		if it.Err() != nil || int64(n) != m.Chunks {
			b.Fatalf("%d entries, %v", n, it.Err())
		}
	}
}

func BenchmarkReadRecords(b *testing.B) {
	s, m := benchStore(b)
	ids := manifestIDs(b, s, m.ID)
	b.SetBytes(m.Size)
	var buf []byte
	for b.Loop() {
		for _, id := range ids {
			r, err := s.ReadRecord(b.Context(), id, buf)
			if err != nil {
				b.Fatal(err)
			}
			buf = r.Data
		}
	}
}

func manifestIDs(b *testing.B, s *chunkstore.Store, id chunkstore.ManifestID) []chunkstore.ChunkID {
	it, err := s.Entries(b.Context(), id, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	var out []chunkstore.ChunkID
	for it.Next() {
		out = append(out, it.Entry().ID)
	}
	return out
}

// BenchmarkImport replicates the manifest into an empty store each round:
// Need, PutRecords (verified) in batches of 256, Append, Commit.
func BenchmarkImport(b *testing.B) {
	src, m := benchStore(b)
	var es []chunkstore.Entry
	it, _ := src.Entries(b.Context(), m.ID, 0)
	for it.Next() {
		es = append(es, it.Entry())
	}
	it.Close()
	recs := make([]chunkstore.Record, len(es))
	for i, e := range es {
		r, err := src.ReadRecord(b.Context(), e.ID, nil)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = r
	}
	b.SetBytes(m.Size)
	for b.Loop() {
		b.StopTimer()
		dst, err := chunkstore.Open(b.Context(), chunkstore.DefaultConfig(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		im, err := dst.NewImport(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(es); i += 256 {
			j := min(i+256, len(es))
			ids := make([]chunkstore.ChunkID, 0, j-i)
			for _, e := range es[i:j] {
				ids = append(ids, e.ID)
			}
			if _, err := im.Need(b.Context(), ids); err != nil {
				b.Fatal(err)
			}
			if err := im.PutRecords(b.Context(), recs[i:j]); err != nil {
				b.Fatal(err)
			}
			if err := im.Append(b.Context(), es[i:j]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := im.Commit(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		dst.Close()
		b.StartTimer()
	}
}

// BenchmarkReadThrough reads a moved manifest whose only copies are in a
// tier (a DirTier: files on the local disk, so this is the store's own
// cost of fetching spans and verifying records, not a network's).
func BenchmarkReadThrough(b *testing.B) {
	tier := &chunkstoretest.DirTier{Name: "cold", Dir: b.TempDir()}
	cfg := chunkstore.DefaultConfig(b.TempDir())
	cfg.Remote = tier
	s, err := chunkstore.Open(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := chunkstoretest.Put(b, s, chunkstoretest.Data(2, apiBenchSize))
	if _, _, err := tier.PackManifest(b.Context(), s, m.ID); err != nil {
		b.Fatal(err)
	}
	if err := s.Move(b.Context(), m.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Clean(b.Context(), chunkstore.CleanOptions{Threshold: 1e-9}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(m.Size)
	for b.Loop() {
		r, err := s.NewReader(b.Context(), m.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

package chunkstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
)

// testConfig is DefaultConfig with small containers and batches so that
// tests exercise sealing, several batches and compaction with little data.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig(t.TempDir())
	cfg.ContainerSize = 1 << 20
	cfg.BatchBytes = 256 << 10
	cfg.ReserveBytes = 256 << 10
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg
}

// openStore opens a store and, at cleanup, closes it after checking it
// with a full scrub.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !s.closed.Load() {
			rep, err := s.Scrub(context.Background(), ScrubOptions{})
			if err != nil {
				t.Errorf("scrub at cleanup: %v", err)
			} else if !rep.OK() {
				t.Errorf("scrub at cleanup: %s", rep)
			}
		}
		s.Close()
	})
	return s
}

// randomData is seeded random bytes: incompressible.
func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// textData is seeded compressible bytes: words from a small vocabulary.
func textData(seed uint64, n int) []byte {
	words := []string{"func ", "return ", "err ", "nil", " := ", "if ", "{\n", "}\n", "for ", "range ", "ctx", "chunk", "store", "(", ")", ", ", "\t", "// ", "the ", "data "}
	r := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func put(t testing.TB, s *Store, data []byte) Manifest {
	t.Helper()
	w := s.NewWriter(t.Context())
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	m, err := w.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != int64(len(data)) {
		t.Fatalf("manifest size %d, wrote %d", m.Size, len(data))
	}
	return m
}

func readAll(t testing.TB, s *Store, id ManifestID) []byte {
	t.Helper()
	r, err := s.NewReader(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

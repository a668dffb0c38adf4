package cloudtier

import (
	"io"
	"os"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/backupgen"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// TestTierGenerationsSendOnce: five generations of a backup, each tiered
// after it is written (a night's transition), send to the tier at most
// 1.05x the stored bytes of their unique chunks: what an earlier generation
// sent is not sent again, and packs cost little beyond their records.
func TestTierGenerationsSendOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests and tiers 1.3 GB; run without -short")
	}
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	cfg := chunkstore.DefaultConfig(t.TempDir())
	cfg.Remote = NewRegistry()
	s := chunkstoretest.Open(t, cfg)
	var sent, logical int64
	for _, p := range backupgen.Tars(t) {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		w := s.NewWriter(ctx)
		n, err := io.Copy(w, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		m, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		logical += n
		snd := NewSender(s, tier, t.TempDir(), 32<<20)
		sendAll(t, snd, m.ID)
		sent += snd.Stats().SentBytes
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5 generations: %d logical bytes, %d unique, %d stored live; %d sent to the tier (%.3fx stored, %.3fx unique, %.3fx logical)",
		logical, st.UniqueBytes, st.LiveBytes, sent, float64(sent)/float64(st.LiveBytes), float64(sent)/float64(st.UniqueBytes), float64(sent)/float64(logical))
	if float64(sent) > 1.05*float64(st.LiveBytes) {
		t.Fatalf("sent %d bytes for %d stored: more than 1.05x", sent, st.LiveBytes)
	}
}

package cloudtier

import (
	"bytes"
	"crypto/md5"
	"errors"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// TestClean: a pack whose object is deleted is dropped, a pack left more
// than half dead is repacked, unrecorded objects go, and what is live reads
// back byte-exact from the tier alone; a second clean finds nothing.
func TestClean(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, _ := tieredStore(t, tier)
	a, b, c := chunkstoretest.Data(11, 2<<20), chunkstoretest.Data(12, 3<<20), chunkstoretest.Data(13, 1<<20)
	ma, mb, mc := chunkstoretest.Put(t, s, a), chunkstoretest.Put(t, s, b), chunkstoretest.Put(t, s, c)
	snd := NewSender(s, tier, t.TempDir(), 32<<20)
	for _, step := range [][]chunkstore.ManifestID{{ma.ID}, {mb.ID, mc.ID}} { // a alone, b and c together
		for _, id := range step {
			if err := snd.Add(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := snd.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []chunkstore.ManifestID{ma.ID, mb.ID, mc.ID} {
		if err := s.Move(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []chunkstore.ManifestID{ma.ID, mb.ID} {
		if err := s.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Clean(ctx, chunkstore.CleanOptions{Threshold: 0.01}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{packPrefix + strings.Repeat("0", 32), probePrefix + "left"} {
		body := []byte("left by a crash")
		sum := md5.Sum(body)
		if err := mt.Put(ctx, name, bytes.NewReader(body), int64(len(body)), sum[:]); err != nil {
			t.Fatal(err)
		}
	}
	o := CleanOptions{PackSize: 32 << 20, SpoolDir: t.TempDir()}
	rep, err := Clean(ctx, tier, []*chunkstore.Store{s}, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 1 || rep.Repacked != 1 || rep.NewPacks != 1 || rep.Orphans != 2 || rep.Rewritten < int64(len(c)/2) {
		t.Fatalf("clean: %+v", rep)
	}
	if got := chunkstoretest.Read(t, s, mc.ID); !bytes.Equal(got, c) {
		t.Fatal("the repacked object differs")
	}
	var packs int
	s.Packs(ctx, func(p chunkstore.PackInfo) error {
		packs++
		if _, ok := mt.objs[p.Object]; !ok {
			t.Errorf("pack %s recorded but not in the tier", p.Object)
		}
		return nil
	})
	if len(mt.objs) != 1 || packs != 1 {
		t.Fatalf("after the clean: %d objects, %d packs", len(mt.objs), packs)
	}
	var last chunkstore.PackInfo
	s.Packs(ctx, func(p chunkstore.PackInfo) error { last = p; return nil })
	var inUse *chunkstore.PackInUseError
	if err := s.DropPack(ctx, last.ID); !errors.As(err, &inUse) {
		t.Fatalf("dropping the only copy of a live object: %v", err)
	}
	if rep, err := Clean(ctx, tier, []*chunkstore.Store{s}, o); err != nil || rep != (CleanReport{}) {
		t.Fatalf("a second clean: %+v, %v", rep, err)
	}
}

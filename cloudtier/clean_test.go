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
	if len(mt.objs) != 3 || packs != 1 {
		t.Fatalf("after the clean: %d objects (the live pack and the two dropped), %d packs", len(mt.objs), packs)
	}
	o.Deferred = rep.Dropping
	if rep, err := Clean(ctx, tier, []*chunkstore.Store{s}, o); err != nil || rep.Deleted != 2 || len(rep.Dropping) != 0 {
		t.Fatalf("the next clean: %+v, %v", rep, err)
	}
	if len(mt.objs) != 1 {
		t.Fatalf("after the next clean: %d objects", len(mt.objs))
	}
	var last chunkstore.PackInfo
	s.Packs(ctx, func(p chunkstore.PackInfo) error { last = p; return nil })
	var inUse *chunkstore.PackInUseError
	if err := s.DropPack(ctx, last.ID); !errors.As(err, &inUse) {
		t.Fatalf("dropping the only copy of a live object: %v", err)
	}
	o.Deferred = nil
	if rep, err := Clean(ctx, tier, []*chunkstore.Store{s}, o); err != nil || rep.Dropped+rep.Repacked+rep.Orphans+rep.Deleted != 0 {
		t.Fatalf("a third clean: %+v, %v", rep, err)
	}
}

// TestScrub: a clean tier scrubs clean; a byte altered in a pack's data is
// found only when the data is read, one in its index always, a pack gone
// from the tier and an altered catalog object too, each naming the object.
func TestScrub(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, _ := tieredStore(t, tier)
	var ms []chunkstore.Manifest
	snd := NewSender(s, tier, t.TempDir(), 2<<20)
	for i := range 3 {
		m := chunkstoretest.Put(t, s, chunkstoretest.Data(uint64(20+i), 3<<20))
		ms = append(ms, m)
		if err := snd.Add(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := snd.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := NewCatalog(tier).Append(ctx, []CatalogRecord{{Op: CatalogBucket, Bucket: "b"}}); err != nil {
		t.Fatal(err)
	}
	stores := []*chunkstore.Store{s}
	rep, err := Scrub(ctx, tier, stores, ScrubOptions{ReadData: true})
	if err != nil || !rep.OK() || rep.Packs < 4 || rep.Catalog != 1 || rep.BytesRead < 9<<20 {
		t.Fatalf("a clean tier: %v, %v", rep, err)
	}
	var packs []chunkstore.PackInfo
	s.Packs(ctx, func(p chunkstore.PackInfo) error { packs = append(packs, p); return nil })
	mt.objs[packs[0].Object][100000] ^= 1 // data
	obj := mt.objs[packs[1].Object]
	obj[len(obj)-trailerSize-10] ^= 1 // index
	delete(mt.objs, packs[2].Object)
	cat := mt.objs[tier.Keys.catalogName(1)]
	cat[len(cat)-1] ^= 1
	rep, err = Scrub(ctx, tier, stores, ScrubOptions{})
	if err != nil || len(rep.Problems) != 3 {
		t.Fatalf("without the data: %v, %v", rep, err)
	}
	rep, err = Scrub(ctx, tier, stores, ScrubOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 4 {
		t.Fatalf("with the data: %v, %v", rep, err)
	}
	for i, want := range []string{packs[0].Object, packs[1].Object, packs[2].Object, tier.Keys.catalogName(1)} {
		if !strings.Contains(strings.Join(rep.Problems, "\n"), want) {
			t.Errorf("problem %d: %s not named in %v", i, want, rep.Problems)
		}
	}
	// The store itself is fine: the damage is the tier's (its local copies
	// are still there).
	for _, m := range ms {
		chunkstoretest.Read(t, s, m.ID)
	}
}

// TestCleanAfterCutRepack: a repack cut short after its new packs were
// recorded and before the old one was dropped (a crash) leaves two copies;
// the next clean drops the old pack without rewriting anything again.
func TestCleanAfterCutRepack(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, _ := tieredStore(t, tier)
	a, b := chunkstoretest.Data(31, 3<<20), chunkstoretest.Data(32, 1<<20)
	ma, mb := chunkstoretest.Put(t, s, a), chunkstoretest.Put(t, s, b)
	sendAll(t, NewSender(s, tier, t.TempDir(), 32<<20), ma.ID, mb.ID) // one pack
	for _, id := range []chunkstore.ManifestID{ma.ID, mb.ID} {
		if err := s.Move(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Release(ctx, ma.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var old chunkstore.PackInfo
	s.Packs(ctx, func(p chunkstore.PackInfo) error { old = p; return nil })
	// The repack's first half: b's records into a new pack.
	_, recs, err := s.PackContents(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []chunkstore.ChunkID
	for _, r := range recs {
		if r.Referenced {
			ids = append(ids, r.ID)
		}
	}
	snd := NewSender(s, tier, t.TempDir(), 32<<20)
	if err := snd.AddChunks(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if err := snd.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The crash; then the next clean.
	rep, err := Clean(ctx, tier, []*chunkstore.Store{s}, CleanOptions{PackSize: 32 << 20, SpoolDir: t.TempDir()})
	if err != nil || rep.Repacked != 1 || rep.NewPacks != 0 || rep.Rewritten != 0 {
		t.Fatalf("the clean after a cut repack: %+v, %v", rep, err)
	}
	if _, err := Clean(ctx, tier, []*chunkstore.Store{s}, CleanOptions{PackSize: 32 << 20, SpoolDir: t.TempDir(), Deferred: rep.Dropping}); err != nil {
		t.Fatal(err)
	}
	if _, ok := mt.objs[old.Object]; ok {
		t.Fatal("the old pack is still in the tier")
	}
	if _, err := s.Clean(ctx, chunkstore.CleanOptions{Threshold: 0.01}); err != nil {
		t.Fatal(err)
	}
	if got := chunkstoretest.Read(t, s, mb.ID); !bytes.Equal(got, b) {
		t.Fatal("the object differs")
	}
}

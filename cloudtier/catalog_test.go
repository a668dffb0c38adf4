package cloudtier

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

func manifestEntries(t *testing.T, s *chunkstore.Store, id chunkstore.ManifestID) []chunkstore.Entry {
	t.Helper()
	it, err := s.Entries(t.Context(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var es []chunkstore.Entry
	for it.Next() {
		es = append(es, it.Entry())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return es
}

// TestCatalogLog: appends read back in order, across objects and across a
// new Catalog that finds the log's end itself; names are keyed; a damaged
// object fails the read naming it; another key cannot read it.
func TestCatalogLog(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	var want []CatalogRecord
	c := NewCatalog(tier)
	for i := range 9 {
		r := CatalogRecord{Op: CatalogVersion, Time: time.Unix(int64(i), 0).UTC(), Bucket: "secret-bucket", Key: "k" + strings.Repeat("x", i),
			Version: []byte{byte(i)}, Meta: []byte("meta"), Entries: []chunkstore.Entry{{ID: chunkstore.ChunkID{byte(i)}, Len: uint32(i + 1)}}}
		want = append(want, r)
		if err := c.Append(ctx, []CatalogRecord{r}); err != nil {
			t.Fatal(err)
		}
	}
	c2 := NewCatalog(tier)
	extra := CatalogRecord{Op: CatalogForget, Time: time.Unix(99, 0).UTC(), Bucket: "secret-bucket", Key: "k", Version: []byte{0}, Entries: []chunkstore.Entry{}}
	if err := c2.Append(ctx, []CatalogRecord{extra}); err != nil {
		t.Fatal(err)
	}
	want = append(want, extra)
	var got []CatalogRecord
	if err := NewCatalog(tier).Read(ctx, func(r CatalogRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Key != want[i].Key || !got[i].Time.Equal(want[i].Time) || got[i].Op != want[i].Op || !slices.Equal(got[i].Entries, want[i].Entries) {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(mt.objs) != 10 {
		t.Fatalf("%d objects for 10 appends", len(mt.objs))
	}
	for name, b := range mt.objs {
		if !strings.HasPrefix(name, catalogPrefix) || bytes.Contains(b, []byte("secret-bucket")) {
			t.Fatalf("catalog object %s shows its contents", name)
		}
	}
	other := testTier(t, mt)
	if err := NewCatalog(other).Read(ctx, func(CatalogRecord) error { return nil }); err != nil {
		t.Fatalf("another key's catalog is empty, not an error: %v", err)
	}
	name := tier.Keys.catalogName(3)
	mt.objs[name][40] ^= 1
	err := NewCatalog(tier).Read(ctx, func(CatalogRecord) error { return nil })
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), name) {
		t.Fatalf("damaged catalog: %v", err)
	}
}

// TestEscrow: the key opens with its passphrase, a rewrap replaces the old
// escrow, and a wrong passphrase is refused.
func TestEscrow(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	mk, _ := NewMasterKey()
	if _, err := Unescrow(ctx, mt, []byte("whatever passphrase")); !errors.Is(err, ErrNoEscrow) {
		t.Fatalf("no escrow: %v", err)
	}
	if err := Escrow(ctx, mt, mk, []byte("short")); err == nil {
		t.Fatal("short passphrase taken")
	}
	if err := Escrow(ctx, mt, mk, []byte("correct horse battery\n")); err != nil {
		t.Fatal(err)
	}
	got, err := Unescrow(ctx, mt, []byte("correct horse battery"))
	if err != nil || got != mk {
		t.Fatalf("unescrow: %v", err)
	}
	if _, err := Unescrow(ctx, mt, []byte("wrong horse battery")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := Escrow(ctx, mt, mk, []byte("a new passphrase here")); err != nil {
		t.Fatal(err)
	}
	if len(mt.objs) != 1 {
		t.Fatalf("%d escrow objects after a rewrap", len(mt.objs))
	}
	if _, err := Unescrow(ctx, mt, []byte("correct horse battery")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after rewrap: %v", err)
	}
	for _, b := range mt.objs {
		if bytes.Contains(b, mk[:]) {
			t.Fatal("escrow holds the key in the clear")
		}
	}
}

// TestAdoptRecovers: what a store sent to a tier, with its catalog, is
// rebuilt in an empty store from the tier alone and reads back byte-exact
// through read-through; the new store scrubs clean.
func TestAdoptRecovers(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	src, _ := tieredStore(t, tier)
	data := chunkstoretest.Data(7, 3<<20)
	m := chunkstoretest.Put(t, src, data)
	snd := NewSender(src, tier, t.TempDir(), 1<<20)
	sendAll(t, snd, m.ID)
	es := manifestEntries(t, src, m.ID)
	if err := NewCatalog(tier).Append(ctx, []CatalogRecord{{Op: CatalogVersion, Bucket: "b", Key: "k", Entries: es}}); err != nil {
		t.Fatal(err)
	}

	dst, _ := tieredStore(t, tier)
	need := map[chunkstore.ChunkID]uint32{}
	var entries []chunkstore.Entry
	err := NewCatalog(tier).Read(ctx, func(r CatalogRecord) error {
		for _, e := range r.Entries {
			need[e.ID] = e.Len
		}
		entries = r.Entries
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Adopt(ctx, dst, tier, need, nil)
	if err != nil || rep.Chunks < len(need) || len(rep.Damaged) > 0 {
		t.Fatalf("adopt: %+v, %v", rep, err)
	}
	got, err := dst.CommitMoved(ctx, entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chunkstoretest.Read(t, dst, got.ID), data) {
		t.Fatal("recovered object differs")
	}
	// Adopting again (a recovery cut short) adds nothing.
	if rep, err := Adopt(ctx, dst, tier, need, nil); err != nil || rep.Packs != 0 {
		t.Fatalf("second adopt: %+v, %v", rep, err)
	}
}

// TestRecall: a moved manifest recalled reads with the tier gone; moved
// again, it sends nothing and reads from the tier once more.
func TestRecall(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, reg := tieredStore(t, tier)
	data := chunkstoretest.Data(8, 3<<20)
	m := chunkstoretest.Put(t, s, data)
	snd := NewSender(s, tier, t.TempDir(), 1<<20)
	sendAll(t, snd, m.ID)
	if err := s.Move(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	clean := func() {
		if _, err := s.Clean(ctx, chunkstore.CleanOptions{Threshold: 0.01}); err != nil {
			t.Fatal(err)
		}
	}
	clean()
	if err := s.Recall(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	clean()
	reg.Remove("cold") // the tier gone: reads are local
	if got := chunkstoretest.Read(t, s, m.ID); !bytes.Equal(got, data) {
		t.Fatal("recalled object differs")
	}
	reg.Set(tier)
	sent := snd.Stats()
	if err := snd.Add(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := snd.Flush(ctx); err != nil || snd.Stats() != sent {
		t.Fatalf("moving a recalled object again sent %+v (was %+v), %v", snd.Stats(), sent, err)
	}
	if err := s.Move(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	clean()
	before := mt.gets.Load()
	if got := chunkstoretest.Read(t, s, m.ID); !bytes.Equal(got, data) || mt.gets.Load() == before {
		t.Fatal("moved again, the object does not read from the tier")
	}
}

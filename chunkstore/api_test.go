package chunkstore_test

// Contract tests of the chunk-level API that tiering and replication stand
// on: enumeration, records as stored, imports and commits from chunk IDs,
// remote copies and moves, leases, and the caller's namespace.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
	bolt "go.etcd.io/bbolt"
)

func entries(t *testing.T, s *chunkstore.Store, id chunkstore.ManifestID, from int64) []chunkstore.Entry {
	t.Helper()
	it, err := s.Entries(t.Context(), id, from)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []chunkstore.Entry
	for it.Next() {
		out = append(out, it.Entry())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEntriesEnumerateInOrder(t *testing.T) {
	s := chunkstoretest.New(t)
	data := chunkstoretest.Data(1, 3<<20) // ~190 chunks over several batches
	m := chunkstoretest.Put(t, s, data)
	es := entries(t, s, m.ID, 0)
	if int64(len(es)) != m.Chunks {
		t.Fatalf("%d entries, manifest has %d chunks", len(es), m.Chunks)
	}
	var off int64
	for i, e := range es {
		if e.Offset != off {
			t.Fatalf("entry %d at %d, want %d", i, e.Offset, off)
		}
		rec, err := s.ReadRecord(t.Context(), e.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != e.ID || rec.RawLen != e.Len {
			t.Fatalf("entry %d: record %s of %d bytes, entry %s of %d", i, rec.ID, rec.RawLen, e.ID, e.Len)
		}
		off += int64(e.Len)
	}
	if off != int64(len(data)) {
		t.Fatalf("entries cover %d bytes of %d", off, len(data))
	}
	// From an offset: the entry holding it, then the rest.
	mid := es[len(es)/2]
	tail := entries(t, s, m.ID, mid.Offset+1)
	if len(tail) != len(es)-len(es)/2 || tail[0] != mid {
		t.Fatalf("from %d: %d entries starting %+v, want %d starting %+v", mid.Offset+1, len(tail), tail[0], len(es)-len(es)/2, mid)
	}
	if got := entries(t, s, m.ID, m.Size); len(got) != 0 {
		t.Fatalf("from the end: %d entries", len(got))
	}
	if _, err := s.Entries(t.Context(), 999, 0); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("entries of no manifest: %v", err)
	}
}

// replicate copies manifest id of src into dst the way replication does:
// offer the IDs, send the records the target lacks, append, commit. It
// returns how many records travelled.
func replicate(t *testing.T, src, dst *chunkstore.Store, id chunkstore.ManifestID) (chunkstore.Manifest, int) {
	t.Helper()
	ctx := t.Context()
	im, err := dst.NewImport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t, src, id, 0)
	ids := make([]chunkstore.ChunkID, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	missing, err := im.Need(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var recs []chunkstore.Record
	for _, cid := range missing {
		r, err := src.ReadRecord(ctx, cid, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := im.PutRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := im.Append(ctx, es); err != nil {
		t.Fatal(err)
	}
	m, err := im.Commit(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, len(recs)
}

func TestImportSendsOnlyMissingChunks(t *testing.T) {
	src, dst := chunkstoretest.New(t), chunkstoretest.New(t)
	gen1 := chunkstoretest.Data(2, 2<<20)
	gen2 := append(bytes.Clone(gen1[:1<<20]), chunkstoretest.Data(3, 256<<10)...)
	gen2 = append(gen2, gen1[1<<20:]...)
	m1 := chunkstoretest.Put(t, src, gen1)
	m2 := chunkstoretest.Put(t, src, gen2)

	r1, sent1 := replicate(t, src, dst, m1.ID)
	if int64(sent1) != m1.Chunks || !bytes.Equal(chunkstoretest.Read(t, dst, r1.ID), gen1) {
		t.Fatalf("first generation: sent %d of %d chunks, or read back differs", sent1, m1.Chunks)
	}
	r2, sent2 := replicate(t, src, dst, m2.ID)
	if !bytes.Equal(chunkstoretest.Read(t, dst, r2.ID), gen2) {
		t.Fatal("second generation reads back differently")
	}
	if sent2 == 0 || int64(sent2) > m2.Chunks/4 {
		t.Fatalf("second generation sent %d of %d chunks: only the changed ones should travel", sent2, m2.Chunks)
	}
	if err := dst.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, _ := dst.Stats(t.Context())
	ss, _ := src.Stats(t.Context())
	if st.UniqueBytes != ss.UniqueBytes || st.LogicalBytes != ss.LogicalBytes {
		t.Fatalf("target holds unique %d logical %d, source %d %d", st.UniqueBytes, st.LogicalBytes, ss.UniqueBytes, ss.LogicalBytes)
	}
}

func TestPutRecordsRefusesBadRecords(t *testing.T) {
	src, dst := chunkstoretest.New(t), chunkstoretest.New(t)
	m := chunkstoretest.Put(t, src, chunkstoretest.Data(4, 200<<10))
	es := entries(t, src, m.ID, 0)
	good, err := src.ReadRecord(t.Context(), es[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := src.ReadRecord(t.Context(), es[1].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good.Data)
	flipped[len(flipped)-1] ^= 1
	// A whole, self-consistent record of another chunk claimed as this one.
	wrongID := other
	wrongID.ID = good.ID
	cases := map[string]chunkstore.Record{
		"flipped payload bit":       {ID: good.ID, Codec: good.Codec, RawLen: good.RawLen, Data: flipped},
		"record of another chunk":   wrongID,
		"truncated":                 {ID: good.ID, Codec: good.Codec, RawLen: good.RawLen, Data: good.Data[:len(good.Data)-5]},
		"header claims other codec": {ID: good.ID, Codec: chunkstore.CodecS2, RawLen: good.RawLen, Data: good.Data},
	}
	im, err := dst.NewImport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer im.Abort()
	before, _ := dst.Stats(t.Context())
	for name, bad := range cases {
		err := im.PutRecords(t.Context(), []chunkstore.Record{good, bad})
		if err == nil || !errors.Is(err, chunkstore.ErrCorrupt) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	after, _ := dst.Stats(t.Context())
	if after != before {
		t.Fatalf("refused records changed the store: %+v -> %+v", before, after)
	}
	if missing, _ := dst.Missing(t.Context(), []chunkstore.ChunkID{good.ID}); len(missing) != 1 {
		t.Fatal("a chunk of a refused batch was indexed")
	}
}

func TestCommitEntriesNamesMissingChunks(t *testing.T) {
	src, dst := chunkstoretest.New(t), chunkstoretest.New(t)
	shared := chunkstoretest.Data(5, 300<<10)
	chunkstoretest.Put(t, dst, shared)
	m := chunkstoretest.Put(t, src, append(bytes.Clone(shared), chunkstoretest.Data(6, 100<<10)...))
	es := entries(t, src, m.ID, 0)
	before, _ := dst.Stats(t.Context())

	_, err := dst.CommitEntries(t.Context(), es, nil)
	var me *chunkstore.MissingChunksError
	if !errors.As(err, &me) || !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("commit with absent chunks: %v", err)
	}
	want, _ := dst.Missing(t.Context(), idsOf(es))
	if len(me.IDs) == 0 || len(me.IDs) != len(want) {
		t.Fatalf("error names %d chunks, the store lacks %d", len(me.IDs), len(want))
	}
	for i := range want {
		if me.IDs[i] != want[i] {
			t.Fatalf("missing chunk %d: %s, want %s", i, me.IDs[i], want[i])
		}
	}
	if after, _ := dst.Stats(t.Context()); after != before {
		t.Fatalf("a failed commit changed the store: %+v -> %+v", before, after)
	}
	// Send them, retry: it commits, and reads back.
	im, err := dst.NewImport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var recs []chunkstore.Record
	for _, id := range me.IDs {
		r, _ := src.ReadRecord(t.Context(), id, nil)
		recs = append(recs, r)
	}
	if err := im.PutRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	got, err := dst.CommitEntries(t.Context(), es, nil)
	if err != nil {
		t.Fatal(err)
	}
	im.Abort() // its holds only kept the records until the commit took them
	if !bytes.Equal(chunkstoretest.Read(t, dst, got.ID), chunkstoretest.Read(t, src, m.ID)) {
		t.Fatal("committed manifest reads back differently")
	}
	// A length that is not the chunk's is refused.
	es[0].Len++
	if _, err := dst.CommitEntries(t.Context(), es, nil); err == nil {
		t.Fatal("an entry with the wrong length was accepted")
	}
}

func idsOf(es []chunkstore.Entry) []chunkstore.ChunkID {
	out := make([]chunkstore.ChunkID, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// TestNeedHoldsWhatItReports: a chunk Need reports present (here one no
// manifest references any more, which the cleaner would otherwise drop)
// stays until the import ends.
func TestNeedHoldsWhatItReports(t *testing.T) {
	s := chunkstoretest.New(t)
	data := chunkstoretest.Data(7, 400<<10)
	m := chunkstoretest.Put(t, s, data)
	es := entries(t, s, m.ID, 0)
	im, err := s.NewImport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	if missing, _ := s.Missing(t.Context(), idsOf(es)); len(missing) != len(es) {
		t.Fatalf("Missing reports %d of %d unreferenced chunks missing", len(missing), len(es))
	}
	missing, err := im.Need(t.Context(), idsOf(es))
	if err != nil || len(missing) != 0 {
		t.Fatalf("Need: %d missing, %v", len(missing), err)
	}
	if _, err := s.Clean(t.Context(), chunkstore.CleanOptions{Threshold: 1e-9}); err != nil {
		t.Fatal(err)
	}
	if err := im.Append(t.Context(), es); err != nil {
		t.Fatalf("append after the cleaner ran: %v", err)
	}
	got, err := im.Commit(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chunkstoretest.Read(t, s, got.ID), data) {
		t.Fatal("imported manifest reads back differently")
	}
}

func TestCommitWithRecordsAtomically(t *testing.T) {
	s := chunkstoretest.New(t)
	key := []byte("object")
	record := func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		return tx.Bucket().Put(key, []byte{byte(m.ID)})
	}
	w := s.NewWriter(t.Context())
	w.Write(chunkstoretest.Data(8, 1<<20))
	m, err := w.CommitWith(t.Context(), record)
	if err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *chunkstore.Tx) error {
		if v := tx.Bucket().Get(key); len(v) != 1 || v[0] != byte(m.ID) {
			t.Errorf("the commit's record is %v", v)
		}
		return nil
	})
	// A failing record rolls the commit back: no manifest, nothing counted.
	before, _ := s.Stats(t.Context())
	refused := errors.New("refused")
	for _, size := range []int{0, 100 << 10, 2 << 20} {
		w := s.NewWriter(t.Context())
		w.Write(chunkstoretest.Data(9, size))
		if _, err := w.CommitWith(t.Context(), func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
			tx.Bucket().Put([]byte("leak"), []byte("x"))
			return refused
		}); !errors.Is(err, refused) {
			t.Fatalf("%d bytes: commit with a failing record: %v", size, err)
		}
	}
	if _, err := s.ConcatWith(t.Context(), []chunkstore.ManifestID{m.ID, m.ID}, func(*chunkstore.Tx, chunkstore.Manifest) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("concat with a failing record: %v", err)
	}
	s.Drain(t.Context())
	after, _ := s.Stats(t.Context())
	if after.LogicalBytes != before.LogicalBytes || after.Manifests != before.Manifests || after.UniqueBytes != before.UniqueBytes {
		t.Fatalf("failed commits left something: %+v -> %+v", before, after)
	}
	s.View(func(tx *chunkstore.Tx) error {
		if tx.Bucket().Get([]byte("leak")) != nil {
			t.Error("a rolled-back commit's record is visible")
		}
		return nil
	})
	// Release in the caller's transaction, with its record.
	if err := s.Update(func(tx *chunkstore.Tx) error {
		if err := tx.Bucket().Delete(key); err != nil {
			return err
		}
		return tx.Release(m.ID)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), m.ID); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("released in a transaction: %v", err)
	}
	if err := s.View(func(tx *chunkstore.Tx) error { return tx.Release(1) }); err == nil {
		t.Fatal("a read-only transaction released a manifest")
	}
}

func TestReaderHoldsReleasedManifest(t *testing.T) {
	s := chunkstoretest.New(t)
	data := chunkstoretest.Data(10, 3<<20)
	m := chunkstoretest.Put(t, s, data)
	r, err := s.NewReader(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewReader(t.Context(), m.ID); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("new reader of a released manifest: %v", err)
	}
	// The cleaner runs; the open reader's chunks stay.
	if _, err := s.Clean(t.Context(), chunkstore.CleanOptions{Threshold: 1e-9}); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(append(head, rest...), data) {
		t.Fatalf("a reader open across a release and a clean read %d bytes, %v", len(head)+len(rest), err)
	}
	st, _ := s.Stats(t.Context())
	if st.UniqueBytes == 0 {
		t.Fatal("the manifest was drained while a reader held it")
	}
	r.Close()
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(t.Context()); st.UniqueBytes != 0 || st.Chunks != 0 {
		t.Fatalf("after the last reader closed: %+v", st)
	}
}

// TestViewHoldsAcrossRelease: a view that began before a release committed
// sees the manifest and may still open it; the release waits for it.
func TestViewHoldsAcrossRelease(t *testing.T) {
	s := chunkstoretest.New(t)
	data := chunkstoretest.Data(11, 1<<20)
	m := chunkstoretest.Put(t, s, data)
	inView, released := make(chan struct{}), make(chan struct{})
	var r *chunkstore.Reader
	errc := make(chan error, 1)
	go func() {
		errc <- s.View(func(tx *chunkstore.Tx) error {
			close(inView)
			<-released
			var err error
			r, err = tx.NewReader(context.Background(), m.ID)
			return err
		})
	}()
	<-inView
	if err := s.Release(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	close(released)
	if err := <-errc; err != nil {
		t.Fatalf("view that began before the release: %v", err)
	}
	defer r.Close()
	s.Clean(t.Context(), chunkstore.CleanOptions{Threshold: 1e-9})
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

// tiered writes data, packs it into tier and moves it, then cleans: its
// local copies are gone.
func tiered(t *testing.T, s *chunkstore.Store, tier *chunkstoretest.DirTier, data []byte) chunkstore.Manifest {
	t.Helper()
	m := chunkstoretest.Put(t, s, data)
	if _, n, err := tier.PackManifest(t.Context(), s, m.ID); err != nil || n == 0 {
		t.Fatalf("pack: %d chunks, %v", n, err)
	}
	if err := s.Move(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Clean(t.Context(), chunkstore.CleanOptions{Threshold: 1e-9}); err != nil {
		t.Fatal(err)
	}
	return m
}

func tieredStore(t *testing.T) (*chunkstore.Store, *chunkstoretest.DirTier) {
	tier := chunkstoretest.NewDirTier(t, "cold")
	cfg := chunkstoretest.Config(t)
	cfg.Remote = tier
	cfg.RemoteTimeout = 2 * time.Second
	return chunkstoretest.Open(t, cfg), tier
}

func TestMoveReadsThroughTheTier(t *testing.T) {
	s, tier := tieredStore(t)
	data := chunkstoretest.Data(12, 3<<20)
	m := tiered(t, s, tier, data)
	st, _ := s.Stats(t.Context())
	if st.LocalBytes != 0 || st.TieredBytes != st.UniqueBytes || st.LiveBytes != 0 || st.Packs != 1 || st.PackLiveBytes == 0 {
		t.Fatalf("after move and clean: %+v", st)
	}
	if got, _ := s.Stat(t.Context(), m.ID); !got.Moved {
		t.Fatal("manifest not marked moved")
	}
	before := tier.Fetches()
	if got := chunkstoretest.Read(t, s, m.ID); !bytes.Equal(got, data) {
		t.Fatal("read through the tier differs")
	}
	if n := tier.Fetches() - before; n == 0 || n > m.Chunks/8 {
		t.Fatalf("%d fetches for %d chunks: reads should fetch spans of records", n, m.Chunks)
	}
	// A range read in the middle.
	r, _ := s.NewReader(t.Context(), m.ID)
	r.Seek(1<<20+7, io.SeekStart)
	part := make([]byte, 1000)
	if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, data[1<<20+7:][:1000]) {
		t.Fatalf("range read through the tier: %v", err)
	}
	r.Close()
	// Records as stored come from the tier too.
	es := entries(t, s, m.ID, 0)
	if rec, err := s.ReadRecord(t.Context(), es[3].ID, nil); err != nil || rec.RawLen != es[3].Len {
		t.Fatalf("record from the tier: %v", err)
	}
	// Writing the same bytes again brings local copies back.
	chunkstoretest.Put(t, s, data)
	if st, _ := s.Stats(t.Context()); st.LocalBytes != st.UniqueBytes {
		t.Fatalf("a new write of tiered data: local %d of %d", st.LocalBytes, st.UniqueBytes)
	}
	// Dedup in the tier: nothing new to pack.
	if _, n, err := tier.PackManifest(t.Context(), s, m.ID); err != nil || n != 0 {
		t.Fatalf("packing again sent %d chunks (%v)", n, err)
	}
	// Releasing the moved manifest leaves the pack with no live bytes once
	// the new copy is gone too.
	if err := s.Release(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
}

func TestMoveNeedsEveryChunkInTheTier(t *testing.T) {
	s, tier := tieredStore(t)
	a := chunkstoretest.Put(t, s, chunkstoretest.Data(13, 500<<10))
	if _, _, err := tier.PackManifest(t.Context(), s, a.ID); err != nil {
		t.Fatal(err)
	}
	b := chunkstoretest.Put(t, s, append(chunkstoretest.Data(13, 500<<10), chunkstoretest.Data(14, 200<<10)...))
	before, _ := s.Stats(t.Context())
	err := s.Move(t.Context(), b.ID)
	var nt *chunkstore.NotInTierError
	if !errors.As(err, &nt) || len(nt.Chunks) == 0 {
		t.Fatalf("move of a manifest not all in the tier: %v", err)
	}
	if after, _ := s.Stats(t.Context()); after != before {
		t.Fatal("a refused move changed the store")
	}
	if m, _ := s.Stat(t.Context(), b.ID); m.Moved {
		t.Fatal("a refused move marked the manifest moved")
	}
}

func TestTierFaults(t *testing.T) {
	s, tier := tieredStore(t)
	data := chunkstoretest.Data(15, 1<<20)
	m := tiered(t, s, tier, data)
	read := func() ([]byte, error) {
		r, err := s.NewReader(t.Context(), m.ID)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	unavailable := errors.New("tier unavailable")
	tier.SetFault(func(chunkstore.Pack, int64, []byte) error { return unavailable })
	if _, err := read(); !errors.Is(err, unavailable) {
		t.Fatalf("tier down: %v", err)
	}
	tier.SetFault(func(_ chunkstore.Pack, _ int64, b []byte) error { b[len(b)/2] ^= 0x40; return nil })
	if _, err := read(); !errors.Is(err, chunkstore.ErrCorrupt) {
		t.Fatalf("tier returns wrong bytes: %v", err)
	}
	tier.SetFault(func(chunkstore.Pack, int64, []byte) error { time.Sleep(3 * time.Second); return nil })
	if _, err := read(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("tier too slow: %v", err)
	}
	tier.SetFault(nil)
}

// TestSecondCopyServesWhenOneTierFails: a chunk in two tiers reads from the
// second when the first fails.
func TestSecondCopyServesWhenOneTierFails(t *testing.T) {
	cold, warm := chunkstoretest.NewDirTier(t, "cold"), chunkstoretest.NewDirTier(t, "warm")
	cfg := chunkstoretest.Config(t)
	cfg.Remote = chunkstoretest.Tiers{cold, warm}
	s := chunkstoretest.Open(t, cfg)
	data := chunkstoretest.Data(16, 1<<20)
	m := chunkstoretest.Put(t, s, data)
	for _, tier := range []*chunkstoretest.DirTier{cold, warm} {
		if _, n, err := tier.PackManifest(t.Context(), s, m.ID); err != nil || int64(n) != m.Chunks {
			t.Fatalf("pack into %s: %d chunks, %v", tier.Name, n, err)
		}
	}
	if err := s.Move(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	s.Clean(t.Context(), chunkstore.CleanOptions{Threshold: 1e-9})
	cold.SetFault(func(chunkstore.Pack, int64, []byte) error { return errors.New("cold tier down") })
	if got := chunkstoretest.Read(t, s, m.ID); !bytes.Equal(got, data) {
		t.Fatal("read with the first tier down differs")
	}
	if warm.Fetches() == 0 {
		t.Fatal("the second tier was never asked")
	}
}

// TestNoRemoteSaysWhy: a store opened without a Remote fails to read a
// chunk that only a tier holds, and says so.
func TestNoRemoteSaysWhy(t *testing.T) {
	s, tier := tieredStore(t)
	m := tiered(t, s, tier, chunkstoretest.Data(17, 300<<10))
	s.Close()
	cfg := chunkstoretest.Config(t)
	cfg.Dir = s.Dir()
	plain := chunkstoretest.Open(t, cfg)
	r, err := plain.NewReader(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadAll(r); !errors.Is(err, chunkstore.ErrNoRemote) {
		t.Fatalf("read of a tiered-only chunk without a Remote: %v", err)
	}
}

func TestNamespaceIsTheCallers(t *testing.T) {
	s := chunkstoretest.New(t)
	err := s.Update(func(tx *chunkstore.Tx) error {
		b, err := tx.Bucket().CreateBucketIfNotExists([]byte("buckets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *chunkstore.Tx) error {
		var b *bolt.Bucket = tx.Bucket().Bucket([]byte("buckets"))
		if b == nil || string(b.Get([]byte("k"))) != "v" {
			t.Error("the caller's namespace lost its record")
		}
		return nil
	})
}

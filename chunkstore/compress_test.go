package chunkstore

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// storedBytes is the container files' committed length (Stats).
func storedBytes(t testing.TB, s *Store) int64 {
	t.Helper()
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st.StoredBytes
}

// TestSetCompression changes the codec of a running store: text written
// under each setting is stored as that setting says (none whole, s2 and
// zstd smaller, zstd smallest), everything reads back, and a bad setting
// changes nothing.
func TestSetCompression(t *testing.T) {
	s := openStore(t, testConfig(t))
	const n = 2 << 20
	stored := func() int64 { return storedBytes(t, s) }
	var ids []ManifestID
	var texts [][]byte
	cost := map[Compression]int64{}
	for i, c := range []Compression{CompressNone, CompressS2, CompressZstd} {
		if err := s.SetCompression(c); err != nil {
			t.Fatal(err)
		}
		if got := s.Compression(); got != c {
			t.Fatalf("Compression() = %q after SetCompression(%q)", got, c)
		}
		text := textData(uint64(100+i), n)
		before := stored()
		ids = append(ids, put(t, s, text).ID)
		texts = append(texts, text)
		cost[c] = stored() - before
	}
	t.Logf("2 MiB of text stored as: none %d, s2 %d, zstd %d bytes", cost[CompressNone], cost[CompressS2], cost[CompressZstd])
	if cost[CompressNone] < n {
		t.Errorf("with compression none, %d bytes of text stored in %d", n, cost[CompressNone])
	}
	if !(cost[CompressZstd] < cost[CompressS2] && cost[CompressS2] < cost[CompressNone]/2) {
		t.Errorf("stored bytes none %d, s2 %d, zstd %d: want zstd < s2 < none/2", cost[CompressNone], cost[CompressS2], cost[CompressZstd])
	}
	for i, id := range ids {
		if !bytes.Equal(readAll(t, s, id), texts[i]) {
			t.Fatalf("object %d does not read back", i)
		}
	}

	for _, bad := range []Compression{"", "lz4", "ZSTD"} {
		if err := s.SetCompression(bad); err == nil {
			t.Errorf("SetCompression(%q) succeeded", bad)
		}
	}
	before := stored()
	put(t, s, textData(200, n))
	if got := stored() - before; got >= n/2 {
		t.Errorf("after refused settings, text stored in %d bytes: the zstd setting did not stay", got)
	}
	s.Close()
	if err := s.SetCompression(CompressS2); !errors.Is(err, ErrClosed) {
		t.Errorf("SetCompression on a closed store: %v, want ErrClosed", err)
	}
}

// TestCompressLater writes text as zstd-later: S2 records at first, the
// containers counted for the cleaner; a clean that must yield to writes
// leaves them; one that runs rewrites them with zstd, stores less, and
// everything reads back; sealed chunks are zstd at once.
func TestCompressLater(t *testing.T) {
	cfg := testConfig(t)
	cfg.Compression = CompressZstdLater
	s := openStore(t, cfg)
	stored := func() int64 { return storedBytes(t, s) }
	codecOf := func(id ManifestID) Codec {
		t.Helper()
		it, err := s.Entries(t.Context(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		if !it.Next() {
			t.Fatalf("manifest %d has no entries", id)
		}
		rec, err := s.ReadRecord(t.Context(), it.Entry().ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Codec
	}
	var ids []ManifestID
	var data [][]byte
	for i := range 4 {
		d := textData(uint64(300+i), 1<<20)
		if i == 3 {
			d = randomData(301, 1<<20) // incompressible: raw, never for later
		}
		ids = append(ids, put(t, s, d).ID)
		data = append(data, d)
	}
	later, err := s.LaterBytes()
	if err != nil || later == 0 {
		t.Fatalf("LaterBytes after text written zstd-later: %d, %v", later, err)
	}
	if c := codecOf(ids[0]); c != CodecS2 {
		t.Fatalf("text written zstd-later is stored as %s, want s2", c)
	}
	before := stored()

	// A writer came after the run began: it yields at once.
	s.lastWrite.Store(s.now().Add(time.Hour).UnixNano())
	rep, err := s.Clean(t.Context(), CleanOptions{YieldToWrites: true})
	if err != nil || !rep.Yielded || rep.Recompressed != 0 {
		t.Fatalf("a clean that yields to writes: %s, %v", rep, err)
	}
	if n, _ := s.LaterBytes(); n != later {
		t.Fatalf("a yielding clean changed LaterBytes from %d to %d", later, n)
	}
	s.lastWrite.Store(0)

	// Switched to s2, the store keeps its S2 records.
	if err := s.SetCompression(CompressS2); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Clean(t.Context(), CleanOptions{}); err != nil || rep.Recompressed != 0 {
		t.Fatalf("clean of an s2 store: %s, %v", rep, err)
	}
	if err := s.SetCompression(CompressZstdLater); err != nil {
		t.Fatal(err)
	}

	rep, err = s.Clean(t.Context(), CleanOptions{})
	if err != nil || rep.Recompressed == 0 {
		t.Fatalf("clean: %s, %v", rep, err)
	}
	after := stored()
	t.Logf("3 MiB of text and 1 MiB of random bytes: %d bytes stored as s2, %d after the clean (%s)", before, after, rep)
	if after >= before-before/20 {
		t.Errorf("recompressing stored %d bytes in %d", before, after)
	}
	if n, err := s.LaterBytes(); err != nil || n != 0 {
		t.Errorf("LaterBytes after the clean: %d, %v", n, err)
	}
	if c := codecOf(ids[0]); c != CodecZstd {
		t.Errorf("text recompressed is stored as %s, want zstd", c)
	}
	for i, id := range ids {
		if !bytes.Equal(readAll(t, s, id), data[i]) {
			t.Fatalf("object %d does not read back after the recompression", i)
		}
	}

	// A replica's import of S2 records: counted for its cleaner too.
	dcfg := cfg
	dcfg.Dir = t.TempDir()
	d := openStore(t, dcfg)
	src := openStore(t, testConfig(t)) // zstd-later as well, the default
	m0 := put(t, src, data[0])
	im, err := d.NewImport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	it, err := src.Entries(t.Context(), m0.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		es = append(es, it.Entry())
	}
	it.Close()
	var recs []Record
	for _, e := range es {
		r, err := src.ReadRecord(t.Context(), e.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := im.PutRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if err := im.Append(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	m1, err := im.Commit(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := d.LaterBytes(); n == 0 {
		t.Error("imported S2 records were not counted for the cleaner")
	}
	if rep, err := d.Clean(t.Context(), CleanOptions{}); err != nil || rep.Recompressed == 0 {
		t.Errorf("clean of the replica: %s, %v", rep, err)
	}
	if !bytes.Equal(readAll(t, d, m1.ID), data[0]) {
		t.Fatal("the imported object does not read back after the recompression")
	}

	// Sealed chunks: zstd at once, nothing for later.
	k := sealKey(t, 9)
	m := putSealed(t, s, k, textData(400, 1<<20))
	if n, _ := s.LaterBytes(); n != 0 {
		t.Errorf("a sealed write counted %d bytes for later", n)
	}
	got, err := readSealed(t, s, k, m.ID, 0)
	if err != nil || !bytes.Equal(got, textData(400, 1<<20)) {
		t.Errorf("sealed text written zstd-later does not read back: %v", err)
	}
}

// TestOrphanLaterRowsDropped: a later row whose container is gone (left
// by a Cairn from before zstd-later that compacted it) is dropped at open,
// so it never counts as work no clean can do.
func TestOrphanLaterRowsDropped(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	put(t, s, textData(500, 1<<20))
	later, err := s.LaterBytes()
	if err != nil || later == 0 {
		t.Fatalf("LaterBytes after text: %d, %v", later, err)
	}
	if err := s.update(func(t *txn) error {
		t.addLater(1<<40, 12345) // no such container
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.LaterBytes(); n != later+12345 {
		t.Fatalf("LaterBytes with the orphan row: %d, want %d", n, later+12345)
	}
	s.Close()
	s = openStore(t, cfg)
	if n, err := s.LaterBytes(); err != nil || n != later {
		t.Fatalf("LaterBytes after reopening: %d (%v), want %d: the orphan row stayed", n, err, later)
	}
}

package chunkstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func sealKey(t testing.TB, seed byte) *SealKey {
	t.Helper()
	k, err := NewSealKey(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func putSealed(t testing.TB, s *Store, key *SealKey, data []byte) Manifest {
	t.Helper()
	w := s.NewWriter(t.Context())
	w.Seal(key)
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	m, err := w.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readSealed(t testing.TB, s *Store, key *SealKey, id ManifestID, off int64) ([]byte, error) {
	t.Helper()
	r, err := s.NewReader(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Unseal(key)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_, err = io.Copy(&b, r)
	return b.Bytes(), err
}

// TestSealedRoundTrip writes sealed manifests of several batches and reads
// them back whole and from an offset; without the key or with another one
// the read fails with ErrSealed, and a key given for a plain manifest is
// refused as ErrCorrupt rather than trusted.
func TestSealedRoundTrip(t *testing.T) {
	s := openStore(t, testConfig(t))
	k1, k2 := sealKey(t, 1), sealKey(t, 2)
	data := append(randomData(1, 700<<10), textData(2, 700<<10)...)
	m := putSealed(t, s, k1, data)
	got, err := readSealed(t, s, k1, m.ID, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v (%d of %d bytes, equal %v)", err, len(got), len(data), bytes.Equal(got, data))
	}
	got, err = readSealed(t, s, k1, m.ID, 333333)
	if err != nil || !bytes.Equal(got, data[333333:]) {
		t.Fatalf("read from an offset: %v", err)
	}
	for name, k := range map[string]*SealKey{"no key": nil, "another key": k2} {
		if _, err := readSealed(t, s, k, m.ID, 0); !errors.Is(err, ErrSealed) {
			t.Errorf("%s: %v, want ErrSealed", name, err)
		}
	}
	plain := put(t, s, textData(3, 100<<10))
	if _, err := readSealed(t, s, k1, plain.ID, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a key on a plain manifest: %v, want ErrCorrupt", err)
	}
	// Records as stored travel without the key (replication, tiers).
	es, err := s.Entries(t.Context(), m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !es.Next() {
		t.Fatal(es.Err())
	}
	id := es.Entry().ID
	es.Close()
	rec, err := s.ReadRecord(t.Context(), id, nil)
	if err != nil || !rec.Sealed {
		t.Fatalf("ReadRecord of a sealed chunk: %v, sealed %v", err, rec.Sealed)
	}
}

// TestSealedDedupDomains: the same data under the same key stores nothing
// new; under another key, or plain, it stores everything again: a key is a
// dedup domain, and nothing links its chunks to another domain's.
func TestSealedDedupDomains(t *testing.T) {
	s := openStore(t, testConfig(t))
	k1, k2 := sealKey(t, 1), sealKey(t, 2)
	data := textData(4, 900<<10)
	stored := func() int64 {
		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.StoredBytes
	}
	putSealed(t, s, k1, data)
	first := stored()
	putSealed(t, s, k1, data)
	if d := stored() - first; d != 0 {
		t.Errorf("same key again stored %d bytes, want 0", d)
	}
	putSealed(t, s, k2, data)
	if d := stored() - first; d < first*9/10 {
		t.Errorf("another key stored %d bytes, want about %d", d, first)
	}
	before := stored()
	put(t, s, data)
	if d := stored() - before; d < first*9/10 {
		t.Errorf("plain after sealed stored %d bytes, want about %d", d, first)
	}
}

// TestSealedNotOnDiskInClear: a marker written sealed is nowhere in the
// container files (compression off, so that it would be there verbatim),
// and the same marker written plain is.
func TestSealedNotOnDiskInClear(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.Compression = CompressNone
		s := openStore(t, cfg)
		marker := []byte("CAIRN-PLAINTEXT-MARKER-0123456789")
		data := bytes.Repeat(append(marker, randomData(5, 1000)...), 50)
		if sealed {
			putSealed(t, s, sealKey(t, 1), data)
		} else {
			put(t, s, data)
		}
		found := false
		files, _ := filepath.Glob(filepath.Join(cfg.Dir, "containers", "*"))
		if len(files) == 0 {
			t.Fatal("no container files")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			found = found || bytes.Contains(b, marker)
		}
		if found == sealed {
			t.Errorf("sealed %v: marker found on disk %v", sealed, found)
		}
	}
}

// sealedRecord builds chunk plain's sealed record as a writer does.
func sealedRecord(cs *codecs, id ChunkID, plain []byte, k *SealKey) []byte {
	s := &Store{codecs: cs}
	var scratch []byte
	cd, payload, _ := s.encodeChunk(plain, &scratch, true, true)
	b := &batch{chunks: [][]byte{plain}, ids: []ChunkID{id}, at: make([]recAt, 1), recs: [][]byte{nil}, span: []int64{0}}
	b.addRecord(0, 0, cd, payload, false, k)
	return b.recs[0]
}

// TestSealedRecordHeader: a sealed record decodes with its key only, and a
// record from before sealed records (flag byte zero) decodes as before.
func TestSealedRecordHeader(t *testing.T) {
	cs, err := newCodecs(CompressZstd)
	if err != nil {
		t.Fatal(err)
	}
	k := sealKey(t, 9)
	plain := textData(6, 5000)
	id := k.chunkID(plain)
	rec := sealedRecord(cs, id, plain, k)
	if h, got, err := decodeRecord(rec, cs, nil, k, nil); err != nil || !bytes.Equal(got, plain) || !h.sealed {
		t.Fatalf("sealed record: %v", err)
	}
	if _, _, err := decodeRecord(rec, cs, nil, nil, nil); !errors.Is(err, ErrSealed) {
		t.Fatalf("sealed record without key: %v", err)
	}
	if _, err := ParseRecord(rec); err != nil {
		t.Fatalf("ParseRecord of a sealed record: %v", err)
	}
	rec[len(rec)-1] ^= 1
	if _, _, err := decodeRecord(rec, cs, nil, k, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged sealed record: %v", err)
	}
	old := appendRecord(nil, hashChunk(plain), CodecRaw, len(plain), plain)
	if _, got, err := decodeRecord(old, cs, nil, nil, nil); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("plain record: %v", err)
	}
}

// FuzzSealedRecord feeds arbitrary bytes to the decoder with a key: it
// must never panic and accept only records that open under the key and
// whose content matches their keyed ID.
func FuzzSealedRecord(f *testing.F) {
	cs, err := newCodecs(CompressZstd)
	if err != nil {
		f.Fatal(err)
	}
	k, _ := NewSealKey(bytes.Repeat([]byte{7}, 32))
	for _, plain := range [][]byte{[]byte("x"), textData(1, 5000), randomData(2, 70000)} {
		for _, c := range []Compression{CompressNone, CompressZstd} {
			enc, _ := newCodecs(c)
			f.Add(sealedRecord(enc, k.chunkID(plain), plain, k))
		}
	}
	f.Add(appendRecord(nil, hashChunk([]byte("y")), CodecRaw, 1, []byte("y")))
	f.Fuzz(func(t *testing.T, rec []byte) {
		h, plain, err := decodeRecord(rec, cs, nil, k, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSealed) {
				t.Fatalf("error neither corrupt nor sealed: %v", err)
			}
			return
		}
		if !h.sealed || k.chunkID(plain) != h.id || len(plain) != int(h.rawLen) {
			t.Fatal("accepted a record that is not sealed or whose content does not match")
		}
	})
}

// TestSealedCleanAndScrub: the cleaner compacts container files of sealed
// records (copying the live ones forward as stored, without the key), what
// stays reads back with the key, and scrub (at cleanup) passes over them.
func TestSealedCleanAndScrub(t *testing.T) {
	s := openStore(t, testConfig(t))
	k := sealKey(t, 4)
	var keep []Manifest
	var keepData [][]byte
	for i := range 6 {
		data := randomData(uint64(40+i), 300<<10)
		m := putSealed(t, s, k, data)
		if i%2 == 0 {
			if err := s.Release(t.Context(), m.ID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		keep, keepData = append(keep, m), append(keepData, data)
	}
	rep, err := s.Clean(t.Context(), CleanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ChunksDropped == 0 || rep.Compacted == 0 {
		t.Fatalf("the cleaner did nothing: %+v", rep)
	}
	for i, m := range keep {
		got, err := readSealed(t, s, k, m.ID, 0)
		if err != nil || !bytes.Equal(got, keepData[i]) {
			t.Fatalf("manifest %d after the clean: %v", m.ID, err)
		}
	}
	srep, err := s.Scrub(t.Context(), ScrubOptions{})
	if err != nil || !srep.OK() || srep.Records == 0 {
		t.Fatalf("scrub of sealed records: %v %s", err, srep)
	}
}

package chunkstore

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	s := openStore(t, testConfig(t))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{7}},
		{"below min chunk", randomData(1, 1000)},
		{"random 3 MiB", randomData(2, 3<<20+17)},
		{"text 2 MiB", textData(3, 2<<20)},
		{"zeros 1 MiB", make([]byte, 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := put(t, s, tc.data)
			got := readAll(t, s, m.ID)
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("read back %d bytes, differ from the %d written", len(got), len(tc.data))
			}
		})
	}
}

func TestDedupAcrossObjects(t *testing.T) {
	s := openStore(t, testConfig(t))
	data := randomData(10, 4<<20)
	put(t, s, data)
	before, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes behind a 100-byte prefix: content-defined chunking
	// resynchronises, so almost nothing new is stored.
	shifted := append(randomData(11, 100), data...)
	m := put(t, s, shifted)
	after, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := after.UniqueBytes - before.UniqueBytes; got > 256<<10 {
		t.Errorf("shifted copy added %d unique bytes, want under 256 KiB", got)
	}
	if after.LogicalBytes != int64(len(data)+len(shifted)) {
		t.Errorf("logical %d, want %d", after.LogicalBytes, len(data)+len(shifted))
	}
	if !bytes.Equal(readAll(t, s, m.ID), shifted) {
		t.Fatal("shifted copy reads back wrong")
	}
}

func TestSeekAndRanges(t *testing.T) {
	s := openStore(t, testConfig(t))
	data := textData(5, 3<<20)
	m := put(t, s, data)
	r, err := s.NewReader(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, off := range []int64{0, 1, 4095, 70000, int64(len(data)) / 2, int64(len(data)) - 1, 12345, 0} {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100000)
		n, err := io.ReadFull(r, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], data[off:min(int64(len(data)), off+100000)]) {
			t.Fatalf("range at %d differs", off)
		}
	}
	if _, err := r.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read at end: %d, %v", n, err)
	}
}

func TestReleaseAndAbort(t *testing.T) {
	s := openStore(t, testConfig(t))
	a := put(t, s, randomData(20, 1<<20))
	w := s.NewWriter(t.Context())
	if _, err := w.Write(randomData(21, 3<<20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(t.Context(), a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second release: %v, want ErrNotFound", err)
	}
	if _, err := s.NewReader(t.Context(), a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read released: %v, want ErrNotFound", err)
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.LogicalBytes != 0 || st.UniqueBytes != 0 || st.Chunks != 0 || st.Manifests != 0 {
		t.Fatalf("after release and abort: %+v", st)
	}
}

func TestCloneAndConcat(t *testing.T) {
	s := openStore(t, testConfig(t))
	parts := [][]byte{randomData(30, 1<<20+3), textData(31, 700<<10), nil, randomData(32, 5)}
	var ids []ManifestID
	var whole []byte
	for _, p := range parts {
		ids = append(ids, put(t, s, p).ID)
		whole = append(whole, p...)
	}
	before, _ := s.Stats(t.Context())
	cat, err := s.Concat(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	clone, err := s.Clone(t.Context(), cat.ID)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stats(t.Context())
	if after.UniqueBytes != before.UniqueBytes {
		t.Errorf("concat and clone stored new data: unique %d -> %d", before.UniqueBytes, after.UniqueBytes)
	}
	for _, id := range ids {
		if err := s.Release(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(readAll(t, s, cat.ID), whole) || !bytes.Equal(readAll(t, s, clone.ID), whole) {
		t.Fatal("concatenation reads back wrong")
	}
	if cat.Size != int64(len(whole)) {
		t.Fatalf("concat size %d, want %d", cat.Size, len(whole))
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	cfg := testConfig(t)
	openStore(t, cfg)
	cfg.OpenTimeout = 50e6
	if _, err := Open(t.Context(), cfg); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

// TestConcatManyParts crosses Concat's per-transaction batch, in the middle
// of a part as well as between parts.
func TestConcatManyParts(t *testing.T) {
	cfg := testConfig(t)
	cfg.BatchBytes = 64 << 10 // many segments per part
	s := openStore(t, cfg)
	var ids []ManifestID
	var whole []byte
	for i := range 40 {
		p := randomData(uint64(300+i), 500<<10+i)
		ids = append(ids, put(t, s, p).ID)
		whole = append(whole, p...)
	}
	cat, err := s.Concat(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if cat.Size != int64(len(whole)) || !bytes.Equal(readAll(t, s, cat.ID), whole) {
		t.Fatal("concatenation of many parts reads back wrong")
	}
}

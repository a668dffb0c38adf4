package replicator

import (
	"bytes"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
)

func FuzzDecodeIDs(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 32))
	f.Add(make([]byte, 33))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := DecodeIDs(b)
		if err != nil {
			return
		}
		if got := AppendIDs(nil, ids); !bytes.Equal(got, b) {
			t.Fatalf("round trip: %x, want %x", got, b)
		}
	})
}

func FuzzDecodeEntries(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendEntries(nil, []chunkstore.Entry{{ID: chunkstore.ChunkID{1}, Len: 16384}, {ID: chunkstore.ChunkID{2}, Len: 1}}))
	f.Add(make([]byte, 36))
	f.Add(make([]byte, 37))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := DecodeEntries(b)
		if err != nil {
			return
		}
		if got := AppendEntries(nil, es); !bytes.Equal(got, b) {
			t.Fatalf("round trip: %x, want %x", got, b)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{})
	rec := chunkstore.Record{ID: chunkstore.ChunkID{7}, Codec: chunkstore.CodecZstd, RawLen: 100, Data: []byte("not really a record")}
	f.Add(AppendRecord(nil, rec))
	f.Add(AppendRecord(AppendRecord(nil, rec), rec))
	f.Add(AppendRecord(nil, rec)[:50])
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(b)
		if err != nil {
			return
		}
		var got []byte
		for _, r := range recs {
			if len(r.Data) == 0 || cap(r.Data) != len(r.Data) {
				t.Fatalf("record %s: data %d bytes, capacity %d", r.ID, len(r.Data), cap(r.Data))
			}
			got = AppendRecord(got, r)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("round trip: %x, want %x", got, b)
		}
	})
}

// TestDecodeRecordsBounds: counts and sizes beyond the protocol's bounds
// are refused before anything is allocated for them.
func TestDecodeRecordsBounds(t *testing.T) {
	one := AppendRecord(nil, chunkstore.Record{ID: chunkstore.ChunkID{1}, Data: []byte{1}})
	if _, err := DecodeRecords(bytes.Repeat(one, MaxBatch)); err != nil {
		t.Errorf("%d records: %v", MaxBatch, err)
	}
	if _, err := DecodeRecords(bytes.Repeat(one, MaxBatch+1)); err == nil {
		t.Errorf("%d records decoded", MaxBatch+1)
	}
	if _, err := DecodeRecords(make([]byte, MaxRecordsBody+1)); err == nil {
		t.Error("an oversized body decoded")
	}
	huge := AppendRecord(nil, chunkstore.Record{Data: []byte{1}})
	huge[idSize+5], huge[idSize+6], huge[idSize+7], huge[idSize+8] = 0xff, 0xff, 0xff, 0xff
	if _, err := DecodeRecords(huge); err == nil {
		t.Error("a 4 GiB data length decoded")
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Hello
		ok   bool
	}{
		{"1/1", Hello{Protocol: 1, RecordFormat: 1}, true},
		{"12/3", Hello{Protocol: 12, RecordFormat: 3}, true},
		{"", Hello{}, false},
		{"1", Hello{}, false},
		{"1/x", Hello{}, false},
	} {
		got, ok := parseVersion(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseVersion(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

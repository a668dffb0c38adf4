package chunkstore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzRecord feeds arbitrary bytes to the container record decoder: it must
// never panic, never allocate past its bound, and accept only records whose
// content matches their ID.
func FuzzRecord(f *testing.F) {
	cs, err := newCodecs(CompressZstd)
	if err != nil {
		f.Fatal(err)
	}
	for _, plain := range [][]byte{[]byte("x"), textData(1, 5000), randomData(2, 3000)} {
		for _, c := range []Compression{CompressNone, CompressS2, CompressZstd, CompressZstdLater} {
			enc, _ := newCodecs(c)
			cd, payload, _, _ := enc.compress(plain, nil, false)
			f.Add(appendRecord(nil, hashChunk(plain), cd, len(plain), payload))
		}
	}
	f.Add(make([]byte, recordHeaderSize))
	f.Fuzz(func(t *testing.T, rec []byte) {
		h, plain, err := decodeRecord(rec, cs, nil, nil, nil)
		if err != nil {
			// A sealed record without its key: ErrSealed (seal.go).
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSealed) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			return
		}
		if hashChunk(plain) != h.id || len(plain) != int(h.rawLen) {
			t.Fatal("accepted a record whose content does not match")
		}
		// What decodes re-encodes to a record that decodes the same.
		again := appendRecord(nil, h.id, h.codec, int(h.rawLen), rec[recordHeaderSize:])
		if !bytes.Equal(again, rec) {
			t.Fatal("record does not re-encode to itself")
		}
	})
}

// FuzzSegment feeds arbitrary bytes to the manifest segment decoder.
func FuzzSegment(f *testing.F) {
	f.Add(appendSegment(nil, []segEntry{{id: ChunkID{1}, len: 100}, {id: ChunkID{2}, len: 16 << 10}}))
	f.Add(appendSegment(nil, []segEntry{{len: 1}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, total, err := decodeSegment(b, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			return
		}
		var sum int64
		for _, e := range es {
			if e.len == 0 || e.len > maxRecordRaw {
				t.Fatalf("accepted entry of %d bytes", e.len)
			}
			sum += int64(e.len)
		}
		if sum != total || !bytes.Equal(appendSegment(nil, es), b) {
			t.Fatal("segment does not round-trip")
		}
	})
}

// FuzzIndexRows feeds arbitrary bytes to the index's row decoders: they
// refuse or decode to values that survive an encode and decode unchanged.
func FuzzIndexRows(f *testing.F) {
	f.Add(entry{local: true, container: 3, offset: 99, size: 70, rawLen: 20, refs: 2, localRefs: 1,
		remotes: []remoteLoc{{pack: 1, offset: 4096, size: 70}}}.encode())
	f.Add(entry{rawLen: 20, refs: 2, remotes: []remoteLoc{{pack: 7, offset: 0, size: 80}}}.encode())
	v1 := make([]byte, entryV1Size)
	v1[0], v1[20], v1[24] = entryFormat1, 10, 20
	f.Add(v1)
	f.Add(manifestHeader{state: stateCommitted, size: 5, chunks: 1, flags: flagMoving, movedUpTo: 3}.encode())
	f.Add(containerStat{committed: 10, live: 5}.encode())
	f.Add(packRow{Pack: Pack{Tier: "azure", Object: "p/1", KeyGen: 2, Size: 100}, live: 50}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := decodeEntry(b); err == nil {
			e2, err := decodeEntry(e.encode())
			if err != nil || !reflect.DeepEqual(e, e2) {
				t.Fatalf("entry does not round-trip: %+v -> %+v, %v", e, e2, err)
			}
		}
		if h, err := decodeManifestHeader(b); err == nil {
			if h2, err := decodeManifestHeader(h.encode()); err != nil || h2 != h {
				t.Fatalf("manifest header does not round-trip: %+v -> %+v, %v", h, h2, err)
			}
		}
		if p, err := decodePackRow(b); err == nil {
			if p2, err := decodePackRow(p.encode()); err != nil || p2 != p {
				t.Fatalf("pack row does not round-trip: %+v -> %+v, %v", p, p2, err)
			}
		}
		decodeContainerStat(b)
		decodePackLoc(b)
	})
}

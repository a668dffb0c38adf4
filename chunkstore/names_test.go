package chunkstore

import (
	"encoding/hex"
	"testing"
)

// pattern is the BLAKE3 test vectors' input: byte i is i mod 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// TestChunkNamesNeverChange pins how chunks are named: every stored
// record, index key, manifest and replica is addressed by these hashes, so
// a change of BLAKE3 implementation must not change one bit of them. The
// values were computed with github.com/zeebo/blake3 v0.2.4, the library
// the stores written before 2026-12-08 were named with; the lengths cover
// a single block, one BLAKE3 chunk and its edges, and chunk sizes Cairn cuts.
func TestChunkNamesNeverChange(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
		{64, "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98"},
		{1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
		{1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
		{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
		{13389, "5fec4d0ec5e933b2ba127a11eefef09bf67c4338b579052db7e85a0dcc5bd91d"},
		{16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"},
		{70001, "f1e7b8cb1fa606860680898ca37afc30c98146e389e974e4b260adcf7013065f"},
	} {
		if got := hashChunk(pattern(c.n)).String(); got != c.want {
			t.Errorf("chunk ID of %d bytes: %s, want %s", c.n, got, c.want)
		}
	}

	// Sealed stores: the key derivation, the keyed chunk ID and the
	// per-record key.
	k, err := NewSealKey(pattern(40))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.chunkID(pattern(13389)).String(), "bcd53e731fa9e7b60235a83d079c5d20384632fab8a7aa86669e87c4e1972bf0"; got != want {
		t.Errorf("sealed chunk ID: %s, want %s", got, want)
	}
	var id ChunkID
	copy(id[:], pattern(32))
	if got, want := hex.EncodeToString(k.recordConfig(id).Key), "1813ffe649da4f4d7228074d0d7f2d4edc46590e96371eface6dfa6723ea70a7"; got != want {
		t.Errorf("sealed record key: %s, want %s", got, want)
	}
}

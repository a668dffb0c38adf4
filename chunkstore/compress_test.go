package chunkstore

import (
	"bytes"
	"errors"
	"testing"
)

// TestSetCompression changes the codec of a running store: text written
// under each setting is stored as that setting says (none whole, s2 and
// zstd smaller, zstd smallest), everything reads back, and a bad setting
// changes nothing.
func TestSetCompression(t *testing.T) {
	s := openStore(t, testConfig(t))
	const n = 2 << 20
	stored := func() int64 {
		t.Helper()
		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.StoredBytes
	}
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

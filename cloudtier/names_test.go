package cloudtier

import (
	"encoding/hex"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
)

// TestTierNamesNeverChange pins the keyed hashes a tier's objects are
// found by: a catalog object's name and a pack index's chunk MACs. A tier
// written before must still be read after a change of BLAKE3
// implementation. The values were computed with github.com/zeebo/blake3
// v0.2.4, the library tiers written before 2026-12-08 used.
func TestTierNamesNeverChange(t *testing.T) {
	var m MasterKey
	for i := range m {
		m[i] = byte(i)
	}
	k := DeriveKeys(m)
	if got, want := k.catalogName(7), "c/458084789f19741ffa99da170b63df23"; got != want {
		t.Errorf("catalog object 7 is named %s, want %s", got, want)
	}
	var id chunkstore.ChunkID
	for i := range id {
		id[i] = byte(255 - i)
	}
	mac := k.ChunkMAC(id)
	if got, want := hex.EncodeToString(mac[:]), "1b89409c4c000719f24b5f0d4be7cd5cfae269cd1696a13daae673443064d696"; got != want {
		t.Errorf("chunk MAC: %s, want %s", got, want)
	}
}

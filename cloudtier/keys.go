package cloudtier

// Every key a tier uses comes from one master key. HKDF-SHA256 derives a
// key per purpose (data, names, chunk identities, catalog), so that a leak
// of one (say the chunk-identity key, which any reader of an index needs)
// tells nothing of another, and a data key per key generation, so that new
// packs can be sealed under a new key while old ones stay readable. A
// pack's own key is derived again from its generation's data key and its
// random name: no two packs share a key.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/crypto/hkdf"
	"lukechampine.com/blake3"

	"github.com/cairn-backup/cairn/chunkstore"
)

// MasterKey is the secret every tier key derives from. Whoever holds it (or
// the passphrase it is escrowed under) can read the tier; losing it loses
// the tier's data.
type MasterKey [32]byte

// masterKeyHeader starts a master key file; the key follows in hex.
const masterKeyHeader = "cairn tier master key v1\n"

// NewMasterKey makes a random master key.
func NewMasterKey() (MasterKey, error) {
	var k MasterKey
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return k, fmt.Errorf("cloudtier: master key: %w", err)
	}
	return k, nil
}

// ParseMasterKey reads a master key file's contents: the header line and
// 64 hex digits (what an admin who supplies a key writes).
func ParseMasterKey(b []byte) (MasterKey, error) {
	var k MasterKey
	rest, ok := bytes.CutPrefix(b, []byte(masterKeyHeader))
	if !ok {
		return k, errors.New("not a master key file: it must start with the line \"cairn tier master key v1\"")
	}
	rest = bytes.TrimSpace(rest)
	if len(rest) != 2*len(k) {
		return k, fmt.Errorf("the key must be %d hex digits; found %d characters", 2*len(k), len(rest))
	}
	if _, err := hex.Decode(k[:], rest); err != nil {
		return k, fmt.Errorf("the key is not hex: %w", err)
	}
	return k, nil
}

// Encode is the master key file's contents.
func (k MasterKey) Encode() []byte {
	return []byte(masterKeyHeader + hex.EncodeToString(k[:]) + "\n")
}

// ReadMasterKey reads the master key file at path. A file that others may
// read is refused: the key is the tier's only secret.
func ReadMasterKey(path string) (MasterKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("cloudtier: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("cloudtier: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("cloudtier: %s has mode %04o: others may read the master key; chmod 600 it", path, fi.Mode().Perm())
	}
	k, err := ParseMasterKey(b)
	if err != nil {
		return k, fmt.Errorf("cloudtier: %s: %w", path, err)
	}
	return k, nil
}

// Keys are the per-purpose keys of one master key.
type Keys struct {
	master MasterKey
	// names keys the names of objects that are not random (the catalog's).
	names [32]byte
	// chunkIDs keys the MAC that stands for a chunk ID in a pack's index.
	chunkIDs [32]byte
	// catalog seals the catalog's objects.
	catalog [32]byte
}

// DeriveKeys derives a master key's purpose keys.
func DeriveKeys(m MasterKey) Keys {
	return Keys{
		master:   m,
		names:    derive(m[:], nil, "cairn tier names"),
		chunkIDs: derive(m[:], nil, "cairn tier chunk ids"),
		catalog:  derive(m[:], nil, "cairn tier catalog"),
	}
}

func derive(secret, salt []byte, info string) [32]byte {
	var k [32]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, salt, []byte(info)), k[:]); err != nil {
		panic(err) // HKDF-SHA256 gives up to 8160 bytes
	}
	return k
}

// data is key generation gen's data key.
func (k Keys) data(gen uint32) [32]byte {
	return derive(k.master[:], nil, "cairn tier data gen "+strconv.FormatUint(uint64(gen), 10))
}

// packKey is the key of one pack's contents (part "data") or index (part
// "index"): HKDF of its generation's data key salted with its name.
func (k Keys) packKey(gen uint32, object, part string) [32]byte {
	d := k.data(gen)
	return derive(d[:], []byte(object), "cairn tier pack "+part)
}

// ChunkMAC is what a pack's index holds for a chunk ID: a keyed BLAKE3 of
// it, so that the provider, who may know a file's chunk IDs, cannot look
// for them.
func (k Keys) ChunkMAC(id chunkstore.ChunkID) [32]byte {
	h := blake3.New(32, k.chunkIDs[:])
	h.Write(id[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/minio/sio"
	"lukechampine.com/blake3"
)

// ErrSealed: a record is sealed and the caller gave no key (or the wrong
// one) to open it.
var ErrSealed = errors.New("chunk is sealed: a key is needed to read it")

// SealKey is the key material of one sealing domain: the chunks written
// with it are named by a BLAKE3 keyed with a key derived from it (so equal
// plaintext under the same SealKey dedups, and nothing links such a chunk
// to the plaintext chunk of the same bytes or to another key's chunk) and
// their records hold the compressed chunk sealed with sio (DARE 2.0,
// AES-256-GCM) under a key derived from it and the chunk's ID. The store
// never keeps a SealKey: whoever writes or reads passes it (the gateway
// keeps it wrapped, or never has it at rest: SSE-C).
type SealKey struct {
	ids  keyedHash // names chunks
	seal keyedHash // derives each record's key from the chunk's ID
}

// keyedHash is a BLAKE3 keyed hash. Its hashers are pooled: one carries a
// 16 KiB buffer, and a chunk is named every 16 KiB written.
type keyedHash struct {
	key     [32]byte
	hashers sync.Pool // of *blake3.Hasher keyed with key
}

// sum appends the 32-byte keyed hash of data to dst.
func (h *keyedHash) sum(dst, data []byte) []byte {
	x, _ := h.hashers.Get().(*blake3.Hasher)
	if x == nil {
		x = blake3.New(32, h.key[:])
	} else {
		x.Reset()
	}
	x.Write(data)
	dst = x.Sum(dst)
	h.hashers.Put(x)
	return dst
}

// NewSealKey derives a SealKey from secret, which must be at least 32
// bytes of key material (a random data key, a customer's key).
func NewSealKey(secret []byte) (*SealKey, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("chunkstore: seal key material of %d bytes, want at least 32", len(secret))
	}
	k := &SealKey{}
	blake3.DeriveKey(k.ids.key[:], "cairn chunkstore 2026-12 sealed chunk ids", secret)
	blake3.DeriveKey(k.seal.key[:], "cairn chunkstore 2026-12 sealed records", secret)
	return k, nil
}

// chunkID names a chunk in the key's domain.
func (k *SealKey) chunkID(data []byte) ChunkID {
	var id ChunkID
	k.ids.sum(id[:0], data)
	return id
}

// recordConfig is the sio configuration of chunk id's record. Each chunk
// has its own key, so a key encrypts one plaintext only (sealed again only
// when the same chunk is stored again, with a fresh random nonce).
func (k *SealKey) recordConfig(id ChunkID) sio.Config {
	key := k.seal.sum(nil, id[:])
	return sio.Config{MinVersion: sio.Version20, MaxVersion: sio.Version20, Key: key}
}

// sealPayload appends payload sealed for chunk id to dst.
func (k *SealKey) sealPayload(dst []byte, id ChunkID, payload []byte) []byte {
	buf := bytes.NewBuffer(dst)
	if _, err := sio.Encrypt(buf, bytes.NewReader(payload), k.recordConfig(id)); err != nil {
		// sio fails only on a bad configuration or a failing reader or
		// writer; none of them can happen here.
		panic(fmt.Sprintf("chunkstore: sealing a record: %v", err))
	}
	return buf.Bytes()
}

// openPayload decrypts and authenticates a sealed payload of chunk id
// into dst (reused). A wrong key fails authentication: ErrSealed.
func (k *SealKey) openPayload(dst []byte, id ChunkID, sealed []byte) ([]byte, error) {
	out, err := sio.DecryptBuffer(dst[:0], sealed, k.recordConfig(id))
	if err != nil {
		return nil, fmt.Errorf("record %s: cannot open it with this key (%v): %w", id, err, ErrSealed)
	}
	return out, nil
}

// sealedSize is the largest payload a sealed record of rawLen bytes may
// have: the raw chunk sealed (the writer never stores a compressed payload
// larger than the raw one).
func sealedSize(rawLen uint32) uint32 {
	n, _ := sio.EncryptedSize(uint64(rawLen))
	return uint32(n)
}

// hasher is how a writer names chunks: plain BLAKE3, or keyed.
func (k *SealKey) hasher() func([]byte) ChunkID {
	if k == nil {
		return hashChunk
	}
	return k.chunkID
}

package gateway

// Server-side encryption keys. One master key (a file of 32 random bytes,
// mode 0600, made at the first start) wraps every key the server keeps:
// each storage group's SSE-S3 data key (random, made at the group's first
// SSE-S3 write, kept wrapped in the group's own store so that it travels
// with the group's directory) and the KMS key ring's keys (kms.go). Wrapping
// is sio (DARE 2.0, AES-256-GCM) under a key derived from the master key
// with HKDF-SHA256 per purpose. SSE-C keys are never kept: only a salted
// HMAC of each, to tell a wrong key from the right one before reading.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/minio/sio"
	"golang.org/x/crypto/hkdf"

	"github.com/cairn-backup/cairn/chunkstore"
)

// sseMasterKeyHeader starts the master key file; the key follows in hex.
const sseMasterKeyHeader = "cairn sse master key v1\n"

// The master key in use. Once a key has been wrapped or unwrapped under
// the master key, the data directory records the master key's fingerprint
// (sseInUseFile). A start that then finds the key file missing (a volume
// not mounted, a path changed) refuses rather than make a new master key,
// under which every encrypted object and KMS key would be unreadable and
// new ones made under the wrong key; a start with another key file refuses
// too. Before any use a missing key is simply made.
const (
	sseInUseFile   = "sse-master.in-use"
	sseInUseHeader = "cairn sse master key fingerprint v1\n"
)

// sseKeyName is where a group keeps its wrapped SSE-S3 data key, in the
// gateway's sys bucket of the group's store.
var sseKeyName = []byte("sse-s3-key")

// sseKeys is the master key and the keys unwrapped so far.
type sseKeys struct {
	master [32]byte
	path   string
	inUse  string // the in-use record's path
	used   atomic.Bool
	usedMu sync.Mutex // makes the record; apart from mu, which callers hold

	mu     sync.Mutex
	groups map[*group]*sealKey // SSE-S3 data keys, unwrapped
	kms    *keyRing
}

// sealKey is a chunkstore.SealKey with what the gateway needs beside it.
type sealKey struct {
	seal *chunkstore.SealKey
	// domain names the dedup domain: equal domains share chunks (a copy
	// between them shares chunks, any other re-writes the data).
	domain [32]byte
	// etag keys the ETag of SSE-C and SSE-KMS objects, which S3 does not
	// make the MD5 of the plaintext; nil keeps the MD5 (SSE-S3, as S3).
	etag []byte
}

func newSealKey(secret []byte, purpose string, maskETag bool) (*sealKey, error) {
	s, err := chunkstore.NewSealKey(secret)
	if err != nil {
		return nil, err
	}
	k := &sealKey{seal: s, domain: derive(secret, "cairn sse domain "+purpose)}
	if maskETag {
		e := derive(secret, "cairn sse etag")
		k.etag = e[:]
	}
	return k, nil
}

func derive(secret []byte, info string) [32]byte {
	var k [32]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(info)), k[:]); err != nil {
		panic(err) // HKDF-SHA256 gives up to 8160 bytes
	}
	return k
}

// openSSEKeys reads the master key file, making it when absent.
func openSSEKeys(cfg Config) (*sseKeys, error) {
	path := cfg.SSEMasterKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "sse-master.key")
	}
	k := &sseKeys{path: path, inUse: filepath.Join(cfg.DataDir, sseInUseFile), groups: map[*group]*sealKey{}}
	recorded, err := readInUse(k.inUse)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && recorded != "" {
		return nil, fmt.Errorf("gateway: the SSE master key file %s is missing, but encryption keys in %s were made under master key %s: "+
			"put the file back (or point --sse-master-key at it); a new master key would open none of them", path, cfg.DataDir, recorded)
	}
	if errors.Is(err, os.ErrNotExist) {
		if _, err := io.ReadFull(rand.Reader, k.master[:]); err != nil {
			return nil, fmt.Errorf("gateway: SSE master key: %w", err)
		}
		if err := writeKeyFile(path, []byte(sseMasterKeyHeader+hex.EncodeToString(k.master[:])+"\n")); err != nil {
			return nil, fmt.Errorf("gateway: SSE master key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("gateway: SSE master key: %w", err)
	} else {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("gateway: SSE master key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("gateway: SSE master key %s has mode %04o: others may read it; chmod 600 it", path, fi.Mode().Perm())
		}
		rest, ok := bytes.CutPrefix(b, []byte(sseMasterKeyHeader))
		rest = bytes.TrimSpace(rest)
		if !ok || len(rest) != 64 {
			return nil, fmt.Errorf("gateway: SSE master key %s: not a master key file (%q and 64 hex digits)", path, sseMasterKeyHeader)
		}
		if _, err := hex.Decode(k.master[:], rest); err != nil {
			return nil, fmt.Errorf("gateway: SSE master key %s: %w", path, err)
		}
	}
	if recorded != "" {
		if fp := k.fingerprint(); fp != recorded {
			return nil, fmt.Errorf("gateway: SSE master key %s is %s, but encryption keys in %s were made under master key %s: "+
				"point --sse-master-key at that one", path, fp, cfg.DataDir, recorded)
		}
		k.used.Store(true)
	}
	if k.kms, err = openKeyRing(filepath.Join(cfg.DataDir, "kms-keys.json")); err != nil {
		return nil, err
	}
	return k, nil
}

// fingerprint names the master key without giving it away.
func (k *sseKeys) fingerprint() string {
	f := derive(k.master[:], "cairn sse master key fingerprint")
	return hex.EncodeToString(f[:8])
}

// readInUse returns the fingerprint the data directory recorded, "" when
// none is.
func readInUse(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("gateway: %w", err)
	}
	fp, ok := bytes.CutPrefix(b, []byte(sseInUseHeader))
	fp = bytes.TrimSpace(fp)
	if !ok || len(fp) != 16 {
		return "", fmt.Errorf("gateway: %s: not a master key fingerprint (%q and 16 hex digits)", path, sseInUseHeader)
	}
	return string(fp), nil
}

// markUsed records the master key's fingerprint in the data directory,
// once, before anything made under it can be kept.
func (k *sseKeys) markUsed() error {
	if k.used.Load() {
		return nil
	}
	k.usedMu.Lock()
	defer k.usedMu.Unlock()
	if k.used.Load() {
		return nil
	}
	if err := writeFileAtomic(k.inUse, []byte(sseInUseHeader+k.fingerprint()+"\n"), 0o644); err != nil {
		return fmt.Errorf("gateway: recording the SSE master key in use: %w", err)
	}
	k.used.Store(true)
	return nil
}

// wrapKey seals a key under the master key for purpose.
func (k *sseKeys) wrapKey(purpose string, key []byte) ([]byte, error) {
	if err := k.markUsed(); err != nil {
		return nil, err
	}
	w := derive(k.master[:], "cairn sse wrap "+purpose)
	var out bytes.Buffer
	if _, err := sio.Encrypt(&out, bytes.NewReader(key), sio.Config{MinVersion: sio.Version20, Key: w[:]}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// unwrapKey opens what wrapKey sealed; another master key fails here.
func (k *sseKeys) unwrapKey(purpose string, wrapped []byte) ([]byte, error) {
	w := derive(k.master[:], "cairn sse wrap "+purpose)
	key, err := sio.DecryptBuffer(nil, wrapped, sio.Config{MinVersion: sio.Version20, Key: w[:]})
	if err != nil {
		return nil, fmt.Errorf("gateway: unwrapping the %s key: is this the master key it was made under (%s)? %w", purpose, k.path, err)
	}
	// A data directory from before the record opens its keys: from now
	// on a missing master key is refused there too.
	if err := k.markUsed(); err != nil {
		return nil, err
	}
	return key, nil
}

// groupKey is the group's SSE-S3 key, made (and recorded in the group's
// store) at its first use.
func (k *sseKeys) groupKey(gr *group) (*sealKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sk, ok := k.groups[gr]; ok {
		return sk, nil
	}
	var secret []byte
	err := gr.store.Update(func(tx *chunkstore.Tx) error {
		sys, err := tx.Bucket().CreateBucketIfNotExists(bktSys)
		if err != nil {
			return err
		}
		if wrapped := sys.Get(sseKeyName); wrapped != nil {
			secret, err = k.unwrapKey("group", wrapped)
			return err
		}
		secret = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, secret); err != nil {
			return err
		}
		wrapped, err := k.wrapKey("group", secret)
		if err != nil {
			return err
		}
		return sys.Put(sseKeyName, wrapped)
	})
	if err != nil {
		return nil, fmt.Errorf("storage group %q: SSE-S3 key: %w", gr.name, err)
	}
	sk, err := newSealKey(secret, "s3", false)
	if err != nil {
		return nil, err
	}
	k.groups[gr] = sk
	return sk, nil
}

// catalogKey is the group's SSE-S3 data key, read in tx, for a tier's
// catalog (bucketMeta.SSEKey); nil while the group has none.
func (k *sseKeys) catalogKey(tx *chunkstore.Tx) ([]byte, error) {
	sys := tx.Bucket().Bucket(bktSys)
	if sys == nil {
		return nil, nil
	}
	wrapped := sys.Get(sseKeyName)
	if wrapped == nil {
		return nil, nil
	}
	return k.unwrapKey("group", wrapped)
}

// adoptGroupKey makes secret, a group's SSE-S3 key from a tier's catalog,
// the key of gr, which a recovery fills: its SSE-S3 versions open again.
// A group with another key of its own keeps it (recovered buckets of two
// old groups into one): the note says which versions will not open.
func (k *sseKeys) adoptGroupKey(gr *group, secret []byte) (note string) {
	if len(secret) == 0 {
		return ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	err := gr.store.Update(func(tx *chunkstore.Tx) error {
		sys, err := tx.Bucket().CreateBucketIfNotExists(bktSys)
		if err != nil {
			return err
		}
		if wrapped := sys.Get(sseKeyName); wrapped != nil {
			own, err := k.unwrapKey("group", wrapped)
			if err != nil {
				return err
			}
			if !bytes.Equal(own, secret) {
				return errors.New("its SSE-S3 versions were sealed under another storage group's key than the one this group already has: they will not open")
			}
			return nil
		}
		wrapped, err := k.wrapKey("group", secret)
		if err != nil {
			return err
		}
		return sys.Put(sseKeyName, wrapped)
	})
	if err != nil {
		return err.Error()
	}
	delete(k.groups, gr) // read again at the next use
	return ""
}

package gateway

// The KMS key ring: named keys for SSE-KMS, each 32 random bytes wrapped
// under the master key, in DATA/kms-keys.json. Keys are added (cairn admin
// kms key add NAME) and listed, never removed: an object sealed under a key
// can only be read with it. A real KMS can take the ring's place later:
// what an object records is the key's name.

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/s3api"
)

// defaultKMSKey is the key of aws:kms requests that name none (S3's
// aws/s3 managed key): made at its first use.
const defaultKMSKey = "default"

// KMSKey describes a key of the ring.
type KMSKey struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

type kmsKeyRecord struct {
	KMSKey
	Wrapped []byte `json:"wrapped"`
}

type keyRing struct {
	path string
	mu   sync.Mutex
	keys map[string]kmsKeyRecord
	open map[string]*sealKey
}

func openKeyRing(path string) (*keyRing, error) {
	r := &keyRing{path: path, keys: map[string]kmsKeyRecord{}, open: map[string]*sealKey{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: KMS key ring: %w", err)
	}
	var recs []kmsKeyRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("gateway: KMS key ring %s: %w", path, err)
	}
	for _, rec := range recs {
		r.keys[rec.Name] = rec
	}
	return r, nil
}

// saveLocked writes the ring whole; r.mu is held.
func (r *keyRing) saveLocked() error {
	recs := make([]kmsKeyRecord, 0, len(r.keys))
	for _, name := range slices.Sorted(maps.Keys(r.keys)) {
		recs = append(recs, r.keys[name])
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(r.path, b, 0o600)
}

// AddKMSKey adds a key named name to the ring; an existing name is an
// error (a key is never replaced: objects sealed under it need it).
func (g *Gateway) AddKMSKey(name string) (KMSKey, error) {
	if s3api.KMSKeyName(name) != name {
		return KMSKey{}, fmt.Errorf("bad KMS key name %q: letters, digits and punctuation but '/', ':' and spaces, at most 256", name)
	}
	return g.sse.addKMSKey(name, false)
}

func (k *sseKeys) addKMSKey(name string, existingOK bool) (KMSKey, error) {
	r := k.kms
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.keys[name]; ok {
		if existingOK {
			return rec.KMSKey, nil
		}
		return KMSKey{}, fmt.Errorf("KMS key %q exists already", name)
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, secret); err != nil {
		return KMSKey{}, err
	}
	wrapped, err := k.wrapKey("kms "+name, secret)
	if err != nil {
		return KMSKey{}, err
	}
	rec := kmsKeyRecord{KMSKey: KMSKey{Name: name, Created: time.Now().UTC()}, Wrapped: wrapped}
	r.keys[name] = rec
	if err := r.saveLocked(); err != nil {
		delete(r.keys, name)
		return KMSKey{}, fmt.Errorf("gateway: KMS key ring: %w", err)
	}
	return rec.KMSKey, nil
}

// KMSKeys lists the ring's keys by name.
func (g *Gateway) KMSKeys() []KMSKey {
	r := g.sse.kms
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]KMSKey, 0, len(r.keys))
	for _, rec := range r.keys {
		out = append(out, rec.KMSKey)
	}
	slices.SortFunc(out, func(a, b KMSKey) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// kmsKey unwraps key name; an unknown name is KMS.NotFoundException. The
// default key is made at its first use.
func (k *sseKeys) kmsKey(name string) (*sealKey, error) {
	if name == defaultKMSKey {
		if _, err := k.addKMSKey(name, true); err != nil {
			return nil, err
		}
	}
	r := k.kms
	r.mu.Lock()
	defer r.mu.Unlock()
	if sk, ok := r.open[name]; ok {
		return sk, nil
	}
	rec, ok := r.keys[name]
	if !ok {
		return nil, s3api.ErrKMSNotFound.WithMessagef("Key '%s' does not exist in Cairn's key ring (cairn admin kms key add %s).", name, name)
	}
	secret, err := k.unwrapKey("kms "+name, rec.Wrapped)
	if err != nil {
		return nil, err
	}
	sk, err := newSealKey(secret, "kms", true)
	if err != nil {
		return nil, err
	}
	r.open[name] = sk
	return sk, nil
}

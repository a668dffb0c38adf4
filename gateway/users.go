package gateway

// Users: the identities besides the root key. Each user has a name, a
// canonical ID (64 hex digits, S3's shape: the Owner of its buckets), a
// policy (a built-in name, or an identity-policy document: package
// access), a disabled flag, and one or more access keys (several, for
// rotation). They live in meta.db, since they span storage groups:
//
//	users/<name>   userRecord (JSON)
//
// A key's secret is needed in the clear to verify SigV4 signatures, so it
// is kept sealed (minio/sio, DARE 2.0, AES-256-GCM) under the data
// directory's users.key (32 random bytes, mode 0600, made at the first
// start): meta.db alone, a copy of it or a backup, gives no secret away.
// All users are held in memory (identities), secrets unsealed, so the
// lookup every request makes (Secret, Authorize) takes a read lock and a
// map access.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/sio"
	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/gateway/access"
	"github.com/cairn-backup/cairn/s3api"
)

var bktUsers = []byte("users")

const usersKeyFile = "users.key"

// maxUserKeys bounds the keys of one user: rotation needs two.
const maxUserKeys = 10

type userRecord struct {
	Name        string `json:"name"`
	CanonicalID string `json:"canonical_id"`
	// Policy is a built-in policy's name or an identity-policy document.
	Policy   string      `json:"policy"`
	Disabled bool        `json:"disabled,omitempty"`
	Keys     []keyRecord `json:"keys"`
	Created  time.Time   `json:"created"`
}

type keyRecord struct {
	AccessKey string    `json:"access_key"`
	Sealed    []byte    `json:"sealed_secret"` // sio-sealed under users.key
	Created   time.Time `json:"created"`
}

// UserInfo describes a user for the admin API (no secret).
type UserInfo struct {
	Name        string    `json:"name"`
	CanonicalID string    `json:"canonical_id"`
	Policy      string    `json:"policy"`
	Disabled    bool      `json:"disabled"`
	AccessKeys  []string  `json:"access_keys"`
	Created     time.Time `json:"created"`
}

// UserKey is a new access key and its secret, answered once.
type UserKey struct {
	User      string `json:"user"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// identity is a user as requests see it.
type identity struct {
	name        string
	canonicalID string
	policy      *access.Policy
	noOverwrite bool
	disabled    bool
}

type keyEntry struct {
	secret string
	id     *identity
}

// identities is the in-memory view of the users, rebuilt from meta.db on
// each change (changes are rare; lookups are on every request).
type identities struct {
	mu struct {
		sync.RWMutex
		byKey  map[string]keyEntry
		byName map[string]*identity
		byID   map[string]*identity // by canonical ID
	}
	// root is the root key (SetRoot), which is not a user.
	rootMu     sync.RWMutex
	rootKey    string
	rootSecret string
	// sealKey unseals the secrets in meta.db.
	sealKey []byte
	// admin makes changes one at a time.
	admin sync.Mutex
}

// SetRoot names the root access key and its secret: the key that owns
// every bucket made before users existed, may do everything but what a
// bucket policy explicitly denies, and alone may call the admin API.
func (g *Gateway) SetRoot(accessKey, secret string) {
	g.ids.rootMu.Lock()
	defer g.ids.rootMu.Unlock()
	g.ids.rootKey, g.ids.rootSecret = accessKey, secret
}

func (g *Gateway) rootKey() string {
	g.ids.rootMu.RLock()
	defer g.ids.rootMu.RUnlock()
	return g.ids.rootKey
}

// Secret is s3api.Config.Secret: the secret of the root key or of an
// enabled user's key. A disabled user's or a removed key is unknown, so
// its requests fail with InvalidAccessKeyId, as S3 answers an inactive key.
func (g *Gateway) Secret(accessKey string) (string, bool) {
	g.ids.rootMu.RLock()
	if accessKey == g.ids.rootKey && g.ids.rootKey != "" {
		s := g.ids.rootSecret
		g.ids.rootMu.RUnlock()
		return s, true
	}
	g.ids.rootMu.RUnlock()
	g.ids.mu.RLock()
	defer g.ids.mu.RUnlock()
	e, ok := g.ids.mu.byKey[accessKey]
	if !ok || e.id.disabled {
		return "", false
	}
	return e.secret, true
}

// caller is the identity of a request's access key: nil for root, for an
// anonymous request, and for a key that is not a user's.
func (g *Gateway) caller(ctx context.Context) *identity {
	key, ok := s3api.AccessKey(ctx)
	if !ok {
		return nil
	}
	g.ids.mu.RLock()
	defer g.ids.mu.RUnlock()
	if e, ok := g.ids.mu.byKey[key]; ok {
		return e.id
	}
	return nil
}

// ownerOf is the Owner recorded for what a request creates: the user's
// canonical ID, "" for root (and for requests with no user).
func (g *Gateway) ownerOf(ctx context.Context) string {
	if id := g.caller(ctx); id != nil {
		return id.canonicalID
	}
	return ""
}

// loadSealKey reads DATA/users.key, making it at the first start.
func loadSealKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, usersKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, 32)
		rand.Read(b)
		if err := writeKeyFile(path, b); err != nil {
			return nil, fmt.Errorf("gateway: make %s: %w", path, err)
		}
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("gateway: %s holds %d bytes, want 32", path, len(b))
	}
	return b, nil
}

// writeKeyFile writes a new key file durably, mode 0600, never replacing
// one: two starts cannot make two keys. It is written whole under another
// name and then linked into place (which, like O_EXCL, fails when the
// name exists), so a crash never leaves a part of a key that would stop
// every later start.
func writeKeyFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(b) // CreateTemp made it 0600
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func sioCfg(key []byte) sio.Config {
	return sio.Config{MinVersion: sio.Version20, MaxVersion: sio.Version20, Key: key}
}

func (g *Gateway) seal(secret string) ([]byte, error) {
	var out bytes.Buffer
	if _, err := sio.Encrypt(&out, strings.NewReader(secret), sioCfg(g.ids.sealKey)); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (g *Gateway) unseal(sealed []byte) (string, error) {
	b, err := sio.DecryptBuffer(nil, sealed, sioCfg(g.ids.sealKey))
	if err != nil {
		return "", fmt.Errorf("unseal a user's secret (is %s the one meta.db was made with?): %w", usersKeyFile, err)
	}
	return string(b), nil
}

// loadUsers reads the seal key and every user into memory.
func (g *Gateway) loadUsers() error {
	k, err := loadSealKey(g.cfg.DataDir)
	if err != nil {
		return err
	}
	g.ids.sealKey = k
	return g.reloadUsers()
}

func (g *Gateway) reloadUsers() error {
	byKey := make(map[string]keyEntry)
	byName := make(map[string]*identity)
	byID := make(map[string]*identity)
	err := g.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUsers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var u userRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("user record: %w", err)
			}
			pol, err := userPolicy(u.Policy)
			if err != nil {
				return fmt.Errorf("user %s: %w", u.Name, err)
			}
			id := &identity{name: u.Name, canonicalID: u.CanonicalID, policy: pol, noOverwrite: access.NoOverwrite(u.Policy), disabled: u.Disabled}
			byName[u.Name], byID[u.CanonicalID] = id, id
			for _, kr := range u.Keys {
				s, err := g.unseal(kr.Sealed)
				if err != nil {
					return err
				}
				byKey[kr.AccessKey] = keyEntry{secret: s, id: id}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("gateway: meta.db: %w", err)
	}
	g.ids.mu.Lock()
	g.ids.mu.byKey, g.ids.mu.byName, g.ids.mu.byID = byKey, byName, byID
	g.ids.mu.Unlock()
	return nil
}

// userPolicy parses a user's policy: a built-in name or a document.
func userPolicy(p string) (*access.Policy, error) {
	if pol, ok := access.Builtin(p); ok {
		return pol, nil
	}
	if !strings.HasPrefix(strings.TrimSpace(p), "{") {
		return nil, &AdminError{Status: http.StatusBadRequest, Code: "InvalidArgument",
			Message: fmt.Sprintf("policy %q is neither a built-in policy (%s) nor a JSON policy document", p, strings.Join(access.BuiltinNames(), ", "))}
	}
	pol, err := access.Parse([]byte(p), access.Options{Kind: access.UserPolicy})
	if err != nil {
		var ae *access.Error
		if errors.As(err, &ae) {
			return nil, &AdminError{Status: http.StatusBadRequest, Code: "MalformedPolicy", Message: ae.Message}
		}
		return nil, err
	}
	return pol, nil
}

func (g *Gateway) userNamed(name string) *identity {
	g.ids.mu.RLock()
	defer g.ids.mu.RUnlock()
	return g.ids.mu.byName[name]
}

// knownUser says whether a user of that name exists (bucket policies may
// name only those).
func (g *Gateway) knownUser(name string) bool { return g.userNamed(name) != nil }

func noSuchUser(name string) error {
	return &AdminError{Status: http.StatusNotFound, Code: "NoSuchEntity", Message: "no user is named " + name + " (cairn admin user ls lists them)"}
}

// updateUser runs fn on the named user's record in one meta.db
// transaction, then reloads the in-memory view. create makes the record
// (fn sees a zero one) and fails when it exists.
func (g *Gateway) updateUser(name string, create bool, fn func(u *userRecord) error) error {
	g.ids.admin.Lock()
	defer g.ids.admin.Unlock()
	err := g.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktUsers)
		if err != nil {
			return err
		}
		var u userRecord
		v := b.Get([]byte(name))
		switch {
		case v == nil && !create:
			return noSuchUser(name)
		case v != nil && create:
			return &AdminError{Status: http.StatusConflict, Code: "EntityAlreadyExists", Message: "a user named " + name + " exists already"}
		case v != nil:
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
		}
		if err := fn(&u); err != nil {
			return err
		}
		if u.Name == "" { // fn removed it
			return b.Delete([]byte(name))
		}
		enc, err := json.Marshal(u)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), enc)
	})
	if err != nil {
		return err
	}
	return g.reloadUsers()
}

const (
	keyAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // 32: no modulo bias
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// newKey makes a key for u, sealed.
func (g *Gateway) newKey(u *userRecord) (UserKey, error) {
	if len(u.Keys) >= maxUserKeys {
		return UserKey{}, &AdminError{Status: http.StatusConflict, Code: "LimitExceeded", Message: fmt.Sprintf("user %s has %d keys already, the most it may have", u.Name, maxUserKeys)}
	}
	k := UserKey{User: u.Name, AccessKey: "CU" + randomString(18, keyAlphabet), SecretKey: randomString(40, secretAlphabet)}
	sealed, err := g.seal(k.SecretKey)
	if err != nil {
		return UserKey{}, err
	}
	u.Keys = append(u.Keys, keyRecord{AccessKey: k.AccessKey, Sealed: sealed, Created: time.Now().UTC()})
	return k, nil
}

// AddUser makes a user with policy (a built-in name or a document) and
// its first key, answered once.
func (g *Gateway) AddUser(ctx context.Context, name, policy string) (UserKey, error) {
	if !access.ValidUserName(name) {
		return UserKey{}, &AdminError{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: fmt.Sprintf("user name %q: want 1 to 64 letters, digits and +=,.@_-", name)}
	}
	if policy == "" {
		policy = "readwrite"
	}
	if _, err := userPolicy(policy); err != nil {
		return UserKey{}, err
	}
	var key UserKey
	err := g.updateUser(name, true, func(u *userRecord) error {
		var id [32]byte
		rand.Read(id[:])
		*u = userRecord{Name: name, CanonicalID: hex.EncodeToString(id[:]), Policy: policy, Created: time.Now().UTC()}
		var err error
		key, err = g.newKey(u)
		return err
	})
	if err == nil {
		g.log.Info("user added", "user", name)
	}
	return key, err
}

// Users lists the users in name order.
func (g *Gateway) Users(ctx context.Context) ([]UserInfo, error) {
	out := []UserInfo{}
	err := g.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUsers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var u userRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			info := UserInfo{Name: u.Name, CanonicalID: u.CanonicalID, Policy: u.Policy, Disabled: u.Disabled, Created: u.Created, AccessKeys: []string{}}
			for _, k := range u.Keys {
				info.AccessKeys = append(info.AccessKeys, k.AccessKey)
			}
			out = append(out, info)
			return nil
		})
	})
	return out, err
}

// RemoveUser removes a user and its keys. Its buckets stay, owned by no
// one but root (who may do everything), until root gives them away with a
// bucket policy or deletes them.
func (g *Gateway) RemoveUser(ctx context.Context, name string) error {
	err := g.updateUser(name, false, func(u *userRecord) error {
		*u = userRecord{}
		return nil
	})
	if err == nil {
		g.log.Info("user removed", "user", name)
	}
	return err
}

// SetUserDisabled disables (its keys stop working at once) or enables a user.
func (g *Gateway) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	return g.updateUser(name, false, func(u *userRecord) error {
		u.Disabled = disabled
		return nil
	})
}

// SetUserPolicy replaces a user's policy.
func (g *Gateway) SetUserPolicy(ctx context.Context, name, policy string) error {
	if _, err := userPolicy(policy); err != nil {
		return err
	}
	return g.updateUser(name, false, func(u *userRecord) error {
		u.Policy = policy
		return nil
	})
}

// AddUserKey gives a user one more key, answered once.
func (g *Gateway) AddUserKey(ctx context.Context, name string) (UserKey, error) {
	var key UserKey
	err := g.updateUser(name, false, func(u *userRecord) error {
		var err error
		key, err = g.newKey(u)
		return err
	})
	return key, err
}

// RemoveUserKey removes one of a user's keys; its requests fail from now on.
func (g *Gateway) RemoveUserKey(ctx context.Context, name, accessKey string) error {
	return g.updateUser(name, false, func(u *userRecord) error {
		i := slices.IndexFunc(u.Keys, func(k keyRecord) bool { return k.AccessKey == accessKey })
		if i < 0 {
			return &AdminError{Status: http.StatusNotFound, Code: "NoSuchEntity", Message: "user " + name + " has no access key " + accessKey}
		}
		u.Keys = slices.Delete(u.Keys, i, i+1)
		return nil
	})
}

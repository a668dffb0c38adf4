package gateway

// Tiers are the cloud targets that lifecycle transitions and cloud policies
// send data to. What an admin adds (kind, endpoint, container or bucket,
// prefix, and the cloud credentials) is kept in DATA/tiers.json, mode 0600,
// rewritten whole and atomically; the master key every tier's packs are
// sealed under is DATA/tier.key (0600), made when the first tier is added.
// A tier's name is the storage class rules name and S3 shows.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/s3api"
)

const (
	tiersFile     = "tiers.json"
	masterKeyFile = "tier.key"
)

// Tier kinds.
const (
	TierAzure = "azure"
	TierS3    = "s3"
)

// TierConfig is a tier as an admin adds it.
type TierConfig struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // TierAzure or TierS3
	// Azure: the account's blob endpoint and a container that exists.
	AccountURL string `json:"account_url,omitempty"`
	Container  string `json:"container,omitempty"`
	// S3: the service's endpoint (empty: AWS), a bucket that exists, and
	// its region.
	Endpoint string `json:"endpoint,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	Region   string `json:"region,omitempty"`
	// Prefix is put before every object name, so that several Cairns (or
	// tiers) can share a container or bucket.
	Prefix      string          `json:"prefix,omitempty"`
	Credentials TierCredentials `json:"credentials"`
	// KeyGen is the key generation new packs are sealed with (0 reads as
	// 1); RotateTierKey moves it on. Old packs keep theirs.
	KeyGen uint32 `json:"key_gen,omitempty"`
}

// TierCredentials are a tier's cloud credentials: an Azure shared key
// (account name and key) or SAS token, or an S3 access key pair.
type TierCredentials struct {
	AccountName string `json:"account_name,omitempty"`
	AccountKey  string `json:"account_key,omitempty"`
	SAS         string `json:"sas,omitempty"`
	AccessKey   string `json:"access_key,omitempty"`
	SecretKey   string `json:"secret_key,omitempty"`
}

var tierName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// awsClasses are refused as tier names: a rule naming GLACIER would read as
// AWS's class, and STANDARD is what S3 shows for local data.
var awsClasses = []string{"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
	"GLACIER", "GLACIER_IR", "DEEP_ARCHIVE", "OUTPOSTS", "EXPRESS_ONEZONE", "SNOW"}

// validate checks what can be checked without the cloud.
func (c *TierConfig) validate() error {
	bad := func(format string, args ...any) error {
		return s3api.ErrInvalidArgument.WithMessagef("tier %s: "+format, append([]any{c.Name}, args...)...)
	}
	switch {
	case !tierName.MatchString(c.Name):
		return s3api.ErrInvalidArgument.WithMessagef("tier name %q: use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit", c.Name)
	case slices.Contains(awsClasses, strings.ToUpper(c.Name)):
		return bad("%s is an AWS storage class name; name the tier for what it is, such as azure-cold", c.Name)
	}
	cr := c.Credentials
	switch c.Kind {
	case TierAzure:
		switch {
		case c.AccountURL == "" || c.Container == "":
			return bad("an azure tier needs --account-url and --container")
		case c.Endpoint != "" || c.Bucket != "" || c.Region != "":
			return bad("--endpoint, --bucket and --region are for s3 tiers; an azure tier takes --account-url and --container")
		case cr.AccessKey != "" || cr.SecretKey != "":
			return bad("the credentials file holds access_key/secret_key (s3); an azure tier needs account_name and account_key, or sas")
		case (cr.AccountKey != "") == (cr.SAS != ""):
			return bad("the credentials file must hold either account_name and account_key (shared key) or sas (a SAS token)")
		case cr.AccountKey != "" && cr.AccountName == "":
			return bad("the credentials file has account_key but no account_name")
		}
	case TierS3:
		switch {
		case c.Bucket == "":
			return bad("an s3 tier needs --bucket")
		case c.AccountURL != "" || c.Container != "":
			return bad("--account-url and --container are for azure tiers; an s3 tier takes --endpoint, --bucket and --region")
		case cr.AccountKey != "" || cr.SAS != "" || cr.AccountName != "":
			return bad("the credentials file holds azure credentials; an s3 tier needs access_key and secret_key")
		case cr.AccessKey == "" || cr.SecretKey == "":
			return bad("the credentials file must hold access_key and secret_key")
		}
	case "":
		return bad("--kind is required: azure or s3")
	default:
		return bad("kind %q: want azure or s3", c.Kind)
	}
	return nil
}

// target connects to the tier's cloud store.
func (c *TierConfig) target() (cloudtier.Target, error) {
	switch c.Kind {
	case TierAzure:
		return cloudtier.NewAzure(cloudtier.AzureConfig{AccountURL: c.AccountURL, Container: c.Container, Prefix: c.Prefix,
			AccountName: c.Credentials.AccountName, AccountKey: c.Credentials.AccountKey, SAS: c.Credentials.SAS})
	case TierS3:
		region := c.Region
		if region == "" {
			region = "us-east-1"
		}
		return cloudtier.NewS3(cloudtier.S3Config{Endpoint: c.Endpoint, Region: region, Bucket: c.Bucket, Prefix: c.Prefix,
			AccessKey: c.Credentials.AccessKey, SecretKey: c.Credentials.SecretKey, PathStyle: c.Endpoint != ""})
	}
	return nil, fmt.Errorf("tier %s: kind %q", c.Name, c.Kind)
}

// tiers is the gateway's set of tiers. The registry is every group's
// chunkstore.Remote, so it exists before the groups open, tiers or not.
type tiers struct {
	mu      sync.Mutex // serializes changes (and the file) with each other
	dir     string
	configs map[string]TierConfig
	master  *cloudtier.MasterKey // nil until a tier exists
	reg     *cloudtier.Registry
	movers  map[string]*mover
}

// loadTiers reads DATA/tiers.json and connects every tier it names. A tier
// whose target cannot be built stops the start: its data would be
// unreadable.
func loadTiers(dataDir string) (*tiers, error) {
	t := &tiers{dir: dataDir, configs: map[string]TierConfig{}, reg: cloudtier.NewRegistry(), movers: map[string]*mover{}}
	b, err := os.ReadFile(filepath.Join(dataDir, tiersFile))
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: tiers: %w", err)
	}
	var list []TierConfig
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", filepath.Join(dataDir, tiersFile), err)
	}
	if len(list) == 0 {
		return t, nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, masterKeyFile)); errors.Is(err, os.ErrNotExist) {
		// A new key would open none of the tiers' data, and new packs
		// sealed under it would split the tier in two.
		return nil, fmt.Errorf("gateway: %s lists tiers but the master key %s is missing: put back your copy of it (or rebuild with cairn recover and the escrow passphrase)",
			filepath.Join(dataDir, tiersFile), filepath.Join(dataDir, masterKeyFile))
	}
	if err := t.loadMaster(); err != nil {
		return nil, err
	}
	for _, c := range list {
		tg, err := c.target()
		if err != nil {
			return nil, fmt.Errorf("gateway: tier %s: %w", c.Name, err)
		}
		t.configs[c.Name] = c
		t.reg.Set(t.tier(c, tg))
	}
	return t, nil
}

// loadMaster reads DATA/tier.key, or makes it (mode 0600, written whole or
// not at all) when it does not exist.
func (t *tiers) loadMaster() error {
	if t.master != nil {
		return nil
	}
	path := filepath.Join(t.dir, masterKeyFile)
	mk, err := cloudtier.ReadMasterKey(path)
	if errors.Is(err, os.ErrNotExist) {
		if mk, err = cloudtier.NewMasterKey(); err == nil {
			err = writeFileAtomic(path, mk.Encode(), 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("gateway: tier master key: %w", err)
	}
	t.master = &mk
	return nil
}

func (t *tiers) tier(c TierConfig, tg cloudtier.Target) *cloudtier.Tier {
	return &cloudtier.Tier{Name: c.Name, Target: tg, Keys: cloudtier.DeriveKeys(*t.master), KeyGen: max(c.KeyGen, 1)}
}

func (t *tiers) has(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.configs[name]
	return ok
}

// save rewrites DATA/tiers.json: a temporary file, fsync, rename, fsync of
// the directory, so that a crash leaves the old list or the new one.
func (t *tiers) save() error {
	list := slices.SortedFunc(maps.Values(t.configs), func(a, b TierConfig) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(t.dir, tiersFile), append(b, '\n'), 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// AddTier probes a tier (write, read back, delete a test object) and, if
// it works, adds it. Nothing is stored when the probe fails.
func (g *Gateway) AddTier(ctx context.Context, c TierConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	t := g.tiers
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.configs[c.Name]; ok {
		return s3api.ErrInvalidArgument.WithMessagef("tier %s exists already; remove it first (cairn admin tier rm %s)", c.Name, c.Name)
	}
	tg, err := c.target()
	if err != nil {
		return s3api.ErrInvalidArgument.WithMessagef("tier %s: %v", c.Name, err)
	}
	for _, other := range t.reg.Names() {
		// Two tiers in one place would take each other's packs for
		// orphans and write over each other's catalog.
		if o, ok := t.reg.Get(other); ok && o.Target.String() == tg.String() {
			return s3api.ErrInvalidArgument.WithMessagef("tier %s would share %s with tier %s: give it another container, bucket or --prefix", c.Name, tg, other)
		}
	}
	if err := cloudtier.Probe(ctx, tg); err != nil {
		return s3api.ErrInvalidArgument.WithMessagef("tier %s: the probe failed: %v", c.Name, err)
	}
	if err := t.loadMaster(); err != nil {
		return err
	}
	c.KeyGen = 1
	t.configs[c.Name] = c
	if err := t.save(); err != nil {
		delete(t.configs, c.Name)
		return err
	}
	t.reg.Set(t.tier(c, tg))
	g.log.Info("tier added", "tier", c.Name, "target", tg.String())
	return nil
}

// RemoveTier removes a tier that nothing uses: no lifecycle rule or cloud
// policy names it and no pack of any group is in it.
func (g *Gateway) RemoveTier(ctx context.Context, name string) error {
	t := g.tiers
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.configs[name]; !ok {
		return s3api.ErrInvalidArgument.WithMessagef("no tier is named %q (cairn admin tier ls lists them)", name)
	}
	users, err := g.rulesNaming(name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return s3api.ErrInvalidArgument.WithMessagef("tier %s is named by the rules of bucket %s: change those first", name, strings.Join(users, ", "))
	}
	// The mover stops first, so that no pack is recorded after the count.
	if m := t.movers[name]; m != nil {
		m.close()
		delete(t.movers, name)
	}
	for _, gr := range g.groupList() {
		var packs int
		err := gr.store.Packs(ctx, func(p chunkstore.PackInfo) error {
			if p.Tier == name {
				packs++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if packs > 0 {
			g.moverLocked(name) // the tier stays: so does its mover
			return s3api.ErrInvalidArgument.WithMessagef("tier %s holds %d packs of group %s: data there would be lost", name, packs, gr.name)
		}
	}
	old := t.configs[name]
	delete(t.configs, name)
	if err := t.save(); err != nil {
		t.configs[name] = old
		return err
	}
	t.reg.Remove(name)
	g.log.Info("tier removed", "tier", name)
	return nil
}

// rulesNaming lists the buckets whose lifecycle rules or cloud policy name
// the tier.
func (g *Gateway) rulesNaming(tier string) ([]string, error) {
	g.mu.RLock()
	names := slices.Sorted(maps.Keys(g.buckets))
	g.mu.RUnlock()
	var out []string
	for _, name := range names {
		err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
			lc, cp, err := g.rules(k)
			if err != nil {
				return err
			}
			if (lc != nil && slices.Contains(lc.Tiers(), tier)) || (cp != nil && cp.Tier == tier) {
				out = append(out, name)
			}
			return nil
		})
		if err != nil && !errors.Is(err, s3api.ErrNoSuchBucket) {
			return nil, err
		}
	}
	return out, nil
}

// TierStatus is one tier as `cairn admin tier ls` shows it.
type TierStatus struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Packs and PackBytes (plaintext) are what the groups record in the
	// tier; LiveBytes what of it live chunks use.
	Packs     int64 `json:"packs"`
	PackBytes int64 `json:"pack_bytes"`
	LiveBytes int64 `json:"live_bytes"`
	// Forgets are deletions of tiered versions not yet in the catalog.
	Forgets int `json:"forgets"`
	MoverStats
}

// Tiers describes every tier.
func (g *Gateway) Tiers(ctx context.Context) ([]TierStatus, error) {
	t := g.tiers
	t.mu.Lock()
	var out []TierStatus
	for _, name := range slices.Sorted(maps.Keys(t.configs)) {
		c := t.configs[name]
		st := TierStatus{Name: name, Kind: c.Kind}
		if tr, ok := t.reg.Get(name); ok {
			st.Target = tr.Target.String()
		}
		if m := t.movers[name]; m != nil {
			st.MoverStats = m.stats()
		}
		out = append(out, st)
	}
	t.mu.Unlock()
	for i := range out {
		for _, gr := range g.groupList() {
			err := gr.store.Packs(ctx, func(p chunkstore.PackInfo) error {
				if p.Tier == out[i].Name {
					out[i].Packs++
					out[i].PackBytes += p.Size
					out[i].LiveBytes += p.LiveBytes
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			fr, _, err := pendingForgets(gr, out[i].Name)
			if err != nil {
				return nil, err
			}
			out[i].Forgets += len(fr)
		}
	}
	return out, nil
}

// maxPassphrase bounds an escrow passphrase.
const maxPassphrase = 1024

// EscrowTier stores the master key in the tier, wrapped under passphrase
// (argon2id), replacing the escrow there: with it, the tier and the
// passphrase alone recover the tier's data (cairn recover).
func (g *Gateway) EscrowTier(ctx context.Context, name string, passphrase []byte) error {
	t := g.tiers
	t.mu.Lock()
	defer t.mu.Unlock()
	tr, ok := t.reg.Get(name)
	if !ok {
		return s3api.ErrInvalidArgument.WithMessagef("no tier is named %q (cairn admin tier ls lists them)", name)
	}
	if len(passphrase) > maxPassphrase {
		return s3api.ErrInvalidArgument.WithMessagef("a passphrase of %d bytes: keep it under %d", len(passphrase), maxPassphrase)
	}
	if err := cloudtier.Escrow(ctx, tr.Target, *t.master, passphrase); err != nil {
		if errors.Is(err, cloudtier.ErrShortPassphrase) {
			return s3api.ErrInvalidArgument.WithMessage(err.Error())
		}
		return err
	}
	g.log.Info("tier master key escrowed", "tier", name)
	return nil
}

// LoadTier connects, offline, to a tier configured in a data directory (for
// cairn admin scrub --tier, with the gateway stopped).
func LoadTier(dataDir, name string) (*cloudtier.Tier, error) {
	t, err := loadTiers(dataDir)
	if err != nil {
		return nil, err
	}
	tr, ok := t.reg.Get(name)
	if !ok {
		return nil, fmt.Errorf("no tier is named %q in %s (tiers: %s)", name, filepath.Join(dataDir, tiersFile), strings.Join(t.reg.Names(), ", "))
	}
	return tr, nil
}

// RotateTierKey moves a tier to its next key generation: packs sealed from
// now on use keys derived for it; packs sealed before keep theirs and stay
// readable. The tier's mover restarts (the jobs it held are queued again by
// the next scan). It answers the new generation.
func (g *Gateway) RotateTierKey(ctx context.Context, name string) (uint32, error) {
	t := g.tiers
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.configs[name]
	if !ok {
		return 0, s3api.ErrInvalidArgument.WithMessagef("no tier is named %q (cairn admin tier ls lists them)", name)
	}
	old, _ := t.reg.Get(name)
	c.KeyGen = max(c.KeyGen, 1) + 1
	t.configs[name] = c
	if err := t.save(); err != nil {
		c.KeyGen--
		t.configs[name] = c
		return 0, err
	}
	if m := t.movers[name]; m != nil {
		m.close()
		delete(t.movers, name)
	}
	t.reg.Set(t.tier(c, old.Target))
	g.log.Info("tier key rotated", "tier", name, "key_gen", c.KeyGen)
	return c.KeyGen, nil
}

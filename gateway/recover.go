package gateway

// Disaster recovery: a new gateway, on an empty data directory, rebuilds
// from a tier's catalog and packs, and the master key (or the passphrase it
// is escrowed under), every bucket and version that was tiered. Recovered
// versions are moved manifests: they read through from the tier at once.
//
// Everything that depends on the key (the escrow, the catalog) is read
// before anything is written, so a wrong passphrase or key writes nothing.
// The data directory holds a marker (recovering) until the end: a recovery
// cut short (kill -9) is run again on the same directory and goes on where
// it stopped: packs already adopted are skipped, versions already present
// are kept.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
)

const recoverMarker = "recovering"

// RecoverOptions say where to recover from.
type RecoverOptions struct {
	Tier TierConfig
	// Passphrase opens the master key escrowed in the tier; MasterKey, if
	// set instead, is the key itself (the contents of a tier.key file).
	Passphrase []byte
	MasterKey  []byte
	// Progress, if set, is told where the recovery is.
	Progress func(RecoverProgress)
}

// RecoverProgress is where a recovery is.
type RecoverProgress struct {
	Phase          string // "catalog", "packs", "objects"
	Done, Total    int
	BytesRecovered int64
}

// RecoverReport is what a recovery did.
type RecoverReport struct {
	Buckets  int   `json:"buckets"`
	Versions int   `json:"versions"` // recovered now
	Kept     int   `json:"kept"`     // present already (a resumed recovery)
	Bytes    int64 `json:"bytes"`
	Packs    int   `json:"packs"`
	// NotRecoverable lists what the catalog names but the tier cannot give
	// back, and why.
	NotRecoverable []string `json:"not_recoverable,omitempty"`
	// DamagedPacks are packs whose index does not open.
	DamagedPacks []string `json:"damaged_packs,omitempty"`
	// NotTiered says, per bucket, how much it held that was never tiered
	// (as counted when its catalog record was last written): not in the
	// tier, so not recoverable from it.
	NotTiered []string `json:"not_tiered,omitempty"`
}

// catalogState is the catalog replayed.
type catalogState struct {
	buckets  map[string]bucketMeta
	versions map[string]map[string]cloudtier.CatalogRecord // bucket -> composite(key, seq) -> record
}

func replayCatalog(ctx context.Context, tier *cloudtier.Tier) (*catalogState, error) {
	st := &catalogState{buckets: map[string]bucketMeta{}, versions: map[string]map[string]cloudtier.CatalogRecord{}}
	err := cloudtier.NewCatalog(tier).Read(ctx, func(r cloudtier.CatalogRecord) error {
		switch r.Op {
		case cloudtier.CatalogBucket:
			var m bucketMeta
			if err := json.Unmarshal(r.Meta, &m); err != nil {
				return fmt.Errorf("catalog: bucket %s: %w", r.Bucket, err)
			}
			st.buckets[r.Bucket] = m
		case cloudtier.CatalogVersion:
			vs := st.versions[r.Bucket]
			if vs == nil {
				vs = map[string]cloudtier.CatalogRecord{}
				st.versions[r.Bucket] = vs
			}
			vs[string(composite(r.Key, r.Version))] = r
		case cloudtier.CatalogForget:
			if r.Key == "" && len(r.Version) == 0 { // the bucket was deleted
				delete(st.buckets, r.Bucket)
				delete(st.versions, r.Bucket)
				break
			}
			delete(st.versions[r.Bucket], string(composite(r.Key, r.Version)))
		}
		return nil
	})
	return st, err
}

// Recover rebuilds on cfg.DataDir, which must be empty (or hold a recovery
// cut short), what the tier holds.
func Recover(ctx context.Context, cfg Config, o RecoverOptions) (RecoverReport, error) {
	var rep RecoverReport
	progress := func(p RecoverProgress) {
		if o.Progress != nil {
			o.Progress(p)
		}
	}
	if err := checkRecoverDir(cfg.DataDir); err != nil {
		return rep, err
	}
	c := o.Tier
	if err := c.validate(); err != nil {
		return rep, err
	}
	tg, err := c.target()
	if err != nil {
		return rep, fmt.Errorf("tier %s: %w", c.Name, err)
	}
	var mk cloudtier.MasterKey
	switch {
	case len(o.MasterKey) > 0:
		if mk, err = cloudtier.ParseMasterKey(o.MasterKey); err != nil {
			return rep, fmt.Errorf("master key: %w", err)
		}
	case len(o.Passphrase) > 0:
		if mk, err = cloudtier.Unescrow(ctx, tg, o.Passphrase); err != nil {
			return rep, err
		}
	default:
		return rep, errors.New("recover needs the passphrase the master key is escrowed under, or the master key")
	}
	tier := &cloudtier.Tier{Name: c.Name, Target: tg, Keys: cloudtier.DeriveKeys(mk), KeyGen: 1}
	if err := checkKeyOpensCatalog(ctx, tier); err != nil {
		return rep, err
	}
	progress(RecoverProgress{Phase: "catalog"})
	st, err := replayCatalog(ctx, tier)
	if err != nil {
		return rep, err
	}

	// Now write: the marker, the key, the tier, then the gateway.
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return rep, err
	}
	// The marker's existence is what counts, so it is written in place: a
	// crash leaves it whole, empty, or absent with the directory empty.
	if err := os.WriteFile(filepath.Join(cfg.DataDir, recoverMarker), []byte("a cairn recover is in progress; run it again to finish\n"), 0o644); err != nil {
		return rep, err
	}
	if err := writeFileAtomic(filepath.Join(cfg.DataDir, masterKeyFile), mk.Encode(), 0o600); err != nil {
		return rep, err
	}
	b, err := json.MarshalIndent([]TierConfig{c}, "", "  ")
	if err != nil {
		return rep, err
	}
	if err := writeFileAtomic(filepath.Join(cfg.DataDir, tiersFile), append(b, '\n'), 0o600); err != nil {
		return rep, err
	}
	cfg.recovering = true
	g, err := New(ctx, cfg)
	if err != nil {
		return rep, err
	}
	defer g.Close()
	if err := g.recoverInto(ctx, st, tier, &rep, progress); err != nil {
		return rep, err
	}
	if err := g.Close(); err != nil {
		return rep, err
	}
	return rep, os.Remove(filepath.Join(cfg.DataDir, recoverMarker))
}

// checkRecoverDir accepts an absent or empty directory, or one that holds a
// recovery cut short.
func checkRecoverDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, recoverMarker)); err == nil {
		return nil
	}
	return fmt.Errorf("data directory %s is not empty: recover builds a new gateway; give it an empty --data directory", dir)
}

// checkKeyOpensCatalog tells a wrong master key from an empty catalog: the
// catalog's objects are named under the key, so with another key the first
// is absent although others exist.
func checkKeyOpensCatalog(ctx context.Context, tier *cloudtier.Tier) error {
	var found bool
	err := tier.Target.List(ctx, "c/", func(string, int64) error {
		found = true
		return errStopList
	})
	if err != nil && !errors.Is(err, errStopList) {
		return fmt.Errorf("tier %s: %w", tier.Name, err)
	}
	if !found {
		return fmt.Errorf("tier %s holds no catalog: nothing was tiered to %s", tier.Name, tier.Target)
	}
	ok, err := cloudtier.NewCatalog(tier).HasStart(ctx)
	if err != nil {
		return fmt.Errorf("tier %s: %w", tier.Name, err)
	}
	if !ok {
		return fmt.Errorf("tier %s: the master key does not open this tier's catalog (another gateway's key?)", tier.Name)
	}
	return nil
}

var errStopList = errors.New("stop")

// recoverInto adopts the packs the catalog's versions need and commits the
// versions, bucket by bucket.
func (g *Gateway) recoverInto(ctx context.Context, st *catalogState, tier *cloudtier.Tier, rep *RecoverReport, progress func(RecoverProgress)) error {
	gr, err := g.group(DefaultGroup)
	if err != nil {
		return err
	}
	need := map[chunkstore.ChunkID]uint32{}
	total := 0
	for _, vs := range st.versions {
		for _, r := range vs {
			for _, e := range r.Entries {
				need[e.ID] = e.Len
			}
			total++
		}
	}
	ar, err := cloudtier.Adopt(ctx, gr.store, tier, need, func(a cloudtier.AdoptReport) {
		progress(RecoverProgress{Phase: "packs", Done: a.Packs})
	})
	if err != nil {
		return err
	}
	rep.Packs, rep.DamagedPacks = ar.Packs, ar.Damaged
	need = nil

	names := slices.Collect(maps.Keys(st.buckets))
	for name := range st.versions {
		if _, ok := st.buckets[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	done := 0
	for _, name := range names {
		meta := st.buckets[name] // absent: a bucket of defaults
		if err := g.recoverBucket(ctx, gr, name, meta); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
		if note := g.sse.adoptGroupKey(gr, meta.SSEKey); note != "" {
			rep.NotRecoverable = append(rep.NotRecoverable, fmt.Sprintf("bucket %s: %s", name, note))
		}
		rep.Buckets++
		vs := st.versions[name]
		if untiered := meta.Versions - len(vs); untiered > 0 {
			rep.NotTiered = append(rep.NotTiered, fmt.Sprintf("bucket %s: %d of the %d versions and delete markers it held when last catalogued were never tiered", name, untiered, meta.Versions))
		}
		for _, ck := range slices.Sorted(maps.Keys(vs)) {
			r := vs[ck]
			kept, err := g.recoverVersion(ctx, gr, name, r)
			switch {
			case err != nil:
				rep.NotRecoverable = append(rep.NotRecoverable, fmt.Sprintf("bucket %s key %q: %v", name, r.Key, err))
			case kept:
				rep.Kept++
			default:
				rep.Versions++
				for _, e := range r.Entries {
					rep.Bytes += int64(e.Len)
				}
			}
			done++
			progress(RecoverProgress{Phase: "objects", Done: done, Total: total, BytesRecovered: rep.Bytes})
		}
	}
	return nil
}

// recoverBucket creates the bucket (unless a resumed recovery made it) and
// gives it its recorded versioning, object lock, tags and rules. Its
// owner, policy and ACLs are not restored: the users they name are not
// in the new data directory.
func (g *Gateway) recoverBucket(ctx context.Context, gr *group, name string, meta bucketMeta) error {
	if _, err := g.bucketGroup(name); err != nil {
		if err := g.CreateBucket(ctx, name, ""); err != nil {
			return err
		}
	}
	return updateIn(gr, name, func(tx *chunkstore.Tx, k *bkt) error {
		k.rec.Versioning = meta.Info.Versioning
		k.rec.Lock = meta.Info.Lock
		k.rec.Tags = meta.Info.Tags
		k.rec.Encryption = meta.Info.Encryption
		if !meta.Info.Created.IsZero() {
			k.rec.Created = meta.Info.Created
		}
		for _, r := range []struct {
			key []byte
			doc []byte
		}{{keyLifecycle, meta.Lifecycle}, {keyCloudPolicy, meta.CloudPolicy}} {
			if r.doc == nil {
				continue
			}
			if err := k.b.Put(r.key, r.doc); err != nil {
				return err
			}
		}
		if meta.Lifecycle != nil || meta.CloudPolicy != nil {
			stamp, err := nextStamp(tx)
			if err != nil {
				return err
			}
			k.rec.RulesStamp = stamp
		}
		return k.saveInfo()
	})
}

// recoverVersion commits one version as a moved manifest of its recorded
// entries; kept says it was there already.
func (g *Gateway) recoverVersion(ctx context.Context, gr *group, bucket string, r cloudtier.CatalogRecord) (kept bool, err error) {
	var rec versionRecord
	if err := decode(r.Meta, &rec); err != nil {
		return false, fmt.Errorf("catalog record: %w", err)
	}
	if len(r.Version) != seqLen {
		return false, fmt.Errorf("catalog record: version of %d bytes", len(r.Version))
	}
	ck := composite(r.Key, r.Version)
	err = gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		kept = k.ver.Get(ck) != nil
		return nil
	})
	if err != nil || kept {
		return kept, err
	}
	_, err = gr.store.CommitMoved(ctx, r.Entries, func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		k, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		if m.Size != rec.Size {
			return fmt.Errorf("manifest of %d bytes; the version has %d", m.Size, rec.Size)
		}
		rec.Manifest, rec.TierOnly = m.ID, true
		// The group's clock goes past every recovered stamp, so that new
		// versions sort above them whatever the wall clock says.
		if err := advanceClock(tx, seqStamp(r.Version)); err != nil {
			return err
		}
		return k.put(r.Key, bytes.Clone(r.Version), rec)
	})
	var missing *chunkstore.MissingChunksError
	if errors.As(err, &missing) {
		return false, fmt.Errorf("%d chunks are in no pack of the tier (first %s)", len(missing.IDs), missing.IDs[0])
	}
	return false, err
}

// advanceClock moves the group's clock to at least stamp.
func advanceClock(tx *chunkstore.Tx, stamp uint64) error {
	sys, err := tx.Bucket().CreateBucketIfNotExists(bktSys)
	if err != nil {
		return err
	}
	if last := sys.Get(keyClock); len(last) == 8 && binary.BigEndian.Uint64(last) >= stamp {
		return nil
	}
	return sys.Put(keyClock, binary.BigEndian.AppendUint64(nil, stamp))
}

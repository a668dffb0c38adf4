package gateway

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/cairn-backup/cairn/chunkstore"
)

// A storage group's buckets live in its own store, so a group left out of
// the configuration, or configured on the wrong directory (an unmounted
// disk, a typo), would make its buckets silently vanish. Two records stop
// that: meta.db's groups/<name> says where each group is and whether it
// may hold buckets (set before a bucket is created in it, cleared only when
// the group is seen to hold none), and each store names its group
// (sys/group in the store's namespace, written with its first bucket).

// groupRow is a group's row in meta.db.
type groupRow struct {
	Dir            string `json:"dir"`
	MayHoldBuckets bool   `json:"buckets"`
	// Added says cairn admin group add registered the group: it opens at
	// every start without a --group flag.
	Added bool `json:"added,omitempty"`
	// The group's settings (groupadmin.go).
	Performance bool  `json:"perf,omitempty"`
	Quota       int64 `json:"quota,omitempty"`
	Streams     int   `json:"streams,omitempty"`
	// Compression of new chunks (none, s2, zstd, zstd-later); "": the
	// store's default.
	Compression string `json:"compression,omitempty"`
}

var keyGroupName = []byte("group")

func (g *Gateway) groupRows() (map[string]groupRow, error) {
	rows := map[string]groupRow{}
	err := g.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktGroups).ForEach(func(k, v []byte) error {
			var r groupRow
			if err := decode(v, &r); err != nil {
				return err
			}
			rows[string(k)] = r
			return nil
		})
	})
	return rows, err
}

func (g *Gateway) putGroupRow(name string, r groupRow) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	return g.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktGroups).Put([]byte(name), v) })
}

// updateGroupRow changes a group's row in one transaction.
func (g *Gateway) updateGroupRow(name string, fn func(r *groupRow)) error {
	return g.db.Update(func(tx *bolt.Tx) error {
		var r groupRow
		if v := tx.Bucket(bktGroups).Get([]byte(name)); v != nil {
			if err := decode(v, &r); err != nil {
				return err
			}
		}
		fn(&r)
		v, err := encode(r)
		if err != nil {
			return err
		}
		return tx.Bucket(bktGroups).Put([]byte(name), v)
	})
}

// loadBuckets checks every group against the registry and reads which
// buckets each holds: the only work at start-up that depends on what is
// stored, and it depends on the number of buckets, not objects.
func (g *Gateway) loadBuckets() error {
	rows, err := g.groupRows()
	if err != nil {
		return fmt.Errorf("gateway: meta.db: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		r := rows[name]
		if _, ok := g.groups[name]; ok || !r.MayHoldBuckets {
			continue
		}
		return fmt.Errorf("storage group %q holds buckets (last seen at %s) but is not configured: add --group %s=%s", name, r.Dir, name, r.Dir)
	}
	for _, name := range slices.Sorted(maps.Keys(g.groups)) {
		gr := g.groups[name]
		owner, buckets, err := groupContents(gr)
		if err != nil {
			return err
		}
		switch r := rows[name]; {
		case owner != "" && owner != name:
			return fmt.Errorf("storage group %q: directory %s holds storage group %q", name, gr.dir, owner)
		case owner == "" && r.MayHoldBuckets:
			return fmt.Errorf("storage group %q held buckets at %s, but %s holds none: is its disk mounted? (configure the group's directory with --group %s=DIR)", name, r.Dir, gr.dir, name)
		}
		for _, b := range buckets {
			if other := g.buckets[b]; other != nil {
				return fmt.Errorf("bucket %s is in both storage groups %q and %q", b, other.name, name)
			}
			g.buckets[b] = gr
		}
		r := rows[name]
		r.Dir, r.MayHoldBuckets = gr.dir, len(buckets) > 0
		if r != rows[name] {
			if err := g.putGroupRow(name, r); err != nil {
				return fmt.Errorf("gateway: meta.db: %w", err)
			}
		}
	}
	return nil
}

// mayHoldBuckets records, before a bucket is created in gr, that gr holds
// buckets. The caller holds g.mu.
func (g *Gateway) mayHoldBuckets(gr *group) error {
	var r groupRow
	err := g.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktGroups).Get([]byte(gr.name)); v != nil {
			return decode(v, &r)
		}
		return nil
	})
	if err != nil || (r.MayHoldBuckets && r.Dir == gr.dir) {
		return err
	}
	// The store is named first: a crash between the two commits leaves a
	// named group without buckets, which the next start accepts, whereas a
	// row claiming buckets over an unnamed store means a missing disk.
	if err := gr.store.Update(func(tx *chunkstore.Tx) error { return nameGroup(tx, gr.name) }); err != nil {
		return err
	}
	// Read, changed and written in one transaction: the group's settings
	// may be changing meanwhile (SetGroup).
	return g.updateGroupRow(gr.name, func(r *groupRow) { r.Dir, r.MayHoldBuckets = gr.dir, true })
}

// nameGroup writes the group's name into its store, in tx.
func nameGroup(tx *chunkstore.Tx, name string) error {
	sys, err := tx.Bucket().CreateBucketIfNotExists(bktSys)
	if err != nil {
		return err
	}
	if string(sys.Get(keyGroupName)) == name {
		return nil
	}
	return sys.Put(keyGroupName, []byte(name))
}

// RegisteredGroups reads, offline (with cairn serve stopped: meta.db is the
// data directory's lock), the storage groups meta.db knows, by name: where
// each one's directory is. Tools that work on every group (scrub) use it,
// so that a group not named on their command line is not skipped.
func RegisteredGroups(dataDir string) (map[string]string, error) {
	path := filepath.Join(dataDir, "meta.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, inUseError(fmt.Sprintf("data directory %s is in use by a running cairn: stop it first", dataDir))
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: open %s: %w", path, err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktGroups)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r groupRow
			if err := decode(v, &r); err != nil {
				return err
			}
			out[string(k)] = r.Dir
			return nil
		})
	})
	return out, err
}

// DamagedObject is a version whose data a scrub found damaged.
type DamagedObject struct {
	Bucket, Key, VersionID string
}

// DamagedObjects names, offline, the versions of a group's store whose
// manifests are among ids: what an admin must back up again.
func DamagedObjects(s *chunkstore.Store, ids []chunkstore.ManifestID) ([]DamagedObject, error) {
	want := map[chunkstore.ManifestID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []DamagedObject
	err := s.View(func(tx *chunkstore.Tx) error {
		return eachBucket(tx, func(k *bkt) error {
			return k.ver.ForEach(func(ck, v []byte) error {
				var rec versionRecord
				if err := decode(v, &rec); err != nil {
					return err
				}
				if rec.DeleteMarker || !want[rec.Manifest] {
					return nil
				}
				key, _, err := splitComposite(ck)
				if err != nil {
					return err
				}
				out = append(out, DamagedObject{Bucket: k.name, Key: key, VersionID: rec.ID})
				return nil
			})
		})
	})
	return out, err
}

package gateway

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
)

// reconcile releases orphan manifests: committed to a group's chunk store
// but named by no version and no part in meta.db. A crash between a chunk
// store commit and the metadata transaction, or a failed release, leaves
// them. It runs in New, before any request, so no write is in flight.
func (g *Gateway) reconcile(ctx context.Context) error {
	orphans, missing, err := g.audit(ctx)
	if err != nil {
		return fmt.Errorf("gateway: reconcile: %w", err)
	}
	for name, ids := range orphans {
		gr := g.groups[name]
		for _, id := range ids {
			if err := gr.store.Release(ctx, id); err != nil {
				return fmt.Errorf("gateway: reconcile group %q: release orphan manifest %d: %w", name, id, err)
			}
		}
		gr.log.Info("released orphan manifests", "count", len(ids))
	}
	// Named by metadata but missing from the store: data loss, reported
	// loudly; reads of those versions fail cleanly.
	for name, ids := range missing {
		g.groups[name].log.Error("manifests named in meta.db are missing from the chunk store", "count", len(ids), "first", uint64(ids[0]))
	}
	return nil
}

// audit compares, per group, the manifests meta.db names with those the
// chunk store holds: orphans are held but not named, missing are named but
// not held. Groups with neither are left out of both maps.
func (g *Gateway) audit(ctx context.Context) (orphans, missing map[string][]chunkstore.ManifestID, err error) {
	refs, err := g.references()
	if err != nil {
		return nil, nil, err
	}
	orphans = map[string][]chunkstore.ManifestID{}
	missing = map[string][]chunkstore.ManifestID{}
	for name, gr := range g.groups {
		used := refs[name]
		err := gr.store.Manifests(ctx, func(m chunkstore.Manifest) error {
			if used[m.ID] {
				delete(used, m.ID)
			} else {
				orphans[name] = append(orphans[name], m.ID)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("group %q: %w", name, err)
		}
		for id := range used {
			missing[name] = append(missing[name], id)
		}
	}
	return orphans, missing, nil
}

// references is the set of manifests meta.db names, per group: every
// version that is not a delete marker, and every part of an upload.
func (g *Gateway) references() (map[string]map[chunkstore.ManifestID]bool, error) {
	refs := map[string]map[chunkstore.ManifestID]bool{}
	for name := range g.groups {
		refs[name] = map[chunkstore.ManifestID]bool{}
	}
	err := g.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEachBucket(func(name []byte) error {
			k, err := openBkt(tx, string(name))
			if err != nil {
				return err
			}
			used := refs[k.rec.Group]
			if used == nil {
				return fmt.Errorf("bucket %s: storage group %q is not configured", name, k.rec.Group)
			}
			err = k.ver.ForEach(func(_, v []byte) error {
				var r versionRecord
				if err := decode(v, &r); err != nil {
					return err
				}
				if !r.DeleteMarker {
					used[r.Manifest] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			return k.prt.ForEach(func(_, v []byte) error {
				var p partRecord
				if err := decode(v, &p); err != nil {
					return err
				}
				used[p.Manifest] = true
				return nil
			})
		})
	})
	return refs, err
}

package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Format 1 kept every bucket's tree in meta.db and committed each write
// twice (the chunk store, then meta.db), so a crash between the two left an
// orphan manifest that every start looked for by walking every object.
// migrate moves the trees into the groups' stores, where format 2 keeps
// them, releases the orphans a last time, and switches meta.db to format 2.
// A crash part way leaves meta.db in format 1 and the next start begins
// again: each bucket's copy replaces what an earlier attempt left.

// migrateBatch bounds the records one transaction of the migration copies.
const migrateBatch = 10000

// checkBucketGroups1 refuses to migrate when a bucket of a format 1 meta.db
// lives in a group that is not configured.
func (g *Gateway) checkBucketGroups1() error {
	dirs := g.cfg.GroupDirs()
	return g.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bktBuckets)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			var rec bucketRecord
			if err := decode(root.Bucket(name).Get(keyInfo), &rec); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
			if _, ok := dirs[rec.Group]; !ok {
				return fmt.Errorf("bucket %s lives in storage group %q, which is not configured (add --group %s=DIR)", name, rec.Group, rec.Group)
			}
			return nil
		})
	})
}

func (g *Gateway) migrate(ctx context.Context) error {
	start := time.Now()
	type bucket struct{ name, group string }
	var buckets []bucket
	var clock uint64
	err := g.db.View(func(tx *bolt.Tx) error {
		if c := tx.Bucket(bktSys).Get(keyClock); len(c) == 8 {
			clock = binary.BigEndian.Uint64(c)
		}
		root := tx.Bucket(bktBuckets)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			var rec bucketRecord
			if err := decode(root.Bucket(name).Get(keyInfo), &rec); err != nil {
				return err
			}
			buckets = append(buckets, bucket{string(name), rec.Group})
			return nil
		})
	})
	if err != nil {
		return err
	}
	g.log.Info("migrating the metadata of format 1 into the storage groups", "buckets", len(buckets))
	holders := map[string]bool{}
	records := 0
	for _, b := range buckets {
		n, err := g.migrateBucket(ctx, b.name, g.groups[b.group], clock)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b.name, err)
		}
		records += n
		holders[b.group] = true
	}
	// Every group: format 1 reconciled each at every start, so one whose
	// buckets were all deleted may hold orphans too.
	for name := range g.groups {
		if err := g.releaseOrphans(ctx, g.groups[name]); err != nil {
			return fmt.Errorf("storage group %q: %w", name, err)
		}
	}
	err = g.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktBuckets) != nil {
			if err := tx.DeleteBucket(bktBuckets); err != nil {
				return err
			}
		}
		for name := range holders {
			v, err := encode(groupRow{Dir: g.groups[name].dir, MayHoldBuckets: true})
			if err != nil {
				return err
			}
			if err := tx.Bucket(bktGroups).Put([]byte(name), v); err != nil {
				return err
			}
		}
		sys := tx.Bucket(bktSys)
		if err := sys.Delete(keyClock); err != nil {
			return err
		}
		return sys.Put(keyFormat, []byte(metaFormat))
	})
	if err != nil {
		return err
	}
	if err := g.compactMeta(); err != nil {
		return fmt.Errorf("compact meta.db: %w", err)
	}
	g.log.Info("migrated the metadata into the storage groups", "buckets", len(buckets), "records", records, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// compactMeta rewrites meta.db without the space the bucket trees took (a
// bbolt file never shrinks). The copy replaces the file by a rename while
// this process holds the groups' stores, so a second cairn that opens the
// new file in the moment before this one does still fails on the stores.
func (g *Gateway) compactMeta() error {
	path := filepath.Join(g.cfg.DataDir, "meta.db")
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, g.db, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(g.cfg.DataDir); err != nil {
		return err
	}
	g.db.Close()
	db, _, err := openMeta(g.cfg.DataDir, g.cfg.LockTimeout)
	g.db = db
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// migrateBucket copies one bucket's tree from meta.db into gr's store, in
// batches, and returns the number of records copied. The group's clock is
// raised to the old one so that new versions sort after the old.
func (g *Gateway) migrateBucket(ctx context.Context, name string, gr *group, clock uint64) (int, error) {
	err := gr.store.Update(func(tx *chunkstore.Tx) error {
		if err := nameGroup(tx, gr.name); err != nil {
			return err
		}
		sys := tx.Bucket().Bucket(bktSys)
		if c := sys.Get(keyClock); len(c) != 8 || binary.BigEndian.Uint64(c) < clock {
			if err := sys.Put(keyClock, binary.BigEndian.AppendUint64(nil, clock)); err != nil {
				return err
			}
		}
		root, err := tx.Bucket().CreateBucketIfNotExists(bktBuckets)
		if err != nil {
			return err
		}
		if root.Bucket([]byte(name)) != nil {
			if err := root.DeleteBucket([]byte(name)); err != nil { // an earlier attempt's
				return err
			}
		}
		_, err = root.CreateBucket([]byte(name))
		return err
	})
	if err != nil {
		return 0, err
	}
	total := 0
	// The info record, then each sub-bucket (nested buckets are the
	// sub-buckets; plain keys are records of the bucket itself).
	var subs [][]byte
	err = g.db.View(func(tx *bolt.Tx) error {
		src := tx.Bucket(bktBuckets).Bucket([]byte(name))
		return src.ForEach(func(k, v []byte) error {
			if v == nil {
				subs = append(subs, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	for _, sub := range append([][]byte{nil}, subs...) {
		var after []byte
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			var keys, vals [][]byte
			err := g.db.View(func(tx *bolt.Tx) error {
				src := tx.Bucket(bktBuckets).Bucket([]byte(name))
				if sub != nil {
					src = src.Bucket(sub)
				}
				c := src.Cursor()
				k, v := c.First()
				if after != nil {
					if k, v = c.Seek(after); bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for ; k != nil && len(keys) < migrateBatch; k, v = c.Next() {
					if v == nil {
						continue // a nested bucket: copied as a sub-bucket
					}
					keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			err = gr.store.Update(func(tx *chunkstore.Tx) error {
				dst := tx.Bucket().Bucket(bktBuckets).Bucket([]byte(name))
				if sub != nil {
					var err error
					if dst, err = dst.CreateBucketIfNotExists(sub); err != nil {
						return err
					}
				}
				for i, k := range keys {
					if err := dst.Put(k, vals[i]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			total += len(keys)
			if len(keys) < migrateBatch {
				break
			}
			after = keys[len(keys)-1]
			if total%(20*migrateBatch) == 0 {
				g.log.Info("migrating", "bucket", name, "records", total)
			}
		}
	}
	return total, nil
}

// releaseOrphans releases the manifests of gr that no version and no part
// names: what format 1 left behind when it crashed between its two commits.
func (g *Gateway) releaseOrphans(ctx context.Context, gr *group) error {
	used, err := references(gr)
	if err != nil {
		return err
	}
	var orphans []chunkstore.ManifestID
	err = gr.store.Manifests(ctx, func(m chunkstore.Manifest) error {
		if !used[m.ID] {
			orphans = append(orphans, m.ID)
		}
		delete(used, m.ID)
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range orphans {
		if err := gr.store.Release(ctx, id); err != nil {
			return fmt.Errorf("release orphan manifest %d: %w", id, err)
		}
	}
	if len(orphans) > 0 {
		gr.log.Info("released orphan manifests", "count", len(orphans))
	}
	if len(used) > 0 {
		missing := slices.Sorted(maps.Keys(used))
		gr.log.Error("manifests named by versions or parts are missing from the chunk store", "count", len(missing), "first", uint64(missing[0]))
	}
	return nil
}

// references is the set of manifests a group's records name: every version
// that is not a delete marker, and every part of an upload.
func references(gr *group) (map[chunkstore.ManifestID]bool, error) {
	used := map[chunkstore.ManifestID]bool{}
	err := gr.store.View(func(tx *chunkstore.Tx) error {
		root := tx.Bucket().Bucket(bktBuckets)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			k, err := openBkt(tx, string(name))
			if err != nil {
				return err
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
	return used, err
}

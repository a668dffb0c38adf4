package gateway

// What the gateway writes to a tier's catalog (cloudtier.Catalog), so that
// `cairn recover` can rebuild from the tier alone what was tiered:
//
//   - for each bucket with a version in a flush, its metadata (bucketMeta);
//   - for each version a flush put in the tier, its record as it will be
//     (naming the tier) and its manifest's entries;
//   - for each tiered version deleted since, a forget, and one for its
//     bucket when that is gone too.
//
// A flush appends its records after its packs are stored and before its
// versions are marked tiered, so that what S3 shows in a tier is in the
// catalog. Forgets are durable before they reach the tier: the transaction
// that drops a tiered version writes a row in its bucket's tforget
// sub-bucket, which the tier's mover appends to the catalog and then
// deletes.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/s3api"
)

// bucketMeta is a bucket's catalog record: its info and its rules.
type bucketMeta struct {
	Info        bucketRecord `json:"info"`
	Lifecycle   []byte       `json:"lc,omitempty"`
	CloudPolicy []byte       `json:"cp,omitempty"`
	// Versions counts the bucket's versions and delete markers when the
	// record was written: a recovery tells from it what it cannot rebuild.
	Versions int `json:"versions"`
	// SSEKey is the group's SSE-S3 data key (ssekeys.go), so that a
	// recovery from the tier, with the tier's passphrase alone, opens the
	// SSE-S3 versions it recovers. It is in the clear here: the catalog is
	// sealed under the tier's keys, as the data it describes is.
	SSEKey []byte `json:"ssekey,omitempty"`
}

// bktForget, at the root of a group's records (so that it outlives the
// bucket), holds the forgets not yet in a catalog:
// <stamp:8><random:4> -> forgetRow (JSON).
var bktForget = []byte("tforget")

type forgetRow struct {
	Tier   string `json:"tier"`
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Seq    []byte `json:"seq"`
}

// noteForget records, in the transaction that drops a version, that the
// catalog of every tier that may hold it must forget it.
func (k *bkt) noteForget(key string, v version) error {
	tiers := v.rec.Catalogs
	if v.rec.Tier != "" && !slices.Contains(tiers, v.rec.Tier) {
		tiers = append(slices.Clone(tiers), v.rec.Tier)
	}
	return k.putForgets(tiers, key, v.seq)
}

// noteBucketForget records, in the transaction that deletes the bucket,
// that every tier's catalog must forget it (a forget of a bucket a catalog
// never held costs a record).
func (k *bkt) noteBucketForget(tiers []string) error { return k.putForgets(tiers, "", nil) }

// putForgets writes a forget row per tier: of version seq of key, or with
// neither, of the bucket.
func (k *bkt) putForgets(tiers []string, key string, seq []byte) error {
	if len(tiers) == 0 {
		return nil
	}
	fb, err := k.tx.Bucket().CreateBucketIfNotExists(bktForget)
	if err != nil {
		return err
	}
	for _, tier := range tiers {
		stamp, err := nextStamp(k.tx)
		if err != nil {
			return err
		}
		row, err := json.Marshal(forgetRow{Tier: tier, Bucket: k.name, Key: key, Seq: seq})
		if err != nil {
			return err
		}
		if err := fb.Put(newUID(stamp), row); err != nil {
			return err
		}
	}
	return nil
}

// markCataloged records in each job's version, before the tier's catalog
// is written, that the catalog will hold it: a version deleted after this
// (before the job completes, or after a crash that keeps it from
// completing) is forgotten by that catalog too.
func (g *Gateway) markCataloged(jobs []moveJob) error {
	type place struct {
		gr     *group
		bucket string
	}
	byBucket := map[place][]moveJob{}
	for _, j := range jobs {
		p := place{j.group, j.bucket}
		byBucket[p] = append(byBucket[p], j)
	}
	for p, js := range byBucket { // one commit per bucket
		err := updateIn(p.gr, p.bucket, func(_ *chunkstore.Tx, k *bkt) error {
			for _, j := range js {
				ck := composite(j.key, j.seq)
				b := k.ver.Get(ck)
				if b == nil {
					continue
				}
				var rec versionRecord
				if err := decode(b, &rec); err != nil {
					return err
				}
				if rec.Manifest != j.manifest || slices.Contains(rec.Catalogs, j.tier) {
					continue
				}
				rec.Catalogs = append(rec.Catalogs, j.tier)
				enc, err := encode(rec)
				if err != nil {
					return err
				}
				if err := k.ver.Put(ck, enc); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, s3api.ErrNoSuchBucket) {
			return err
		}
	}
	return nil
}

// catalogVersions are the catalog records of a flush's jobs: each bucket's
// metadata once, then each version as complete will record it.
func (g *Gateway) catalogVersions(ctx context.Context, jobs []moveJob, now time.Time) ([]cloudtier.CatalogRecord, error) {
	var recs []cloudtier.CatalogRecord
	seen := map[string]bool{}
	for _, j := range jobs {
		var rec versionRecord
		var found bool
		err := j.group.store.View(func(tx *chunkstore.Tx) error {
			k, err := openBkt(tx, j.bucket)
			if err != nil {
				return err
			}
			if !seen[j.bucket] {
				seen[j.bucket] = true
				r, err := bucketCatalogRecord(k, now, g.sse)
				if err != nil {
					return err
				}
				recs = append(recs, r)
			}
			b := k.ver.Get(composite(j.key, j.seq))
			if b == nil {
				return nil
			}
			if err := decode(b, &rec); err != nil {
				return err
			}
			found = rec.Manifest == j.manifest && !rec.DeleteMarker
			return nil
		})
		if err != nil || !found {
			continue // gone meanwhile: complete skips it too
		}
		tierVersion(&rec, j, now)
		meta, err := encode(rec)
		if err != nil {
			return nil, err
		}
		es, err := manifestEntries(ctx, j.group.store, j.manifest)
		if err != nil {
			return nil, fmt.Errorf("bucket %s key %q: %w", j.bucket, j.key, err)
		}
		recs = append(recs, cloudtier.CatalogRecord{Op: cloudtier.CatalogVersion, Time: now, Bucket: j.bucket, Key: j.key,
			Version: j.seq, Meta: meta, Entries: es})
	}
	return recs, nil
}

// bucketCatalogRecord is a bucket's metadata as the catalog keeps it.
func bucketCatalogRecord(k *bkt, now time.Time, keys *sseKeys) (cloudtier.CatalogRecord, error) {
	sseKey, err := keys.catalogKey(k.tx)
	if err != nil {
		return cloudtier.CatalogRecord{}, err
	}
	meta, err := json.Marshal(bucketMeta{Info: k.rec, Lifecycle: k.b.Get(keyLifecycle), CloudPolicy: k.b.Get(keyCloudPolicy),
		Versions: k.ver.Stats().KeyN, SSEKey: sseKey})
	return cloudtier.CatalogRecord{Op: cloudtier.CatalogBucket, Time: now, Bucket: k.name, Meta: meta}, err
}

// bucketCatalogRecords are the catalog records of the buckets named by
// recs (a flush's forgets: their counts change); a bucket gone since gets a
// forget of its own (no key, no version): recovery leaves it out.
func bucketCatalogRecords(gr *group, recs []cloudtier.CatalogRecord, now time.Time, keys *sseKeys) ([]cloudtier.CatalogRecord, error) {
	var out []cloudtier.CatalogRecord
	seen := map[string]bool{}
	for _, f := range recs {
		if seen[f.Bucket] || (f.Key == "" && len(f.Version) == 0) {
			continue // a bucket's own forget needs no record of it
		}
		seen[f.Bucket] = true
		err := gr.store.View(func(tx *chunkstore.Tx) error {
			k, err := openBkt(tx, f.Bucket)
			if err != nil {
				return err
			}
			r, err := bucketCatalogRecord(k, now, keys)
			out = append(out, r)
			return err
		})
		if errors.Is(err, s3api.ErrNoSuchBucket) {
			out = append(out, cloudtier.CatalogRecord{Op: cloudtier.CatalogForget, Time: now, Bucket: f.Bucket})
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tierVersion is what a version's record says once job j is done.
func tierVersion(rec *versionRecord, j moveJob, now time.Time) {
	if rec.Tier != j.tier {
		rec.Tier, rec.TieredAt = j.tier, now
	}
	rec.TierOnly = rec.TierOnly || j.move
	if j.unrestore {
		rec.RestoredUntil = time.Time{}
	}
}

// manifestEntries lists a manifest's entries (for the catalog).
func manifestEntries(ctx context.Context, s *chunkstore.Store, id chunkstore.ManifestID) ([]chunkstore.Entry, error) {
	it, err := s.Entries(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var es []chunkstore.Entry
	for it.Next() {
		e := it.Entry()
		e.Offset = 0
		es = append(es, e)
	}
	return es, it.Err()
}

// forgetBatch bounds the forgets one flush takes from a group.
const forgetBatch = 4096

// pendingForgets reads a group's forget rows for a tier: the catalog
// records, and the rows to delete once they are appended.
func pendingForgets(gr *group, tier string) ([]cloudtier.CatalogRecord, [][]byte, error) {
	var recs []cloudtier.CatalogRecord
	var rows [][]byte
	err := gr.store.View(func(tx *chunkstore.Tx) error {
		fb := tx.Bucket().Bucket(bktForget)
		if fb == nil {
			return nil
		}
		c := fb.Cursor()
		for k, v := c.First(); k != nil && len(recs) < forgetBatch; k, v = c.Next() {
			var f forgetRow
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("forget row %x: %w", k, err)
			}
			if f.Tier != tier {
				continue
			}
			t := time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC()
			recs = append(recs, cloudtier.CatalogRecord{Op: cloudtier.CatalogForget, Time: t, Bucket: f.Bucket, Key: f.Key, Version: f.Seq})
			rows = append(rows, append([]byte(nil), k...))
		}
		return nil
	})
	return recs, rows, err
}

// dropForgets deletes forget rows once the catalog holds them.
func dropForgets(gr *group, rows [][]byte) error {
	if len(rows) == 0 {
		return nil
	}
	return gr.store.Update(func(tx *chunkstore.Tx) error {
		fb := tx.Bucket().Bucket(bktForget)
		if fb == nil {
			return nil
		}
		for _, k := range rows {
			if err := fb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

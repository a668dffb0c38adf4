package gateway

// RestoreObject, S3's way to bring an archived object back, for a tiered
// version: its chunks are read from the tier and written locally again
// (chunkstore.Store.Recall) in the background, the version records that it
// is restoring and then until when it is restored, and HEAD and GET show
// x-amz-restore. Tiered data reads through without a restore; a restore
// makes its reads local, for a restore of many objects before a large
// recovery, say. When the restore expires, the lifecycle scan hands the
// version to the tier's mover, which sends nothing (the tier kept its
// copies) and releases the local copies again.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// maxRestores bounds the recalls running at once.
const maxRestores = 2

// restorer runs the recalls.
type restorer struct {
	once     sync.Once
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	slots    chan struct{}
	mu       sync.Mutex
	inflight map[string]bool // bucket \x00 key \x00 seq
}

func (r *restorer) init() {
	r.once.Do(func() {
		r.ctx, r.stop = context.WithCancel(context.Background())
		r.slots = make(chan struct{}, maxRestores)
		r.inflight = map[string]bool{}
	})
}

// close stops the recalls; a restore cut short is started again by the
// next RestoreObject of the version.
func (r *restorer) close() {
	r.init()
	r.stop()
	r.wg.Wait()
}

func (r *restorer) running(id string) bool {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight[id]
}

// RestoreObject starts bringing a tiered version's data back for days
// (lifecycle days: Config.LifecycleDay each), or moves the expiry of one
// restored already.
func (g *Gateway) RestoreObject(ctx context.Context, bucket, key, versionID string, days int) (bool, error) {
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return false, err
	}
	until := restoreExpiry(time.Now().UTC(), days, g.cfg.LifecycleDay)
	var j moveJob
	start := false
	err = updateIn(gr, bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		if err != nil {
			return err
		}
		rec := v.rec
		j = moveJob{group: gr, bucket: bucket, key: key, seq: v.seq, manifest: rec.Manifest, tier: rec.Tier}
		switch {
		case rec.Tier == "" || !rec.TierOnly:
			return s3api.ErrInvalidObjectState.WithMessagef("Restore is not allowed for the object's current storage class (%s): its data is local.", storageClass(rec))
		case rec.Restoring && g.rst.running(j.id()):
			return s3api.ErrRestoreAlreadyInProgress
		case !rec.RestoredUntil.IsZero() && !rec.Restoring:
			rec.RestoredUntil = until
		default: // not restored, or a restore a stopped process left
			rec.Restoring, start = true, true
		}
		b, err := encode(rec)
		if err != nil {
			return err
		}
		return k.ver.Put(composite(key, v.seq), b)
	})
	if err != nil {
		return false, mapErr(err)
	}
	if start {
		g.startRestore(j, days)
	}
	return start, nil
}

// restoreExpiry is when a restore of days ends: like S3, at the midnight
// (UTC) after the days have passed; with a shorter lifecycle day (tests),
// exactly then.
func restoreExpiry(now time.Time, days int, day time.Duration) time.Time {
	end := now.Add(time.Duration(days) * day)
	if day == 24*time.Hour {
		end = end.Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	return end
}

func (g *Gateway) startRestore(j moveJob, days int) {
	r := &g.rst
	r.init()
	r.mu.Lock()
	if r.inflight[j.id()] {
		r.mu.Unlock()
		return
	}
	r.inflight[j.id()] = true
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.inflight, j.id())
			r.mu.Unlock()
		}()
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
		case <-r.ctx.Done():
			return
		}
		recallErr := j.group.store.Recall(r.ctx, j.manifest)
		if errors.Is(recallErr, context.Canceled) {
			return // closing: the next RestoreObject starts it again
		}
		if recallErr != nil {
			g.log.Warn("restore failed", "bucket", j.bucket, "key", j.key, "err", recallErr)
		}
		until := restoreExpiry(time.Now().UTC(), days, g.cfg.LifecycleDay)
		uerr := updateIn(j.group, j.bucket, func(_ *chunkstore.Tx, k *bkt) error {
			ck := composite(j.key, j.seq)
			b := k.ver.Get(ck)
			if b == nil {
				return nil
			}
			var rec versionRecord
			if err := decode(b, &rec); err != nil {
				return err
			}
			if rec.Manifest != j.manifest {
				return nil
			}
			rec.Restoring = false
			if recallErr == nil {
				rec.RestoredUntil = until
			}
			enc, err := encode(rec)
			if err != nil {
				return err
			}
			return k.ver.Put(ck, enc)
		})
		if uerr != nil {
			g.log.Warn("restore: recording the outcome", "bucket", j.bucket, "key", j.key, "err", uerr)
		}
	}()
}

// restoreExpired says whether a restored version's restore has ended: the
// scan then moves it to its tier again.
func restoreExpired(rec versionRecord, now time.Time) bool {
	return !rec.Restoring && !rec.RestoredUntil.IsZero() && !now.Before(rec.RestoredUntil)
}

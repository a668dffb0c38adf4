package gateway

// Object lock (WORM), the ObjectLockBackend of s3api.
//
// A bucket with lock enabled (bucketRecord.Lock, never unset again) keeps
// versioning Enabled for good. Each version record carries its own lock:
// a retention mode and retain-until date, and a legal hold. The lock lives
// in the version record, not the bucket, so that everything that reads or
// copies records (replication, seeding, tiering) carries it along.
//
// A locked version cannot be removed by any path, because every path
// removes a version through bkt.drop, and drop refuses one (checkUnlocked):
// DELETE and DeleteObjects by version ID, a lifecycle expiration (the
// scanner skips locked versions rather than fail on them), a replica
// applying its source's delete, a null version replaced. The cleaner frees
// only chunks no record references, so a locked version's data stays.
// A delete without a version ID in a lock bucket only adds a delete marker.
//
// The clock: retention is compared with this server's clock (time.Now),
// never the client's, as S3 compares it with its own. A server whose clock
// runs fast releases locks early; keep it synchronized (NTP).

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// lockRecord is a bucket's object lock configuration: present once lock is
// enabled; Mode "" means no default retention, else one of Days and Years
// is positive.
type lockRecord struct {
	Mode  string `json:"mode,omitempty"`
	Days  int    `json:"days,omitempty"`
	Years int    `json:"years,omitempty"`
}

// Legal hold states of a version record; "" is never set.
const (
	holdOn  = "ON"
	holdOff = "OFF"
)

var _ s3api.ObjectLockBackend = (*Gateway)(nil)

// lockOf is the S3 view of a version's lock.
func (rec versionRecord) lockOf() s3api.ObjectLock {
	return s3api.ObjectLock{Mode: rec.LockMode, RetainUntil: rec.LockUntil, LegalHold: rec.LegalHold == holdOn}
}

// lockedAt reports whether rec may not be removed at now: a legal hold, or
// retention until after now (GOVERNANCE yields to bypass).
func (rec versionRecord) lockedAt(now time.Time, bypass bool) bool {
	if rec.DeleteMarker {
		return false
	}
	if rec.LegalHold == holdOn {
		return true
	}
	if rec.LockMode == "" || !rec.LockUntil.After(now) {
		return false
	}
	return rec.LockMode == s3api.LockCompliance || !bypass
}

// checkUnlocked is drop's guard: ErrObjectLocked for a version its lock
// keeps, with the bypass the transaction's caller was granted.
func (k *bkt) checkUnlocked(v version) error {
	if v.rec.lockedAt(time.Now(), k.bypassGovernance) {
		return s3api.ErrObjectLocked
	}
	return nil
}

// lockNew sets the lock of a new version (not a delete marker): what the
// write asked for, else the bucket's default retention counted from now.
// A bucket without lock refuses a write that asks for one.
func (k *bkt) lockNew(rec *versionRecord, now time.Time) error {
	if rec.DeleteMarker {
		return nil
	}
	if k.rec.Lock == nil {
		if rec.LockMode != "" || rec.LegalHold != "" {
			return s3api.ErrMissingObjectLockConfiguration
		}
		return nil
	}
	if rec.LockMode != "" || k.rec.Lock.Mode == "" {
		return nil
	}
	rec.LockMode = k.rec.Lock.Mode
	if k.rec.Lock.Years > 0 {
		rec.LockUntil = now.AddDate(k.rec.Lock.Years, 0, 0).UTC()
	} else {
		rec.LockUntil = now.Add(time.Duration(k.rec.Lock.Days) * 24 * time.Hour).UTC()
	}
	return nil
}

// lockRecordOf is a bucket's object lock configuration for its replica;
// nil without one (or when it cannot be read: the replica then keeps what
// it has, never less, since a replica never unsets it).
func (g *Gateway) lockRecordOf(bucket string) *lockRecord {
	var l *lockRecord
	g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error { l = k.rec.Lock; return nil })
	return l
}

// admitLock refuses, before any byte is streamed, a write that asks for a
// lock in a bucket without lock. The commit checks again (lockNew), in its
// transaction; this only spares a client sending a large body for nothing.
func (g *Gateway) admitLock(bucket string, l s3api.ObjectLock) error {
	if l == (s3api.ObjectLock{}) {
		return nil
	}
	return mapErr(g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Lock == nil {
			return s3api.ErrMissingObjectLockConfiguration
		}
		return nil
	}))
}

// setLock copies what a write asked for into a new record.
func (rec *versionRecord) setLock(l s3api.ObjectLock) {
	rec.LockMode, rec.LockUntil = l.Mode, l.RetainUntil.UTC()
	if l.LegalHold {
		rec.LegalHold = holdOn
	}
	if l.Mode == "" {
		rec.LockUntil = time.Time{}
	}
}

// GetObjectLockConfiguration answers the bucket's configuration.
func (g *Gateway) GetObjectLockConfiguration(ctx context.Context, bucket string) (s3api.ObjectLockConfig, error) {
	var cfg s3api.ObjectLockConfig
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.rec.Lock == nil {
			return s3api.ErrObjectLockConfigurationNotFound
		}
		cfg = s3api.ObjectLockConfig{Enabled: true, DefaultMode: k.rec.Lock.Mode, DefaultDays: k.rec.Lock.Days, DefaultYears: k.rec.Lock.Years}
		return nil
	})
	return cfg, mapErr(err)
}

// PutObjectLockConfiguration enables lock on a bucket whose versioning is
// Enabled (a new one, or one that has been: S3 allows both) and replaces
// its default retention.
func (g *Gateway) PutObjectLockConfiguration(ctx context.Context, bucket string, cfg s3api.ObjectLockConfig) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	return mapErr(g.updateInfo(bucket, func(k *bkt) error {
		if k.versioning() != s3api.VersioningEnabled {
			return s3api.ErrLockRequiresVersioning
		}
		k.rec.Lock = &lockRecord{Mode: cfg.DefaultMode, Days: cfg.DefaultDays, Years: cfg.DefaultYears}
		return nil
	}))
}

// lockedVersion resolves a version for the retention and legal hold calls,
// which need lock enabled on the bucket. A replica has its source's locks
// in its versions without a configuration of its own, and answers reads
// of them (changes it refuses: it is read-only).
func lockedVersion(k *bkt, key, versionID string) (version, error) {
	if k.rec.Lock == nil && k.rec.ReplicaOf == "" {
		return version{}, s3api.ErrMissingObjectLockConfiguration
	}
	return resolve(k, key, versionID)
}

// GetObjectRetention answers a version's retention.
func (g *Gateway) GetObjectRetention(ctx context.Context, bucket, key, versionID string) (s3api.ObjectLock, error) {
	var l s3api.ObjectLock
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := lockedVersion(k, key, versionID)
		if err != nil {
			return err
		}
		if v.rec.LockMode == "" {
			return s3api.ErrNoSuchObjectLockConfiguration
		}
		l = s3api.ObjectLock{Mode: v.rec.LockMode, RetainUntil: v.rec.LockUntil}
		return nil
	})
	return l, mapErr(err)
}

// PutObjectRetention changes a version's retention. While retention is in
// force, COMPLIANCE can only be extended (never shortened, removed nor
// turned into GOVERNANCE); GOVERNANCE can be extended or made COMPLIANCE,
// and shortened or removed only with BypassGovernance(ctx). Once it has
// passed, anything goes, as on S3.
func (g *Gateway) PutObjectRetention(ctx context.Context, bucket, key, versionID string, ret s3api.ObjectLock) (string, error) {
	if err := g.writable(bucket); err != nil {
		return "", err
	}
	bypass := s3api.BypassGovernance(ctx)
	return g.relock(bucket, key, versionID, func(rec *versionRecord) error {
		if rec.LockMode != "" && rec.LockUntil.After(time.Now()) {
			weaker := ret.Mode == "" || ret.RetainUntil.Before(rec.LockUntil)
			switch {
			case rec.LockMode == s3api.LockCompliance && (weaker || ret.Mode != s3api.LockCompliance):
				return s3api.ErrObjectLocked
			case rec.LockMode == s3api.LockGovernance && weaker && !bypass:
				return s3api.ErrObjectLocked
			}
		}
		rec.LockMode, rec.LockUntil = ret.Mode, ret.RetainUntil.UTC()
		if ret.Mode == "" {
			rec.LockUntil = time.Time{}
		}
		return nil
	})
}

// GetObjectLegalHold answers whether a version is on legal hold;
// ErrNoSuchObjectLockConfiguration when it never had one set.
func (g *Gateway) GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error) {
	var on bool
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := lockedVersion(k, key, versionID)
		if err != nil {
			return err
		}
		if v.rec.LegalHold == "" {
			return s3api.ErrNoSuchObjectLockConfiguration
		}
		on = v.rec.LegalHold == holdOn
		return nil
	})
	return on, mapErr(err)
}

// PutObjectLegalHold sets or clears a version's legal hold.
func (g *Gateway) PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) (string, error) {
	if err := g.writable(bucket); err != nil {
		return "", err
	}
	return g.relock(bucket, key, versionID, func(rec *versionRecord) error {
		rec.LegalHold = holdOff
		if on {
			rec.LegalHold = holdOn
		}
		return nil
	})
}

// relock changes a version's lock in place (a lock is not data: no new
// version) and logs the change for the replica.
func (g *Gateway) relock(bucket, key, versionID string, change func(rec *versionRecord) error) (string, error) {
	var vid string
	err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := lockedVersion(k, key, versionID)
		if err != nil {
			return err
		}
		if err := change(&v.rec); err != nil {
			return err
		}
		vid = k.info(key, v).VersionID
		enc, err := encode(v.rec)
		if err != nil {
			return err
		}
		if err := k.logChange(replLock, key, v.seq, v.rec); err != nil {
			return err
		}
		return k.ver.Put(composite(key, v.seq), enc)
	})
	return vid, mapErr(err)
}

// lockRefused words a replica's refusal of a lock for its source.
func lockRefused(key string, err error) error {
	if errors.Is(err, s3api.ErrObjectLocked) {
		return targetError(http.StatusForbidden, "ObjectLocked", "%s: the replica's version is locked (COMPLIANCE retention or legal hold) and cannot be dropped or unlocked", key)
	}
	return err
}

// applyReplicatedLock sets a replica version's lock to its source's. A
// replica never weakens COMPLIANCE retention in force: the source cannot
// have, so such an operation is not the source's.
func (k *bkt) applyReplicatedLock(key string, seq []byte, src versionRecord) error {
	ck := composite(key, seq)
	b := k.ver.Get(ck)
	if b == nil {
		return nil
	}
	var rec versionRecord
	if err := decode(b, &rec); err != nil {
		return err
	}
	if rec.LockMode == s3api.LockCompliance && rec.LockUntil.After(time.Now()) &&
		(src.LockMode != s3api.LockCompliance || src.LockUntil.Before(rec.LockUntil)) {
		return s3api.ErrObjectLocked
	}
	rec.LockMode, rec.LockUntil, rec.LegalHold = src.LockMode, src.LockUntil, src.LegalHold
	enc, err := encode(rec)
	if err != nil {
		return err
	}
	return k.ver.Put(ck, enc)
}

package gateway

// S3 versioning, on one key's version stack (newest first, in ver):
//
//	write, versioning Enabled:      push a new version with a fresh ID
//	write, Unset or Suspended:      drop the null version (wherever it sits),
//	                                push a new null version
//	delete, no version ID, Unset:   drop the null version; nothing else
//	delete, no version ID, Enabled: push a delete marker with a fresh ID
//	delete, no version ID, Suspended: drop the null version, push a null
//	                                delete marker
//	delete by version ID:           drop that version (or marker) for good;
//	                                the next one becomes current
//
// The current version is the top of the stack; cur mirrors it for listing
// and holds nothing while the top is a delete marker.

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

var errInvalidVersion = s3api.ErrInvalidArgument.WithMessage("Invalid version id specified")

// version is one entry of a key's stack as read in a transaction.
type version struct {
	seq    []byte // copied: valid after the transaction
	rec    versionRecord
	latest bool
}

// latest returns the top of key's stack; ok is false when the key has no versions.
func (k *bkt) latest(key string) (version, bool, error) {
	p := keyPrefix(key)
	c := k.ver.Cursor()
	ck, v := c.Seek(p)
	if ck == nil || !bytes.HasPrefix(ck, p) || len(ck) != len(p)+seqLen {
		return version{}, false, nil
	}
	out := version{seq: bytes.Clone(ck[len(p):]), latest: true}
	return out, true, decode(v, &out.rec)
}

// find resolves versionID for key: "" is the current version (which may be
// a delete marker), "null" the null version, anything else a version ID.
// It answers ErrNoSuchKey, ErrNoSuchVersion or InvalidArgument (malformed ID).
func (k *bkt) find(key, versionID string) (version, error) {
	top, ok, err := k.latest(key)
	if err != nil {
		return version{}, err
	}
	if versionID == "" {
		if !ok {
			return version{}, s3api.ErrNoSuchKey
		}
		return top, nil
	}
	var seq []byte
	if versionID == nullVersion {
		seq = k.nul.Get([]byte(key))
	} else {
		s, valid := parseID(versionID)
		if !valid {
			return version{}, errInvalidVersion
		}
		seq = s
	}
	if seq == nil {
		return version{}, s3api.ErrNoSuchVersion
	}
	v := k.ver.Get(composite(key, seq))
	if v == nil {
		return version{}, s3api.ErrNoSuchVersion
	}
	out := version{seq: bytes.Clone(seq), latest: ok && bytes.Equal(seq, top.seq)}
	return out, decode(v, &out.rec)
}

// put writes one version record and keeps nul and cur in step.
func (k *bkt) put(key string, seq []byte, rec versionRecord) error {
	v, err := encode(rec)
	if err != nil {
		return err
	}
	if err := k.ver.Put(composite(key, seq), v); err != nil {
		return err
	}
	if rec.ID == nullVersion {
		if err := k.nul.Put([]byte(key), bytes.Clone(seq)); err != nil {
			return err
		}
	}
	if err := k.logChange(replPut, key, seq, rec); err != nil {
		return err
	}
	return k.refreshCurrent(key)
}

// drop removes one version and, in the same transaction, releases its
// manifest (readers that hold it keep reading until they close).
func (k *bkt) drop(key string, v version) error {
	if err := k.checkUnlocked(v); err != nil {
		return err
	}
	if err := k.ver.Delete(composite(key, v.seq)); err != nil {
		return err
	}
	if v.rec.ID == nullVersion {
		if err := k.nul.Delete([]byte(key)); err != nil {
			return err
		}
	}
	if err := k.refreshCurrent(key); err != nil {
		return err
	}
	if err := k.logChange(replDrop, key, v.seq, v.rec); err != nil {
		return err
	}
	if v.rec.DeleteMarker {
		return nil
	}
	if err := k.noteForget(key, v); err != nil {
		return err
	}
	return release(k.tx, v.rec.Manifest)
}

// release releases a manifest a record named. One already gone (a data
// directory migrated with manifests missing: the migration logged them)
// must not keep its record from being dropped.
func release(tx *chunkstore.Tx, id chunkstore.ManifestID) error {
	if err := tx.Release(id); err != nil && !errors.Is(err, chunkstore.ErrNotFound) {
		return err
	}
	return nil
}

// dropNull removes key's null version if there is one.
func (k *bkt) dropNull(key string) error {
	v, err := k.find(key, nullVersion)
	if errors.Is(err, s3api.ErrNoSuchVersion) {
		return nil
	}
	if err != nil {
		return err
	}
	return k.drop(key, v)
}

func (k *bkt) refreshCurrent(key string) error {
	top, ok, err := k.latest(key)
	if err != nil {
		return err
	}
	if !ok || top.rec.DeleteMarker {
		return k.cur.Delete([]byte(key))
	}
	return k.cur.Put([]byte(key), top.seq)
}

// push adds rec on top of key's stack following the bucket's versioning
// state, stamping its ID and time; a null version it replaces is dropped.
func (k *bkt) push(key string, rec versionRecord) (version, error) {
	stamp, err := nextStamp(k.tx)
	if err != nil {
		return version{}, err
	}
	seq := newSeq(stamp)
	rec.Modified = stampTime(stamp)
	if k.versioning() == s3api.VersioningEnabled {
		rec.ID = formatID(seq)
	} else {
		if err := k.dropNull(key); err != nil {
			return version{}, err
		}
		rec.ID = nullVersion
	}
	if err := k.put(key, seq, rec); err != nil {
		return version{}, err
	}
	return version{seq: seq, rec: rec, latest: true}, nil
}

// info is the S3 view of a version. Buckets that never had versioning
// answer VersionID "".
func (k *bkt) info(key string, v version) s3api.ObjectInfo {
	vid := v.rec.ID
	if k.versioning() == s3api.VersioningUnset {
		vid = ""
	}
	return s3api.ObjectInfo{
		Bucket:       k.name,
		Key:          key,
		VersionID:    vid,
		IsLatest:     v.latest,
		DeleteMarker: v.rec.DeleteMarker,
		Size:         v.rec.Size,
		ETag:         v.rec.ETag,
		LastModified: v.rec.Modified,
		Meta:         v.rec.Meta.s3(),
		Checksum:     v.rec.Checksum.s3(),
		PartsCount:   v.rec.Parts,
		StorageClass: storageClass(v.rec),
		Restore:      restoreHeader(v.rec),

		ReplicationStatus: k.replicationStatus(key, v),
		Lock:              v.rec.lockOf(),
		SSE:               v.rec.SSE.s3(),
	}
}

// restoreHeader is x-amz-restore as S3 formats it.
func restoreHeader(rec versionRecord) string {
	switch {
	case rec.Restoring:
		return `ongoing-request="true"`
	case !rec.RestoredUntil.IsZero():
		return `ongoing-request="false", expiry-date="` + rec.RestoredUntil.UTC().Format(http.TimeFormat) + `"`
	}
	return ""
}

// storageClass is what S3 shows of where a version is: its tier's name
// once a tier holds a copy, else STANDARD.
func storageClass(rec versionRecord) string {
	if rec.Tier != "" {
		return rec.Tier
	}
	return "STANDARD"
}

// write records a new version of key written with the conditional-write
// headers ifMatch and ifNoneMatch; what it displaces is released with it.
func (k *bkt) write(key string, rec versionRecord, ifMatch, ifNoneMatch string) (version, error) {
	if err := k.checkWrite(key, ifMatch, ifNoneMatch); err != nil {
		return version{}, err
	}
	if err := k.lockNew(&rec, time.Now()); err != nil {
		return version{}, err
	}
	if err := k.checkWriteOnce(key); err != nil {
		return version{}, err
	}
	return k.push(key, rec)
}

// checkWrite evaluates a conditional write against key's current state:
// If-None-Match "*" fails when a live object exists (an ETag fails when it
// matches); If-Match fails unless the live object has that ETag, and answers
// ErrNoSuchKey when there is none.
func (k *bkt) checkWrite(key, ifMatch, ifNoneMatch string) error {
	if ifMatch == "" && ifNoneMatch == "" {
		return nil
	}
	top, ok, err := k.latest(key)
	if err != nil {
		return err
	}
	live := ok && !top.rec.DeleteMarker
	if ifNoneMatch != "" && live && (ifNoneMatch == "*" || etagEqual(ifNoneMatch, top.rec.ETag)) {
		return s3api.ErrPreconditionFailed
	}
	if ifMatch != "" {
		if !live {
			return s3api.ErrNoSuchKey
		}
		if ifMatch != "*" && !etagEqual(ifMatch, top.rec.ETag) {
			return s3api.ErrPreconditionFailed
		}
	}
	return nil
}

func etagEqual(a, b string) bool { return trimETag(a) == trimETag(b) }

func trimETag(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// deleteMarker is a new delete marker record.
func deleteMarker() versionRecord {
	return versionRecord{DeleteMarker: true, Modified: time.Now().UTC()}
}

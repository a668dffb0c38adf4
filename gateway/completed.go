package gateway

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/cairn-backup/cairn/s3api"
)

// A CompleteMultipartUpload whose response is lost (a timeout, a cut WAN
// link) is retried by SDKs; S3 answers the retry with the same success. So
// each completion leaves a record, done/<upload ID>, for completedTTL, and a
// Complete of an upload that is gone but was completed with the same parts
// answers the object it made.
var bktDone = []byte("done")

// completedTTL is how long a completion is remembered for retries.
const completedTTL = 24 * time.Hour

// completedRecord is what a completion made.
type completedRecord struct {
	Key       string    `json:"key"`
	VersionID string    `json:"vid"`
	ETag      string    `json:"etag"`
	At        time.Time `json:"at"`
}

// rememberCompleted records a completion, in the transaction that made it,
// and forgets the oldest expired ones.
func (k *bkt) rememberCompleted(uploadID string, rec completedRecord) error {
	done, err := k.b.CreateBucketIfNotExists(bktDone)
	if err != nil {
		return err
	}
	// Upload IDs begin with their initiation stamp, so the oldest records
	// come first; a few are dropped per completion, so the bucket stays
	// small without a sweep.
	var expired [][]byte
	c := done.Cursor()
	for key, v := c.First(); key != nil && len(expired) < 8; key, v = c.Next() {
		var old completedRecord
		if decode(v, &old) == nil && time.Since(old.At) < completedTTL {
			break
		}
		expired = append(expired, append([]byte(nil), key...))
	}
	for _, key := range expired {
		if err := done.Delete(key); err != nil {
			return err
		}
	}
	v, err := encode(rec)
	if err != nil {
		return err
	}
	return done.Put([]byte(uploadID), v)
}

// completedBefore answers a retried Complete: the version an earlier
// completion of uploadID made, if it named the same key and parts and the
// version still exists.
func (k *bkt) completedBefore(key, uploadID string, parts []s3api.CompletePart) (s3api.ObjectInfo, bool) {
	done := k.b.Bucket(bktDone)
	if done == nil {
		return s3api.ObjectInfo{}, false
	}
	var rec completedRecord
	v := done.Get([]byte(uploadID))
	if v == nil || decode(v, &rec) != nil || rec.Key != key || time.Since(rec.At) >= completedTTL || rec.ETag != partsETag(parts) {
		return s3api.ObjectInfo{}, false
	}
	ver, err := k.find(key, rec.VersionID)
	if err != nil || ver.rec.DeleteMarker || ver.rec.ETag != rec.ETag {
		return s3api.ObjectInfo{}, false
	}
	return k.info(key, ver), true
}

// partsETag is the ETag a completion with these parts makes: the MD5 of
// the parts' MD5s, then "-N".
func partsETag(parts []s3api.CompletePart) string {
	h := md5.New()
	for _, p := range parts {
		raw, err := hex.DecodeString(trimETag(p.ETag))
		if err != nil {
			return ""
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
}

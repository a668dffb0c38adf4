package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// The gateway's records on disk are its own types, never s3api's wire
// structs: a change to the protocol layer must not change what is stored.
// They are JSON; the field names are fixed by the tags (format 1 stored
// s3api's structs, whose Go field names these tags repeat, so format 1
// records decode as they are).

// bucketRecord is a bucket's info.
type bucketRecord struct {
	Created    time.Time         `json:"created"`
	Group      string            `json:"group"`
	Versioning string            `json:"versioning,omitempty"` // "", "Enabled" or "Suspended"
	Tags       map[string]string `json:"tags,omitempty"`
	// RulesStamp is the stamp of the last change to the bucket's lifecycle
	// configuration or cloud policy; 0 when it has neither.
	RulesStamp uint64 `json:"rules,omitempty"`
	// Replication is the bucket's replication to a replica on another
	// Cairn (repllog.go); ReplicaOf says the bucket is such a replica, of
	// what: read-only to S3 clients.
	Replication *replRecord `json:"repl,omitempty"`
	ReplicaOf   string      `json:"replica_of,omitempty"`
	// SeedPending says a replica waits for its seed (seed.go): it takes no
	// change until a seed exported after SeedSince is imported.
	SeedPending bool      `json:"seed_pending,omitempty"`
	SeedSince   time.Time `json:"seed_since,omitzero"`
	// Reverse is a reversal of the bucket's relationship in progress
	// (reverse.go); Promoting says the bucket, a replica promoted by such
	// a reversal, takes no writes until its old source is its replica.
	Reverse   *reverseRecord `json:"reverse,omitempty"`
	Promoting bool           `json:"promoting,omitempty"`
	// Lock is the bucket's object lock configuration (objectlock.go),
	// nil until lock is enabled, never nil again after.
	Lock *lockRecord `json:"lock,omitempty"`
	// Encryption is the default encryption of writes that ask for none.
	Encryption *sseDefault `json:"sse,omitempty"`
	// Access is who owns the bucket and who else may use it (authz.go);
	// nil for a bucket made before users existed: root's, private.
	Access *accessRecord `json:"access,omitempty"`
}

// objectMeta is what a client set on an object.
type objectMeta struct {
	ContentType        string            `json:"ContentType"`
	ContentEncoding    string            `json:"ContentEncoding"`
	ContentDisposition string            `json:"ContentDisposition"`
	ContentLanguage    string            `json:"ContentLanguage"`
	CacheControl       string            `json:"CacheControl"`
	Expires            string            `json:"Expires"`
	User               map[string]string `json:"User"`
	Tags               map[string]string `json:"Tags"`
}

func metaRecord(m s3api.ObjectMeta) objectMeta {
	return objectMeta{
		ContentType: m.ContentType, ContentEncoding: m.ContentEncoding, ContentDisposition: m.ContentDisposition,
		ContentLanguage: m.ContentLanguage, CacheControl: m.CacheControl, Expires: m.Expires,
		User: maps.Clone(m.User), Tags: maps.Clone(m.Tags),
	}
}

func (m objectMeta) s3() s3api.ObjectMeta {
	return s3api.ObjectMeta{
		ContentType: m.ContentType, ContentEncoding: m.ContentEncoding, ContentDisposition: m.ContentDisposition,
		ContentLanguage: m.ContentLanguage, CacheControl: m.CacheControl, Expires: m.Expires,
		User: maps.Clone(m.User), Tags: maps.Clone(m.Tags),
	}
}

// checksumRecord is an additional checksum stored with an object or part.
type checksumRecord struct {
	Algorithm string `json:"Algorithm"`
	Value     string `json:"Value"`
	Type      string `json:"Type"`
}

func checksumOf(c s3api.Checksum) checksumRecord {
	return checksumRecord{Algorithm: c.Algorithm, Value: c.Value, Type: c.Type}
}

func (c checksumRecord) s3() s3api.Checksum {
	return s3api.Checksum{Algorithm: c.Algorithm, Value: c.Value, Type: c.Type}
}

// versionRecord is one version or delete marker.
type versionRecord struct {
	ID           string                `json:"id"` // "null" or idEncoding of the seq
	DeleteMarker bool                  `json:"dm,omitempty"`
	Manifest     chunkstore.ManifestID `json:"m"` // meaningless for delete markers
	Size         int64                 `json:"size"`
	ETag         string                `json:"etag,omitempty"`
	Modified     time.Time             `json:"mod"`
	Meta         objectMeta            `json:"meta"`
	Checksum     checksumRecord        `json:"ck"`
	Parts        int                   `json:"parts,omitempty"`
	// PartSizes are a multipart object's part lengths, in order, so that
	// GET ?partNumber=N can find part N.
	PartSizes []int64 `json:"psz,omitempty"`
	// PartChecksums are the parts' checksums (values, in the Checksum's
	// algorithm), in order, when the upload announced one: what
	// GetObjectAttributes answers for ObjectParts. Absent for objects
	// completed before they were kept.
	PartChecksums []string `json:"pck,omitempty"`
	// Tier is the tier that holds a copy of the version's data ("": none),
	// since TieredAt; TierOnly says the local copy was given up (the
	// manifest moved: reads come from the tier).
	Tier     string    `json:"tier,omitempty"`
	TieredAt time.Time `json:"tat,omitzero"`
	TierOnly bool      `json:"tonly,omitempty"`
	// Restoring says a RestoreObject is bringing the data back;
	// RestoredUntil, that it is back (local again, TierOnly kept) until
	// then, when a lifecycle scan moves it to the tier again.
	Restoring     bool      `json:"rst,omitempty"`
	RestoredUntil time.Time `json:"rsu,omitzero"`
	// Catalogs are the tiers whose catalog may hold the version (marked
	// before the catalog is written): each gets a forget when it goes.
	Catalogs []string `json:"cats,omitempty"`
	// LockMode and LockUntil are the version's retention (objectlock.go),
	// LegalHold its legal hold ("ON", "OFF", "" never set).
	LockMode  string    `json:"lkm,omitempty"`
	LockUntil time.Time `json:"lku,omitzero"`
	LegalHold string    `json:"lh,omitempty"`
	// SSE says how the version's chunks are sealed (sse.go); nil: plain.
	SSE *sseRecord `json:"sse,omitempty"`
	// ACL is the version's ACL grants (acl.go); nil when private.
	ACL []grantRecord `json:"acl,omitempty"`
}

// uploadRecord is one multipart upload in progress.
type uploadRecord struct {
	Initiated         time.Time  `json:"init"`
	Meta              objectMeta `json:"meta"`
	ChecksumAlgorithm string     `json:"ckalg,omitempty"`
	ChecksumType      string     `json:"cktype,omitempty"`
	// The lock the upload's object gets (x-amz-object-lock-* headers).
	LockMode  string    `json:"lkm,omitempty"`
	LockUntil time.Time `json:"lku,omitzero"`
	LegalHold string    `json:"lh,omitempty"`
	// SSE is how the upload's parts are sealed, chosen at its creation.
	SSE *sseRecord `json:"sse,omitempty"`
	// ACL is what CreateMultipartUpload's ACL headers set, for the
	// completed object (acl.go); nil when private.
	ACL []grantRecord `json:"acl,omitempty"`
}

// partRecord is one uploaded part.
type partRecord struct {
	Manifest chunkstore.ManifestID `json:"m"`
	Size     int64                 `json:"size"`
	ETag     string                `json:"etag"` // hex MD5 of the part's bytes
	Modified time.Time             `json:"mod"`
	Checksum checksumRecord        `json:"ck"`
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("gateway: metadata record: %w", err)
	}
	return nil
}

package gateway

// Where the gateway keeps its records. Every record about a bucket and its
// objects lives in the chunk store of the bucket's storage group, in the
// store's namespace for its caller (chunkstore.Tx.Bucket), so that an
// object version and its manifest commit in one transaction and a release
// happens in the transaction that drops the last record naming a manifest:
//
//	sys/                       clock (last stamp handed out, uint64 ns)
//	buckets/<name>/            one nested bucket per S3 bucket
//	    info                   bucketRecord (JSON), its owner, policy, ACL, public access block and ownership controls among it (authz.go)
//	    cur/<key>              seq of the key's current version, present only
//	                           while that version is not a delete marker
//	    ver/<ekey>00 01<seq>   versionRecord (JSON), every version and marker
//	    nul/<key>              seq of the key's null version, if any
//	    upl/<ekey>00 01<uid>   uploadRecord (JSON)
//	    prt/<uid><part:2>      partRecord (JSON)
//	    done/<upload ID>       completedRecord (JSON), see completed.go
//	    lc                     lifecycle configuration (canonical XML), see lifecycle.go
//	    cors                   CORS configuration (corsRecord, JSON), see cors.go
//	    cp                     cloud policy (JSON)
//	    scan                   scanRecord (JSON): the lifecycle scanner's run in
//	                           progress (cursor, counts) and its last run
//
// meta.db, in the data directory, holds what spans groups: its format, and
// the groups that hold buckets (groups/<name> -> directory), so that a
// group left out of the configuration is noticed rather than its buckets
// silently missing, and the users (users/<name>, users.go), whose secrets
// are sealed under DATA/users.key. Its lock is the data directory's. (Format 1 kept the
// bucket trees in meta.db; migrate.go moves them.)
//
// <key> is the object key's bytes; <ekey> is the key with every 0x00 byte
// written 00 FF, so that <ekey>00 01 sorts exactly where the key sorts and
// all versions of a key are contiguous. <seq> is 8 bytes of inverted stamp
// then 4 random bytes: a key's versions sort newest first. <uid> is 8 bytes
// of (not inverted) stamp then 4 random bytes: a key's uploads sort in
// initiation order. Stamps are nanoseconds since the epoch, strictly
// increasing across the group's life (sys/clock), so order never depends
// on the wall clock behaving.
//
// cur lets ListObjects walk live objects only and skip a whole common prefix
// with one Seek; ver serves versions, deletes by version ID (the ID is the
// base32hex of <seq>, so it decodes to its own bbolt key) and ListObjectVersions.

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

var (
	bktSys     = []byte("sys")
	bktBuckets = []byte("buckets")
	bktGroups  = []byte("groups")
	keyFormat  = []byte("format")
	keyClock   = []byte("clock")
	keyInfo    = []byte("info")
	bktCur     = []byte("cur")
	bktVer     = []byte("ver")
	bktNul     = []byte("nul")
	bktUpl     = []byte("upl")
	bktPrt     = []byte("prt")
)

// metaFormat is meta.db's format: "1" held the buckets, "2" only the groups.
const (
	metaFormat  = "2"
	metaFormat1 = "1"
)

// seqLen is the length of a version's seq and of an upload's uid.
const seqLen = 12

// nullVersion is S3's version ID of the null version.
const nullVersion = "null"

// idEncoding keeps byte order in string order, so IDs sort like their keys.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// initMeta makes a new meta.db's buckets and returns its format: metaFormat,
// or metaFormat1 for a data directory to migrate.
func initMeta(db *bolt.DB) (string, error) {
	var format string
	err := db.Update(func(tx *bolt.Tx) error {
		sys, err := tx.CreateBucketIfNotExists(bktSys)
		if err != nil {
			return err
		}
		switch f := sys.Get(keyFormat); {
		case f == nil:
			if err := sys.Put(keyFormat, []byte(metaFormat)); err != nil {
				return err
			}
			format = metaFormat
		case string(f) == metaFormat || string(f) == metaFormat1:
			format = string(f)
		default:
			return fmt.Errorf("gateway: meta.db has format %q, this cairn reads %q", f, metaFormat)
		}
		_, err = tx.CreateBucketIfNotExists(bktGroups)
		return err
	})
	return format, err
}

// nextStamp hands out the next stamp of a group: now, or one past the last
// stamp when the clock has not moved on (or went back).
func nextStamp(tx *chunkstore.Tx) (uint64, error) {
	sys, err := tx.Bucket().CreateBucketIfNotExists(bktSys)
	if err != nil {
		return 0, err
	}
	now := uint64(time.Now().UnixNano())
	if last := sys.Get(keyClock); len(last) == 8 {
		if l := binary.BigEndian.Uint64(last); now <= l {
			now = l + 1
		}
	}
	return now, sys.Put(keyClock, binary.BigEndian.AppendUint64(nil, now))
}

func stampTime(stamp uint64) time.Time { return time.Unix(0, int64(stamp)).UTC() }

// newSeq is a version's seq: newest first in byte order.
func newSeq(stamp uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, seqLen), math.MaxUint64-stamp)
	var r [4]byte
	rand.Read(r[:])
	return append(b, r[:]...)
}

// seqStamp inverts newSeq.
func seqStamp(seq []byte) uint64 { return math.MaxUint64 - binary.BigEndian.Uint64(seq) }

// newUID is an upload's uid: initiation order in byte order.
func newUID(stamp uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, seqLen), stamp)
	var r [4]byte
	rand.Read(r[:])
	return append(b, r[:]...)
}

func formatID(seq []byte) string { return idEncoding.EncodeToString(seq) }

// parseID decodes a version or upload ID; ok is false when it is malformed.
func parseID(id string) ([]byte, bool) {
	b, err := idEncoding.DecodeString(id)
	if err != nil || len(b) != seqLen || idEncoding.EncodeToString(b) != id {
		return nil, false
	}
	return b, true
}

// escapeKey appends key with 0x00 written as 00 FF.
func escapeKey(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			dst = append(dst, 0, 0xff)
		} else {
			dst = append(dst, key[i])
		}
	}
	return dst
}

// keyPrefix is the prefix of every composite entry of key: <ekey>00 01.
func keyPrefix(key string) []byte { return append(escapeKey(nil, key), 0, 1) }

// composite is a ver or upl bbolt key.
func composite(key string, seq []byte) []byte { return append(keyPrefix(key), seq...) }

// splitComposite returns the object key and the seq (or uid) of a ver or upl
// bbolt key. The seq is fixed-length, so the key is everything before it
// and the 00 01 separator.
func splitComposite(k []byte) (string, []byte, error) {
	if len(k) < seqLen+2 {
		return "", nil, fmt.Errorf("gateway: meta.db key %x too short", k)
	}
	ek, seq := k[:len(k)-seqLen-2], k[len(k)-seqLen:]
	return string(bytes.ReplaceAll(ek, []byte{0, 0xff}, []byte{0})), seq, nil
}

// prefixEnd is the smallest byte string greater than every string with
// prefix p, or nil when there is none (p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func partKey(uid []byte, part int) []byte {
	return binary.BigEndian.AppendUint16(bytes.Clone(uid), uint16(part))
}

// bkt is one S3 bucket opened inside a transaction of its group.
type bkt struct {
	tx                      *chunkstore.Tx
	name                    string
	rec                     bucketRecord
	b                       *bolt.Bucket
	cur, ver, nul, upl, prt *bolt.Bucket
	// bypassGovernance lets drop remove a version under GOVERNANCE
	// retention: set by a caller that was granted it (objectlock.go).
	bypassGovernance bool
	// writeOnce: the write's caller may not replace an existing version
	// (s3api.NoOverwrite, authz.go).
	writeOnce bool
}

// openBkt opens bucket name in a group's transaction, or answers
// ErrNoSuchBucket.
func openBkt(tx *chunkstore.Tx, name string) (*bkt, error) {
	var b *bolt.Bucket
	if root := tx.Bucket().Bucket(bktBuckets); root != nil {
		b = root.Bucket([]byte(name))
	}
	if b == nil {
		return nil, s3api.ErrNoSuchBucket.WithMessagef("The specified bucket does not exist: %s", name)
	}
	k := &bkt{tx: tx, name: name, b: b,
		cur: b.Bucket(bktCur), ver: b.Bucket(bktVer), nul: b.Bucket(bktNul),
		upl: b.Bucket(bktUpl), prt: b.Bucket(bktPrt)}
	if err := decode(b.Get(keyInfo), &k.rec); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	return k, nil
}

// versionBatch is how many versions a long walk reads per transaction, so
// that no transaction stays open long on a large bucket.
const versionBatch = 1000

// nextVersions calls fn for up to versionBatch versions of k after the
// composite key after (nil: from the first), in key order, and answers
// the last one's composite key, nil when none was left.
func (k *bkt) nextVersions(after []byte, fn func(key string, seq []byte, rec versionRecord) error) ([]byte, error) {
	c := k.ver.Cursor()
	ck, v := c.First()
	if after != nil {
		if ck, v = c.Seek(after); ck != nil && bytes.Equal(ck, after) {
			ck, v = c.Next()
		}
	}
	var last []byte
	for n := 0; ck != nil && n < versionBatch; ck, v = c.Next() {
		key, seq, err := splitComposite(ck)
		if err != nil {
			return nil, err
		}
		var rec versionRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		if err := fn(key, bytes.Clone(seq), rec); err != nil {
			return nil, err
		}
		last = bytes.Clone(ck)
		n++
	}
	return last, nil
}

// eachBucket opens every bucket of a group's transaction in turn.
func eachBucket(tx *chunkstore.Tx, fn func(k *bkt) error) error {
	root := tx.Bucket().Bucket(bktBuckets)
	if root == nil {
		return nil
	}
	return root.ForEachBucket(func(name []byte) error {
		k, err := openBkt(tx, string(name))
		if err != nil {
			return err
		}
		return fn(k)
	})
}

func (k *bkt) versioning() s3api.Versioning { return s3api.Versioning(k.rec.Versioning) }

func (k *bkt) saveInfo() error {
	v, err := encode(k.rec)
	if err != nil {
		return err
	}
	return k.b.Put(keyInfo, v)
}

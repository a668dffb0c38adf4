package gateway

import (
	"bytes"
	"context"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// maxPage caps every listing page, as S3 does.
const maxPage = 1000

// keyspace says how object keys sit in one bbolt bucket: as themselves (cur)
// or as composites with a fixed-length suffix (ver, upl).
type keyspace struct {
	// enc is the bbolt-key prefix shared by every entry whose key has prefix s.
	enc func(s string) []byte
	// split returns an entry's object key and suffix.
	split func(k []byte) (string, []byte, error)
	// after is the first bbolt key past every entry of key.
	after func(key string) []byte
	// at is the bbolt key of key's entry with suffix sub.
	at func(key string, sub []byte) []byte
}

var (
	plainKeys = keyspace{
		enc:   func(s string) []byte { return []byte(s) },
		split: func(k []byte) (string, []byte, error) { return string(k), nil, nil },
		after: func(key string) []byte { return append([]byte(key), 0) },
		at:    func(key string, _ []byte) []byte { return []byte(key) },
	}
	compositeKeys = keyspace{
		enc:   func(s string) []byte { return escapeKey(nil, s) },
		split: splitComposite,
		after: func(key string) []byte { return prefixEnd(keyPrefix(key)) },
		at:    composite,
	}
)

// walkOpts bounds one listing walk.
type walkOpts struct {
	prefix, delimiter string
	// after: only entries of keys (or common prefixes) greater than it;
	// with resume set, the entries of key after that come after resume
	// instead (a version-ID or upload-ID marker).
	after  string
	resume []byte
	max    int
}

// walk visits, in order, the entries under o.prefix and the common prefixes
// they roll up into, at most o.max of them together. A common prefix is one
// item, and the walk leaves it with a single Seek past all its keys, however
// many there are. It reports whether more items follow.
func walk(c *bolt.Cursor, ks keyspace, o walkOpts, entry func(key string, sub, v []byte) error, common func(cp string)) (bool, error) {
	pfx := ks.enc(o.prefix)
	start := pfx
	raise := func(b []byte) {
		if b != nil && bytes.Compare(b, start) > 0 {
			start = b
		}
	}
	skipAt := []byte(nil)
	if o.after != "" || o.resume != nil {
		if o.resume != nil {
			skipAt = ks.at(o.after, o.resume)
			raise(skipAt)
		} else {
			raise(ks.after(o.after))
		}
		// A marker inside a common prefix: that prefix was returned (or is
		// before the marker), so none of its keys may come back.
		if cp, ok := rollUp(o.after, o.prefix, o.delimiter); ok {
			if end := prefixEnd(ks.enc(cp)); end != nil {
				raise(end)
			} else {
				return false, nil
			}
		}
	}
	n := 0
	k, v := c.Seek(start)
	if skipAt != nil && bytes.Equal(k, skipAt) {
		k, v = c.Next()
	}
	for k != nil && bytes.HasPrefix(k, pfx) {
		key, sub, err := ks.split(k)
		if err != nil {
			return false, err
		}
		if cp, ok := rollUp(key, o.prefix, o.delimiter); ok {
			if n == o.max {
				return true, nil
			}
			common(cp)
			n++
			end := prefixEnd(ks.enc(cp))
			if end == nil {
				break
			}
			k, v = c.Seek(end)
			continue
		}
		if n == o.max {
			return true, nil
		}
		if err := entry(key, sub, v); err != nil {
			return false, err
		}
		n++
		k, v = c.Next()
	}
	return false, nil
}

// rollUp returns the common prefix key belongs to, if any: the key up to and
// including the first delimiter after prefix.
func rollUp(key, prefix, delimiter string) (string, bool) {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delimiter)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delimiter)], true
}

func pageSize(n int) int { return min(max(n, 0), maxPage) }

// ListObjects lists current objects (delete markers hidden) in key order.
func (g *Gateway) ListObjects(ctx context.Context, in s3api.ListInput) (s3api.ListResult, error) {
	var out s3api.ListResult
	err := g.viewBucket(in.Bucket, func(_ *chunkstore.Tx, k *bkt) error {
		var err error
		o := walkOpts{prefix: in.Prefix, delimiter: in.Delimiter, after: in.After, max: pageSize(in.MaxKeys)}
		if o.max == 0 {
			return nil
		}
		out.IsTruncated, err = walk(k.cur.Cursor(), plainKeys, o,
			func(key string, _, seq []byte) error {
				v := version{seq: seq, latest: true}
				if err := decode(k.ver.Get(composite(key, seq)), &v.rec); err != nil {
					return err
				}
				out.Objects = append(out.Objects, k.info(key, v))
				out.Next = key
				return nil
			},
			func(cp string) {
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.Next = cp
			})
		return err
	})
	if !out.IsTruncated {
		out.Next = ""
	}
	return out, mapErr(err)
}

// ListObjectVersions lists versions and delete markers, keys in order and
// each key's versions newest first.
func (g *Gateway) ListObjectVersions(ctx context.Context, in s3api.ListVersionsInput) (s3api.ListVersionsResult, error) {
	var out s3api.ListVersionsResult
	err := g.viewBucket(in.Bucket, func(_ *chunkstore.Tx, k *bkt) error {
		var err error
		o := walkOpts{prefix: in.Prefix, delimiter: in.Delimiter, after: in.KeyMarker, max: pageSize(in.MaxKeys)}
		if in.VersionIDMarker != "" {
			if in.KeyMarker == "" {
				return s3api.ErrInvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker.")
			}
			if in.VersionIDMarker == nullVersion {
				// A null version deleted since: resume after the whole key.
				if seq := k.nul.Get([]byte(in.KeyMarker)); seq != nil {
					o.resume = bytes.Clone(seq)
				}
			} else {
				seq, ok := parseID(in.VersionIDMarker)
				if !ok {
					return errInvalidVersion
				}
				// A deleted version still marks its place: seqs are positions.
				o.resume = seq
			}
		}
		if o.max == 0 {
			return nil
		}
		// The first entry of each key is its latest version, unless the
		// walk resumed inside the key.
		prev, started := "", false
		if o.resume != nil {
			prev, started = in.KeyMarker, true
		}
		out.IsTruncated, err = walk(k.ver.Cursor(), compositeKeys, o,
			func(key string, seq, val []byte) error {
				ver := version{seq: bytes.Clone(seq), latest: !started || key != prev}
				prev, started = key, true
				if err := decode(val, &ver.rec); err != nil {
					return err
				}
				info := k.info(key, ver)
				info.VersionID = ver.rec.ID // "null" even where versioning never was, as S3 lists it
				out.Versions = append(out.Versions, info)
				out.NextKeyMarker, out.NextVersionIDMarker = key, ver.rec.ID
				return nil
			},
			func(cp string) {
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.NextKeyMarker, out.NextVersionIDMarker = cp, ""
			})
		return err
	})
	if !out.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = "", ""
	}
	return out, mapErr(err)
}

// ListMultipartUploads lists uploads in progress, keys in order and each
// key's uploads in initiation order.
func (g *Gateway) ListMultipartUploads(ctx context.Context, in s3api.ListUploadsInput) (s3api.ListUploadsResult, error) {
	var out s3api.ListUploadsResult
	err := g.viewBucket(in.Bucket, func(_ *chunkstore.Tx, k *bkt) error {
		var err error
		o := walkOpts{prefix: in.Prefix, delimiter: in.Delimiter, after: in.KeyMarker, max: pageSize(in.MaxUploads)}
		if in.UploadIDMarker != "" && in.KeyMarker != "" {
			uid, ok := parseID(in.UploadIDMarker)
			if !ok {
				return s3api.ErrInvalidArgument.WithMessage("Invalid uploadId marker specified.")
			}
			o.resume = uid
		}
		if o.max == 0 {
			return nil
		}
		out.IsTruncated, err = walk(k.upl.Cursor(), compositeKeys, o,
			func(key string, uid, val []byte) error {
				var rec uploadRecord
				if err := decode(val, &rec); err != nil {
					return err
				}
				id := formatID(uid)
				out.Uploads = append(out.Uploads, rec.info(in.Bucket, key, id))
				out.NextKeyMarker, out.NextUploadIDMarker = key, id
				return nil
			},
			func(cp string) {
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.NextKeyMarker, out.NextUploadIDMarker = cp, ""
			})
		return err
	})
	if !out.IsTruncated {
		out.NextKeyMarker, out.NextUploadIDMarker = "", ""
	}
	return out, mapErr(err)
}

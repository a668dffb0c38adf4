package gateway

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"maps"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// stream copies body into a new manifest of gr. On any failure the writer is
// aborted and nothing stays behind; an error from body (a digest mismatch
// s3api detected, a client gone) comes back unchanged. size is the declared
// length, -1 when unknown. The returned hash is the MD5 of the bytes when
// ownMD5 is set (the caller has no digest from s3api).
func stream(ctx context.Context, gr *group, body io.Reader, size int64, ownMD5 bool) (chunkstore.Manifest, []byte, error) {
	w := gr.store.NewWriter(ctx)
	var h hash.Hash
	if ownMD5 {
		h = md5.New()
		body = io.TeeReader(body, h)
	}
	n, err := io.Copy(w, body)
	if err == nil && size >= 0 && n != size {
		err = s3api.ErrIncompleteBody.WithMessagef("You did not provide the number of bytes specified by the Content-Length HTTP header: got %d of %d.", n, size)
	}
	if err == nil {
		// A client gone after its last byte still must not create an object.
		err = ctx.Err()
	}
	if err != nil {
		w.Abort()
		return chunkstore.Manifest{}, nil, err
	}
	m, err := w.Commit(ctx)
	if err != nil {
		w.Abort()
		return chunkstore.Manifest{}, nil, err
	}
	var sum []byte
	if h != nil {
		sum = h.Sum(nil)
	}
	return m, sum, nil
}

// digestOf returns the MD5 and checksum of a streamed payload: s3api's when
// it gave a Digest, else the MD5 stream computed.
func digestOf(digest func() s3api.Digest, own []byte) ([]byte, s3api.Checksum) {
	if digest == nil {
		return own, s3api.Checksum{}
	}
	d := digest()
	return d.MD5, d.Checksum
}

// PutObject streams in.Body into the bucket's group, then records the version.
func (g *Gateway) PutObject(ctx context.Context, in s3api.PutObjectInput) (s3api.ObjectInfo, error) {
	brec, gr, err := g.bucketGroup(in.Bucket)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	m, own, err := stream(ctx, gr, in.Body, in.Size, in.Digest == nil)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	sum, ck := digestOf(in.Digest, own)
	rec := versionRecord{
		Manifest: m.ID,
		Size:     m.Size,
		ETag:     hex.EncodeToString(sum),
		Meta:     in.Meta,
		Checksum: ck,
	}
	return g.record(ctx, gr, brec, in.Bucket, in.Key, rec, in.IfMatch, in.IfNoneMatch)
}

// record makes rec (whose manifest is committed in gr) a new version of key,
// atomically with the conditional-write check, then releases what it
// displaced. On failure it releases rec's manifest: nothing names it.
func (g *Gateway) record(ctx context.Context, gr *group, brec bucketRecord, bucket, key string, rec versionRecord, ifMatch, ifNoneMatch string) (s3api.ObjectInfo, error) {
	var (
		info     s3api.ObjectInfo
		released []chunkstore.ManifestID
	)
	err := g.db.Update(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		if k.rec.Group != brec.Group || !k.rec.Created.Equal(brec.Created) {
			// Deleted and created again while the data streamed.
			return s3api.ErrNoSuchBucket
		}
		v, ids, err := k.write(tx, key, rec, ifMatch, ifNoneMatch)
		if err != nil {
			return err
		}
		released = ids
		info = k.info(key, v)
		return nil
	})
	if err != nil {
		gr.release(ctx, rec.Manifest)
		return s3api.ObjectInfo{}, mapErr(err)
	}
	gr.release(ctx, released...)
	return info, nil
}

// GetObject resolves the version and opens its bytes. The manifest is pinned
// inside the transaction that found it (pinView), so a concurrent delete
// cannot take its chunks while the reader is open.
func (g *Gateway) GetObject(ctx context.Context, bucket, key, versionID string) (s3api.ObjectInfo, io.ReadSeekCloser, error) {
	var (
		info s3api.ObjectInfo
		gr   *group
		id   chunkstore.ManifestID
	)
	err := g.pinView(func(tx *bolt.Tx) error {
		k, v, err := g.resolve(tx, bucket, key, versionID)
		info = k.info(key, v)
		if err != nil {
			return err
		}
		if gr, err = g.group(k.rec.Group); err != nil {
			return err
		}
		id = v.rec.Manifest
		gr.pin(id)
		return nil
	})
	if err != nil {
		return info, nil, mapErr(err)
	}
	r, err := gr.open(ctx, id)
	if err != nil {
		return info, nil, mapErr(err)
	}
	return info, r, nil
}

// resolve finds a readable version: a delete marker answers ErrNoSuchKey
// when current and ErrMethodNotAllowed when named, with k and v filled in so
// the caller can report the marker. k is never nil when the bucket exists.
func (g *Gateway) resolve(tx *bolt.Tx, bucket, key, versionID string) (*bkt, version, error) {
	k, err := openBkt(tx, bucket)
	if err != nil {
		return &bkt{name: bucket}, version{}, err
	}
	v, err := k.find(key, versionID)
	if err != nil {
		return k, version{}, err
	}
	if v.rec.DeleteMarker {
		if versionID == "" {
			return k, v, s3api.ErrNoSuchKey
		}
		return k, v, s3api.ErrMethodNotAllowed.WithMessage("The specified method is not allowed against this resource: the version is a delete marker.")
	}
	return k, v, nil
}

// HeadObject describes a version as GetObject would, without opening it.
func (g *Gateway) HeadObject(ctx context.Context, bucket, key, versionID string) (s3api.ObjectInfo, error) {
	var info s3api.ObjectInfo
	err := g.db.View(func(tx *bolt.Tx) error {
		k, v, err := g.resolve(tx, bucket, key, versionID)
		info = k.info(key, v)
		return err
	})
	return info, mapErr(err)
}

// DeleteObject deletes following the bucket's versioning state (version.go).
func (g *Gateway) DeleteObject(ctx context.Context, bucket, key, versionID string) (s3api.DeleteResult, error) {
	var (
		res      s3api.DeleteResult
		released []chunkstore.ManifestID
		grp      string
	)
	err := g.db.Update(func(tx *bolt.Tx) error {
		k, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		grp = k.rec.Group
		if versionID != "" {
			v, err := k.find(key, versionID)
			if errors.Is(err, s3api.ErrNoSuchVersion) {
				// Deleting what is not there succeeds, as in S3.
				res.VersionID = versionID
				return nil
			}
			if err != nil {
				return err
			}
			res = s3api.DeleteResult{VersionID: v.rec.ID, DeleteMarker: v.rec.DeleteMarker}
			released, err = k.drop(key, v)
			return err
		}
		switch k.rec.Versioning {
		case s3api.VersioningUnset:
			released, _, err = k.dropNull(key)
			return err
		case s3api.VersioningEnabled, s3api.VersioningSuspended:
			stamp, err := nextStamp(tx)
			if err != nil {
				return err
			}
			v, ids, err := k.push(key, deleteMarker(), stamp)
			released = ids
			res = s3api.DeleteResult{VersionID: v.rec.ID, DeleteMarker: true}
			return err
		}
		return nil
	})
	if err != nil {
		return s3api.DeleteResult{}, mapErr(err)
	}
	if len(released) > 0 {
		gr, err := g.group(grp)
		if err != nil {
			return res, err
		}
		gr.release(ctx, released...)
	}
	return res, nil
}

// CopyObject makes the source version a new version of the destination.
// Within one group the copy shares the source's chunks (Clone); across
// groups the bytes stream through a writer of the destination's group.
func (g *Gateway) CopyObject(ctx context.Context, in s3api.CopyObjectInput) (s3api.ObjectInfo, error) {
	if in.SrcBucket == in.DstBucket && in.SrcKey == in.DstKey && in.SrcVersionID == "" && in.Meta == nil && in.Tags == nil {
		return s3api.ObjectInfo{}, s3api.ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	src, srcGr, err := g.source(in.SrcBucket, in.SrcKey, in.SrcVersionID, in.SourceCheck)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	defer srcGr.unpin(ctx, src.rec.Manifest)
	brec, dstGr, err := g.bucketGroup(in.DstBucket)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	var m chunkstore.Manifest
	if srcGr == dstGr {
		m, err = dstGr.store.Clone(ctx, src.rec.Manifest)
	} else {
		m, err = copyAcross(ctx, srcGr, dstGr, src.rec.Manifest)
	}
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	rec := versionRecord{
		Manifest: m.ID,
		Size:     src.rec.Size,
		ETag:     src.rec.ETag,
		Meta:     src.rec.Meta,
		Checksum: src.rec.Checksum,
		// The copy keeps the source's multipart ETag and parts count, so
		// it keeps where each part lies too (GET ?partNumber=N).
		Parts:     src.rec.Parts,
		PartSizes: src.rec.PartSizes,
	}
	if in.Meta != nil {
		rec.Meta = *in.Meta
		rec.Meta.Tags = src.rec.Meta.Tags
	}
	rec.Meta.User = maps.Clone(rec.Meta.User)
	rec.Meta.Tags = maps.Clone(rec.Meta.Tags)
	if in.Tags != nil {
		rec.Meta.Tags = maps.Clone(in.Tags)
	}
	return g.record(ctx, dstGr, brec, in.DstBucket, in.DstKey, rec, "", "")
}

// source resolves and pins a copy source, calling check inside the
// transaction. A delete marker named by version ID cannot be copied.
func (g *Gateway) source(bucket, key, versionID string, check func(s3api.ObjectInfo) error) (version, *group, error) {
	var (
		v  version
		gr *group
	)
	err := g.pinView(func(tx *bolt.Tx) error {
		k, ver, err := g.resolve(tx, bucket, key, versionID)
		if errors.Is(err, s3api.ErrMethodNotAllowed) {
			return s3api.ErrInvalidRequest.WithMessage("The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(k.info(key, ver)); err != nil {
				return err
			}
		}
		if gr, err = g.group(k.rec.Group); err != nil {
			return err
		}
		v = ver
		gr.pin(v.rec.Manifest)
		return nil
	})
	return v, gr, err
}

// copyAcross streams a manifest of one group into a new manifest of another.
func copyAcross(ctx context.Context, from, to *group, id chunkstore.ManifestID) (chunkstore.Manifest, error) {
	r, err := from.store.NewReader(ctx, id)
	if err != nil {
		return chunkstore.Manifest{}, err
	}
	defer r.Close()
	m, _, err := stream(ctx, to, r, r.Size(), false)
	return m, err
}

// GetObjectTagging answers a version's tags and the version it resolved.
func (g *Gateway) GetObjectTagging(ctx context.Context, bucket, key, versionID string) (map[string]string, string, error) {
	var (
		tags map[string]string
		vid  string
	)
	err := g.db.View(func(tx *bolt.Tx) error {
		k, v, err := g.resolve(tx, bucket, key, versionID)
		if err != nil {
			return err
		}
		tags = maps.Clone(v.rec.Meta.Tags)
		vid = k.info(key, v).VersionID
		return nil
	})
	if tags == nil && err == nil {
		tags = map[string]string{}
	}
	return tags, vid, mapErr(err)
}

// PutObjectTagging replaces a version's tags in place: tags are not data,
// S3 does not make a new version for them.
func (g *Gateway) PutObjectTagging(ctx context.Context, bucket, key, versionID string, tags map[string]string) (string, error) {
	return g.retag(bucket, key, versionID, maps.Clone(tags))
}

// DeleteObjectTagging removes a version's tags.
func (g *Gateway) DeleteObjectTagging(ctx context.Context, bucket, key, versionID string) (string, error) {
	return g.retag(bucket, key, versionID, nil)
}

func (g *Gateway) retag(bucket, key, versionID string, tags map[string]string) (string, error) {
	var vid string
	err := g.db.Update(func(tx *bolt.Tx) error {
		k, v, err := g.resolve(tx, bucket, key, versionID)
		if err != nil {
			return err
		}
		v.rec.Meta.Tags = tags
		vid = k.info(key, v).VersionID
		enc, err := encode(v.rec)
		if err != nil {
			return err
		}
		return k.ver.Put(composite(key, v.seq), enc)
	})
	return vid, mapErr(err)
}

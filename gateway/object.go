package gateway

import (
	"context"
	"crypto/md5"
	"errors"
	"hash"
	"io"
	"log/slog"
	"maps"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/s3api"
)

// commitFunc records a manifest inside the transaction that commits it,
// given the MD5 of its bytes when stream computed one.
type commitFunc func(tx *chunkstore.Tx, m chunkstore.Manifest, md5 []byte) error

// stream copies body into a new manifest of gr and commits it with record
// in the same transaction: the object (or part) and its bytes become
// visible together, or not at all. On any failure nothing stays behind; an
// error from body (a digest mismatch s3api detected, a client gone) or from
// record comes back unchanged. size is the declared length, -1 when
// unknown; key, when set, seals the chunks (sse.go). ownMD5 asks for the MD5 of the bytes (the caller has no digest
// from s3api). The commit is shared with concurrent ones, so record may
// run more than once (chunkstore.CommitFunc): it keeps its effects in tx
// and sets its results.
func stream(ctx context.Context, gr *group, body io.Reader, size int64, ownMD5 bool, key *chunkstore.SealKey, record commitFunc) (chunkstore.Manifest, error) {
	w := gr.store.NewWriter(ctx)
	if key != nil {
		// Sealed: the chunks are named and sealed in the key's domain.
		w.Seal(key)
	}
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
		return chunkstore.Manifest{}, err
	}
	var sum []byte
	if h != nil {
		sum = h.Sum(nil)
	}
	return w.CommitWith(ctx, func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		return record(tx, m, sum)
	})
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

// PutObject streams in.Body into the bucket's group and records the version
// in the transaction that commits its manifest.
func (g *Gateway) PutObject(ctx context.Context, in s3api.PutObjectInput) (s3api.ObjectInfo, error) {
	if err := g.writable(in.Bucket); err != nil {
		return s3api.ObjectInfo{}, err
	}
	gr, err := g.bucketGroup(in.Bucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	acl, err := g.writeACL(ctx, in.Bucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	if err := g.admitWrite(gr); err != nil {
		return s3api.ObjectInfo{}, err
	}
	if err := g.admitLock(in.Bucket, in.Lock); err != nil {
		return s3api.ObjectInfo{}, err
	}
	seal, err := g.writeSealing(gr, in.Bucket, requestSSE(ctx).Object)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	var info s3api.ObjectInfo
	_, err = stream(ctx, gr, in.Body, in.Size, in.Digest == nil, seal.chunkKey(), func(tx *chunkstore.Tx, m chunkstore.Manifest, own []byte) error {
		sum, ck := digestOf(in.Digest, own)
		rec := versionRecord{
			Manifest: m.ID,
			Size:     m.Size,
			ETag:     seal.etag(sum),
			Meta:     metaRecord(in.Meta),
			Checksum: checksumOf(ck),
			SSE:      seal.rec,
			ACL:      acl,
		}
		rec.setLock(in.Lock)
		var err error
		info, err = g.record(tx, in.Bucket, in.Key, rec, in.IfMatch, in.IfNoneMatch, s3api.NoOverwrite(ctx))
		info.SSE = seal.info()
		return err
	})
	return info, mapErr(g.quotaReached(gr, err))
}

// record makes rec (whose manifest tx commits) a new version of key,
// atomically with the conditional-write check; what it displaces is
// released in tx too.
func (g *Gateway) record(tx *chunkstore.Tx, bucket, key string, rec versionRecord, ifMatch, ifNoneMatch string, writeOnce bool) (s3api.ObjectInfo, error) {
	k, err := openBkt(tx, bucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	k.writeOnce = writeOnce
	v, err := k.write(key, rec, ifMatch, ifNoneMatch)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	return g.described(k, key, v), nil
}

// GetObject resolves the version and opens its bytes in one read
// transaction: the reader holds the manifest (a chunk store lease), so a
// concurrent delete cannot take its chunks while it is open.
func (g *Gateway) GetObject(ctx context.Context, bucket, key, versionID string) (s3api.ObjectInfo, io.ReadSeekCloser, error) {
	var (
		info   s3api.ObjectInfo
		r      *chunkstore.Reader
		tiered bool
	)
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return info, nil, err
	}
	err = g.viewBucket(bucket, func(tx *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		info = g.described(k, key, v)
		if err != nil {
			return err
		}
		seal, err := g.readSealing(gr, v.rec.SSE, requestSSE(ctx).Object)
		if err != nil {
			return err
		}
		info.SSE = seal.info()
		tiered = v.rec.Tier != ""
		if r, err = tx.NewReader(ctx, v.rec.Manifest); err == nil {
			seal.unseal(r)
		}
		return err
	})
	if err != nil {
		return info, nil, mapErr(err)
	}
	if tiered {
		return info, tieredReader{Reader: r, log: g.log.With("bucket", bucket, "key", key)}, nil
	}
	return info, r, nil
}

// tieredReader reads a version with data in a tier: its errors are S3's
// (a tier that cannot be reached is ServiceUnavailable, which clients
// retry), so that a GET whose first bytes fail answers the error.
type tieredReader struct {
	*chunkstore.Reader
	log *slog.Logger
}

func (r tieredReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = r.mapped(err)
	}
	return n, err
}

func (r tieredReader) WriteTo(w io.Writer) (int64, error) {
	n, err := r.Reader.WriteTo(w)
	return n, r.mapped(err)
}

// mapped logs a read's error whole and gives the client S3's version.
func (r tieredReader) mapped(err error) error {
	if err != nil && (errors.Is(err, chunkstore.ErrRemote) || errors.Is(err, cloudtier.ErrDamaged)) {
		r.log.Warn("read from a tier failed", "err", err)
	}
	return mapErr(err)
}

// resolve finds a readable version: a delete marker answers ErrNoSuchKey
// when current and ErrMethodNotAllowed when named, with the version filled
// in so the caller can report the marker.
func resolve(k *bkt, key, versionID string) (version, error) {
	v, err := k.find(key, versionID)
	if err != nil {
		return version{}, err
	}
	if v.rec.DeleteMarker {
		if versionID == "" {
			return v, s3api.ErrNoSuchKey
		}
		return v, s3api.ErrMethodNotAllowed.WithMessage("The specified method is not allowed against this resource: the version is a delete marker.")
	}
	return v, nil
}

// HeadObject describes a version as GetObject would, without opening it.
func (g *Gateway) HeadObject(ctx context.Context, bucket, key, versionID string) (s3api.ObjectInfo, error) {
	var info s3api.ObjectInfo
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return info, err
	}
	err = g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		info = g.described(k, key, v)
		if err != nil {
			return err
		}
		// HEAD of an SSE-C object needs its key, as S3 has it.
		seal, err := g.readSealing(gr, v.rec.SSE, requestSSE(ctx).Object)
		info.SSE = seal.info()
		return err
	})
	return info, mapErr(err)
}

// DeleteObject deletes following the bucket's versioning state (version.go),
// releasing what it drops in the same transaction.
func (g *Gateway) DeleteObject(ctx context.Context, bucket, key, versionID string) (s3api.DeleteResult, error) {
	if err := g.writable(bucket); err != nil {
		return s3api.DeleteResult{}, err
	}
	var res s3api.DeleteResult
	err := g.batchBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		res = s3api.DeleteResult{} // this may run more than once
		k.bypassGovernance = s3api.BypassGovernance(ctx)
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
			return k.drop(key, v)
		}
		switch k.versioning() {
		case s3api.VersioningUnset:
			return k.dropNull(key)
		case s3api.VersioningEnabled, s3api.VersioningSuspended:
			v, err := k.push(key, deleteMarker())
			res = s3api.DeleteResult{VersionID: v.rec.ID, DeleteMarker: true}
			return err
		}
		return nil
	})
	if err != nil {
		return s3api.DeleteResult{}, mapErr(err)
	}
	return res, nil
}

// CopyObject makes the source version a new version of the destination.
// Within one group the copy shares the source's chunks (Clone); across
// groups the bytes stream through a writer of the destination's group.
func (g *Gateway) CopyObject(ctx context.Context, in s3api.CopyObjectInput) (s3api.ObjectInfo, error) {
	if err := g.writable(in.DstBucket); err != nil {
		return s3api.ObjectInfo{}, err
	}
	sse := requestSSE(ctx)
	if in.SrcBucket == in.DstBucket && in.SrcKey == in.DstKey && in.SrcVersionID == "" && in.Meta == nil && in.Tags == nil && sse.Object.Mode == "" {
		return s3api.ObjectInfo{}, s3api.ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	src, err := g.source(ctx, in.SrcBucket, in.SrcKey, in.SrcVersionID, in.SourceCheck)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	defer src.r.Close()
	dst, err := g.bucketGroup(in.DstBucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	acl, err := g.writeACL(ctx, in.DstBucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	if err := g.admitWrite(dst); err != nil {
		return s3api.ObjectInfo{}, err
	}
	seal, err := g.writeSealing(dst, in.DstBucket, sse.Object)
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	// Within one group and one sealing domain the copy shares the
	// source's chunks; otherwise its bytes are read (opened with the
	// source's key) and written again (sealed with the destination's).
	share := src.gr == dst && src.seal.sameDomain(seal)
	rec := versionRecord{
		Size:     src.v.rec.Size,
		ETag:     src.v.rec.ETag,
		Meta:     src.v.rec.Meta,
		Checksum: src.v.rec.Checksum,
		// The copy keeps the source's multipart ETag and parts count, so
		// it keeps where each part lies too (GET ?partNumber=N).
		Parts:         src.v.rec.Parts,
		PartSizes:     src.v.rec.PartSizes,
		PartChecksums: src.v.rec.PartChecksums,
		SSE:           seal.rec,
		ACL:           acl, // a copy's ACL is the request's, never the source's
	}
	// A copy never takes its source's lock: only what the request asks
	// for, or the destination bucket's default.
	rec.setLock(in.Lock)
	if in.Meta != nil {
		rec.Meta = metaRecord(*in.Meta)
		rec.Meta.Tags = src.v.rec.Meta.Tags
	}
	rec.Meta.User = maps.Clone(rec.Meta.User)
	rec.Meta.Tags = maps.Clone(rec.Meta.Tags)
	if in.Tags != nil {
		rec.Meta.Tags = maps.Clone(in.Tags)
	}
	var info s3api.ObjectInfo
	record := func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		rec.Manifest = m.ID
		var err error
		info, err = g.record(tx, in.DstBucket, in.DstKey, rec, "", "", s3api.NoOverwrite(ctx))
		info.SSE = seal.info()
		return err
	}
	// An ETag that depends on the key (SSE-C, SSE-KMS) is made anew from
	// the MD5 of the bytes when the key changes.
	rekey := !src.seal.sameDomain(seal) && (src.seal.key != nil && src.seal.key.etag != nil || seal.key != nil && seal.key.etag != nil)
	if rekey {
		// A single object now: what described its parts goes with them (a
		// full-object checksum of the bytes still holds).
		rec.Parts, rec.PartSizes, rec.PartChecksums = 0, nil, nil
		if rec.Checksum.Type == "COMPOSITE" {
			rec.Checksum = checksumRecord{}
		}
	}
	if share {
		_, err = dst.store.ConcatWith(ctx, []chunkstore.ManifestID{src.v.rec.Manifest}, record)
	} else {
		_, err = stream(ctx, dst, src.r, src.r.Size(), rekey, seal.chunkKey(), func(tx *chunkstore.Tx, m chunkstore.Manifest, sum []byte) error {
			if rekey {
				rec.ETag = seal.etag(sum)
			}
			return record(tx, m)
		})
	}
	return info, mapErr(g.quotaReached(dst, err))
}

// copySource is a resolved copy source and a reader that holds its manifest.
type copySource struct {
	v    version
	gr   *group
	r    *chunkstore.Reader
	seal sealing // how the source is sealed; r is opened with its key
}

// source resolves a copy source and opens it, calling check inside the
// transaction. A delete marker named by version ID cannot be copied. The
// caller closes the reader, which holds the source until then.
func (g *Gateway) source(ctx context.Context, bucket, key, versionID string, check func(s3api.ObjectInfo) error) (copySource, error) {
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return copySource{}, err
	}
	src := copySource{gr: gr}
	err = g.viewBucket(bucket, func(tx *chunkstore.Tx, k *bkt) error {
		ver, err := resolve(k, key, versionID)
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
		src.v = ver
		// An SSE-C source needs its key in the copy-source headers.
		if src.seal, err = g.readSealing(gr, ver.rec.SSE, requestSSE(ctx).CopySource); err != nil {
			return err
		}
		if src.r, err = tx.NewReader(ctx, ver.rec.Manifest); err == nil {
			src.seal.unseal(src.r)
		}
		return err
	})
	return src, err
}

// GetObjectTagging answers a version's tags and the version it resolved.
func (g *Gateway) GetObjectTagging(ctx context.Context, bucket, key, versionID string) (map[string]string, string, error) {
	var (
		tags map[string]string
		vid  string
	)
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
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
	if err := g.writable(bucket); err != nil {
		return "", err
	}
	return g.retag(bucket, key, versionID, maps.Clone(tags))
}

// DeleteObjectTagging removes a version's tags.
func (g *Gateway) DeleteObjectTagging(ctx context.Context, bucket, key, versionID string) (string, error) {
	if err := g.writable(bucket); err != nil {
		return "", err
	}
	return g.retag(bucket, key, versionID, nil)
}

func (g *Gateway) retag(bucket, key, versionID string, tags map[string]string) (string, error) {
	var vid string
	err := g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		if err != nil {
			return err
		}
		v.rec.Meta.Tags = tags
		vid = k.info(key, v).VersionID
		enc, err := encode(v.rec)
		if err != nil {
			return err
		}
		if err := k.logChange(replTags, key, v.seq, v.rec); err != nil {
			return err
		}
		return k.ver.Put(composite(key, v.seq), enc)
	})
	return vid, mapErr(err)
}

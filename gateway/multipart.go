package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// maxParts is S3's highest part number.
const maxParts = 10000

func (r uploadRecord) info(bucket, key, id string) s3api.UploadInfo {
	return s3api.UploadInfo{
		Bucket: bucket, Key: key, UploadID: id, Initiated: r.Initiated,
		Meta: r.Meta.s3(), ChecksumAlgorithm: r.ChecksumAlgorithm, ChecksumType: r.ChecksumType,
	}
}

// upload is an upload found in a transaction.
type upload struct {
	uid []byte
	rec uploadRecord
}

// findUpload resolves uploadID of key, or answers ErrNoSuchUpload.
func (k *bkt) findUpload(key, uploadID string) (upload, error) {
	uid, ok := parseID(uploadID)
	if !ok {
		return upload{}, s3api.ErrNoSuchUpload
	}
	v := k.upl.Get(composite(key, uid))
	if v == nil {
		return upload{}, s3api.ErrNoSuchUpload
	}
	u := upload{uid: uid}
	return u, decode(v, &u.rec)
}

// parts returns the upload's parts in part-number order.
func (k *bkt) parts(uid []byte, fn func(n int, p partRecord) error) error {
	c := k.prt.Cursor()
	for pk, v := c.Seek(uid); pk != nil && bytes.HasPrefix(pk, uid); pk, v = c.Next() {
		var p partRecord
		if err := decode(v, &p); err != nil {
			return err
		}
		if err := fn(int(pk[len(uid)])<<8|int(pk[len(uid)+1]), p); err != nil {
			return err
		}
	}
	return nil
}

// dropUpload deletes an upload and its parts, releasing their manifests.
func (k *bkt) dropUpload(key string, uid []byte) error {
	var ids []chunkstore.ManifestID
	var keys [][]byte
	err := k.parts(uid, func(n int, p partRecord) error {
		ids = append(ids, p.Manifest)
		keys = append(keys, partKey(uid, n))
		return nil
	})
	if err != nil {
		return err
	}
	// Delete after the walk: deleting under a live cursor skips entries.
	for i, pk := range keys {
		if err := k.prt.Delete(pk); err != nil {
			return err
		}
		if err := release(k.tx, ids[i]); err != nil {
			return err
		}
	}
	return k.upl.Delete(composite(key, uid))
}

// releaseAllParts releases the manifest of every part of every upload in
// the bucket, for DeleteBucket, which then drops the records with the
// bucket.
func (k *bkt) releaseAllParts() error {
	var ids []chunkstore.ManifestID
	c := k.prt.Cursor()
	for pk, v := c.First(); pk != nil; pk, v = c.Next() {
		var p partRecord
		if err := decode(v, &p); err != nil {
			return err
		}
		ids = append(ids, p.Manifest)
	}
	for _, id := range ids {
		if err := release(k.tx, id); err != nil {
			return err
		}
	}
	return nil
}

// CreateMultipartUpload starts an upload and answers its ID.
func (g *Gateway) CreateMultipartUpload(ctx context.Context, in s3api.UploadInfo) (string, error) {
	if err := g.writable(in.Bucket); err != nil {
		return "", err
	}
	gr, err := g.bucketGroup(in.Bucket)
	if err != nil {
		return "", err
	}
	// Encryption is chosen now, for every part (as on S3).
	seal, err := g.writeSealing(gr, in.Bucket, requestSSE(ctx).Object)
	if err != nil {
		return "", mapErr(err)
	}
	acl, err := g.writeACL(ctx, in.Bucket)
	if err != nil {
		return "", err
	}
	var id string
	err = g.updateBucket(in.Bucket, func(tx *chunkstore.Tx, k *bkt) error {
		stamp, err := nextStamp(tx)
		if err != nil {
			return err
		}
		uid := newUID(stamp)
		// The lock is checked against the bucket now, as S3 does, and
		// applied (with the default retention) when the upload completes.
		var lock versionRecord
		lock.setLock(in.Lock)
		if probe := lock; k.lockNew(&probe, time.Now()) != nil {
			return s3api.ErrMissingObjectLockConfiguration
		}
		v, err := encode(uploadRecord{Initiated: stampTime(stamp), Meta: metaRecord(in.Meta), ChecksumAlgorithm: in.ChecksumAlgorithm, ChecksumType: in.ChecksumType,
			LockMode: lock.LockMode, LockUntil: lock.LockUntil, LegalHold: lock.LegalHold, SSE: seal.rec, ACL: acl})
		if err != nil {
			return err
		}
		id = formatID(uid)
		return k.upl.Put(composite(in.Key, uid), v)
	})
	return id, mapErr(err)
}

// uploadGroup checks that an upload exists and resolves its bucket's group
// and how its parts are sealed: an SSE-C upload needs its key with every
// part (req), as on S3.
func (g *Gateway) uploadGroup(ctx context.Context, bucket, key, uploadID string) (*group, sealing, error) {
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return nil, sealing{}, err
	}
	var seal sealing
	return gr, seal, g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		u, err := k.findUpload(key, uploadID)
		if err != nil {
			return err
		}
		seal, err = g.readSealing(gr, u.rec.SSE, requestSSE(ctx).Object)
		return err
	})
}

// UploadPart streams one part into the bucket's group and records it in
// the transaction that commits it, replacing a part with the same number.
func (g *Gateway) UploadPart(ctx context.Context, in s3api.UploadPartInput) (s3api.PartInfo, error) {
	if err := g.writable(in.Bucket); err != nil {
		return s3api.PartInfo{}, err
	}
	if in.PartNumber < 1 || in.PartNumber > maxParts {
		return s3api.PartInfo{}, s3api.ErrTooManyParts
	}
	gr, seal, err := g.uploadGroup(ctx, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return s3api.PartInfo{}, mapErr(err)
	}
	if err := g.admitWrite(gr); err != nil {
		return s3api.PartInfo{}, err
	}
	var info s3api.PartInfo
	_, err = stream(ctx, gr, in.Body, in.Size, in.Digest == nil, seal.chunkKey(), func(tx *chunkstore.Tx, m chunkstore.Manifest, own []byte) error {
		sum, ck := digestOf(in.Digest, own)
		var err error
		info, err = recordPart(tx, in.Bucket, in.Key, in.UploadID, in.PartNumber, partRecord{
			Manifest: m.ID, Size: m.Size, ETag: seal.etag(sum), Checksum: checksumOf(ck),
		})
		info.SSE = seal.info()
		return err
	})
	return info, mapErr(g.quotaReached(gr, err))
}

// recordPart records a part whose manifest tx commits, releasing the part
// it replaces; when the upload is gone (aborted, completed) it fails, and
// the commit with it.
func recordPart(tx *chunkstore.Tx, bucket, key, uploadID string, n int, p partRecord) (s3api.PartInfo, error) {
	k, err := openBkt(tx, bucket)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	u, err := k.findUpload(key, uploadID)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	stamp, err := nextStamp(tx)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	p.Modified = stampTime(stamp)
	pk := partKey(u.uid, n)
	if prev := k.prt.Get(pk); prev != nil {
		var pr partRecord
		if err := decode(prev, &pr); err != nil {
			return s3api.PartInfo{}, err
		}
		if err := release(tx, pr.Manifest); err != nil {
			return s3api.PartInfo{}, err
		}
	}
	v, err := encode(p)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	return p.info(n), k.prt.Put(pk, v)
}

func (p partRecord) info(n int) s3api.PartInfo {
	return s3api.PartInfo{PartNumber: n, ETag: p.ETag, Size: p.Size, LastModified: p.Modified, Checksum: p.Checksum.s3()}
}

// UploadPartCopy streams (a range of) a source version into a new part.
// An unranged copy of a single-part source within one group shares its
// chunks instead: its ETag is already the MD5 of its bytes.
func (g *Gateway) UploadPartCopy(ctx context.Context, in s3api.UploadPartCopyInput) (s3api.PartInfo, error) {
	if err := g.writable(in.Bucket); err != nil {
		return s3api.PartInfo{}, err
	}
	if in.PartNumber < 1 || in.PartNumber > maxParts {
		return s3api.PartInfo{}, s3api.ErrTooManyParts
	}
	// The destination's key comes from the upload (SSE-C: the request's
	// object headers); the source's from its version and the copy-source
	// headers.
	dst, seal, err := g.uploadGroup(ctx, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return s3api.PartInfo{}, mapErr(err)
	}
	if err := g.admitWrite(dst); err != nil {
		return s3api.PartInfo{}, err
	}
	src, err := g.source(ctx, in.SrcBucket, in.SrcKey, in.SrcVersionID, in.SourceCheck)
	if err != nil {
		return s3api.PartInfo{}, mapErr(err)
	}
	defer src.r.Close()
	size := src.v.rec.Size
	first, n := int64(0), size
	if in.Ranged {
		if in.First < 0 || in.Last < in.First || in.Last >= size {
			return s3api.PartInfo{}, s3api.ErrInvalidRange.WithMessagef("The requested range bytes=%d-%d is not satisfiable for a source of %d bytes.", in.First, in.Last, size)
		}
		first, n = in.First, in.Last-in.First+1
	}
	var info s3api.PartInfo
	record := func(tx *chunkstore.Tx, p partRecord) error {
		var err error
		info, err = recordPart(tx, in.Bucket, in.Key, in.UploadID, in.PartNumber, p)
		info.SSE = seal.info()
		return err
	}
	if !in.Ranged && src.gr == dst && src.v.rec.Parts == 0 && len(src.v.rec.ETag) == 32 && src.seal.sameDomain(seal) {
		_, err = dst.store.ConcatWith(ctx, []chunkstore.ManifestID{src.v.rec.Manifest}, func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
			return record(tx, partRecord{Manifest: m.ID, Size: size, ETag: src.v.rec.ETag})
		})
		return info, mapErr(err)
	}
	if _, err := src.r.Seek(first, io.SeekStart); err != nil {
		return s3api.PartInfo{}, mapErr(err)
	}
	_, err = stream(ctx, dst, io.LimitReader(src.r, n), n, true, seal.chunkKey(), func(tx *chunkstore.Tx, m chunkstore.Manifest, sum []byte) error {
		return record(tx, partRecord{Manifest: m.ID, Size: m.Size, ETag: seal.etag(sum)})
	})
	return info, mapErr(g.quotaReached(dst, err))
}

// CompleteMultipartUpload validates the list, stitches the parts' manifests
// (no data is read) and, in the transaction that commits the object's
// manifest, records the object and drops the upload and its parts.
func (g *Gateway) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []s3api.CompletePart, ifMatch, ifNoneMatch string) (s3api.ObjectInfo, error) {
	if err := g.writable(bucket); err != nil {
		return s3api.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return s3api.ObjectInfo{}, s3api.ErrMalformedXML.WithMessage("The XML you provided was not well-formed or did not validate against our published schema: it names no part.")
	}
	gr, err := g.bucketGroup(bucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	var (
		up    upload
		chose []partRecord
		info  s3api.ObjectInfo
		again bool
	)
	err = g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		var err error
		if up, err = k.findUpload(key, uploadID); err != nil {
			if errors.Is(err, s3api.ErrNoSuchUpload) {
				// Perhaps a retry of a completion whose answer was lost.
				info, again = k.completedBefore(key, uploadID, parts)
			}
			return err
		}
		chose, err = k.choose(up.uid, parts, g.cfg.MinPartSize)
		return err
	})
	if again {
		return info, nil
	}
	if err != nil {
		return s3api.ObjectInfo{}, mapErr(err)
	}
	// A completion adds no data, but an object: at the quota it is refused
	// like any write (the parts stay, to complete once there is room).
	if err := g.admitWrite(gr); err != nil {
		return s3api.ObjectInfo{}, err
	}
	rec, err := assemble(up.rec, chose)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	// Every part was sealed as the upload says: the object is too.
	rec.SSE = up.rec.SSE
	rec.ACL = up.rec.ACL
	ids := make([]chunkstore.ManifestID, len(chose))
	for i, p := range chose {
		ids[i] = p.Manifest
	}
	_, err = gr.store.ConcatWith(ctx, ids, func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
		k, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		u, err := k.findUpload(key, uploadID)
		if err != nil {
			return err
		}
		// A part replaced while Concat ran: the client raced itself.
		now, err := k.choose(u.uid, parts, g.cfg.MinPartSize)
		if err != nil {
			return err
		}
		for i := range now {
			if now[i].Manifest != chose[i].Manifest {
				return s3api.ErrInvalidPart.WithMessagef("Part %d was replaced while the upload completed.", parts[i].PartNumber)
			}
		}
		rec.Manifest, rec.Size = m.ID, m.Size
		k.writeOnce = s3api.NoOverwrite(ctx)
		v, err := k.write(key, rec, ifMatch, ifNoneMatch)
		if err != nil {
			return err
		}
		if err := k.dropUpload(key, u.uid); err != nil {
			return err
		}
		info = g.described(k, key, v)
		if info.SSE.Mode == s3api.SSEModeCustomer {
			// S3 echoes the key's MD5 for an SSE-C upload, and only then.
			info.SSE.CustomerKeyMD5 = requestSSE(ctx).Object.CustomerKeyMD5
		}
		return k.rememberCompleted(uploadID, completedRecord{Key: key, VersionID: v.rec.ID, ETag: v.rec.ETag, At: time.Now()})
	})
	if err != nil {
		return s3api.ObjectInfo{}, mapUploadErr(err)
	}
	return info, nil
}

// choose validates a completion list against the recorded parts.
func (k *bkt) choose(uid []byte, parts []s3api.CompletePart, minPart int64) ([]partRecord, error) {
	out := make([]partRecord, len(parts))
	for i, cp := range parts {
		if i > 0 && cp.PartNumber <= parts[i-1].PartNumber {
			return nil, s3api.ErrInvalidPartOrder
		}
		if cp.PartNumber < 1 || cp.PartNumber > maxParts {
			return nil, s3api.ErrInvalidPart.WithMessagef("Part number %d is out of range.", cp.PartNumber)
		}
		v := k.prt.Get(partKey(uid, cp.PartNumber))
		if v == nil {
			return nil, s3api.ErrInvalidPart.WithMessagef("Part %d was not uploaded.", cp.PartNumber)
		}
		var p partRecord
		if err := decode(v, &p); err != nil {
			return nil, err
		}
		if !etagEqual(cp.ETag, p.ETag) {
			return nil, s3api.ErrInvalidPart.WithMessagef("Part %d has ETag %q, not %q.", cp.PartNumber, p.ETag, trimETag(cp.ETag))
		}
		if cp.Checksum.Value != "" && cp.Checksum.Value != p.Checksum.Value {
			return nil, s3api.ErrInvalidPart.WithMessagef("Part %d has a different %s checksum.", cp.PartNumber, cp.Checksum.Algorithm)
		}
		out[i] = p
	}
	for i, p := range out[:len(out)-1] {
		if p.Size < minPart {
			return nil, s3api.ErrEntityTooSmall.WithMessagef("Part %d is %d bytes; every part but the last must be at least %d.", parts[i].PartNumber, p.Size, minPart)
		}
	}
	return out, nil
}

// assemble is the completed object's record: ETag hex(md5(part MD5s))-N and,
// when the upload announced an algorithm, its checksum.
func assemble(u uploadRecord, parts []partRecord) (versionRecord, error) {
	h := md5.New()
	for _, p := range parts {
		raw, err := hex.DecodeString(p.ETag)
		if err != nil {
			return versionRecord{}, fmt.Errorf("gateway: part ETag %q: %w", p.ETag, err)
		}
		h.Write(raw)
	}
	sizes := make([]int64, len(parts))
	var sums []string
	if u.ChecksumAlgorithm != "" {
		sums = make([]string, len(parts))
	}
	for i, p := range parts {
		sizes[i] = p.Size
		if sums != nil {
			sums[i] = p.Checksum.Value
		}
	}
	return versionRecord{
		ETag:          hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)),
		Meta:          u.Meta,
		Checksum:      checksumOf(multipartChecksum(u, parts)),
		Parts:         len(parts),
		PartSizes:     sizes,
		PartChecksums: sums,
		LockMode:      u.LockMode,
		LockUntil:     u.LockUntil,
		LegalHold:     u.LegalHold,
	}, nil
}

// AbortMultipartUpload drops an upload and releases its parts.
func (g *Gateway) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	return mapErr(g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		u, err := k.findUpload(key, uploadID)
		if err != nil {
			return err
		}
		return k.dropUpload(key, u.uid)
	}))
}

// ListParts answers one page of an upload's parts after partNumberMarker.
func (g *Gateway) ListParts(ctx context.Context, bucket, key, uploadID string, partNumberMarker, limit int) (s3api.ListPartsResult, error) {
	var out s3api.ListPartsResult
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		u, err := k.findUpload(key, uploadID)
		if err != nil {
			return err
		}
		out.Upload = u.rec.info(bucket, key, uploadID)
		n := pageSize(limit)
		c := k.prt.Cursor()
		for pk, v := c.Seek(partKey(u.uid, max(min(partNumberMarker, maxParts), 0)+1)); pk != nil && bytes.HasPrefix(pk, u.uid); pk, v = c.Next() {
			if len(out.Parts) == n {
				out.IsTruncated = true
				break
			}
			var p partRecord
			if err := decode(v, &p); err != nil {
				return err
			}
			num := int(pk[len(u.uid)])<<8 | int(pk[len(u.uid)+1])
			out.Parts = append(out.Parts, p.info(num))
			out.NextPartNumberMarker = num
		}
		return nil
	})
	return out, mapErr(err)
}

// PartRange tells s3api where part n of a multipart object lies, so that
// GET and HEAD ?partNumber=n serve it.
func (g *Gateway) PartRange(ctx context.Context, bucket, key, versionID string, n int) (offset, length int64, etag string, err error) {
	err = g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v, err := resolve(k, key, versionID)
		if err != nil {
			return err
		}
		etag = v.rec.ETag
		if n < 1 || n > len(v.rec.PartSizes) {
			return s3api.ErrInvalidPartNumber
		}
		for _, sz := range v.rec.PartSizes[:n-1] {
			offset += sz
		}
		length = v.rec.PartSizes[n-1]
		return nil
	})
	return offset, length, etag, mapErr(err)
}

var _ s3api.PartRanger = (*Gateway)(nil)

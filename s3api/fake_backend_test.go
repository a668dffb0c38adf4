package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeBackend is an in-memory Backend: a test double for this package's
// protocol tests only. It keeps just enough state (buckets, versions, delete
// markers, uploads) to drive the handlers, and it records the inputs the
// handlers passed so tests can check parsing. It is not a model of the real
// backend: the evidence that gateway behaves like S3 is the conformance
// suite, run against a real server.
type fakeBackend struct {
	mu      sync.Mutex
	now     func() time.Time
	seq     int
	buckets map[string]*fakeBucket
	uploads map[string]*fakeUpload
	cors    map[string]CORSConfig // by bucket; see cors_test.go

	// What the last call of each kind received, for routing assertions.
	ops          []string
	lastPut      PutObjectInput
	lastList     ListInput
	lastVersions ListVersionsInput
	lastUploads  ListUploadsInput
	lastCopy     CopyObjectInput
	lastPartCopy UploadPartCopyInput
	lastComplete []CompletePart
	lastCreate   UploadInfo
	lastRestore  int // days
	lastLocation string
	lastGet      string // versionID of the last GetObject/HeadObject
}

type fakeBucket struct {
	info        BucketInfo
	versioning  Versioning
	tags        map[string]string
	lifecycle   []byte                   // stored as sent: the fake validates nothing
	replication *ReplicationConfig       // as s3api passed it; nil when none
	objects     map[string][]*fakeObject // versions, oldest first
}

type fakeObject struct {
	info  ObjectInfo
	data  []byte
	parts []int64 // part sizes of a multipart object
}

type fakeUpload struct {
	info  UploadInfo
	parts map[int]*fakePart
}

type fakePart struct {
	info PartInfo
	data []byte
}

var (
	_ Backend            = (*fakeBackend)(nil)
	_ PartRanger         = (*fakeBackend)(nil)
	_ ReplicationBackend = (*fakeBackend)(nil)
)

func newFakeBackend() *fakeBackend {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	n := 0
	return &fakeBackend{
		// A clock that moves a second per call keeps LastModified distinct.
		now: func() time.Time {
			n++
			return t0.Add(time.Duration(n) * time.Second)
		},
		buckets: map[string]*fakeBucket{},
		uploads: map[string]*fakeUpload{},
	}
}

func (f *fakeBackend) op(name string) { f.ops = append(f.ops, name) }

func (f *fakeBackend) lastOp() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ops) == 0 {
		return ""
	}
	return f.ops[len(f.ops)-1]
}

func (f *fakeBackend) bucket(name string) (*fakeBucket, error) {
	b, ok := f.buckets[name]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	return b, nil
}

func (f *fakeBackend) newVersionID(b *fakeBucket) string {
	switch b.versioning {
	case VersioningEnabled:
		f.seq++
		return fmt.Sprintf("v%04d", f.seq)
	case VersioningSuspended:
		return "null"
	}
	return ""
}

// --- Buckets

func (f *fakeBackend) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("ListBuckets")
	var out []BucketInfo
	for _, b := range f.buckets {
		out = append(out, b.info)
	}
	return out, nil
}

func (f *fakeBackend) CreateBucket(ctx context.Context, name, location string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("CreateBucket")
	f.lastLocation = location
	if _, ok := f.buckets[name]; ok {
		return ErrBucketAlreadyOwnedByYou
	}
	if location != "" && location != "ssd" {
		return ErrInvalidLocationConstraint
	}
	f.buckets[name] = &fakeBucket{info: BucketInfo{Name: name, Created: f.now(), Location: location}, objects: map[string][]*fakeObject{}}
	return nil
}

func (f *fakeBackend) HeadBucket(ctx context.Context, name string) (BucketInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("HeadBucket")
	b, err := f.bucket(name)
	if err != nil {
		return BucketInfo{}, err
	}
	return b.info, nil
}

func (f *fakeBackend) DeleteBucket(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("DeleteBucket")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	if len(b.objects) > 0 {
		return ErrBucketNotEmpty
	}
	// Uploads in progress go with the bucket, as on S3.
	for id, u := range f.uploads {
		if u.info.Bucket == name {
			delete(f.uploads, id)
		}
	}
	delete(f.buckets, name)
	return nil
}

func (f *fakeBackend) GetBucketVersioning(ctx context.Context, name string) (Versioning, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("GetBucketVersioning")
	b, err := f.bucket(name)
	if err != nil {
		return "", err
	}
	return b.versioning, nil
}

func (f *fakeBackend) PutBucketVersioning(ctx context.Context, name string, v Versioning) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PutBucketVersioning")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.versioning = v
	return nil
}

func (f *fakeBackend) GetBucketTagging(ctx context.Context, name string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("GetBucketTagging")
	b, err := f.bucket(name)
	if err != nil {
		return nil, err
	}
	if len(b.tags) == 0 {
		return nil, ErrNoSuchTagSet
	}
	return maps.Clone(b.tags), nil
}

func (f *fakeBackend) PutBucketTagging(ctx context.Context, name string, tags map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PutBucketTagging")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.tags = maps.Clone(tags)
	return nil
}

func (f *fakeBackend) DeleteBucketTagging(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("DeleteBucketTagging")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.tags = nil
	return nil
}

func (f *fakeBackend) GetBucketLifecycle(ctx context.Context, name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("GetBucketLifecycle")
	b, err := f.bucket(name)
	if err != nil {
		return nil, err
	}
	if b.lifecycle == nil {
		return nil, ErrNoSuchLifecycleConfiguration
	}
	return b.lifecycle, nil
}

func (f *fakeBackend) PutBucketLifecycle(ctx context.Context, name string, doc []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PutBucketLifecycle")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.lifecycle = doc
	return nil
}

func (f *fakeBackend) DeleteBucketLifecycle(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("DeleteBucketLifecycle")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.lifecycle = nil
	return nil
}

func (f *fakeBackend) PutBucketReplication(ctx context.Context, name string, cfg ReplicationConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PutBucketReplication")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.replication = &cfg
	return nil
}

func (f *fakeBackend) GetBucketReplication(ctx context.Context, name string) (ReplicationConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("GetBucketReplication")
	b, err := f.bucket(name)
	if err != nil {
		return ReplicationConfig{}, err
	}
	if b.replication == nil {
		return ReplicationConfig{}, ErrReplicationConfigurationNotFound
	}
	return *b.replication, nil
}

func (f *fakeBackend) DeleteBucketReplication(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("DeleteBucketReplication")
	b, err := f.bucket(name)
	if err != nil {
		return err
	}
	b.replication = nil
	return nil
}

// setReplicationStatus sets the replication status of key's current
// version, as a replicating backend would.
func (f *fakeBackend) setReplicationStatus(bucket, key, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buckets[bucket].current(key).info.ReplicationStatus = status
}

// --- Objects

// current returns the newest version of key, nil when none.
func (b *fakeBucket) current(key string) *fakeObject {
	vs := b.objects[key]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// version finds a version; "null" names the version written while
// versioning was unset or suspended.
func (b *fakeBucket) version(key, vid string) *fakeObject {
	for _, o := range b.objects[key] {
		if o.info.VersionID == vid || vid == "null" && o.info.VersionID == "" {
			return o
		}
	}
	return nil
}

// store adds a new current version, replacing the null version unless
// versioning is enabled.
func (f *fakeBackend) store(b *fakeBucket, o *fakeObject) {
	key := o.info.Key
	vs := b.objects[key]
	for _, v := range vs {
		v.info.IsLatest = false
	}
	if b.versioning != VersioningEnabled {
		vs = slices.DeleteFunc(vs, func(v *fakeObject) bool { return v.info.VersionID == "" || v.info.VersionID == "null" })
	}
	o.info.IsLatest = true
	b.objects[key] = append(vs, o)
}

// resolve finds the version a read addresses, with S3's delete-marker errors.
func (b *fakeBucket) resolve(key, vid string) (*fakeObject, error) {
	if vid == "" {
		o := b.current(key)
		if o == nil {
			return nil, ErrNoSuchKey
		}
		if o.info.DeleteMarker {
			return o, ErrNoSuchKey
		}
		return o, nil
	}
	o := b.version(key, vid)
	if o == nil {
		return nil, ErrNoSuchVersion
	}
	if o.info.DeleteMarker {
		return o, ErrMethodNotAllowed
	}
	return o, nil
}

func (f *fakeBackend) PutObject(ctx context.Context, in PutObjectInput) (ObjectInfo, error) {
	f.mu.Lock()
	f.op("PutObject")
	rec := in
	rec.Body = nil
	f.lastPut = rec
	b, err := f.bucket(in.Bucket)
	f.mu.Unlock()
	if err != nil {
		return ObjectInfo{}, err
	}
	data, err := io.ReadAll(in.Body) // a test double may hold the whole body
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("fake: reading body: %w", err)
	}
	d := in.Digest()
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := b.current(in.Key)
	exists := cur != nil && !cur.info.DeleteMarker
	if in.IfNoneMatch == "*" && exists {
		return ObjectInfo{}, ErrPreconditionFailed
	}
	if in.IfMatch != "" {
		if !exists {
			return ObjectInfo{}, ErrNoSuchKey
		}
		if cur.info.ETag != in.IfMatch {
			return ObjectInfo{}, ErrPreconditionFailed
		}
	}
	o := &fakeObject{data: data, info: ObjectInfo{
		Bucket: in.Bucket, Key: in.Key, VersionID: f.newVersionID(b),
		Size: int64(len(data)), ETag: hex.EncodeToString(d.MD5), LastModified: f.now(),
		Meta: in.Meta, Checksum: d.Checksum, StorageClass: "STANDARD",
	}}
	f.store(b, o)
	return o.info, nil
}

type bytesReadSeekCloser struct{ *bytes.Reader }

func (bytesReadSeekCloser) Close() error { return nil }

func (f *fakeBackend) GetObject(ctx context.Context, bucket, key, versionID string) (ObjectInfo, io.ReadSeekCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("GetObject")
	f.lastGet = versionID
	b, err := f.bucket(bucket)
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	o, err := b.resolve(key, versionID)
	if err != nil {
		if o != nil {
			return o.info, nil, err
		}
		return ObjectInfo{}, nil, err
	}
	return o.info, bytesReadSeekCloser{bytes.NewReader(o.data)}, nil
}

func (f *fakeBackend) HeadObject(ctx context.Context, bucket, key, versionID string) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("HeadObject")
	f.lastGet = versionID
	b, err := f.bucket(bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	o, err := b.resolve(key, versionID)
	if o != nil {
		return o.info, err
	}
	return ObjectInfo{}, err
}

func (f *fakeBackend) DeleteObject(ctx context.Context, bucket, key, versionID string) (DeleteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("DeleteObject")
	b, err := f.bucket(bucket)
	if err != nil {
		return DeleteResult{}, err
	}
	if versionID != "" {
		o := b.version(key, versionID)
		if o == nil {
			return DeleteResult{VersionID: versionID}, nil
		}
		b.objects[key] = slices.DeleteFunc(b.objects[key], func(v *fakeObject) bool { return v == o })
		if len(b.objects[key]) == 0 {
			delete(b.objects, key)
		} else {
			b.current(key).info.IsLatest = true
		}
		return DeleteResult{VersionID: o.info.VersionID, DeleteMarker: o.info.DeleteMarker}, nil
	}
	if b.versioning == VersioningUnset {
		delete(b.objects, key)
		return DeleteResult{}, nil
	}
	m := &fakeObject{info: ObjectInfo{Bucket: bucket, Key: key, VersionID: f.newVersionID(b), DeleteMarker: true, LastModified: f.now()}}
	f.store(b, m)
	return DeleteResult{VersionID: m.info.VersionID, DeleteMarker: true}, nil
}

func (f *fakeBackend) CopyObject(ctx context.Context, in CopyObjectInput) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("CopyObject")
	f.lastCopy = in
	sb, err := f.bucket(in.SrcBucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	db, err := f.bucket(in.DstBucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	src, err := sb.resolve(in.SrcKey, in.SrcVersionID)
	if err != nil {
		return ObjectInfo{}, err
	}
	if in.SourceCheck != nil {
		if err := in.SourceCheck(src.info); err != nil {
			return ObjectInfo{}, err
		}
	}
	info := src.info
	info.Bucket, info.Key, info.VersionID = in.DstBucket, in.DstKey, f.newVersionID(db)
	info.LastModified = f.now()
	tags := info.Meta.Tags
	if in.Meta != nil {
		info.Meta = *in.Meta
	}
	info.Meta.Tags = tags
	if in.Tags != nil {
		info.Meta.Tags = in.Tags
	}
	o := &fakeObject{info: info, data: src.data}
	f.store(db, o)
	return o.info, nil
}

func (f *fakeBackend) ListObjects(ctx context.Context, in ListInput) (ListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("ListObjects")
	f.lastList = in
	b, err := f.bucket(in.Bucket)
	if err != nil {
		return ListResult{}, err
	}
	var res ListResult
	if in.MaxKeys == 0 {
		return res, nil
	}
	lastPrefix := ""
	for _, k := range slices.Sorted(maps.Keys(b.objects)) {
		o := b.current(k)
		if o.info.DeleteMarker || !strings.HasPrefix(k, in.Prefix) {
			continue
		}
		entry, isPrefix := k, false
		if in.Delimiter != "" {
			if i := strings.Index(k[len(in.Prefix):], in.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(in.Prefix)+i+len(in.Delimiter)], true
			}
		}
		if entry <= in.After || isPrefix && entry == lastPrefix {
			continue
		}
		if len(res.Objects)+len(res.CommonPrefixes) == in.MaxKeys {
			res.IsTruncated = true
			break
		}
		if isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, entry)
			lastPrefix = entry
		} else {
			res.Objects = append(res.Objects, o.info)
		}
		res.Next = entry
	}
	if !res.IsTruncated {
		res.Next = ""
	}
	return res, nil
}

func (f *fakeBackend) ListObjectVersions(ctx context.Context, in ListVersionsInput) (ListVersionsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("ListObjectVersions")
	f.lastVersions = in
	b, err := f.bucket(in.Bucket)
	if err != nil {
		return ListVersionsResult{}, err
	}
	var res ListVersionsResult
	for _, k := range slices.Sorted(maps.Keys(b.objects)) {
		if !strings.HasPrefix(k, in.Prefix) || k < in.KeyMarker || k == in.KeyMarker && in.VersionIDMarker == "" {
			continue
		}
		vs := b.objects[k]
		skipping := k == in.KeyMarker
		for i := len(vs) - 1; i >= 0; i-- {
			v := vs[i]
			if skipping {
				if versionID(v.info.VersionID) == in.VersionIDMarker {
					skipping = false
				}
				continue
			}
			if len(res.Versions) == in.MaxKeys {
				res.IsTruncated = true
				last := res.Versions[len(res.Versions)-1]
				res.NextKeyMarker, res.NextVersionIDMarker = last.Key, last.VersionID
				return res, nil
			}
			res.Versions = append(res.Versions, v.info)
		}
	}
	return res, nil
}

func (f *fakeBackend) GetObjectTagging(ctx context.Context, bucket, key, versionID string) (map[string]string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("GetObjectTagging")
	b, err := f.bucket(bucket)
	if err != nil {
		return nil, "", err
	}
	o, err := b.resolve(key, versionID)
	if err != nil {
		return nil, "", err
	}
	return maps.Clone(o.info.Meta.Tags), o.info.VersionID, nil
}

func (f *fakeBackend) PutObjectTagging(ctx context.Context, bucket, key, versionID string, tags map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PutObjectTagging")
	b, err := f.bucket(bucket)
	if err != nil {
		return "", err
	}
	o, err := b.resolve(key, versionID)
	if err != nil {
		return "", err
	}
	o.info.Meta.Tags = maps.Clone(tags)
	return o.info.VersionID, nil
}

func (f *fakeBackend) DeleteObjectTagging(ctx context.Context, bucket, key, versionID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("DeleteObjectTagging")
	b, err := f.bucket(bucket)
	if err != nil {
		return "", err
	}
	o, err := b.resolve(key, versionID)
	if err != nil {
		return "", err
	}
	o.info.Meta.Tags = nil
	return o.info.VersionID, nil
}

// --- Multipart

func (f *fakeBackend) CreateMultipartUpload(ctx context.Context, in UploadInfo) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("CreateMultipartUpload")
	f.lastCreate = in
	if _, err := f.bucket(in.Bucket); err != nil {
		return "", err
	}
	f.seq++
	in.UploadID = "upload-" + strconv.Itoa(f.seq)
	f.uploads[in.UploadID] = &fakeUpload{info: in, parts: map[int]*fakePart{}}
	return in.UploadID, nil
}

func (f *fakeBackend) upload(bucket, key, id string) (*fakeUpload, error) {
	if _, err := f.bucket(bucket); err != nil {
		return nil, err
	}
	u, ok := f.uploads[id]
	if !ok || u.info.Bucket != bucket || u.info.Key != key {
		return nil, ErrNoSuchUpload
	}
	return u, nil
}

func (f *fakeBackend) UploadPart(ctx context.Context, in UploadPartInput) (PartInfo, error) {
	f.mu.Lock()
	f.op("UploadPart")
	u, err := f.upload(in.Bucket, in.Key, in.UploadID)
	f.mu.Unlock()
	if err != nil {
		return PartInfo{}, err
	}
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return PartInfo{}, fmt.Errorf("fake: reading part: %w", err)
	}
	d := in.Digest()
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &fakePart{data: data, info: PartInfo{PartNumber: in.PartNumber, ETag: hex.EncodeToString(d.MD5), Size: int64(len(data)), LastModified: f.now(), Checksum: d.Checksum}}
	u.parts[in.PartNumber] = p
	return p.info, nil
}

func (f *fakeBackend) UploadPartCopy(ctx context.Context, in UploadPartCopyInput) (PartInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("UploadPartCopy")
	f.lastPartCopy = in
	u, err := f.upload(in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return PartInfo{}, err
	}
	sb, err := f.bucket(in.SrcBucket)
	if err != nil {
		return PartInfo{}, err
	}
	src, err := sb.resolve(in.SrcKey, in.SrcVersionID)
	if err != nil {
		return PartInfo{}, err
	}
	if in.SourceCheck != nil {
		if err := in.SourceCheck(src.info); err != nil {
			return PartInfo{}, err
		}
	}
	data := src.data
	if in.Ranged {
		if in.Last >= int64(len(data)) {
			return PartInfo{}, ErrInvalidRange
		}
		data = data[in.First : in.Last+1]
	}
	sum := md5.Sum(data)
	p := &fakePart{data: data, info: PartInfo{PartNumber: in.PartNumber, ETag: hex.EncodeToString(sum[:]), Size: int64(len(data)), LastModified: f.now()}}
	u.parts[in.PartNumber] = p
	return p.info, nil
}

func (f *fakeBackend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, ifMatch, ifNoneMatch string) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("CompleteMultipartUpload")
	f.lastComplete = parts
	u, err := f.upload(bucket, key, uploadID)
	if err != nil {
		return ObjectInfo{}, err
	}
	b := f.buckets[bucket]
	var data, sums []byte
	var sizes []int64
	for i := 1; i < len(parts); i++ {
		if parts[i].PartNumber <= parts[i-1].PartNumber {
			return ObjectInfo{}, ErrInvalidPartOrder
		}
	}
	for _, cp := range parts {
		p, ok := u.parts[cp.PartNumber]
		if !ok || p.info.ETag != cp.ETag {
			return ObjectInfo{}, ErrInvalidPart
		}
		data = append(data, p.data...)
		sizes = append(sizes, int64(len(p.data)))
		raw, _ := hex.DecodeString(p.info.ETag)
		sums = append(sums, raw...)
	}
	if ifNoneMatch == "*" {
		if cur := b.current(key); cur != nil && !cur.info.DeleteMarker {
			return ObjectInfo{}, ErrPreconditionFailed
		}
	}
	sum := md5.Sum(sums)
	o := &fakeObject{data: data, parts: sizes, info: ObjectInfo{
		Bucket: bucket, Key: key, VersionID: f.newVersionID(b), Size: int64(len(data)),
		ETag: fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(parts)), LastModified: f.now(),
		Meta: u.info.Meta, PartsCount: len(parts), StorageClass: "STANDARD",
	}}
	f.store(b, o)
	delete(f.uploads, uploadID)
	return o.info, nil
}

func (f *fakeBackend) PartRange(ctx context.Context, bucket, key, versionID string, n int) (int64, int64, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("PartRange")
	b, err := f.bucket(bucket)
	if err != nil {
		return 0, 0, "", err
	}
	o, err := b.resolve(key, versionID)
	if err != nil {
		return 0, 0, "", err
	}
	if n > len(o.parts) {
		return 0, 0, "", ErrInvalidPartNumber
	}
	var off int64
	for _, sz := range o.parts[:n-1] {
		off += sz
	}
	return off, o.parts[n-1], o.info.ETag, nil
}

func (f *fakeBackend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("AbortMultipartUpload")
	if _, err := f.upload(bucket, key, uploadID); err != nil {
		return err
	}
	delete(f.uploads, uploadID)
	return nil
}

func (f *fakeBackend) ListParts(ctx context.Context, bucket, key, uploadID string, marker, max int) (ListPartsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("ListParts")
	u, err := f.upload(bucket, key, uploadID)
	if err != nil {
		return ListPartsResult{}, err
	}
	res := ListPartsResult{Upload: u.info}
	for _, n := range slices.Sorted(maps.Keys(u.parts)) {
		if n <= marker {
			continue
		}
		if len(res.Parts) == max {
			res.IsTruncated = true
			res.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
			break
		}
		res.Parts = append(res.Parts, u.parts[n].info)
	}
	return res, nil
}

func (f *fakeBackend) ListMultipartUploads(ctx context.Context, in ListUploadsInput) (ListUploadsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("ListMultipartUploads")
	f.lastUploads = in
	if _, err := f.bucket(in.Bucket); err != nil {
		return ListUploadsResult{}, err
	}
	var res ListUploadsResult
	ids := slices.Sorted(maps.Keys(f.uploads))
	for _, id := range ids {
		u := f.uploads[id]
		if u.info.Bucket != in.Bucket || !strings.HasPrefix(u.info.Key, in.Prefix) {
			continue
		}
		if len(res.Uploads) == in.MaxUploads {
			res.IsTruncated = true
			last := res.Uploads[len(res.Uploads)-1]
			res.NextKeyMarker, res.NextUploadIDMarker = last.Key, last.UploadID
			break
		}
		res.Uploads = append(res.Uploads, u.info)
	}
	return res, nil
}

// RestoreObject: keys under "tiered/" stand for tiered versions (the fake
// has no tiers); a restore of one starts, the first time.
func (f *fakeBackend) RestoreObject(ctx context.Context, bucket, key, versionID string, days int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "RestoreObject")
	if _, ok := f.buckets[bucket]; !ok {
		return false, ErrNoSuchBucket
	}
	if !strings.HasPrefix(key, "tiered/") {
		return false, ErrInvalidObjectState.WithMessage("Restore is not allowed for the object's current storage class.")
	}
	first := f.lastRestore == 0
	f.lastRestore = days
	return first, nil
}

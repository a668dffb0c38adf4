package s3api

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxUserMeta is S3's limit on x-amz-meta-*: the UTF-8 bytes of all keys
// and values together.
const maxUserMeta = 2 << 10

// maxKeyLen is S3's limit on an object key, in bytes.
const maxKeyLen = 1024

const metaPrefix = "X-Amz-Meta-" // as net/http canonicalizes it

// maxStoredMeta bounds what a write stores beside the data: the content
// headers, the user metadata and the tagging header together. S3 refuses a
// request whose header section exceeds 8 KiB, so nothing S3 accepts is
// refused; without a bound, every listing entry and every HEAD would carry
// whatever net/http let through (a megabyte per header).
const maxStoredMeta = 8 << 10

// checkKey validates an object key as every object operation needs it.
// A key is UTF-8, as on S3 (which answers 400 otherwise): a key that is
// not could be stored but never listed as itself, since XML cannot carry
// its bytes, so no client could find, delete or abort what it names.
func checkKey(key string) error {
	if len(key) > maxKeyLen {
		return ErrKeyTooLong
	}
	if !utf8.ValidString(key) {
		return ErrInvalidURI.WithMessage("Couldn't parse the specified URI: the object key is not valid UTF-8.")
	}
	return nil
}

// parseObjectMeta reads what a PUT, a CopyObject with REPLACE or a
// CreateMultipartUpload says about the new object.
func parseObjectMeta(h http.Header) (ObjectMeta, error) {
	m := ObjectMeta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	// aws-chunked is the transfer framing of the request, not a property
	// of the object; S3 strips it from the stored Content-Encoding.
	m.ContentEncoding = stripAWSChunked(m.ContentEncoding)
	size := 0
	for k, vs := range h {
		name, ok := strings.CutPrefix(k, metaPrefix)
		if !ok || name == "" {
			continue
		}
		name = strings.ToLower(name)
		v := strings.Join(vs, ",")
		size += len(name) + len(v)
		if m.User == nil {
			m.User = make(map[string]string)
		}
		m.User[name] = v
	}
	if size > maxUserMeta {
		return ObjectMeta{}, ErrMetadataTooLarge.WithMessagef("Your metadata headers exceed the maximum allowed metadata size: %d bytes, the limit is %d.", size, maxUserMeta)
	}
	stored := size + len(h.Get("x-amz-tagging"))
	for _, v := range [...]string{m.ContentType, m.ContentEncoding, m.ContentDisposition, m.ContentLanguage, m.CacheControl, m.Expires} {
		stored += len(v)
	}
	if stored > maxStoredMeta {
		return ObjectMeta{}, ErrRequestHeaderSectionTooLarge.WithMessagef("Your request header section exceeds the maximum allowed size: %d bytes of object metadata, the limit is %d.", stored, maxStoredMeta)
	}
	if t := h.Get("x-amz-tagging"); t != "" {
		tags, err := parseTagHeader(t)
		if err != nil {
			return ObjectMeta{}, err
		}
		m.Tags = tags
	}
	return m, nil
}

func stripAWSChunked(ce string) string {
	if !strings.Contains(ce, "aws-chunked") {
		return ce
	}
	var keep []string
	for p := range strings.SplitSeq(ce, ",") {
		if p = strings.TrimSpace(p); p != "" && p != "aws-chunked" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// checkWriteHeaders refuses the headers of features Cairn does not have,
// so a client never believes it got them. ACL headers are noteRequestACL's
// (aclgrants.go).
func checkWriteHeaders(h http.Header) error {
	for k := range h {
		lk := strings.ToLower(k)
		switch {
		case lk == "x-amz-website-redirect-location", lk == "x-amz-write-offset-bytes":
			return ErrNotImplemented.WithMessagef("%s is not supported.", k)
		}
	}
	return checkStorageClass(h.Get("x-amz-storage-class"))
}

// checkStorageClass accepts STANDARD only: Cairn tiers by lifecycle rules,
// not by the class a client asks for.
func checkStorageClass(sc string) error {
	switch sc {
	case "", "STANDARD":
		return nil
	case "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
		"DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE":
		return ErrInvalidStorageClass.WithMessagef("Storage class %s is not offered; Cairn stores STANDARD and moves data to cloud tiers by lifecycle rules.", sc)
	}
	return ErrInvalidStorageClass
}

// setObjectHeaders writes the headers that describe an object version on
// GET and HEAD answers. x-amz-mp-parts-count is not among them: S3 sends it
// only for a partNumber request on a multipart object (see partRange).
func setObjectHeaders(hdr http.Header, info ObjectInfo) {
	hdr.Set("ETag", etag(info.ETag))
	if !info.LastModified.IsZero() {
		hdr.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	}
	hdr.Set("Accept-Ranges", "bytes")
	setSSEHeaders(hdr, info.SSE)
	if info.VersionID != "" {
		hdr.Set("x-amz-version-id", info.VersionID)
	}
	setExpiration(hdr, info)
	if info.Restore != "" {
		hdr.Set("x-amz-restore", info.Restore)
	}
	setLockHeaders(hdr, info.Lock)
	if info.ReplicationStatus != "" {
		hdr.Set("x-amz-replication-status", info.ReplicationStatus)
	}
	if info.StorageClass != "" && info.StorageClass != "STANDARD" {
		hdr.Set("x-amz-storage-class", info.StorageClass)
	}
	if n := len(info.Meta.Tags); n > 0 {
		hdr.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
	ct := info.Meta.ContentType
	if ct == "" {
		// S3's default; setting it also stops net/http from sniffing one.
		ct = "binary/octet-stream"
	}
	hdr.Set("Content-Type", ct)
	for k, v := range map[string]string{
		"Content-Encoding":    info.Meta.ContentEncoding,
		"Content-Disposition": info.Meta.ContentDisposition,
		"Content-Language":    info.Meta.ContentLanguage,
		"Cache-Control":       info.Meta.CacheControl,
		"Expires":             info.Meta.Expires,
	} {
		if v != "" {
			hdr.Set(k, v)
		}
	}
	for k, v := range info.Meta.User {
		// Not Set: that would canonicalize the name, and S3 sends it lower-case.
		hdr["x-amz-meta-"+k] = []string{v}
	}
}

// setChecksumHeaders writes x-amz-checksum-<alg> and x-amz-checksum-type.
func setChecksumHeaders(hdr http.Header, c Checksum) {
	if c.Algorithm == "" || c.Value == "" {
		return
	}
	hdr.Set("x-amz-checksum-"+strings.ToLower(c.Algorithm), c.Value)
	if c.Type != "" {
		hdr.Set("x-amz-checksum-type", c.Type)
	}
}

// setExpiration writes x-amz-expiration for a version a lifecycle rule
// will expire.
func setExpiration(hdr http.Header, info ObjectInfo) {
	if info.Expiration != "" {
		hdr.Set("x-amz-expiration", info.Expiration)
	}
}

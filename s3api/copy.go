package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
)

// copySource is a parsed x-amz-copy-source.
type copySource struct {
	bucket, key, versionID string
}

// parseCopySource parses "[/]bucket/key[?versionId=id]" with the key
// URL-encoded, as S3 requires. The query is split off before decoding, so
// an encoded "?" (%3F) stays part of the key.
func parseCopySource(s string) (copySource, error) {
	raw, query, _ := strings.Cut(s, "?")
	raw = strings.TrimPrefix(raw, "/")
	if strings.HasPrefix(raw, "arn:") {
		return copySource{}, ErrNotImplemented.WithMessage("Access point ARNs are not supported as a copy source.")
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return copySource{}, ErrInvalidCopySource
	}
	bucket, key, _ := strings.Cut(path, "/")
	if bucket == "" || key == "" {
		return copySource{}, ErrInvalidCopySource
	}
	if err := checkKey(key); err != nil {
		return copySource{}, err
	}
	var cs = copySource{bucket: bucket, key: key}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return copySource{}, ErrInvalidCopySource
		}
		for k := range q {
			if k != "versionId" {
				return copySource{}, ErrInvalidCopySource
			}
		}
		cs.versionID = q.Get("versionId")
		if cs.versionID == "" {
			return copySource{}, ErrInvalidArgument.WithMessage("Invalid version id specified")
		}
	}
	return cs, nil
}

// sourceCheck returns the SourceCheck of a copy: it evaluates the
// x-amz-copy-source-if-* headers against the source version the backend
// resolved, and remembers that version (for x-amz-copy-source-version-id).
func sourceCheck(h http.Header, src *ObjectInfo) func(ObjectInfo) error {
	pc := copyPreconditions(h)
	return func(info ObjectInfo) error {
		*src = info
		return pc.checkCopy(info)
	}
}

func directive(h http.Header, name string) (replace bool, err error) {
	switch v := h.Get(name); v {
	case "", "COPY":
		return false, nil
	case "REPLACE":
		return true, nil
	default:
		return false, ErrInvalidArgument.WithMessagef("Unknown %s value %q.", name, v)
	}
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	ETag         string
	LastModified xmlTime
	checksumFields
}

func (h *handler) copyObject(w http.ResponseWriter, r *http.Request) {
	in, err := h.parseCopyObject(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var src ObjectInfo
	in.SourceCheck = sourceCheck(r.Header, &src)
	info, err := h.b.CopyObject(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hdr := w.Header()
	setWrittenVersion(hdr, info.VersionID)
	setExpiration(hdr, info)
	setSSEHeaders(hdr, info.SSE)
	if src.VersionID != "" {
		hdr.Set("x-amz-copy-source-version-id", src.VersionID)
	}
	h.writeXML(w, r, http.StatusOK, copyObjectResult{
		ETag:           etag(info.ETag),
		LastModified:   xmlTime(info.LastModified),
		checksumFields: newChecksumFields(info.Checksum),
	})
}

// parseCopyObject reads a CopyObject request into the backend's input.
func (h *handler) parseCopyObject(r *http.Request) (CopyObjectInput, error) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		return CopyObjectInput{}, err
	}
	if err := checkWriteHeaders(r.Header); err != nil {
		return CopyObjectInput{}, err
	}
	cs, err := parseCopySource(r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return CopyObjectInput{}, err
	}
	replaceMeta, err := directive(r.Header, "x-amz-metadata-directive")
	if err != nil {
		return CopyObjectInput{}, err
	}
	replaceTags, err := directive(r.Header, "x-amz-tagging-directive")
	if err != nil {
		return CopyObjectInput{}, err
	}
	lock, _, err := h.writeLock(r.Header)
	if err != nil {
		return CopyObjectInput{}, err
	}
	in := CopyObjectInput{
		SrcBucket: cs.bucket, SrcKey: cs.key, SrcVersionID: cs.versionID,
		DstBucket: st.bucket, DstKey: st.key, Lock: lock,
	}
	if cs.bucket == st.bucket && cs.key == st.key && cs.versionID == "" && !replaceMeta {
		return CopyObjectInput{}, ErrCopyToItself
	}
	if !replaceMeta && !replaceTags {
		return in, nil
	}
	meta, err := parseObjectMeta(r.Header)
	if err != nil {
		return CopyObjectInput{}, err
	}
	if replaceMeta {
		m := meta
		m.Tags = nil // tags follow their own directive, in Tags
		in.Meta = &m
	}
	if replaceTags {
		in.Tags = meta.Tags
		if in.Tags == nil {
			in.Tags = map[string]string{} // REPLACE with no x-amz-tagging: no tags
		}
	}
	return in, nil
}

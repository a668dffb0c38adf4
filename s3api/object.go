package s3api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// writeConditions reads the conditional-write headers of PutObject and
// CompleteMultipartUpload. S3 supports If-None-Match only as "*" (create
// only if absent) and If-Match with one ETag.
func writeConditions(h http.Header) (ifMatch, ifNoneMatch string, err error) {
	ifNoneMatch = h.Get("If-None-Match")
	if ifNoneMatch != "" && ifNoneMatch != "*" {
		return "", "", ErrNotImplemented.WithMessage("If-None-Match on a write supports only \"*\".")
	}
	ifMatch = strings.TrimSpace(h.Get("If-Match"))
	ifMatch = strings.Trim(strings.TrimPrefix(ifMatch, "W/"), `"`)
	return ifMatch, ifNoneMatch, nil
}

func (h *handler) putObject(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	in := PutObjectInput{Bucket: st.bucket, Key: st.key}
	err := checkKey(st.key)
	if err == nil {
		err = checkWriteHeaders(r.Header)
	}
	if err == nil {
		in.Meta, err = parseObjectMeta(r.Header)
	}
	if err == nil {
		in.IfMatch, in.IfNoneMatch, err = writeConditions(r.Header)
	}
	if err == nil {
		var explicit bool
		if in.Lock, explicit, err = h.writeLock(r.Header); err == nil {
			err = h.requireLockDigest(r.Context(), r.Header, st.bucket, explicit, false)
		}
	}
	var p *payload
	if err == nil {
		p, err = h.openPayload(r)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in.Body, in.Size, in.Digest = p, p.size, p.digest

	info, err := h.b.PutObject(r.Context(), in)
	if err := p.result(err); err != nil {
		h.writeError(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("ETag", etag(info.ETag))
	setWrittenVersion(hdr, info.VersionID)
	setExpiration(hdr, info)
	sum := info.Checksum
	if sum.Algorithm == "" {
		sum = p.digest().Checksum
	}
	setChecksumHeaders(hdr, sum)
	setSSEHeaders(hdr, info.SSE)
	w.WriteHeader(http.StatusOK)
}

func (h *handler) getObject(w http.ResponseWriter, r *http.Request)  { h.serveObject(w, r, false) }
func (h *handler) headObject(w http.ResponseWriter, r *http.Request) { h.serveObject(w, r, true) }

// serveObject answers GetObject and HeadObject, which differ only in the
// body: same conditionals, ranges and headers.
func (h *handler) serveObject(w http.ResponseWriter, r *http.Request, head bool) {
	st := state(r)
	q := r.URL.Query()
	hdr := w.Header()
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	part := 0
	if s := q.Get("partNumber"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxParts {
			h.writeError(w, r, ErrTooManyParts)
			return
		}
		if r.Header.Get("Range") != "" {
			h.writeError(w, r, ErrInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter."))
			return
		}
		part = n
	}

	var (
		info ObjectInfo
		rc   io.ReadSeekCloser
		err  error
	)
	if head {
		info, err = h.b.HeadObject(r.Context(), st.bucket, st.key, q.Get("versionId"))
	} else {
		info, rc, err = h.b.GetObject(r.Context(), st.bucket, st.key, q.Get("versionId"))
	}
	if rc != nil {
		defer rc.Close()
	}
	if err != nil {
		setDeleteMarker(hdr, info)
		h.writeError(w, r, err)
		return
	}
	if err := readPreconditions(r.Header).checkRead(info); err != nil {
		if errors.Is(err, ErrNotModified) {
			hdr.Set("ETag", etag(info.ETag))
			hdr.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
		}
		h.writeError(w, r, err)
		return
	}

	var (
		rng    byteRange
		ranged bool
	)
	// length is what the body carries: the object, the range, or an empty
	// part (which has no range to name).
	length := info.Size
	switch {
	case part > 0:
		rng, ranged, err = h.partRange(r, hdr, info, part)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		length = rng.length
	case r.Header.Get("Range") != "":
		rng, ranged, err = parseRange(r.Header.Get("Range"), info.Size)
		if err != nil {
			hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
			h.writeError(w, r, err)
			return
		}
	}

	status := http.StatusOK
	if ranged {
		status, length = http.StatusPartialContent, rng.length
	}
	// The first bytes are read before any header of the object is set, so
	// that an object that cannot be read at all (its tier unreachable, its
	// data damaged) gets a plain error response, not a 200 cut short.
	var first []byte
	var buf *[]byte
	if !head {
		buf = h.copyBuf()
		defer h.putCopyBuf(buf)
		if rng.start > 0 {
			if _, err := rc.Seek(rng.start, io.SeekStart); err != nil {
				h.writeError(w, r, fmt.Errorf("seek to %d: %w", rng.start, err))
				return
			}
		}
		first = (*buf)[:min(int64(len(*buf)), length)]
		if _, err := io.ReadFull(rc, first); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	setObjectHeaders(hdr, info)
	// The stored checksum covers the whole object only; S3 returns it only
	// when the client asked (x-amz-checksum-mode) and gets all the bytes.
	if !ranged && length == info.Size && strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED") {
		setChecksumHeaders(hdr, info.Checksum)
	}
	for _, o := range [...]struct{ param, header string }{
		{"response-content-type", "Content-Type"},
		{"response-content-language", "Content-Language"},
		{"response-expires", "Expires"},
		{"response-cache-control", "Cache-Control"},
		{"response-content-disposition", "Content-Disposition"},
		{"response-content-encoding", "Content-Encoding"},
	} {
		if v := q.Get(o.param); v != "" {
			hdr.Set(o.header, v)
		}
	}
	if ranged {
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.start+rng.length-1, info.Size))
	}
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if !head {
		h.stream(w, r, rc, first, length, buf)
	}
}

// setDeleteMarker says, on the answer to a read that found a delete
// marker, that it did and which version it is.
func setDeleteMarker(hdr http.Header, info ObjectInfo) {
	if info.DeleteMarker {
		hdr.Set("x-amz-delete-marker", "true")
		if info.VersionID != "" {
			hdr.Set("x-amz-version-id", info.VersionID)
		}
	}
}

// stream sends first and then the rest of n bytes of an object to the
// client once the status is sent. A failure now can only cut the body
// short (net/http then closes the connection, so the client sees a
// truncated, never a complete, response); it is recorded for the access
// log.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, src io.Reader, first []byte, n int64, buf *[]byte) {
	w1, err := w.Write(first)
	written := int64(w1)
	if err == nil {
		var rest int64
		rest, err = io.CopyBuffer(w, io.LimitReader(src, n-written), *buf)
		written += rest
	}
	if err == nil && written < n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		st := state(r)
		st.err = fmt.Errorf("body cut after %d of %d bytes: %w", written, n, err)
		st.code = ErrInternalError.Code
		if r.Context().Err() != nil {
			st.code = codeClientGone
		}
	}
}

func (h *handler) deleteObject(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	vid := r.URL.Query().Get("versionId")
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	if r.Header.Get("x-amz-mfa") != "" {
		h.writeError(w, r, ErrNotImplemented.WithMessage("MFA Delete is not supported."))
		return
	}
	if r.Header.Get("If-Match") != "" || r.Header.Get("x-amz-if-match-last-modified-time") != "" || r.Header.Get("x-amz-if-match-size") != "" {
		h.writeError(w, r, ErrNotImplemented.WithMessage("Conditional deletes are not supported."))
		return
	}
	r = h.withBypass(r)
	res, err := h.b.DeleteObject(r.Context(), st.bucket, st.key, vid)
	if err != nil && !(errors.Is(err, ErrNoSuchKey) && vid == "") {
		h.writeError(w, r, err)
		return
	}
	// Deleting a key that does not exist succeeds on S3 (204, no headers).
	if res.VersionID != "" {
		w.Header().Set("x-amz-version-id", res.VersionID)
	}
	if res.DeleteMarker {
		w.Header().Set("x-amz-delete-marker", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

// setWrittenVersion sets x-amz-version-id on the answer to a write that
// created a version. A write to a bucket whose versioning is Suspended
// creates the null version, and S3 then sends no version ID at all (clients
// read its absence as "not versioned"), though a read of that version
// answers "null".
func setWrittenVersion(hdr http.Header, versionID string) {
	if versionID != "" && versionID != "null" {
		hdr.Set("x-amz-version-id", versionID)
	}
}

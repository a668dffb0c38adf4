package s3api

import (
	"net/http"
	"strconv"
)

// Bucket lifecycle configuration. s3api carries the document; the backend
// parses and validates it, because only it knows which storage classes
// (Cairn's tiers) exist, and renders it back in its canonical form.

func (h *handler) getBucketLifecycle(w http.ResponseWriter, r *http.Request) {
	doc, err := h.b.GetBucketLifecycle(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// putBucketLifecycle requires Content-MD5 or an additional checksum, as S3
// does for PutBucketLifecycleConfiguration.
func (h *handler) putBucketLifecycle(w http.ResponseWriter, r *http.Request) {
	data, err := h.readSmallBody(r, maxConfigXML, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.b.PutBucketLifecycle(r.Context(), state(r).bucket, data); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) deleteBucketLifecycle(w http.ResponseWriter, r *http.Request) {
	if err := h.b.DeleteBucketLifecycle(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

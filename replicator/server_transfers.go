package replicator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// The transfer routes: one version received through a chunkstore Import.

func (h *Handler) newTransfer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	bucket := r.URL.Query().Get("bucket")
	if bucket == "" {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "transfers: no bucket")
		return
	}
	store, err := h.target.Store(ctx, bucket)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("bucket %s: %w", bucket, err))
		return
	}
	im, err := store.NewImport(ctx)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("bucket %s: new import: %w", bucket, err))
		return
	}
	tr, full := h.transfers.add(bucket, im, time.Now())
	if tr == nil {
		if err := im.Abort(); err != nil {
			h.log.Warn("replication: abort refused import", "bucket", bucket, "err", err)
		}
		w.Header().Set("Retry-After", "10")
		if full {
			writeJSONError(w, http.StatusServiceUnavailable, CodeTooManyTransfers, "too many transfers open; retry later")
		} else {
			writeJSONError(w, http.StatusServiceUnavailable, CodeShuttingDown, "the replication handler is shutting down; retry later")
		}
		return
	}
	writeJSON(w, transferBody{ID: tr.id})
}

type transferBody struct {
	ID string `json:"id"`
}

// withTransfer runs fn with the transfer named by ?id= locked.
func (h *Handler) withTransfer(w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request, *transfer)) {
	id := r.URL.Query().Get("id")
	tr := h.transfers.acquire(id)
	if tr == nil {
		writeJSONError(w, http.StatusNotFound, CodeNoSuchTransfer, "no transfer "+strconv.Quote(id)+": start the version over")
		return
	}
	defer func() { h.transfers.release(tr, time.Now()) }()
	fn(w, r, tr)
}

func (h *Handler) need(w http.ResponseWriter, r *http.Request, tr *transfer) {
	body, ok := readBody(w, r, MaxBatch*idSize)
	if !ok {
		return
	}
	ids, err := DecodeIDs(body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "need: "+err.Error())
		return
	}
	missing, err := tr.im.Need(r.Context(), ids)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("bucket %s: need: %w", tr.bucket, err))
		return
	}
	writeBinary(w, http.StatusOK, AppendIDs(make([]byte, 0, len(missing)*idSize), missing))
}

func (h *Handler) putRecords(w http.ResponseWriter, r *http.Request, tr *transfer) {
	buf := h.bodies.get()
	defer h.bodies.put(buf) // PutRecords has written the records by then
	body, ok := readBodyInto(w, r, MaxRecordsBody, buf)
	if !ok {
		return
	}
	recs, err := DecodeRecords(body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "records: "+err.Error())
		return
	}
	if err := tr.im.PutRecords(r.Context(), recs); err != nil {
		if errors.Is(err, chunkstore.ErrCorrupt) {
			// PutRecords verified everything before writing: nothing changed.
			h.log.Warn("replication: bad record refused", "bucket", tr.bucket, "peer", r.RemoteAddr, "err", err)
			writeJSONError(w, http.StatusBadRequest, CodeBadRecord, err.Error())
			return
		}
		h.writeError(w, r, fmt.Errorf("bucket %s: records: %w", tr.bucket, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// append requires ?offset= to be the size appended so far, so that an
// Append repeated after a lost answer is refused rather than appended
// twice.
func (h *Handler) append(w http.ResponseWriter, r *http.Request, tr *transfer) {
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "append: bad offset: "+err.Error())
		return
	}
	body, ok := readBody(w, r, MaxBatch*entrySize)
	if !ok {
		return
	}
	entries, err := DecodeEntries(body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "append: "+err.Error())
		return
	}
	if size := tr.im.Size(); offset != size {
		writeJSONError(w, http.StatusConflict, CodeOffsetMismatch, fmt.Sprintf("append at offset %d: the transfer has %d bytes", offset, size))
		return
	}
	err = tr.im.Append(r.Context(), entries)
	var missing *chunkstore.MissingChunksError
	switch {
	case errors.As(err, &missing):
		w.Header().Set(ErrorHeader, CodeMissingChunks)
		writeBinary(w, http.StatusConflict, AppendIDs(make([]byte, 0, len(missing.IDs)*idSize), missing.IDs))
	case err != nil:
		h.writeError(w, r, fmt.Errorf("bucket %s: append: %w", tr.bucket, err))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// commitBody answers a commit.
type commitBody struct {
	AlreadyApplied bool  `json:"alreadyApplied,omitempty"`
	Size           int64 `json:"size"`
	Chunks         int64 `json:"chunks"`
}

// commit ends the transfer whatever happens: committed, already applied,
// or aborted on an error (the sender starts over).
func (h *Handler) commit(w http.ResponseWriter, r *http.Request, tr *transfer) {
	ctx := r.Context()
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "commit: bad size: "+err.Error())
		return
	}
	op, ok := readBody(w, r, maxOpBody)
	if !ok {
		return
	}
	if !json.Valid(op) {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "commit: the op is not JSON")
		return
	}
	if got := tr.im.Size(); got != size {
		writeJSONError(w, http.StatusConflict, CodeOffsetMismatch, fmt.Sprintf("commit of %d bytes: the transfer has %d", size, got))
		return
	}
	defer h.transfers.end(tr)
	fn, err := h.target.CommitFunc(ctx, tr.bucket, op)
	var m chunkstore.Manifest
	if err == nil {
		m, err = tr.im.Commit(ctx, fn)
	}
	switch {
	case errors.Is(err, ErrAlreadyApplied):
		h.abort(tr)
		writeJSON(w, commitBody{AlreadyApplied: true, Size: size})
	case err != nil:
		h.abort(tr)
		h.writeError(w, r, fmt.Errorf("bucket %s: commit: %w", tr.bucket, err))
	default:
		writeJSON(w, commitBody{Size: m.Size, Chunks: m.Chunks})
	}
}

// abortTransfer is idempotent: aborting an unknown transfer succeeds.
func (h *Handler) abortTransfer(w http.ResponseWriter, r *http.Request) {
	if tr := h.transfers.acquire(r.URL.Query().Get("id")); tr != nil {
		h.abort(tr)
		h.transfers.end(tr)
		h.transfers.release(tr, time.Now())
	}
	w.WriteHeader(http.StatusNoContent)
}

package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Target is the replica side as the handler needs it; the gateway
// implements it over its buckets and object versions.
type Target interface {
	// Store is the chunk store of the replica bucket's storage group. An
	// error wrapping *TargetError says why not (no such bucket: 404; not a
	// replica of this peer: 403).
	Store(ctx context.Context, bucket string) (*chunkstore.Store, error)
	// CommitFunc turns an op (opaque to this package: the source gateway's
	// description of an object version) into the function that records the
	// version in the transaction committing its manifest. It returns
	// ErrAlreadyApplied if the op was applied before, and the returned
	// function may too (a race with another commit of the same op): the
	// handler then answers success, so a repeated commit is harmless.
	CommitFunc(ctx context.Context, bucket string, op json.RawMessage) (chunkstore.CommitFunc, error)
	// Apply applies an op that carries no data (a delete, a delete marker,
	// a tag change). It must be idempotent; ErrAlreadyApplied counts as
	// success.
	Apply(ctx context.Context, bucket string, op json.RawMessage) error
}

// HandlerOptions configure NewHandler. The zero value is usable.
type HandlerOptions struct {
	Logger *slog.Logger
	// Server names this Cairn in Hello (e.g. its host name), for the
	// peer's events.
	Server string
	// TransferIdle is how long a transfer may go without a call before the
	// janitor aborts it (its import and holds dropped); 0 means 10 minutes.
	TransferIdle time.Duration
	// MaxTransfers bounds open transfers; 0 means 256. Beyond it a new
	// transfer is refused with 503 TooManyTransfers.
	MaxTransfers int
	// OnIncompatible is called with both versions ("1/1") when a peer
	// speaking another version calls, for the gateway's event log.
	OnIncompatible func(local, remote string)
	// Protocol and RecordFormat override the versions this handler speaks
	// (0: ProtocolVersion, RecordFormat); for tests of negotiation only.
	Protocol, RecordFormat int
}

// Handler serves the replication protocol for the replica side. It does
// no authentication: the gateway mounts it at PathPrefix behind its S3
// (SigV4) authentication and its check that the caller may replicate.
type Handler struct {
	target    Target
	log       *slog.Logger
	local     Hello
	idle      time.Duration
	onIncompt func(local, remote string)
	transfers *transferTable
	stop      chan struct{}
	janitor   chan struct{} // closed when the janitor has returned
	bodies    bodyBuffers
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the handler and starts its janitor; Close stops it and
// aborts open transfers.
func NewHandler(t Target, opts HandlerOptions) *Handler {
	h := &Handler{
		target:    t,
		log:       opts.Logger,
		local:     Hello{Protocol: ProtocolVersion, RecordFormat: RecordFormat, Server: opts.Server},
		idle:      opts.TransferIdle,
		onIncompt: opts.OnIncompatible,
		stop:      make(chan struct{}),
		janitor:   make(chan struct{}),
	}
	if opts.Protocol != 0 {
		h.local.Protocol = opts.Protocol
	}
	if opts.RecordFormat != 0 {
		h.local.RecordFormat = opts.RecordFormat
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.idle <= 0 {
		h.idle = 10 * time.Minute
	}
	maxTransfers := opts.MaxTransfers
	if maxTransfers <= 0 {
		maxTransfers = 256
	}
	h.transfers = newTransferTable(maxTransfers)
	h.bodies = newBodyBuffers(2)
	go h.runJanitor()
	return h
}

// Close stops the janitor and aborts every open transfer (waiting for calls
// in progress on them). Senders then get NoSuchTransfer and start over.
func (h *Handler) Close() error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.janitor
	h.transfers.close(h.abort)
	return nil
}

// Transfers is the number of open transfers.
func (h *Handler) Transfers() int { return h.transfers.len() }

func (h *Handler) runJanitor() {
	defer close(h.janitor)
	tick := time.NewTicker(min(max(h.idle/4, time.Millisecond), time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-tick.C:
			if n := h.transfers.expire(now.Add(-h.idle), h.abort); n > 0 {
				h.log.Info("replication: aborted idle transfers", "count", n, "idle", h.idle)
			}
		}
	}
}

// abort aborts a locked transfer's import; its chunks' holds go with it.
func (h *Handler) abort(tr *transfer) {
	if err := tr.im.Abort(); err != nil {
		h.log.Warn("replication: abort transfer", "bucket", tr.bucket, "transfer", tr.id, "err", err)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(VersionHeader, h.local.Version())
	route := strings.TrimPrefix(r.URL.Path, PathPrefix)
	if route == r.URL.Path { // mounted with http.StripPrefix
		route = strings.TrimPrefix(route, "/")
	}
	if route == "hello" {
		h.hello(w, r)
		return
	}
	if !h.compatible(r) {
		sent := r.Header.Get(VersionHeader)
		if sent == "" {
			sent = "no " + VersionHeader + " header"
		}
		writeJSONError(w, http.StatusBadRequest, CodeIncompatiblePeer, fmt.Sprintf(
			"this server speaks replication protocol %d (record format %d); the peer sent %s",
			h.local.Protocol, h.local.RecordFormat, sent))
		return
	}
	if r.Method != http.MethodPost {
		writeJSONError(w, http.StatusMethodNotAllowed, CodeBadRequest, r.Method+" "+route+": want POST")
		return
	}
	switch route {
	case "transfers":
		h.newTransfer(w, r)
	case "transfers/need":
		h.withTransfer(w, r, h.need)
	case "transfers/records":
		h.withTransfer(w, r, h.putRecords)
	case "transfers/append":
		h.withTransfer(w, r, h.append)
	case "transfers/commit":
		h.withTransfer(w, r, h.commit)
	case "transfers/abort":
		h.abortTransfer(w, r)
	case "apply":
		h.apply(w, r)
	default:
		writeJSONError(w, http.StatusNotFound, CodeBadRequest, "no replication route "+strconv.Quote(route))
	}
}

// compatible checks the request's VersionHeader, calling the hook on a
// mismatch. A request without the header is a mismatch too: the peer is
// not a replication client of any version we know.
func (h *Handler) compatible(r *http.Request) bool {
	v := r.Header.Get(VersionHeader)
	if remote, ok := parseVersion(v); ok && remote.Compatible(h.local) {
		return true
	}
	h.log.Warn("replication: incompatible peer", "local", h.local.Version(), "remote", v, "peer", r.RemoteAddr)
	if h.onIncompt != nil {
		h.onIncompt(h.local.Version(), v)
	}
	return false
}

// hello answers every version with ours: negotiation must work between
// versions. A mismatched caller still fires the hook, so the event is
// raised on both sides.
func (h *Handler) hello(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSONError(w, http.StatusMethodNotAllowed, CodeBadRequest, r.Method+" hello: want GET")
		return
	}
	if r.Header.Get(VersionHeader) != "" {
		h.compatible(r)
	}
	writeJSON(w, h.local)
}

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

func (h *Handler) apply(w http.ResponseWriter, r *http.Request) {
	bucket := r.URL.Query().Get("bucket")
	if bucket == "" {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "apply: no bucket")
		return
	}
	op, ok := readBody(w, r, maxOpBody)
	if !ok {
		return
	}
	if !json.Valid(op) {
		writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "apply: the op is not JSON")
		return
	}
	if err := h.target.Apply(r.Context(), bucket, op); err != nil && !errors.Is(err, ErrAlreadyApplied) {
		h.writeError(w, r, fmt.Errorf("bucket %s: apply: %w", bucket, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads a request body of at most max bytes, answering 400 (or
// 413) itself when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	var buf []byte
	return readBodyInto(w, r, max, &buf)
}

// readBodyInto is readBody into *buf, grown if needed.
func readBodyInto(w http.ResponseWriter, r *http.Request, max int64, buf *[]byte) ([]byte, bool) {
	if r.ContentLength > max {
		writeJSONError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("body of %d bytes: at most %d", r.ContentLength, max))
		return nil, false
	}
	rd := http.MaxBytesReader(w, r.Body, max)
	var b []byte
	var err error
	if r.ContentLength >= 0 {
		if int64(cap(*buf)) < r.ContentLength {
			*buf = make([]byte, r.ContentLength)
		}
		b = (*buf)[:r.ContentLength]
		_, err = io.ReadFull(rd, b)
	} else {
		b, err = io.ReadAll(rd)
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("body: at most %d bytes", max))
		} else if r.Context().Err() == nil {
			writeJSONError(w, http.StatusBadRequest, CodeBadRequest, "reading body: "+err.Error())
		}
		return nil, false
	}
	return b, true
}

// writeError answers err: a *TargetError as it says, a full store 507,
// a client gone nothing, and anything else 500, logged once here.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *TargetError
	switch {
	case errors.As(err, &te):
		writeJSONError(w, te.Status, te.Code, te.Message)
	case errors.Is(err, chunkstore.ErrQuotaExceeded):
		writeJSONError(w, http.StatusInsufficientStorage, CodeQuotaExceeded, err.Error())
	case r.Context().Err() != nil:
		h.log.Debug("replication: peer gone", "peer", r.RemoteAddr, "err", err)
	default:
		h.log.Error("replication: request failed", "route", r.URL.Path, "peer", r.RemoteAddr, "err", err)
		writeJSONError(w, http.StatusInternalServerError, CodeInternalError, err.Error())
	}
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set(ErrorHeader, code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeBinary(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

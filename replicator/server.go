package replicator

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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

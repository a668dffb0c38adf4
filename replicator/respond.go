package replicator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/cairn-backup/cairn/chunkstore"
)

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

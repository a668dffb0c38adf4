package replicator

import (
	"errors"
	"fmt"
)

// Error codes, in the "code" field of an error body and in ErrorHeader.
const (
	CodeIncompatiblePeer = "IncompatiblePeer" // 400: versions differ
	CodeBadRequest       = "BadRequest"       // 400: malformed body or parameter
	CodeBadRecord        = "BadRecord"        // 400: a record does not match its chunk ID; nothing written
	CodeNoSuchTransfer   = "NoSuchTransfer"   // 404: the target restarted or expired it: start the version over
	CodeMissingChunks    = "MissingChunks"    // 409: Append names chunks the target lacks; body: their IDs
	CodeOffsetMismatch   = "OffsetMismatch"   // 409: Append or Commit at another size than the transfer's
	CodeTooManyTransfers = "TooManyTransfers" // 503: the transfer table is full; retry later
	CodeShuttingDown     = "ShuttingDown"     // 503: the handler is closing; retry later
	CodeQuotaExceeded    = "QuotaExceeded"    // 507: the target's storage group is full
	CodeInternalError    = "InternalError"    // 500
)

// ErrorHeader carries an error response's code, so that a client can tell
// a MissingChunks body (IDs) from a JSON one without parsing it.
const ErrorHeader = "X-Cairn-Error"

// ErrAlreadyApplied is returned by Target.CommitFunc when the op was applied
// before (a sender that lost the answer to its commit sends it again): the
// handler aborts the import and answers success.
var ErrAlreadyApplied = errors.New("replication op already applied")

// ErrNoSuchTransfer is matched (errors.Is) by a *PeerError of code
// NoSuchTransfer: the target lost the transfer (restart, idle expiry), and
// the sender must start the version over.
var ErrNoSuchTransfer = errors.New("no such replication transfer")

// TargetError is how a Target gives the handler the status and code to
// answer with (wrapped anywhere in the error it returns): quota full (507
// QuotaExceeded), a bucket that is not a replica (403), no such bucket
// (404). Other Target errors are answered 500 InternalError.
type TargetError struct {
	Status  int
	Code    string
	Message string
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// PeerError is an error answer from the peer, as the client received it.
// Status 0 never occurs: a broken link is a transport error (wrapped
// *url.Error or a context error), not a PeerError, so the gateway can tell
// a full target from a broken link.
type PeerError struct {
	Status  int
	Code    string
	Message string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// Is makes errors.Is(err, ErrNoSuchTransfer) true for code NoSuchTransfer.
func (e *PeerError) Is(target error) bool {
	return target == ErrNoSuchTransfer && e.Code == CodeNoSuchTransfer
}

// errorBody is the JSON of every error answer but MissingChunks.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

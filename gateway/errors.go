package gateway

import (
	"context"
	"errors"
	"syscall"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/s3api"
)

// mapErr is the one place where store errors become S3 errors. What a client
// caused is already an *s3api.Error and passes unchanged, as do context
// errors (the client is gone: s3api writes no body). A missing manifest means
// a concurrent delete released the object between our lookup and the read,
// so the client sees what it would have seen a moment later. Corruption and
// anything unforeseen stay internal errors, keeping their detail for the one
// log line s3api writes.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var s3err *s3api.Error
	switch {
	case errors.As(err, &s3err):
		return s3err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, chunkstore.ErrNotFound):
		return s3api.ErrNoSuchKey
	case errors.Is(err, cloudtier.ErrDamaged):
		// The detail (tier, endpoint, object) is the admin's: tieredReader
		// logs it.
		return s3api.ErrInternalError.WithMessage("The tier's copy of this object's data is damaged or was altered; the server log names it.")
	case errors.Is(err, chunkstore.ErrRemote):
		return s3api.ErrServiceUnavailable.WithMessage("This object's data is in a tier that cannot be read now; try again later (the server log says why).")
	case errors.Is(err, chunkstore.ErrQuotaExceeded):
		return s3api.ErrQuotaExceeded
	case errors.Is(err, syscall.ENOSPC):
		return s3api.ErrInsufficientStorage.WithMessage("The storage group's disk is full; delete data and let the cleaner run (cairn admin clean).")
	case errors.Is(err, chunkstore.ErrClosed), errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return s3api.ErrServiceUnavailable.WithMessage("The server is shutting down.")
	}
	return err
}

// mapUploadErr maps errors of an upload's parts: a part manifest gone means
// the upload was aborted or completed meanwhile.
func mapUploadErr(err error) error {
	if errors.Is(err, chunkstore.ErrNotFound) {
		return s3api.ErrNoSuchUpload
	}
	return mapErr(err)
}

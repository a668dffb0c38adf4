package chunkstore

import "errors"

var (
	// ErrNotFound: no such manifest (or chunk).
	ErrNotFound = errors.New("not found")
	// ErrCorrupt: stored data failed a check (CRC, chunk ID, structure).
	// A reader returns it rather than ever returning wrong bytes.
	ErrCorrupt = errors.New("corrupt data")
	// ErrLocked: another process has the store open.
	ErrLocked = errors.New("store is in use by another process")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrNoRemote: a chunk's only copy is in a tier and the store has no
	// Remote to read it through.
	ErrNoRemote = errors.New("no tier reader configured")
	// ErrRemote: a read from a tier failed (the tier's own error follows
	// it in the chain).
	ErrRemote = errors.New("tier read failed")
	// ErrQuotaExceeded: the storage group's physical quota is used up.
	ErrQuotaExceeded = errors.New("quota exceeded")
)

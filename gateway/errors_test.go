package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

func TestMapErr(t *testing.T) {
	other := errors.New("disk on fire")
	corrupt := fmt.Errorf("container 7: %w", chunkstore.ErrCorrupt)
	cases := []struct {
		name string
		in   error
		want error // compared with errors.Is; for internal errors, the input itself
		s3   bool  // the result is an *s3api.Error
	}{
		{"nil", nil, nil, false},
		{"s3 error unchanged", s3api.ErrBadDigest, s3api.ErrBadDigest, true},
		{"wrapped s3 error", fmt.Errorf("part 3: %w", s3api.ErrInvalidPart), s3api.ErrInvalidPart, true},
		{"cancelled", fmt.Errorf("write: %w", context.Canceled), context.Canceled, false},
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded, false},
		{"not found", fmt.Errorf("manifest 9: %w", chunkstore.ErrNotFound), s3api.ErrNoSuchKey, true},
		{"quota", chunkstore.ErrQuotaExceeded, s3api.ErrQuotaExceeded, true},
		{"disk full", &fs.PathError{Op: "write", Path: "c", Err: syscall.ENOSPC}, s3api.ErrInsufficientStorage, true},
		{"closed", chunkstore.ErrClosed, s3api.ErrServiceUnavailable, true},
		{"corrupt stays internal", corrupt, corrupt, false},
		{"locked stays internal", chunkstore.ErrLocked, chunkstore.ErrLocked, false},
		{"unknown stays internal", other, other, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.in)
			if !errors.Is(got, tc.want) && !(got == nil && tc.want == nil) {
				t.Fatalf("mapErr(%v) = %v, want %v", tc.in, got, tc.want)
			}
			var s3err *s3api.Error
			if errors.As(got, &s3err) != tc.s3 {
				t.Fatalf("mapErr(%v) = %v: is an S3 error %v, want %v", tc.in, got, !tc.s3, tc.s3)
			}
		})
	}
	if got := mapUploadErr(chunkstore.ErrNotFound); !errors.Is(got, s3api.ErrNoSuchUpload) {
		t.Fatalf("mapUploadErr(ErrNotFound) = %v", got)
	}
}

package cloudtier

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// probeTimeout bounds a Probe: twice the time one operation may spend
// retrying, so a dead service fails the first step well within it.
const probeTimeout = 30 * time.Second

// probePrefix names Probe's test objects; the tier cleaner removes any a
// crash left.
const probePrefix = "probe/"

// Probe checks that t works for a tier, before anything depends on it: it
// writes a small random object under probe/, reads it back whole and in
// part, finds it in a listing, deletes it and sees it gone. The error
// says which step failed, and wraps the target's. It takes at most 30
// seconds, less if ctx ends sooner.
func Probe(ctx context.Context, t Target) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()

	var id [16]byte
	rand.Read(id[:])
	name := probePrefix + hex.EncodeToString(id[:])
	data := make([]byte, 1024)
	rand.Read(data)
	sum := md5.Sum(data)

	if err := t.Put(ctx, name, bytes.NewReader(data), int64(len(data)), sum[:]); err != nil {
		return fmt.Errorf("write a test object: %w", err)
	}
	deleted := false
	defer func() {
		if !deleted {
			// Leave no litter behind a failed step, if the service lets
			// us and time is left: within ctx, so the bound holds.
			t.Delete(ctx, name)
		}
	}()

	got, err := readAllOf(ctx, t, name, 0, -1)
	if err != nil {
		return fmt.Errorf("read it back: %w", err)
	}
	if err := sameBytes(got, data); err != nil {
		return fmt.Errorf("read back %w", err)
	}
	// Packs are read by range: a service (or a proxy) that ignores Range
	// and sends the whole object would hand the tier the wrong bytes.
	const off, n = 100, 300
	got, err = readAllOf(ctx, t, name, off, n)
	if err != nil {
		return fmt.Errorf("read a byte range of it: %w", err)
	}
	if err := sameBytes(got, data[off:off+n]); err != nil {
		return fmt.Errorf("read bytes %d to %d of it: got %w", off, off+n-1, err)
	}

	listed := int64(-1)
	err = t.List(ctx, name, func(nm string, size int64) error {
		if nm == name {
			listed = size
		}
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("list it: %w", err)
	case listed < 0:
		return fmt.Errorf("list it: a listing of %q does not show it", name)
	case listed != int64(len(data)):
		return fmt.Errorf("list it: the listing says %d bytes, not %d", listed, len(data))
	}

	if err := t.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete it: %w", err)
	}
	deleted = true
	r, err := t.GetRange(ctx, name, 0, -1)
	switch {
	case err == nil:
		r.Close()
		return fmt.Errorf("see it gone: it can still be read after a delete that succeeded")
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("see it gone: %w", err)
	}
	return nil
}

func readAllOf(ctx context.Context, t Target, name string, off, n int64) ([]byte, error) {
	r, err := t.GetRange(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// sameBytes words how got differs from want, if it does.
func sameBytes(got, want []byte) error {
	switch {
	case len(got) != len(want):
		return fmt.Errorf("%d bytes, not the %d written", len(got), len(want))
	case !bytes.Equal(got, want):
		return fmt.Errorf("%d bytes that differ from what was written", len(got))
	}
	return nil
}

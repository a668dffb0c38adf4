package gateway

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

// TestMultipartRaces: a client racing itself (two Completes of one upload,
// a Complete against an Abort, against a part uploaded again) gets one
// outcome per request, an S3 error for the losers, and nothing leaks
// (the cleanup audit).
func TestMultipartRaces(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	for round := range 30 {
		id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		data := [][]byte{random(uint64(round), 1500), random(uint64(round)+100, 700)}
		var cps []s3api.CompletePart
		for i, d := range data {
			p := uploadPart(t, g, "b", "k", id, i+1, d)
			cps = append(cps, s3api.CompletePart{PartNumber: i + 1, ETag: p.ETag})
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[string]int{} // ETag and version of each success
		complete := func() {
			info, err := g.CompleteMultipartUpload(ctx, "b", "k", id, cps, "", "")
			switch {
			case err == nil:
				mu.Lock()
				wins[info.ETag+"/"+info.VersionID]++
				mu.Unlock()
			case errors.Is(err, s3api.ErrNoSuchUpload), errors.Is(err, s3api.ErrInvalidPart):
			default:
				t.Errorf("round %d: complete: %v", round, err)
			}
		}
		wg.Go(complete)
		switch round % 3 {
		case 0:
			wg.Go(complete)
		case 1:
			wg.Go(func() {
				if err := g.AbortMultipartUpload(ctx, "b", "k", id); err != nil && !errors.Is(err, s3api.ErrNoSuchUpload) {
					t.Errorf("round %d: abort: %v", round, err)
				}
			})
		case 2:
			wg.Go(func() {
				_, err := g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "k", UploadID: id, PartNumber: 1, Body: bytesReader(data[0]), Size: int64(len(data[0]))})
				if err != nil && !errors.Is(err, s3api.ErrNoSuchUpload) {
					t.Errorf("round %d: upload part: %v", round, err)
				}
			})
		}
		wg.Wait()
		// Two Completes of one upload make one object. The second may fail
		// (NoSuchUpload) or, like S3 answering a retry, return that same
		// object; never a second version.
		if round%3 == 0 && len(wins) != 1 {
			t.Errorf("round %d: Completes made %v, want one object", round, wins)
		}
		g.AbortMultipartUpload(ctx, "b", "k", id)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

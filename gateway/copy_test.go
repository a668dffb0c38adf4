package gateway

import (
	"bytes"
	"testing"

	"github.com/cairn-backup/cairn/s3api"
)

// TestCopyOfMultipartKeepsParts: a copy keeps the source's ETag and parts
// count, so it must keep where each part lies too: GET ?partNumber=N of the
// copy serves part N, as of the source.
func TestCopyOfMultipartKeepsParts(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "src"})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{random(1, 3000), random(2, 2048), random(3, 100)}
	var cps []s3api.CompletePart
	for i, p := range parts {
		pi := uploadPart(t, g, "b", "src", id, i+1, p)
		cps = append(cps, s3api.CompletePart{PartNumber: i + 1, ETag: pi.ETag})
	}
	if _, err := g.CompleteMultipartUpload(ctx, "b", "src", id, cps, "", ""); err != nil {
		t.Fatal(err)
	}
	dst, err := g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", DstBucket: "b", DstKey: "dst"})
	if err != nil {
		t.Fatal(err)
	}
	if dst.PartsCount != len(parts) {
		t.Fatalf("copy has %d parts, want %d", dst.PartsCount, len(parts))
	}
	whole := mustGet(t, g, "b", "dst", "")
	var off int64
	for i, p := range parts {
		o, n, etag, err := g.PartRange(ctx, "b", "dst", "", i+1)
		if err != nil {
			t.Fatalf("copy's part %d: %v", i+1, err)
		}
		if o != off || n != int64(len(p)) || etag != dst.ETag || !bytes.Equal(whole[o:o+n], p) {
			t.Fatalf("copy's part %d at %d+%d (ETag %s), want %d+%d (%s)", i+1, o, n, etag, off, len(p), dst.ETag)
		}
		off += n
	}
}

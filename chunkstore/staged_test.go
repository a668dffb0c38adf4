package chunkstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestStagedAppendsMatchPlain appends the same buffers to one file with
// writeStaged and to another with writeVec: small and large appends, from
// offsets on and off block boundaries, larger than the staging buffer. The
// files must be byte for byte the same.
func TestStagedAppendsMatchPlain(t *testing.T) {
	dir := t.TempDir()
	staged, err := os.Create(filepath.Join(dir, "staged"))
	if err != nil {
		t.Fatal(err)
	}
	defer staged.Close()
	plain, err := os.Create(filepath.Join(dir, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()

	data := randomData(9, 16<<20)
	take := func(n int) []byte { b := data[:n]; data = data[n:]; return b }
	appends := [][][]byte{
		{take(100)},                // at 0, ends off a boundary
		{take(stagedMin), take(7)}, // from an unaligned offset
		{take(stageAlign - (100+stagedMin+7)%stageAlign)}, // ends on a boundary
		{take(stagedMin)}, // from an aligned offset
		{take(3*stageSize + 123), take(1), take(5)}, // several staging buffers
		{take(stageSize - 4096)},                    // ends just short of a stage
		{take(1)},
		{take(stagedMin + 4095)},
	}
	var off int64
	for i, bufs := range appends {
		if err := writeStaged(staged, bufs, off); err != nil {
			t.Fatalf("append %d, staged: %v", i, err)
		}
		if err := writeVec(plain, bufs, off); err != nil {
			t.Fatalf("append %d, plain: %v", i, err)
		}
		for _, b := range bufs {
			off += int64(len(b))
		}
	}
	s, _ := os.ReadFile(staged.Name())
	p, _ := os.ReadFile(plain.Name())
	if int64(len(s)) != off || !bytes.Equal(s, p) {
		t.Fatalf("staged file %d bytes, plain %d, want %d; equal: %v", len(s), len(p), off, bytes.Equal(s, p))
	}
}

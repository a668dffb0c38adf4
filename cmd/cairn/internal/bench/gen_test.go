package bench

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// genSmall writes a small dataset into a new temporary directory.
func genSmall(t *testing.T, seed int64, size int64, gens int) (string, GenReport) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ds")
	rep, err := Gen(t.Context(), GenOptions{Out: dir, Seed: seed, Size: size, Generations: gens})
	if err != nil {
		t.Fatal(err)
	}
	return dir, rep
}

func TestGenDeterministic(t *testing.T) {
	const size = 6 << 20
	_, a := genSmall(t, 7, size, 3)
	_, b := genSmall(t, 7, size, 3)
	_, c := genSmall(t, 8, size, 3)
	if len(a.Generations) != 3 {
		t.Fatalf("%d generations, want 3", len(a.Generations))
	}
	for i := range a.Generations {
		ga, gb, gc := a.Generations[i], b.Generations[i], c.Generations[i]
		if ga.TarSHA256 != gb.TarSHA256 || ga.SumsSHA256 != gb.SumsSHA256 || ga.TarBytes != gb.TarBytes {
			t.Errorf("generation %d: same seed, different data:\n%+v\n%+v", i+1, ga, gb)
		}
		if ga.TarSHA256 == gc.TarSHA256 || ga.SumsSHA256 == gc.SumsSHA256 {
			t.Errorf("generation %d: seeds 7 and 8 gave the same data", i+1)
		}
	}
	if g1 := a.Generations[0]; g1.Bytes != size || g1.Files < 10 {
		t.Errorf("generation 1: %d bytes in %d files, want %d bytes in 10 or more", g1.Bytes, g1.Files, size)
	}
	for _, g := range a.Generations[1:] {
		if g.Modified == 0 || g.Added == 0 {
			t.Errorf("generation %d: %d modified, %d added: want some of each", g.Generation, g.Modified, g.Added)
		}
	}
}

// TestGenLayout checks the files Gen wrote against its manifest: each tar
// reads back with archive/tar and holds the tree's files byte for byte;
// the sums match the tree.
func TestGenLayout(t *testing.T) {
	dir, rep := genSmall(t, 3, 3<<20, 2)
	ds, err := LoadDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Generations) != 2 || ds.Generations[1] != rep.Generations[1] {
		t.Fatalf("manifest %+v differs from the report %+v", ds.Generations, rep.Generations)
	}
	for _, g := range ds.Generations {
		tarPath := filepath.Join(dir, g.Tar)
		if sum := fileSHA256(t, tarPath); sum != g.TarSHA256 {
			t.Errorf("%s: SHA-256 %s, manifest says %s", g.Tar, sum, g.TarSHA256)
		}
		sums := readSums(t, filepath.Join(dir, g.Sums))
		if len(sums) != g.Files {
			t.Errorf("%s: %d lines, want %d", g.Sums, len(sums), g.Files)
		}
		f, err := os.Open(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(f)
		files := 0
		var bytes int64
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", g.Tar, err)
			}
			if hdr.Typeflag == tar.TypeDir {
				continue
			}
			h := sha256.New()
			n, err := io.Copy(h, tr)
			if err != nil {
				t.Fatalf("%s: %s: %v", g.Tar, hdr.Name, err)
			}
			files++
			bytes += n
			if got := hex.EncodeToString(h.Sum(nil)); got != sums[hdr.Name] {
				t.Errorf("%s: %s: SHA-256 %s, sums say %s", g.Tar, hdr.Name, got, sums[hdr.Name])
			}
			if got := fileSHA256(t, filepath.Join(dir, g.Tree, hdr.Name)); got != sums[hdr.Name] {
				t.Errorf("%s/%s: SHA-256 %s, sums say %s", g.Tree, hdr.Name, got, sums[hdr.Name])
			}
		}
		f.Close()
		if files != g.Files || bytes != g.Bytes {
			t.Errorf("%s: %d files, %d bytes; manifest says %d, %d", g.Tar, files, bytes, g.Files, g.Bytes)
		}
	}
}

// TestGenOverlap estimates with content-defined chunks how much of each
// generation is new: a few percent, not nothing and not most.
func TestGenOverlap(t *testing.T) {
	dir, rep := genSmall(t, 11, 12<<20, 3)
	other, _ := genSmall(t, 12, 12<<20, 1)
	seed := maphash.MakeSeed()
	prev := chunkSet(t, filepath.Join(dir, "gen1.tar"), seed)
	for _, g := range rep.Generations[1:] {
		cur := chunkSet(t, filepath.Join(dir, g.Tar), seed)
		shared := overlap(prev, cur)
		t.Logf("gen%d: %.2f%% of its bytes are in gen%d's chunks (%d files, %d modified, %d added, %d removed files; %d new bytes)",
			g.Generation, 100*shared, g.Generation-1, g.Files, g.Modified, g.Added, g.Removed, g.NewBytes)
		if shared < 0.75 || shared > 0.995 {
			t.Errorf("gen%d shares %.2f%% of its bytes with gen%d, want 75%% to 99.5%%", g.Generation, 100*shared, g.Generation-1)
		}
		prev = cur
	}
	if x := overlap(chunkSet(t, filepath.Join(other, "gen1.tar"), seed), chunkSet(t, filepath.Join(dir, "gen1.tar"), seed)); x > 0.05 {
		t.Errorf("datasets of seeds 11 and 12 share %.2f%% of their bytes, want under 5%%", 100*x)
	}
}

// chunkSet cuts a file into content-defined chunks (a gear rolling hash,
// 4 KiB on average) and returns each chunk's length by its hash.
func chunkSet(t *testing.T, path string, seed maphash.Seed) map[uint64]int {
	t.Helper()
	var gear [256]uint64
	r := rand.New(rand.NewPCG(1, 2))
	for i := range gear {
		gear[i] = r.Uint64()
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	const mask = 1<<12 - 1
	chunks := map[uint64]int{}
	var cur []byte
	var h uint64
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cur = append(cur, b)
		h = h<<1 + gear[b]
		if (len(cur) >= 1024 && h&mask == 0) || len(cur) >= 32<<10 {
			chunks[maphash.Bytes(seed, cur)] = len(cur)
			cur, h = cur[:0], 0
		}
	}
	if len(cur) > 0 {
		chunks[maphash.Bytes(seed, cur)] = len(cur)
	}
	return chunks
}

// overlap is the share of cur's bytes in chunks that prev holds too.
func overlap(prev, cur map[uint64]int) float64 {
	var all, shared int
	for h, n := range cur {
		all += n
		if _, ok := prev[h]; ok {
			shared += n
		}
	}
	return float64(shared) / float64(max(all, 1))
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for line := range strings.Lines(string(b)) {
		sum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		sums[name] = sum
	}
	return sums
}

func TestGenRejectsNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Gen(t.Context(), GenOptions{Out: dir, Size: 1 << 20, Generations: 1}); err == nil {
		t.Fatal("Gen wrote into a non-empty directory")
	}
}

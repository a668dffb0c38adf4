package bench

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestObjectData(t *testing.T) {
	const size = 3*dataBlock + 123
	all, err := io.ReadAll(newObjectData(1, 7, size))
	if err != nil || len(all) != size {
		t.Fatalf("ReadAll: %d bytes, %v; want %d", len(all), err, size)
	}
	again, _ := io.ReadAll(newObjectData(1, 7, size))
	if !bytes.Equal(all, again) {
		t.Fatal("the same object read twice differs")
	}
	for _, other := range []*objectData{newObjectData(2, 7, size), newObjectData(1, 8, size)} {
		b, _ := io.ReadAll(other)
		if bytes.Equal(b[:dataBlock], all[:dataBlock]) {
			t.Fatal("different seeds or ids give the same data")
		}
	}
	if bytes.Equal(all[:dataBlock], all[dataBlock:2*dataBlock]) {
		t.Fatal("two blocks of an object are equal")
	}
	d := newObjectData(1, 7, size)
	for _, r := range [][2]int64{{0, 1}, {dataBlock - 5, 10}, {size - 200, 200}, {100, 2*dataBlock + 7}} {
		p := make([]byte, r[1])
		if n, err := d.ReadAt(p, r[0]); n != len(p) || err != nil || !bytes.Equal(p, all[r[0]:r[0]+r[1]]) {
			t.Errorf("ReadAt(%d, %d): %d, %v, or different bytes", r[0], r[1], n, err)
		}
	}
	if n, err := d.ReadAt(make([]byte, 10), size-4); n != 4 || err != io.EOF {
		t.Errorf("ReadAt past the end: %d, %v; want 4, EOF", n, err)
	}
}

func TestVerify(t *testing.T) {
	const size = 100_000
	all, _ := io.ReadAll(newObjectData(3, 1, size))
	flipped := bytes.Clone(all)
	flipped[70_000] ^= 1
	for _, tc := range []struct {
		name    string
		body    []byte
		off, n  int64
		wantErr string
	}{
		{"whole", all, 0, size, ""},
		{"range", all[500:40_000], 500, 39_500, ""},
		{"flipped", flipped, 0, size, "differ at offset 70000"},
		{"short", all[:size-1], 0, size, "99999 bytes, want 100000"},
		{"long", append(bytes.Clone(all), 0), 0, size, "longer"},
		{"shifted range", all[501:40_001], 500, 39_500, "differ at offset 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := verify(bytes.NewReader(tc.body), newObjectData(3, 1, size), tc.off, tc.n)
			switch {
			case tc.wantErr == "" && (err != nil || n != tc.n):
				t.Fatalf("verify: %d, %v; want %d, nil", n, err, tc.n)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("verify: %v; want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"4096", 4096}, {"1GiB", 1 << 30}, {"64M", 64 << 20}, {"64 MiB", 64 << 20}, {"500MB", 500e6},
		{"1.5k", 1536}, {"0", 0}, {"2tib", 2 << 40}, {"10B", 10},
	} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1 parsec", "1e30TiB"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

package checksum

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
	"time"
)

// oddReads returns data in reads of changing, odd sizes, some larger and
// some smaller than the aside buffers.
type oddReads struct {
	data []byte
	i    int
}

func (o *oddReads) Read(p []byte) (int, error) {
	if len(o.data) == 0 {
		return 0, io.EOF
	}
	o.i++
	n := min(len(p), len(o.data), []int{1, 4093, 65537, 3 << 20, 777}[o.i%5])
	copy(p, o.data[:n])
	o.data = o.data[n:]
	return n, nil
}

func waitAsideFree(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); asideInUse.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d aside slots still held", asideInUse.Load())
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHashAside: with the MD5 hashed aside, a body reads through unchanged
// and gets the MD5 and checksum it gets inline; a wrong Content-MD5 is
// still ErrBadDigest; the slot is given back at the end.
func TestHashAside(t *testing.T) {
	if asideSlots() < 1 {
		t.Skip("one core: nothing is hashed aside")
	}
	data := randomBytes(7, 9<<20+12345)
	sum := md5.Sum(data)
	for _, contentMD5 := range []string{"", base64.StdEncoding.EncodeToString(sum[:])} {
		r, err := NewReader(&oddReads{data: data}, contentMD5, CRC32C, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.HashAside()
		if r.aside == nil {
			t.Fatal("HashAside with a free slot did not hash aside")
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, %v; want %d bytes back unchanged", len(got), err, len(data))
		}
		if !bytes.Equal(r.MD5(), sum[:]) {
			t.Fatalf("MD5 %x, want %x", r.MD5(), sum)
		}
		inline, _ := NewReader(bytes.NewReader(data), "", CRC32C, "", nil)
		io.Copy(io.Discard, inline)
		if _, v := r.Checksum(); v != func() string { _, w := inline.Checksum(); return w }() {
			t.Fatalf("checksum %s differs from the inline reader's", v)
		}
		waitAsideFree(t)
	}

	wrong := md5.Sum([]byte("something else"))
	r, _ := NewReader(&oddReads{data: data}, base64.StdEncoding.EncodeToString(wrong[:]), "", "", nil)
	r.HashAside()
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, ErrBadDigest) {
		t.Fatalf("wrong Content-MD5, hashed aside: %v, want ErrBadDigest", err)
	}
	waitAsideFree(t)
}

// TestHashAsideSlots: past the slots, bodies are hashed inline; a body that
// fails, or is dropped half read, gives its slot back.
func TestHashAsideSlots(t *testing.T) {
	if asideSlots() < 1 {
		t.Skip("one core: nothing is hashed aside")
	}
	data := randomBytes(8, 3<<20)
	var held []*Reader
	for range asideSlots() {
		r, _ := NewReader(bytes.NewReader(data), "", "", "", nil)
		r.HashAside()
		held = append(held, r)
	}
	extra, _ := NewReader(bytes.NewReader(data), "", "", "", nil)
	extra.HashAside()
	if extra.aside != nil {
		t.Fatalf("%d slots held, yet another body was hashed aside", asideSlots())
	}
	for _, r := range held {
		io.Copy(io.Discard, r)
	}
	waitAsideFree(t)

	failing, _ := NewReader(iotest.TimeoutReader(bytes.NewReader(data)), "", "", "", nil)
	failing.HashAside()
	if _, err := io.Copy(io.Discard, failing); err == nil {
		t.Fatal("a failing body read to its end")
	}
	waitAsideFree(t)

	dropped, _ := NewReader(bytes.NewReader(data), "", "", "", nil)
	dropped.HashAside()
	io.CopyN(io.Discard, dropped, 2<<20)
	dropped = nil
	_ = dropped
	waitAsideFree(t) // the reader's cleanup, once it is collected
}

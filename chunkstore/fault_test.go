package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func containerFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "containers", "*"+containerExt))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestTornTailAndStrayFiles: a record half-written when the process died,
// and a container file no commit ever reached, are cleaned up at open.
func TestTornTailAndStrayFiles(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	data := randomData(40, 700<<10)
	m := put(t, s, data)
	s.Close()

	files := containerFiles(t, cfg.Dir)
	if len(files) != 1 {
		t.Fatalf("%d container files, want 1", len(files))
	}
	fi, _ := os.Stat(files[0])
	// A torn record: a header promising more payload than follows.
	torn := appendRecord(nil, hashChunk([]byte("lost")), CodecRaw, 4000, make([]byte, 4000))[:1000]
	f, _ := os.OpenFile(files[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write(torn)
	f.Close()
	stray := filepath.Join(cfg.Dir, "containers", containerName(999))
	os.WriteFile(stray, []byte("junk"), 0o600)

	s = openStore(t, cfg)
	if got, _ := os.Stat(files[0]); got.Size() != fi.Size() {
		t.Errorf("container is %d bytes after open, want the committed %d", got.Size(), fi.Size())
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("stray container file survived open: %v", err)
	}
	if !bytes.Equal(readAll(t, s, m.ID), data) {
		t.Fatal("data reads back wrong after recovery")
	}
	put(t, s, randomData(41, 300<<10)) // and the store writes on
}

// TestCorruptionIsReportedNeverReturned: flipped bits in a container file
// make reads fail with ErrCorrupt and scrub report them.
func TestCorruptionIsReportedNeverReturned(t *testing.T) {
	cfg := testConfig(t)
	cfg.Compression = CompressNone
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := randomData(42, 600<<10)
	w := s.NewWriter(t.Context())
	w.Write(data)
	m, err := w.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	file := containerFiles(t, cfg.Dir)[0]
	b, _ := os.ReadFile(file)
	b[len(b)/2] ^= 0x40
	os.WriteFile(file, b, 0o600)

	s, err = Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.NewReader(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading corrupt data: %v, want ErrCorrupt", err)
	}
	if !bytes.Equal(got, data[:len(got)]) {
		t.Fatal("returned wrong bytes before failing")
	}
	rep, err := s.Scrub(t.Context(), ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.CorruptRecords == 0 || rep.MissingChunks != 1 {
		t.Fatalf("scrub of a flipped bit: %s", rep)
	}
}

// TestRepairRebuildsIndex: with index rows lost and counts wrong, scrub
// reports it, and a repair rebuilds the index from the container files.
func TestRepairRebuildsIndex(t *testing.T) {
	cfg := testConfig(t)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ms []Manifest
	var datas [][]byte
	for i := range 4 {
		d := crashObject(uint64(50 + i))
		datas = append(datas, d)
		ms = append(ms, put(t, s, d))
	}
	s.Close()

	// Damage the index: drop every third chunk, double every fifth count.
	db, err := bolt.Open(filepath.Join(cfg.Dir, "index.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIndex)
		var keys, vals [][]byte
		b.ForEach(func(k, v []byte) error {
			keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
			return nil
		})
		for i, k := range keys {
			switch {
			case i%3 == 0:
				b.Delete(k)
			case i%5 == 0:
				e, _ := decodeEntry(vals[i])
				e.refs *= 2
				b.Put(k, e.encode())
			}
		}
		return nil
	})
	db.Close()

	s = openStore(t, cfg)
	rep, err := s.Scrub(t.Context(), ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.DanglingRefs == 0 || rep.RefMismatches == 0 || len(rep.DamagedManifests) == 0 {
		t.Fatalf("scrub of a damaged index: %s", rep)
	}
	if rep, err = s.Scrub(t.Context(), ScrubOptions{Repair: true}); err != nil || !rep.Repaired {
		t.Fatalf("repair: %v %s", err, rep)
	}
	for i, m := range ms {
		if !bytes.Equal(readAll(t, s, m.ID), datas[i]) {
			t.Fatalf("manifest %d reads back wrong after repair", m.ID)
		}
	}
	st, _ := s.Stats(t.Context())
	var unique int64
	seen := map[ChunkID]bool{}
	for _, d := range datas {
		for p := d; len(p) > 0; {
			n := s.chunker.cut(p)
			if id := hashChunk(p[:n]); !seen[id] {
				seen[id] = true
				unique += int64(n)
			}
			p = p[n:]
		}
	}
	if st.UniqueBytes != unique || st.Chunks != int64(len(seen)) {
		t.Fatalf("after repair: unique %d chunks %d, want %d and %d", st.UniqueBytes, st.Chunks, unique, len(seen))
	}
	// openStore's cleanup scrubs again: it must now be clean.
}

// TestDiskFull fills a small tmpfs: the write that hits ENOSPC fails with a
// clear error and leaves nothing visible, everything committed reads back,
// and deleting plus cleaning frees the space for new writes. Needs root (to
// mount); CI runs as root.
func TestDiskFull(t *testing.T) {
	mnt := smallDisk(t, "12m")
	cfg := testConfig(t)
	cfg.Dir = mnt
	cfg.Compression = CompressNone
	cfg.ReserveBytes = 1 << 20
	s := openStore(t, cfg)
	ms, full := fillDisk(t, s, 60, 1<<20)
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("filling the disk ended with %v, want ENOSPC", full)
	}
	t.Logf("%d MiB objects fit; then: %v", len(ms), full)
	var listed int
	s.Manifests(t.Context(), func(Manifest) error { listed++; return nil })
	if listed != len(ms) {
		t.Fatalf("%d manifests listed, %d committed: a failed write is visible", listed, len(ms))
	}
	for i, m := range ms {
		if !bytes.Equal(readAll(t, s, m.ID), randomData(uint64(60+i), 1<<20)) {
			t.Fatalf("manifest %d reads back wrong on a full disk", m.ID)
		}
	}
	// Free half, clean, and write again.
	for _, m := range ms[:len(ms)/2] {
		if err := s.Release(t.Context(), m.ID); err != nil {
			t.Fatalf("release on a full disk: %v", err)
		}
	}
	rep, err := s.Clean(t.Context(), CleanOptions{Threshold: 1e-9})
	if err != nil {
		t.Fatalf("clean on a full disk: %v", err)
	}
	if rep.BytesReclaimed < int64(len(ms)/2)<<20 {
		t.Fatalf("clean reclaimed %d bytes, want at least %d: %s", rep.BytesReclaimed, len(ms)/2<<20, rep)
	}
	for i := range len(ms) / 3 {
		put(t, s, randomData(uint64(200+i), 1<<20))
	}
	s.Close()
	s = openStore(t, cfg)
	for i, m := range ms[len(ms)/2:] {
		if !bytes.Equal(readAll(t, s, m.ID), randomData(uint64(60+len(ms)/2+i), 1<<20)) {
			t.Fatal(fmt.Sprintf("manifest %d reads back wrong after reopening", m.ID))
		}
	}
}

// TestSmallDiskReserveFits: on a disk smaller than the configured reserve
// (64 MiB by default), the store still keeps one, sized to the disk, and
// after the disk fills, deleting half and cleaning frees the space.
func TestSmallDiskReserveFits(t *testing.T) {
	mnt := smallDisk(t, "16m")
	cfg := testConfig(t)
	cfg.Dir = mnt
	cfg.Compression = CompressNone
	cfg.ReserveBytes = DefaultConfig(mnt).ReserveBytes
	s := openStore(t, cfg)
	fi, err := os.Stat(filepath.Join(mnt, reserveName))
	if err != nil || fi.Size() != 16<<20/32 {
		t.Fatalf("the reserve on a 16 MiB disk: %v, %v; want %d bytes", fi, err, 16<<20/32)
	}
	ms, _ := fillDisk(t, s, 300, 1<<20)
	for i, m := range ms {
		if i%2 == 0 {
			if err := s.Release(t.Context(), m.ID); err != nil {
				t.Fatalf("release on a full disk: %v", err)
			}
		}
	}
	if _, err := s.Clean(t.Context(), CleanOptions{Threshold: 1e-9}); err != nil {
		t.Fatalf("clean on a full small disk after deleting half: %v", err)
	}
	put(t, s, randomData(999, 1<<20))
}

// TestFullDiskCleanFreesInPlace: a disk filled with containers whose live
// and dead records are interleaved (every other object deleted) leaves no
// room to copy live records forward, reserve or not; the cleaner then
// gives the dead records' space back in place, writes work again, every
// object left reads back, and the store scrubs clean. A later clean, with
// room, compacts.
func TestFullDiskCleanFreesInPlace(t *testing.T) {
	mnt := smallDisk(t, "24m")
	cfg := testConfig(t)
	cfg.Dir = mnt
	cfg.Compression = CompressNone
	cfg.ContainerSize = 64 << 20 // one container: no compaction fits beside it
	cfg.ReserveBytes = 0
	s := openStore(t, cfg)
	ms, _ := fillDisk(t, s, 500, 512<<10)
	var kept []int
	for i, m := range ms {
		if i%2 == 0 {
			if err := s.Release(t.Context(), m.ID); err != nil {
				t.Fatalf("release on a full disk: %v", err)
			}
		} else {
			kept = append(kept, i)
		}
	}
	rep, err := s.Clean(t.Context(), CleanOptions{Threshold: 1e-9})
	if err != nil {
		t.Fatalf("clean on a full disk: %v", err)
	}
	if rep.Punched == 0 || rep.BytesReclaimed < int64(len(ms)/2)*(512<<10)*8/10 {
		t.Fatalf("clean: %s", rep)
	}
	t.Logf("%d objects filled the disk; %s", len(ms), rep)
	for i := range 5 {
		put(t, s, randomData(uint64(900+i), 512<<10))
	}
	for _, i := range kept {
		if !bytes.Equal(readAll(t, s, ms[i].ID), randomData(uint64(500+i), 512<<10)) {
			t.Fatalf("object %d reads back wrong after the clean", i)
		}
	}
	// openStore's cleanup scrubs: holes where dead records were are fine.
}

// smallDisk mounts a tmpfs of size for the test, or skips it without root.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; CI runs as root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// fillDisk writes objects of size bytes (data seed, seed+1, ...) until a
// write fails, and returns those committed and the failure.
func fillDisk(t *testing.T, s *Store, seed uint64, size int) ([]Manifest, error) {
	t.Helper()
	var ms []Manifest
	for i := range 1000 {
		w := s.NewWriter(t.Context())
		_, err := w.Write(randomData(seed+uint64(i), size))
		var m Manifest
		if err == nil {
			m, err = w.Commit(t.Context())
		}
		if err != nil {
			w.Abort()
			return ms, err
		}
		ms = append(ms, m)
	}
	t.Fatal("the disk never filled")
	return nil, nil
}

package chunkstore

import (
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore/backupgen"
)

// The reference data set: five generations of a real file tree (the Go
// distribution) with small edits, made by ../shared/bench/gen-backup-generations.
// restic 0.14 with its default compression stores 262 MB for the five tars
// backed up one after the other; Cairn must store at most 0.7x that.
const (
	resticStoredBytes = 262_000_000
	reductionTarget   = 0.7
)

// ingestFiles writes each file as one object, one after another, and
// returns the store's figures and the time spent.
func ingestFiles(tb testing.TB, s *Store, paths []string) (Stats, time.Duration) {
	tb.Helper()
	start := time.Now()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		w := s.NewWriter(tb.Context())
		if _, err := io.Copy(w, f); err != nil {
			tb.Fatal(err)
		}
		f.Close()
		if _, err := w.Commit(tb.Context()); err != nil {
			tb.Fatal(err)
		}
	}
	took := time.Since(start)
	st, err := s.Stats(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return st, took
}

// TestDataReductionOnBackupGenerations checks the store's data reduction on
// the reference data set with the default settings, counting everything in
// its directory (container files and index).
func TestDataReductionOnBackupGenerations(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 1.3 GB; run without -short")
	}
	tars := backupgen.Tars(t)
	cfg := DefaultConfig(t.TempDir())
	s := openStore(t, cfg)
	st, took := ingestFiles(t, s, tars)
	// The default writes S2 and leaves zstd to the cleaner
	// (CompressZstdLater): what the store keeps is what it holds after that.
	t.Logf("as written (S2 for later): stored %d, index %d", st.StoredBytes, st.IndexBytes)
	rep, err := s.Clean(t.Context(), CleanOptions{})
	if err != nil || rep.Recompressed == 0 {
		t.Fatalf("clean after ingest: %s, %v", rep, err)
	}
	if st, err = s.Stats(t.Context()); err != nil {
		t.Fatal(err)
	}
	onDisk := st.StoredBytes + st.IndexBytes
	t.Logf("5 generations: %s", st)
	t.Logf("on disk %d bytes = %.3f of logical, %.2f of restic's %d; ingest %.0f MB/s",
		onDisk, float64(onDisk)/float64(st.LogicalBytes), float64(onDisk)/resticStoredBytes, int64(resticStoredBytes),
		float64(st.LogicalBytes)/took.Seconds()/1e6)
	if limit := int64(reductionTarget * resticStoredBytes); onDisk > limit {
		t.Errorf("stores %d bytes, want at most %d (%.1fx restic's)", onDisk, limit, reductionTarget)
	}
	// Every generation reads back bit-exact is the job of the crash and
	// round-trip tests; here check the last one, the most edited.
	var last Manifest
	s.Manifests(t.Context(), func(m Manifest) error { last = m; return nil })
	r, err := s.NewReader(t.Context(), last.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Open(tars[4])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := sameContent(r, f); err != nil {
		t.Fatalf("generation 5 reads back wrong: %v", err)
	}
}

// indexBytesPerChunk is the bytes the chunk index and its reverse rows
// occupy in the database per indexed chunk (pages in use, not file size).
func (s *Store) indexBytesPerChunk() float64 {
	var used, n int
	s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketIndex, bucketLocs} {
			st := tx.Bucket(name).Stats()
			used += st.BranchInuse + st.LeafInuse
		}
		n = tx.Bucket(bucketIndex).Stats().KeyN
		return nil
	})
	return float64(used) / float64(max(n, 1))
}

func sameContent(a, b io.Reader) error {
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if na != nb || string(ba[:na]) != string(bb[:nb]) {
			return fmt.Errorf("differ within the MiB at offset %d", off)
		}
		off += int64(na)
		if ea != nil || eb != nil {
			if (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("read: %v / %v", ea, eb)
		}
	}
}

// BenchmarkGenerations is the measurement behind the defaults: for each
// average chunk size and codec, the bytes on disk after the five generations
// (stored-MB, index-MB) against ingest speed.
//
//	CAIRN_BACKUPGEN_DIR=/tmp/backupgen-go go test -run '^$' -bench Generations -benchtime 1x ./chunkstore/
func BenchmarkGenerations(b *testing.B) {
	tars := backupgen.Tars(b)
	var total int64
	for _, p := range tars {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
	}
	for _, avg := range []int{8 << 10, 16 << 10, 32 << 10, 64 << 10} {
		for _, c := range []Compression{CompressZstd, CompressS2, CompressNone} {
			b.Run(fmt.Sprintf("avg=%dK/%s", avg>>10, c), func(b *testing.B) {
				b.SetBytes(total)
				for b.Loop() {
					cfg := DefaultConfig(b.TempDir())
					cfg.MinChunk, cfg.AvgChunk, cfg.MaxChunk = avg/4, avg, avg*4
					cfg.Compression = c
					s, err := Open(b.Context(), cfg)
					if err != nil {
						b.Fatal(err)
					}
					st, _ := ingestFiles(b, s, tars)
					perChunk := s.indexBytesPerChunk()
					s.Close()
					b.ReportMetric(float64(st.StoredBytes)/1e6, "stored-MB")
					b.ReportMetric(float64(st.IndexBytes)/1e6, "index-MB")
					b.ReportMetric(float64(st.UniqueBytes)/float64(st.LogicalBytes), "unique/logical")
					b.ReportMetric(perChunk, "index-B/chunk")
					b.ReportMetric(perChunk*float64(1<<40)/float64(avg)/1e9, "index-GB/TiB")
				}
			})
		}
	}
}

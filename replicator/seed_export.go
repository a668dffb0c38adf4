package replicator

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
)

// hashedFile is a file written through a SHA-256.
type hashedFile struct {
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	name string
	n    int64
}

func createHashed(dir, name string) (*hashedFile, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	return &hashedFile{f: f, w: bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20), h: h, name: name}, nil
}

func (hf *hashedFile) Write(p []byte) (int, error) {
	n, err := hf.w.Write(p)
	hf.n += int64(n)
	return n, err
}

// finish flushes, syncs and closes the file and says what it holds.
func (hf *hashedFile) finish() (SeedFile, error) {
	err := hf.w.Flush()
	if err == nil {
		err = hf.f.Sync()
	}
	if cerr := hf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return SeedFile{}, fmt.Errorf("seed file %s: %w", hf.name, err)
	}
	return SeedFile{Name: hf.name, Size: hf.n, SHA256: hex.EncodeToString(hf.h.Sum(nil))}, nil
}

func (hf *hashedFile) abort() { hf.f.Close() }

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

var seenBucket = []byte("seen")

// ExportSeed writes bucket's versions and the chunks they need to dir,
// resuming an export of the same bucket cut short there. source names the
// source as its replication relationship does, so that the replica can
// tell the seed belongs to it.
func ExportSeed(ctx context.Context, store *chunkstore.Store, src SeedSource, bucket, source, dir string, progress func(SeedProgress)) (SeedHeader, error) {
	return exportSeed(ctx, store, src, bucket, source, dir, exportOptions{fileSize: seedFileSize, reportEvery: 200 * time.Millisecond}, progress)
}

// exportOptions are ExportSeed's settings (smaller in tests).
type exportOptions struct {
	fileSize    int64         // where a record file is closed
	reportEvery time.Duration // how often progress is called
}

func exportSeed(ctx context.Context, store *chunkstore.Store, src SeedSource, bucket, source, dir string, opts exportOptions, progress func(SeedProgress)) (SeedHeader, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return SeedHeader{}, fmt.Errorf("seed directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, seedHeaderName)); err == nil {
		return SeedHeader{}, fmt.Errorf("%s holds a whole seed already: give an empty directory", dir)
	}
	prog := seedProgress{Source: source, Bucket: bucket, Created: time.Now().UTC()}
	if b, err := os.ReadFile(filepath.Join(dir, seedProgressName)); err == nil {
		var p seedProgress
		if err := json.Unmarshal(b, &p); err != nil {
			return SeedHeader{}, fmt.Errorf("%s: %w", seedProgressName, err)
		}
		if p.Bucket != bucket || p.Source != source {
			return SeedHeader{}, fmt.Errorf("%s holds a seed of bucket %s of %s in progress, not of %s: give another directory", dir, p.Bucket, p.Source, bucket)
		}
		prog = p // resume: what it had finished stays, the start time too
	} else if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		if err == nil {
			err = fmt.Errorf("it holds %d files", len(ents))
		}
		return SeedHeader{}, fmt.Errorf("seed directory %s is not empty (%v): give an empty directory", dir, err)
	}
	seen, err := bolt.Open(filepath.Join(dir, seedSeenName), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return SeedHeader{}, fmt.Errorf("seed directory: %w", err)
	}
	defer seen.Close()
	if err := seen.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(seenBucket); return err }); err != nil {
		return SeedHeader{}, err
	}
	// Record files past the finished ones are the remains of a cut: gone.
	for i := len(prog.Files); ; i++ {
		if err := os.Remove(filepath.Join(dir, recordFileName(i))); err != nil {
			break
		}
	}
	ex := &exporter{store: store, dir: dir, seen: seen, prog: prog, pending: map[chunkstore.ChunkID]bool{}, report: progress, opts: opts}
	ex.st.Chunks, ex.st.RecordBytes = prog.Chunks, prog.Bytes
	defer ex.abort()
	if ex.vers, err = createHashed(dir, seedVersionsName); err != nil {
		return SeedHeader{}, err
	}
	if ex.ents, err = createHashed(dir, seedEntriesName); err != nil {
		return SeedHeader{}, err
	}
	hdr := SeedHeader{Format: SeedFormat, Source: source, Bucket: bucket, Created: prog.Created}
	err = src.SeedVersions(ctx, bucket, func(op json.RawMessage, m chunkstore.ManifestID, hasData bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !hasData {
			hdr.Markers++
			return ex.version(seedVersion{Op: op})
		}
		n, size, err := ex.entries(ctx, m)
		if errors.Is(err, chunkstore.ErrNotFound) {
			return nil // deleted while the export ran
		}
		if err != nil {
			return err
		}
		hdr.Versions++
		hdr.LogicalBytes += size
		ex.st.Versions++
		ex.st.LogicalBytes += size
		return ex.version(seedVersion{Op: op, Data: true, Size: size, Entries: n})
	})
	if err == nil {
		err = ex.closeRecords()
	}
	if err != nil {
		return SeedHeader{}, fmt.Errorf("seed export of %s: %w", bucket, err)
	}
	for _, hf := range []*hashedFile{ex.vers, ex.ents} {
		f, err := hf.finish()
		if err != nil {
			return SeedHeader{}, err
		}
		ex.prog.Files = append(ex.prog.Files, f)
	}
	ex.vers, ex.ents = nil, nil
	hdr.Files, hdr.Chunks, hdr.RecordBytes = ex.prog.Files, ex.prog.Chunks, ex.prog.Bytes
	if err := writeJSONFile(filepath.Join(dir, seedHeaderName), hdr); err != nil {
		return SeedHeader{}, fmt.Errorf("seed header: %w", err)
	}
	seen.Close()
	os.Remove(filepath.Join(dir, seedSeenName))
	os.Remove(filepath.Join(dir, seedProgressName))
	return hdr, nil
}

func recordFileName(i int) string { return fmt.Sprintf("chunks-%06d.rec", i) }

// exporter is one export's state.
type exporter struct {
	store      *chunkstore.Store
	dir        string
	seen       *bolt.DB
	prog       seedProgress
	rec        *hashedFile // the record file being written
	pending    map[chunkstore.ChunkID]bool
	vers, ents *hashedFile
	buf        []byte
	st         SeedProgress
	report     func(SeedProgress)
	lastReport time.Time
	opts       exportOptions
}

func (ex *exporter) abort() {
	for _, hf := range []*hashedFile{ex.rec, ex.vers, ex.ents} {
		if hf != nil {
			hf.abort()
		}
	}
}

func (ex *exporter) version(v seedVersion) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = ex.vers.Write(append(b, '\n'))
	return err
}

// entries writes manifest m's entries and the records of its chunks not
// yet in the seed.
func (ex *exporter) entries(ctx context.Context, m chunkstore.ManifestID) (n, size int64, err error) {
	it, err := ex.store.Entries(ctx, m, 0)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	size = it.Manifest().Size
	var ebuf []byte
	for it.Next() {
		e := it.Entry()
		ebuf = AppendEntries(ebuf[:0], []chunkstore.Entry{e})
		if _, err := ex.ents.Write(ebuf); err != nil {
			return 0, 0, err
		}
		n++
		if err := ex.chunk(ctx, e.ID); err != nil {
			return 0, 0, err
		}
	}
	return n, size, it.Err()
}

func (ex *exporter) chunk(ctx context.Context, id chunkstore.ChunkID) error {
	if ex.pending[id] {
		return nil
	}
	var have bool
	ex.seen.View(func(tx *bolt.Tx) error {
		have = tx.Bucket(seenBucket).Get(id[:]) != nil
		return nil
	})
	if have {
		return nil
	}
	r, err := ex.store.ReadRecord(ctx, id, ex.buf)
	if err != nil {
		return fmt.Errorf("chunk %s: %w", id, err)
	}
	ex.buf = r.Data[:0]
	if ex.rec == nil {
		if ex.rec, err = createHashed(ex.dir, recordFileName(len(ex.prog.Files))); err != nil {
			return err
		}
	}
	frame := AppendRecord(nil, r)
	if _, err := ex.rec.Write(frame); err != nil {
		return err
	}
	ex.pending[id] = true
	ex.st.Chunks++
	ex.st.RecordBytes += int64(len(frame))
	if ex.report != nil && time.Since(ex.lastReport) >= ex.opts.reportEvery {
		ex.report(ex.st)
		ex.lastReport = time.Now()
	}
	if ex.rec.n >= ex.opts.fileSize {
		return ex.closeRecords()
	}
	return nil
}

// closeRecords finishes the record file being written: synced, its
// checksum and its chunks recorded, so that a resumed export keeps it.
func (ex *exporter) closeRecords() error {
	if ex.rec == nil {
		return nil
	}
	f, err := ex.rec.finish()
	ex.rec = nil
	if err != nil {
		return err
	}
	err = ex.seen.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(seenBucket)
		for id := range ex.pending {
			if err := b.Put(id[:], nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = ex.seen.Sync()
	}
	if err != nil {
		return fmt.Errorf("seed: recording the chunks of %s: %w", f.Name, err)
	}
	ex.prog.Files = append(ex.prog.Files, f)
	ex.prog.Chunks += int64(len(ex.pending))
	ex.prog.Bytes += f.Size
	clear(ex.pending)
	return writeJSONFile(filepath.Join(ex.dir, seedProgressName), ex.prog)
}

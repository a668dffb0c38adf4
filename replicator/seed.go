package replicator

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Seeding: the first sync of a bucket carried on a disk rather than over a
// WAN. Export writes a bucket's unique chunks, as stored, and its versions
// (op documents and entry lists) to a directory; import, at the replica,
// puts the records (each checked against its chunk ID) and commits the
// versions through the same Target that replication uses, so a version
// already there is not written twice and replication afterwards sends only
// what the replica lacks.
//
// A seed directory:
//
//	seed.json          SeedHeader: written last, when the export is whole
//	chunks-NNNNNN.rec  record frames (AppendRecord), up to seedFileSize each
//	versions.jsonl     one seedVersion per line, in key order
//	entries.bin        the data versions' entries (AppendEntries), in order
//	progress.json      while exporting: the record files finished
//	seen.db            while exporting: the chunk IDs in finished files
//
// An export cut short (kill, disk full, ^C) resumes: finished record files
// and the chunks they hold are kept, the file being written is written
// again, and the version list is walked again (it is small beside the
// data). Every file's SHA-256 is in seed.json; import checks each as it
// reads it.

// SeedFormat is the seed directory's layout version.
const SeedFormat = 1

const (
	seedHeaderName   = "seed.json"
	seedProgressName = "progress.json"
	seedSeenName     = "seen.db"
	seedVersionsName = "versions.jsonl"
	seedEntriesName  = "entries.bin"
	// seedFileSize is where a record file is closed and the next begun.
	seedFileSize = 256 << 20
)

// SeedSource enumerates a bucket's versions for an export.
type SeedSource interface {
	// SeedVersions calls fn for every version and delete marker of bucket
	// with its op document (what the replica's Target takes: CommitFunc
	// for a version with data, Apply for one without) and, when hasData,
	// its manifest in the store.
	SeedVersions(ctx context.Context, bucket string, fn func(op json.RawMessage, m chunkstore.ManifestID, hasData bool) error) error
}

// SeedHeader describes a whole seed.
type SeedHeader struct {
	Format       int        `json:"format"`
	Source       string     `json:"source"` // the source, as its relationship names it
	Bucket       string     `json:"bucket"`
	Created      time.Time  `json:"created"` // the export's start
	Versions     int64      `json:"versions"`
	Markers      int64      `json:"markers"`
	Chunks       int64      `json:"chunks"`
	LogicalBytes int64      `json:"logical_bytes"`
	RecordBytes  int64      `json:"record_bytes"`
	Files        []SeedFile `json:"files"`
}

// SeedFile is one file of a seed and its checksum.
type SeedFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SeedProgress is what an export or import has done so far.
type SeedProgress struct {
	Versions     int64 `json:"versions"`
	LogicalBytes int64 `json:"logical_bytes"`
	Chunks       int64 `json:"chunks"`
	RecordBytes  int64 `json:"record_bytes"`
	// Skipped: versions already at the replica (import).
	Skipped int64 `json:"skipped,omitempty"`
}

// seedVersion is one line of versions.jsonl.
type seedVersion struct {
	Op      json.RawMessage `json:"op"`
	Data    bool            `json:"data"`
	Size    int64           `json:"size,omitempty"`
	Entries int64           `json:"entries,omitempty"` // how many, next in entries.bin
}

// seedProgress is progress.json: the finished record files.
type seedProgress struct {
	Source  string     `json:"source"`
	Bucket  string     `json:"bucket"`
	Created time.Time  `json:"created"`
	Files   []SeedFile `json:"files"`
	Chunks  int64      `json:"chunks"`
	Bytes   int64      `json:"bytes"`
}

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

// ReadSeedHeader reads a whole seed's header.
func ReadSeedHeader(dir string) (SeedHeader, error) {
	var hdr SeedHeader
	b, err := os.ReadFile(filepath.Join(dir, seedHeaderName))
	if errors.Is(err, os.ErrNotExist) {
		if _, perr := os.Stat(filepath.Join(dir, seedProgressName)); perr == nil {
			return hdr, fmt.Errorf("%s holds a seed export that did not finish: run the export again to complete it", dir)
		}
		return hdr, fmt.Errorf("%s holds no seed (no %s)", dir, seedHeaderName)
	}
	if err != nil {
		return hdr, err
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		return hdr, fmt.Errorf("%s: %w", seedHeaderName, err)
	}
	if hdr.Format != SeedFormat {
		return hdr, fmt.Errorf("%s is a seed of format %d; this Cairn reads format %d", dir, hdr.Format, SeedFormat)
	}
	return hdr, nil
}

// checkedReader reads a seed file through its SHA-256, and says at EOF
// whether it matched.
type checkedReader struct {
	r    *bufio.Reader
	f    *os.File
	h    hash.Hash
	want SeedFile
}

func openChecked(dir string, sf SeedFile) (*checkedReader, error) {
	f, err := os.Open(filepath.Join(dir, sf.Name))
	if err != nil {
		return nil, fmt.Errorf("seed file: %w", err)
	}
	h := sha256.New()
	return &checkedReader{r: bufio.NewReaderSize(io.TeeReader(f, h), 1<<20), f: f, h: h, want: sf}, nil
}

// verify reads what is left and checks the checksum.
func (c *checkedReader) verify() error {
	if _, err := io.Copy(io.Discard, c.r); err != nil {
		return err
	}
	if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want.SHA256 {
		return fmt.Errorf("seed file %s is damaged: its SHA-256 is %s, the seed says %s", c.want.Name, got, c.want.SHA256)
	}
	return nil
}

func (c *checkedReader) Close() error { return c.f.Close() }

func (hdr SeedHeader) file(name string) (SeedFile, bool) {
	i := slices.IndexFunc(hdr.Files, func(f SeedFile) bool { return f.Name == name })
	if i < 0 {
		return SeedFile{}, false
	}
	return hdr.Files[i], true
}

// ImportSeed puts a seed into bucket through t: records first (held until
// the versions that need them are committed), then each version, skipping
// those t has already. Run again after a cut, it does what is left.
func ImportSeed(ctx context.Context, dir string, t Target, bucket string, progress func(SeedProgress)) (SeedProgress, error) {
	var st SeedProgress
	hdr, err := ReadSeedHeader(dir)
	if err != nil {
		return st, err
	}
	store, err := t.Store(ctx, bucket)
	if err != nil {
		return st, err
	}
	holds, err := store.NewImport(ctx)
	if err != nil {
		return st, err
	}
	defer holds.Abort() // the committed versions reference what they need
	last := time.Now()
	report := func() {
		if progress != nil && time.Since(last) > 200*time.Millisecond {
			progress(st)
			last = time.Now()
		}
	}
	for _, sf := range hdr.Files {
		if sf.Name == seedVersionsName || sf.Name == seedEntriesName {
			continue
		}
		n, bytes, err := importRecords(ctx, dir, sf, holds, report)
		st.Chunks += n
		st.RecordBytes += bytes
		if err != nil {
			return st, err
		}
	}
	vf, ok1 := hdr.file(seedVersionsName)
	ef, ok2 := hdr.file(seedEntriesName)
	if !ok1 || !ok2 {
		return st, fmt.Errorf("seed %s lists no %s or %s", dir, seedVersionsName, seedEntriesName)
	}
	vr, err := openChecked(dir, vf)
	if err != nil {
		return st, err
	}
	defer vr.Close()
	er, err := openChecked(dir, ef)
	if err != nil {
		return st, err
	}
	defer er.Close()
	dec := json.NewDecoder(vr.r)
	for {
		var v seedVersion
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return st, fmt.Errorf("seed %s: %s: %w", dir, seedVersionsName, err)
		}
		applied, err := importVersion(ctx, store, t, bucket, v, er.r)
		if err != nil {
			return st, err
		}
		if !applied {
			st.Skipped++
		}
		st.Versions++
		st.LogicalBytes += v.Size
		report()
	}
	for _, c := range []*checkedReader{vr, er} {
		if err := c.verify(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// importRecords puts one record file's records, a batch at a time.
func importRecords(ctx context.Context, dir string, sf SeedFile, im *chunkstore.Import, report func()) (n, size int64, err error) {
	cr, err := openChecked(dir, sf)
	if err != nil {
		return 0, 0, err
	}
	defer cr.Close()
	var batch []chunkstore.Record
	var body []byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := im.PutRecords(ctx, batch); err != nil {
			return fmt.Errorf("seed file %s: %w", sf.Name, err)
		}
		n += int64(len(batch))
		batch, body = batch[:0], body[:0]
		report()
		return nil
	}
	var hdr [recordFrameHeader]byte
	for {
		if _, err := io.ReadFull(cr.r, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return n, size, fmt.Errorf("seed file %s: a record cut short: %w", sf.Name, err)
		}
		dlen := binary.LittleEndian.Uint32(hdr[idSize+5:])
		if dlen > maxRecordData {
			return n, size, fmt.Errorf("seed file %s: a record of %d bytes: damaged", sf.Name, dlen)
		}
		if len(body)+int(dlen) > 16<<20 || len(batch) == MaxBatch {
			if err := flush(); err != nil {
				return n, size, err
			}
		}
		start := len(body)
		body = append(body, make([]byte, dlen)...)
		if _, err := io.ReadFull(cr.r, body[start:]); err != nil {
			return n, size, fmt.Errorf("seed file %s: a record cut short: %w", sf.Name, err)
		}
		var r chunkstore.Record
		copy(r.ID[:], hdr[:idSize])
		r.Codec = chunkstore.Codec(hdr[idSize])
		r.RawLen = binary.LittleEndian.Uint32(hdr[idSize+1:])
		r.Data = body[start : start+int(dlen) : start+int(dlen)]
		batch = append(batch, r)
		size += int64(recordFrameHeader) + int64(dlen)
	}
	if err := flush(); err != nil {
		return n, size, err
	}
	return n, size, cr.verify()
}

// importVersion commits one version (its entries next in er) unless the
// target has it; applied says whether it did.
func importVersion(ctx context.Context, store *chunkstore.Store, t Target, bucket string, v seedVersion, er *bufio.Reader) (bool, error) {
	if !v.Data {
		err := t.Apply(ctx, bucket, v.Op)
		if errors.Is(err, ErrAlreadyApplied) {
			return false, nil
		}
		return err == nil, err
	}
	fn, ferr := t.CommitFunc(ctx, bucket, v.Op)
	// The entries are read whatever happens, to stay in step.
	im, err := store.NewImport(ctx)
	if err != nil {
		return false, err
	}
	defer im.Abort()
	buf := make([]byte, 0, MaxBatch*entrySize)
	for left := v.Entries; left > 0; {
		k := min(left, MaxBatch)
		buf = buf[:k*entrySize]
		if _, err := io.ReadFull(er, buf); err != nil {
			return false, fmt.Errorf("seed: %s cut short: %w", seedEntriesName, err)
		}
		left -= k
		if ferr != nil {
			continue
		}
		es, err := DecodeEntries(buf)
		if err != nil {
			return false, fmt.Errorf("seed: %s: %w", seedEntriesName, err)
		}
		if err := im.Append(ctx, es); err != nil {
			return false, fmt.Errorf("seed: a version needs chunks the seed does not hold: %w", err)
		}
	}
	if errors.Is(ferr, ErrAlreadyApplied) {
		return false, nil
	}
	if ferr != nil {
		return false, ferr
	}
	if _, err := im.Commit(ctx, fn); err != nil {
		return false, err
	}
	return true, nil
}

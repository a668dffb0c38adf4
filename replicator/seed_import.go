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

	"github.com/cairn-backup/cairn/chunkstore"
)

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

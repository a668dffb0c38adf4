package bench

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DatasetFormat names the layout Gen writes; LoadDataset accepts only it.
const DatasetFormat = "cairn-bench-dataset/1"

// ManifestName is the dataset's manifest file in its directory.
const ManifestName = "manifest.json"

// GenOptions configures Gen.
type GenOptions struct {
	Out         string    // the dataset directory: created, or empty
	Seed        int64     // same seed, same bytes
	Size        int64     // bytes of generation 1's files (default 1 GiB)
	Generations int       // how many generations (default 5)
	Progress    io.Writer // progress lines; nil for none
}

// Dataset is what manifest.json records: every generation's files.
type Dataset struct {
	Format      string    `json:"format"`
	Seed        int64     `json:"seed"`
	Size        int64     `json:"size"`
	Generations []GenInfo `json:"generations"`
}

// GenInfo describes one generation. Paths are relative to the dataset
// directory.
type GenInfo struct {
	Generation int    `json:"generation"`
	Tar        string `json:"tar"`         // genK.tar
	TarBytes   int64  `json:"tar_bytes"`   // its length
	TarSHA256  string `json:"tar_sha256"`  // its SHA-256, hex
	Tree       string `json:"tree"`        // tree/genK: the same files as a directory tree
	Sums       string `json:"sums"`        // genK.sha256: "SHA256  path" lines, sha256sum -c format, relative to Tree
	SumsSHA256 string `json:"sums_sha256"` // the SHA-256 of Sums: one digest for the whole tree
	Files      int    `json:"files"`
	Bytes      int64  `json:"bytes"`     // the files' bytes
	Modified   int    `json:"modified"`  // files edited since the previous generation
	Added      int    `json:"added"`     // files new since the previous generation
	Removed    int    `json:"removed"`   // files gone since the previous generation
	NewBytes   int64  `json:"new_bytes"` // bytes of added files and of inserted or rewritten ranges
}

// GenReport is what Gen did.
type GenReport struct {
	Dataset
	Dir     string  `json:"dir"`
	Seconds float64 `json:"seconds"`
}

// epoch is the dataset's clock: generation K is taken K-1 days after it.
func epoch() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }

// Gen writes a deterministic backup-like dataset into opts.Out: for each
// generation K, genK.tar (a tar stream of the generation's file tree),
// tree/genK/ (the same files; files unchanged since generation K-1 are
// hard links to the previous tree's when the file system allows),
// genK.sha256, and finally manifest.json. Generation 1 is a mixed tree
// (documents, source code, logs, executables, media, database files, disk
// images) of opts.Size bytes; each further generation edits about 5% of
// the files (inserts and deletes bytes mid-file, appends to logs, rewrites
// database pages and disk blocks in place), adds about 2% new files and
// removes about 1%. The same seed gives the same bytes.
func Gen(ctx context.Context, opts GenOptions) (GenReport, error) {
	start := time.Now()
	if opts.Size == 0 {
		opts.Size = 1 << 30
	}
	if opts.Generations == 0 {
		opts.Generations = 5
	}
	switch {
	case opts.Out == "":
		return GenReport{}, errors.New("gen: Out is empty")
	case opts.Size < 0:
		return GenReport{}, fmt.Errorf("gen: Size %d is negative", opts.Size)
	case opts.Generations < 0:
		return GenReport{}, fmt.Errorf("gen: Generations %d is negative", opts.Generations)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return GenReport{}, fmt.Errorf("gen: %w", err)
	}
	if ents, err := os.ReadDir(opts.Out); err != nil {
		return GenReport{}, fmt.Errorf("gen: %w", err)
	} else if len(ents) > 0 {
		return GenReport{}, fmt.Errorf("gen: %s is not empty: remove it or choose another directory", opts.Out)
	}

	g := &generator{
		opts:  opts,
		v:     newVocab(uint64(opts.Seed)),
		taken: make(map[string]bool),
		prog:  newProgress(opts.Progress),
	}
	ds := Dataset{Format: DatasetFormat, Seed: opts.Seed, Size: opts.Size}
	for k := 1; k <= opts.Generations; k++ {
		var info GenInfo
		if k == 1 {
			info = g.planFirst()
		} else {
			info = g.planNext(k)
		}
		if err := g.write(ctx, k, &info); err != nil {
			return GenReport{}, fmt.Errorf("gen: generation %d: %w", k, err)
		}
		ds.Generations = append(ds.Generations, info)
	}
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return GenReport{}, fmt.Errorf("gen: %w", err)
	}
	if err := os.WriteFile(filepath.Join(opts.Out, ManifestName), append(b, '\n'), 0o644); err != nil {
		return GenReport{}, fmt.Errorf("gen: %w", err)
	}
	return GenReport{Dataset: ds, Dir: opts.Out, Seconds: time.Since(start).Seconds()}, nil
}

// LoadDataset reads the manifest of a dataset that Gen wrote into dir.
func LoadDataset(dir string) (*Dataset, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var ds Dataset
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dir, err)
	}
	if ds.Format != DatasetFormat {
		return nil, fmt.Errorf("dataset %s: format %q, want %q", dir, ds.Format, DatasetFormat)
	}
	if len(ds.Generations) == 0 {
		return nil, fmt.Errorf("dataset %s: no generations", dir)
	}
	return &ds, nil
}

// entryState says where a file's bytes come from in the generation being
// written.
type entryState uint8

const (
	unchanged entryState = iota // the previous generation's file
	fresh                       // a new file, from its kind's producer
	edited                      // the previous file with edits applied
)

// edit replaces del bytes at off (in the previous file) with ins new bytes.
type edit struct{ off, del, ins int64 }

// entry is one file of the current generation.
type entry struct {
	path     string
	kind     kind
	id       uint64 // seeds a fresh file's content
	size     int64
	mtime    time.Time
	sum      [32]byte
	state    entryState
	edits    []edit // sorted by off, not overlapping (edited only)
	prevSize int64  // the previous generation's size (edited only)
}

// generator holds Gen's state between generations.
type generator struct {
	opts   GenOptions
	v      *vocab
	nextID uint64
	files  []*entry // sorted by path
	dirs   [numKinds][]string
	taken  map[string]bool // every file path ever used
	prog   *progress
}

// sizeLimit caps one file so that small datasets still hold many files.
func (g *generator) sizeLimit() int64 { return max(g.opts.Size/8, 4<<10) }

func (g *generator) genTime(k int) time.Time { return epoch().Add(time.Duration(k-1) * 24 * time.Hour) }

// planFirst plans generation 1: fresh files until opts.Size bytes.
func (g *generator) planFirst() GenInfo {
	r := rand.New(rand.NewChaCha8(deriveKey(domainGen, uint64(g.opts.Seed), 1)))
	var total int64
	for total < g.opts.Size {
		k := pickKind(r)
		size := min(drawSize(r, k, g.sizeLimit()), g.opts.Size-total)
		mtime := epoch().Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second)
		g.add(r, k, size, mtime)
		total += size
	}
	g.sortFiles()
	return GenInfo{Added: len(g.files), NewBytes: total}
}

// planNext plans generation k from generation k-1.
func (g *generator) planNext(k int) GenInfo {
	r := rand.New(rand.NewChaCha8(deriveKey(domainGen, uint64(g.opts.Seed), uint64(k))))
	n := len(g.files)
	nMod, nAdd, nDel := max(1, n*5/100), max(1, n*2/100), n/100
	if nDel == 0 && n > 20 {
		nDel = 1
	}
	info := GenInfo{Removed: nDel}
	when := g.genTime(k)
	perm := r.Perm(n)
	gone := make(map[*entry]bool, nDel)
	for _, i := range perm[:nDel] {
		gone[g.files[i]] = true
	}
	for _, i := range perm[nDel:] {
		if info.Modified == nMod {
			break
		}
		e := g.files[i]
		if e.kind == kindMedia { // photos and archives are not edited
			continue
		}
		e.prevSize = e.size
		e.edits = planEdits(r, e)
		e.state = edited
		e.mtime = when.Add(time.Duration(r.Int64N(int64(20 * time.Hour)))).Truncate(time.Second)
		for _, ed := range e.edits {
			e.size += ed.ins - ed.del
			info.NewBytes += ed.ins
		}
		info.Modified++
	}
	g.files = slices.DeleteFunc(g.files, func(e *entry) bool { return gone[e] })
	for range nAdd {
		kd := pickKind(r)
		size := drawSize(r, kd, g.sizeLimit())
		g.add(r, kd, size, when.Add(time.Duration(r.Int64N(int64(20*time.Hour)))).Truncate(time.Second))
		info.NewBytes += size
	}
	info.Added = nAdd
	g.sortFiles()
	return info
}

// planEdits draws the edits of one file: pages or blocks rewritten in
// place for database files and disk images, an append for logs, and a few
// inserts, deletes and appends for the others.
func planEdits(r *rand.Rand, e *entry) []edit {
	s := e.size
	var eds []edit
	switch align := kinds[e.kind].align; {
	case align > 0 && s >= align:
		for range 1 + r.Int64N(s/align/25+1) {
			off := r.Int64N(s/align) * align
			if !slices.ContainsFunc(eds, func(x edit) bool { return x.off == off }) {
				eds = append(eds, edit{off: off, del: align, ins: align})
			}
		}
	case e.kind == kindLog:
		eds = append(eds, edit{off: s, ins: max(512, s*int64(2+r.IntN(8))/100)})
	default:
		for range 1 + r.IntN(4) {
			off := r.Int64N(s + 1)
			switch r.IntN(3) {
			case 0:
				eds = append(eds, edit{off: off, ins: 1 + r.Int64N(min(16<<10, s/10+16))})
			case 1:
				eds = append(eds, edit{off: off, del: 1 + r.Int64N(min(8<<10, s/20+1))})
			default:
				eds = append(eds, edit{off: s, ins: 1 + r.Int64N(min(16<<10, s/10+16))})
			}
		}
	}
	slices.SortStableFunc(eds, func(a, b edit) int { return cmp.Compare(a.off, b.off) })
	// Clip deletes so that no two edits overlap and none runs past the end.
	for i := range eds {
		end := s
		if i+1 < len(eds) {
			end = eds[i+1].off
		}
		eds[i].del = max(0, min(eds[i].del, end-eds[i].off))
	}
	return eds
}

// add plans a fresh file.
func (g *generator) add(r *rand.Rand, k kind, size int64, mtime time.Time) {
	e := &entry{path: g.newPath(r, k), kind: k, id: g.nextID, size: size, mtime: mtime, state: fresh}
	g.nextID++
	g.taken[e.path] = true
	g.files = append(g.files, e)
}

// newPath draws a new file path for k: in one of k's directories, or in a
// new directory below one. Directory names are single words; file names
// hold an extension or an underscore, so no file path is ever a directory.
func (g *generator) newPath(r *rand.Rand, k kind) string {
	ki := kinds[k]
	words := g.v.words
	dirs := g.dirs[k]
	var dir string
	if len(dirs) == 0 || r.IntN(5) == 0 {
		parent := ki.roots[r.IntN(len(ki.roots))]
		if len(dirs) > 0 && r.IntN(2) == 0 {
			parent = dirs[r.IntN(len(dirs))]
		}
		dir = parent
		if strings.Count(parent, "/") < 6 {
			dir = parent + "/" + words[r.IntN(512)]
		}
		g.dirs[k] = append(dirs, dir)
	} else {
		dir = dirs[r.IntN(len(dirs))]
	}
	name := words[r.IntN(len(words))]
	ext := ki.exts[r.IntN(len(ki.exts))]
	if ext == "" || r.IntN(2) == 0 {
		name += "_" + words[r.IntN(len(words))]
	}
	p := dir + "/" + name + ext
	for i := 2; g.taken[p]; i++ {
		p = fmt.Sprintf("%s/%s-%d%s", dir, name, i, ext)
	}
	return p
}

func (g *generator) sortFiles() {
	slices.SortFunc(g.files, func(a, b *entry) int { return strings.Compare(a.path, b.path) })
}

// write writes generation k: its tar, its tree and its sums, in one pass
// over the files in path order.
func (g *generator) write(ctx context.Context, k int, info *GenInfo) error {
	out := g.opts.Out
	info.Generation = k
	info.Tar = fmt.Sprintf("gen%d.tar", k)
	info.Tree = filepath.ToSlash(filepath.Join("tree", fmt.Sprintf("gen%d", k)))
	info.Sums = fmt.Sprintf("gen%d.sha256", k)
	info.Files = len(g.files)
	for _, e := range g.files {
		info.Bytes += e.size
	}
	tree := filepath.Join(out, filepath.FromSlash(info.Tree))
	prev := filepath.Join(out, "tree", fmt.Sprintf("gen%d", k-1))

	m := g.prog.phase(fmt.Sprintf("gen %d/%d", k, g.opts.Generations), info.Bytes)
	tf, err := os.Create(filepath.Join(out, info.Tar))
	if err != nil {
		return err
	}
	defer tf.Close()
	th := sha256.New()
	tc := &countWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(tf, th, tc), 1<<20)
	tw := tar.NewWriter(bw)
	var sums strings.Builder
	madeDirs := map[string]bool{".": true}

	for _, e := range g.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := g.mkdirs(tw, tree, path.Dir(e.path), madeDirs); err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg, Name: e.path, Size: e.size, Mode: kinds[e.kind].mode, ModTime: e.mtime,
			Uid: 1000, Gid: 1000, Uname: "backup", Gname: "backup",
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		dst := filepath.Join(tree, filepath.FromSlash(e.path))
		if e.state == unchanged {
			err = copyUnchanged(tw, filepath.Join(prev, filepath.FromSlash(e.path)), dst, e.size)
		} else {
			err = g.writeFile(tw, k, e, prev, dst)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		fmt.Fprintf(&sums, "%x  %s\n", e.sum, e.path)
		e.state, e.edits = unchanged, nil
		m.addBytes(e.size)
		m.addOps(1)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tf.Close(); err != nil {
		return err
	}
	info.TarBytes = tc.n
	info.TarSHA256 = hex.EncodeToString(th.Sum(nil))
	ss := sha256.Sum256([]byte(sums.String()))
	info.SumsSHA256 = hex.EncodeToString(ss[:])
	if err := os.WriteFile(filepath.Join(out, info.Sums), []byte(sums.String()), 0o644); err != nil {
		return err
	}
	g.prog.end(m, fmt.Sprintf("gen %d/%d: %d files, %s (%d modified, %d added, %d removed), tar %s",
		k, g.opts.Generations, info.Files, fmtBytes(info.Bytes), info.Modified, info.Added, info.Removed, fmtBytes(info.TarBytes)))
	return nil
}

// mkdirs makes dir and its parents in the tree and in the tar, once each.
func (g *generator) mkdirs(tw *tar.Writer, tree, dir string, made map[string]bool) error {
	if made[dir] {
		return nil
	}
	if err := g.mkdirs(tw, tree, path.Dir(dir), made); err != nil {
		return err
	}
	made[dir] = true
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: epoch(),
		Uid: 1000, Gid: 1000, Uname: "backup", Gname: "backup"}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(tree, filepath.FromSlash(dir)), 0o755)
}

// writeFile writes a fresh or edited file to the tree and the tar.
func (g *generator) writeFile(tw *tar.Writer, k int, e *entry, prev, dst string) error {
	var src io.Reader
	if e.state == fresh {
		key := deriveKey(domainFile, uint64(g.opts.Seed), e.id)
		src = newProducer(e.kind, key, g.v, e.mtime.Add(-30*24*time.Hour))
	} else {
		old, err := os.Open(filepath.Join(prev, filepath.FromSlash(e.path)))
		if err != nil {
			return err
		}
		defer old.Close()
		key := deriveKey(domainEdit, uint64(g.opts.Seed), uint64(k), e.id)
		ins := newProducer(e.kind, key, g.v, e.mtime.Add(-time.Hour))
		var parts []io.Reader
		var pos int64
		for _, ed := range e.edits {
			parts = append(parts, io.NewSectionReader(old, pos, ed.off-pos), io.LimitReader(ins, ed.ins))
			pos = ed.off + ed.del
		}
		parts = append(parts, io.NewSectionReader(old, pos, e.prevSize-pos))
		src = io.MultiReader(parts...)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	fw := bufio.NewWriterSize(f, 256<<10)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(fw, tw, h), io.LimitReader(src, e.size))
	if err != nil {
		return err
	}
	if n != e.size {
		return fmt.Errorf("wrote %d bytes, planned %d", n, e.size)
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	copy(e.sum[:], h.Sum(nil))
	return os.Chtimes(dst, e.mtime, e.mtime)
}

// copyUnchanged links (or, where links fail, copies) an unchanged file from
// the previous tree and streams it into the tar.
func copyUnchanged(tw *tar.Writer, src, dst string, size int64) error {
	if err := os.Link(src, dst); err != nil {
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s has %d bytes, want %d", src, n, size)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

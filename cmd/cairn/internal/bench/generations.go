package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
)

// Series of the generations workload.
const (
	SeriesImage = "image" // each generation as one object: a full backup image
	SeriesTree  = "tree"  // each generation as a tree of objects: an incremental-forever tool's view
)

// runGenerations uploads a dataset's generations twice. First as images:
// genK.tar as the object image/genK.tar, in parts, Streams parts in
// flight. Then as trees: every file of tree/genK as the object
// tree/genK/PATH, Streams files in flight. After each generation it reads
// the server's stored bytes, when it has a stats source, and reports their
// growth since the series began next to the bytes uploaded so far, and
// their ratio. Between the series it deletes the images and, when the
// source can, runs the server's cleaner so that the tree series starts
// from the same stored bytes; when it cannot (or Keep is set), the tree
// series dedups against the images, and its phases say so.
func (r *runner) runGenerations(ctx context.Context) error {
	ds, err := LoadDataset(r.o.Dataset)
	if err != nil {
		return err
	}

	base, baseErr := r.readStats(ctx)
	var logical int64
	var images []string
	up := r.uploader(r.o.Streams)
	for _, g := range ds.Generations {
		name := fmt.Sprintf("image-gen%d", g.Generation)
		key := fmt.Sprintf("%simage/gen%d.tar", r.prefix, g.Generation)
		m := r.phase(name, g.TarBytes)
		col := newCollector(m)
		start := time.Now()
		n, err := r.uploadFile(ctx, up, key, filepath.Join(r.o.Dataset, filepath.FromSlash(g.Tar)))
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			col.fail(fmt.Errorf("put %s: %w", key, err))
		default:
			col.ok(time.Since(start), n)
			images = append(images, key)
		}
		elapsed := time.Since(start)
		r.endPhase(m)
		if err := ctx.Err(); err != nil {
			return err
		}
		ph := col.phase(name, WorkloadGenerations, elapsed)
		ph.Series, ph.Generation = SeriesImage, g.Generation
		logical += ph.Bytes
		r.addStored(ctx, &ph, base, baseErr, logical)
		r.rep.Phases = append(r.rep.Phases, ph)
	}

	note := r.betweenSeries(ctx, images)
	base, baseErr = r.readStats(ctx)
	logical = 0
	up = r.uploader(1)
	for _, g := range ds.Generations {
		files, err := readSumsPaths(filepath.Join(r.o.Dataset, filepath.FromSlash(g.Sums)))
		if err != nil {
			return err
		}
		tree := filepath.Join(r.o.Dataset, filepath.FromSlash(g.Tree))
		name := fmt.Sprintf("tree-gen%d", g.Generation)
		m := r.phase(name, g.Bytes)
		col := newCollector(m)
		elapsed := forEach(ctx, r.o.Streams, below(len(files)), func(_, i int) {
			key := fmt.Sprintf("%stree/gen%d/%s", r.prefix, g.Generation, files[i])
			start := time.Now()
			n, err := r.uploadFile(ctx, up, key, filepath.Join(tree, filepath.FromSlash(files[i])))
			switch {
			case err != nil && ctx.Err() != nil:
			case err != nil:
				col.fail(fmt.Errorf("put %s: %w", key, err))
			default:
				col.ok(time.Since(start), n)
			}
		})
		r.endPhase(m)
		if err := ctx.Err(); err != nil {
			return err
		}
		ph := col.phase(name, WorkloadGenerations, elapsed)
		ph.Series, ph.Generation, ph.Note = SeriesTree, g.Generation, note
		logical += ph.Bytes
		r.addStored(ctx, &ph, base, baseErr, logical)
		r.rep.Phases = append(r.rep.Phases, ph)
	}
	return nil
}

// betweenSeries deletes the images (unless Keep) and runs the server's
// cleaner when the stats source has one. It returns the note for the tree
// series' phases: empty when the tree series starts clean.
func (r *runner) betweenSeries(ctx context.Context, images []string) string {
	if r.stats == nil {
		return ""
	}
	if r.o.Keep {
		return "the images are kept (Keep): the tree series dedups against them"
	}
	n, errs := r.deleteKeys(ctx, images)
	r.rep.Cleanup.Deleted += n
	for _, err := range errs {
		r.cleanupFail(err)
	}
	cl, ok := r.stats.(Cleaner)
	if !ok {
		return "the stats source cannot run the server's cleaner: the tree series may dedup against the deleted images"
	}
	r.prog.printf("running the server's cleaner to reclaim the images' space")
	if err := cl.Clean(ctx); err != nil {
		r.cleanupFail(fmt.Errorf("clean after the image series: %w", err))
		return "the server's cleaner failed: the tree series may dedup against the deleted images"
	}
	return ""
}

// cleanupFail counts a clean-up error.
func (r *runner) cleanupFail(err error) {
	c := &r.rep.Cleanup
	c.Errors++
	if len(c.ErrorSamples) < maxErrorSamples {
		c.ErrorSamples = append(c.ErrorSamples, err.Error())
	}
}

// readStats reads the stats source; (nil, nil) when there is none.
func (r *runner) readStats(ctx context.Context) (*Stats, error) {
	if r.stats == nil {
		return nil, nil
	}
	st, err := r.stats.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &st, nil
}

// addStored sets ph's stored bytes (growth since base) and logical:stored
// ratio. A failed reading of the stats is counted as one of ph's errors.
func (r *runner) addStored(ctx context.Context, ph *Phase, base *Stats, baseErr error, logical int64) {
	ph.LogicalBytes = logical
	if r.stats == nil {
		return
	}
	// What the server keeps, not what it wrote first: Cairn's default
	// (zstd-later) writes S2 and leaves zstd to its cleaner.
	if cl, ok := r.stats.(Cleaner); ok {
		if err := cl.Clean(ctx); err != nil {
			r.cleanupFail(fmt.Errorf("clean before reading the stored bytes of %s: %w", ph.Name, err))
		}
	}
	st, err := r.readStats(ctx)
	if err == nil && baseErr != nil {
		err = fmt.Errorf("at the start of the series: %w", baseErr)
	}
	if err != nil {
		ph.Errors++
		ph.ErrorSamples = append(ph.ErrorSamples, err.Error())
		return
	}
	stored := st.StoredBytes - base.StoredBytes
	ph.StoredBytes = &stored
	if stored > 0 {
		ratio := float64(logical) / float64(stored)
		ph.Ratio = &ratio
	}
}

// uploadFile uploads the file at path to key and returns its size.
func (r *runner) uploadFile(ctx context.Context, up *manager.Uploader, key, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := r.upload(ctx, up, key, f, fi.Size(), nil); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// readSumsPaths reads the file paths of a generation's sums file.
func readSumsPaths(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	var paths []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, p, ok := strings.Cut(sc.Text(), "  ")
		if !ok || p == "" {
			return nil, fmt.Errorf("dataset: %s: bad line %q", path, sc.Text())
		}
		paths = append(paths, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	return paths, nil
}

package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// phaseOf finds a phase by name or fails the test.
func phaseOf(t *testing.T, rep *Report, name string) Phase {
	t.Helper()
	i := slices.IndexFunc(rep.Phases, func(p Phase) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("no phase %q in the report", name)
	}
	return rep.Phases[i]
}

// loadJSON reads the report Run wrote, checks that it holds the same as
// the returned one and that the top-level fields are present.
func loadJSON(t *testing.T, path string, rep *Report) *Report {
	t.Helper()
	got, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bucket != rep.Bucket || len(got.Phases) != len(rep.Phases) || got.Errors != rep.Errors {
		t.Errorf("JSON report differs from the returned one:\n%+v\n%+v", got, rep)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "endpoint", "region", "bucket", "start", "end", "seconds", "params", "stats_source", "phases", "cleanup", "errors"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	for _, p := range raw["phases"].([]any) {
		ph := p.(map[string]any)
		for _, k := range []string{"name", "workload", "ops", "errors", "bytes", "seconds", "mb_per_sec", "ops_per_sec", "latency"} {
			if _, ok := ph[k]; !ok {
				t.Errorf("phase %v has no %q", ph["name"], k)
			}
		}
		lat := ph["latency"].(map[string]any)
		for _, k := range []string{"p50_ms", "p99_ms", "p999_ms"} {
			if _, ok := lat[k]; !ok {
				t.Errorf("phase %v's latency has no %q", ph["name"], k)
			}
		}
	}
	return got
}

// checkPhase checks a phase that should have done ops operations moving
// bytes payload bytes without error.
func checkPhase(t *testing.T, ph Phase, ops, bytes int64) {
	t.Helper()
	if ph.Errors != 0 || ph.Ops != ops || ph.Bytes != bytes {
		t.Errorf("%s: %d ops, %d errors, %d bytes; want %d ops, 0 errors, %d bytes (errors: %q)", ph.Name, ph.Ops, ph.Errors, ph.Bytes, ops, bytes, ph.ErrorSamples)
	}
	if ph.Ops > 0 && (ph.Seconds <= 0 || ph.OpsPerSec <= 0 || ph.Latency.P50 <= 0 || ph.Latency.P50 > ph.Latency.P99 || ph.Latency.P99 > ph.Latency.P999) {
		t.Errorf("%s: implausible figures: %+v", ph.Name, ph)
	}
	if bytes > 0 && ph.MBPerSec <= 0 {
		t.Errorf("%s: %f MB/s", ph.Name, ph.MBPerSec)
	}
}

// bucketGone checks that the run's bucket was deleted.
func bucketGone(t *testing.T, opts RunOptions, rep *Report) {
	t.Helper()
	if !rep.Params.BucketCreated || !rep.Cleanup.BucketDeleted || rep.Cleanup.Errors != 0 {
		t.Errorf("clean-up: %+v (bucket created: %v)", rep.Cleanup, rep.Params.BucketCreated)
	}
	c := newClient(opts, http.DefaultClient)
	if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(rep.Bucket)}); err == nil {
		t.Errorf("bucket %s is still there after the run", rep.Bucket)
	}
}

func TestRunPutGet(t *testing.T) {
	srv := startCairn(t)
	opts := runOpts(t, srv, WorkloadGet) // get implies put
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(t.Output())
	loadJSON(t, opts.JSON, rep)
	if !slices.Equal(rep.Params.Workloads, []string{"put", "get"}) {
		t.Errorf("workloads %q, want put, get", rep.Params.Workloads)
	}
	// 10 MiB in 6 MiB objects: one multipart object of two parts, one
	// single PUT of 4 MiB.
	checkPhase(t, phaseOf(t, rep, "put"), 2, 10<<20)
	checkPhase(t, phaseOf(t, rep, "get"), 2, 10<<20)
	rg := phaseOf(t, rep, "get-range")
	checkPhase(t, rg, 8, rg.Bytes)
	if rg.Bytes < 8 {
		t.Errorf("get-range read %d bytes", rg.Bytes)
	}
	if rep.Errors != 0 || rep.Cleanup.Deleted != 2 {
		t.Errorf("%d errors, %d objects deleted; want 0 and 2", rep.Errors, rep.Cleanup.Deleted)
	}
	bucketGone(t, opts, rep)
}

func TestRunPutDuration(t *testing.T) {
	srv := startCairn(t)
	opts := runOpts(t, srv, WorkloadPut)
	opts.Bytes, opts.Duration, opts.ObjectSize = 0, 500*time.Millisecond, 256<<10
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ph := phaseOf(t, rep, "put")
	checkPhase(t, ph, ph.Ops, ph.Ops*opts.ObjectSize)
	if ph.Ops == 0 || ph.Seconds < 0.5 {
		t.Errorf("put for 500ms: %d objects in %.3fs", ph.Ops, ph.Seconds)
	}
	if rep.Cleanup.Deleted != ph.Ops {
		t.Errorf("deleted %d objects, put %d", rep.Cleanup.Deleted, ph.Ops)
	}
}

func TestRunSmall(t *testing.T) {
	srv := startCairn(t)
	opts := runOpts(t, srv, WorkloadSmall)
	opts.Streams = 3
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(t.Output())
	loadJSON(t, opts.JSON, rep)
	n := int64(opts.SmallObjects)
	checkPhase(t, phaseOf(t, rep, "small-put"), n, n*4096)
	checkPhase(t, phaseOf(t, rep, "small-get"), n, n*4096)
	checkPhase(t, phaseOf(t, rep, "small-head"), n, 0)
	checkPhase(t, phaseOf(t, rep, "small-delete"), n, 0)
	list := phaseOf(t, rep, "small-list")
	checkPhase(t, list, listPasses, 0) // 120 keys: one page per pass
	if list.Keys != listPasses*n || list.KeysPerSec <= 0 {
		t.Errorf("small-list: %d keys at %.1f keys/s, want %d", list.Keys, list.KeysPerSec, listPasses*n)
	}
	bucketGone(t, opts, rep)
}

func TestRunGenerations(t *testing.T) {
	srv := startCairn(t)
	dsDir := filepath.Join(t.TempDir(), "ds")
	if _, err := Gen(t.Context(), GenOptions{Out: dsDir, Seed: 5, Size: 3 << 20, Generations: 2}); err != nil {
		t.Fatal(err)
	}
	ds, err := LoadDataset(dsDir)
	if err != nil {
		t.Fatal(err)
	}
	opts := runOpts(t, srv, WorkloadGenerations)
	opts.Dataset = dsDir
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(t.Output())
	loadJSON(t, opts.JSON, rep)
	if rep.StatsSource != "cairn admin API" {
		t.Errorf("stats source %q, want the cairn admin API", rep.StatsSource)
	}
	var logical int64
	var ratios []float64
	for _, g := range ds.Generations {
		ph := phaseOf(t, rep, fmt.Sprintf("image-gen%d", g.Generation))
		checkPhase(t, ph, 1, g.TarBytes)
		logical += g.TarBytes
		if ph.Series != SeriesImage || ph.LogicalBytes != logical || ph.StoredBytes == nil || *ph.StoredBytes <= 0 || ph.Ratio == nil {
			t.Fatalf("%s: %+v", ph.Name, ph)
		}
		ratios = append(ratios, *ph.Ratio)
	}
	// The second image is mostly the first's chunks: the ratio must rise.
	if ratios[1] <= ratios[0] {
		t.Errorf("logical:stored after each image %v: want it to rise", ratios)
	}
	logical = 0
	for _, g := range ds.Generations {
		ph := phaseOf(t, rep, fmt.Sprintf("tree-gen%d", g.Generation))
		checkPhase(t, ph, int64(g.Files), g.Bytes)
		logical += g.Bytes
		if ph.Series != SeriesTree || ph.LogicalBytes != logical || ph.StoredBytes == nil || ph.Note != "" {
			t.Errorf("%s: %+v", ph.Name, ph)
		}
	}
	var files int64
	for _, g := range ds.Generations {
		files += int64(g.Files) + 1
	}
	if rep.Cleanup.Deleted != files {
		t.Errorf("deleted %d objects, wrote %d", rep.Cleanup.Deleted, files)
	}
	bucketGone(t, opts, rep)
}

// TestRunCountsCorruption puts a proxy that flips a byte of one object's
// GET answers between the bench and cairn: the bench must count it as a
// failed operation, say so, and return ErrFailed.
func TestRunCountsCorruption(t *testing.T) {
	srv := startCairn(t)
	u, err := url.Parse(srv.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/put/00000001") && r.Header.Get("Range") == "" {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x20
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.Header.Del("X-Amz-Checksum-Crc32") // leave the check to the bench
			resp.Header.Del("X-Amz-Checksum-Crc64nvme")
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	opts := runOpts(t, cairnServer{endpoint: front.URL}, WorkloadGet)
	opts.ObjectSize, opts.Bytes = 1<<20, 3<<20
	rep, err := Run(t.Context(), opts)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Run: %v, want ErrFailed", err)
	}
	get := phaseOf(t, rep, "get")
	if get.Errors != 1 || get.Ops != 2 || len(get.ErrorSamples) != 1 || !strings.Contains(get.ErrorSamples[0], "differ at offset 524288") {
		t.Errorf("get: %d ops, %d errors %q; want 2 ops and 1 error about offset 524288", get.Ops, get.Errors, get.ErrorSamples)
	}
	if rep.Errors != 1 {
		t.Errorf("report counts %d errors, want 1", rep.Errors)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "1 OPERATIONS FAILED") || !strings.Contains(table.String(), "differ") {
		t.Errorf("the table hides the error:\n%s", table.String())
	}
	if got, err := LoadReport(opts.JSON); err != nil || got.Errors != 1 {
		t.Errorf("JSON report: %v errors, %v", got, err)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	ok := RunOptions{Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "s"}
	for _, tc := range []struct {
		name string
		mod  func(*RunOptions)
	}{
		{"no endpoint", func(o *RunOptions) { o.Endpoint = "" }},
		{"endpoint without scheme", func(o *RunOptions) { o.Endpoint = "127.0.0.1:9000" }},
		{"no secret", func(o *RunOptions) { o.SecretKey = "" }},
		{"unknown workload", func(o *RunOptions) { o.Workloads = []string{"put", "copy"} }},
		{"generations without dataset", func(o *RunOptions) { o.Workloads = []string{"generations"} }},
		{"small parts", func(o *RunOptions) { o.PartSize = 1 << 20 }},
		{"negative streams", func(o *RunOptions) { o.Streams = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			rep, err := Run(t.Context(), o)
			if err == nil || rep != nil {
				t.Fatalf("Run: %v, %v; want an error and no report", rep, err)
			}
		})
	}
}

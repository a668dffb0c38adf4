package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// ReportFormat names the JSON layout of a Report; LoadReport accepts only it.
const ReportFormat = "cairn-bench-report/1"

// Report is everything one Run measured. Throughput is in MB/s of 10^6
// bytes; latencies are in milliseconds.
type Report struct {
	Format      string    `json:"format"`
	Endpoint    string    `json:"endpoint"`
	Region      string    `json:"region"`
	Bucket      string    `json:"bucket"`
	Prefix      string    `json:"prefix"` // every key the run wrote starts with it
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Seconds     float64   `json:"seconds"`
	Params      Params    `json:"params"`
	StatsSource string    `json:"stats_source"` // where stored bytes came from, or "none: why"
	Phases      []Phase   `json:"phases"`
	Cleanup     Cleanup   `json:"cleanup"`
	Errors      int64     `json:"errors"`          // failed operations, in all phases and clean-up
	Error       string    `json:"error,omitempty"` // what stopped the run early, if anything
}

// Params are the run's effective parameters (no secrets).
type Params struct {
	Workloads          []string `json:"workloads"`
	Streams            int      `json:"streams"`
	ObjectSize         int64    `json:"object_size"`
	DurationSeconds    float64  `json:"duration_seconds,omitempty"`
	Bytes              int64    `json:"bytes,omitempty"`
	MultipartThreshold int64    `json:"multipart_threshold"`
	PartSize           int64    `json:"part_size"`
	Seed               int64    `json:"seed"`
	RangeReads         int      `json:"range_reads"`
	SmallObjects       int      `json:"small_objects"`
	SmallSize          int64    `json:"small_size"`
	Dataset            string   `json:"dataset,omitempty"`
	Keep               bool     `json:"keep"`
	BucketCreated      bool     `json:"bucket_created"`
}

// Phase is one measured step of a workload: put, get, get-range,
// small-put, small-get, small-head, small-list, small-delete, and for
// generations image-genK and tree-genK.
type Phase struct {
	Name      string  `json:"name"`
	Workload  string  `json:"workload"`
	Ops       int64   `json:"ops"`    // operations that succeeded (LIST: pages)
	Errors    int64   `json:"errors"` // operations that failed
	Bytes     int64   `json:"bytes"`  // payload bytes of the operations that succeeded
	Seconds   float64 `json:"seconds"`
	MBPerSec  float64 `json:"mb_per_sec"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Latency   Latency `json:"latency"` // per operation (put, get: per whole object)

	ErrorSamples []string `json:"error_samples,omitempty"` // the first few errors

	// LIST only.
	Keys       int64   `json:"keys,omitempty"`
	KeysPerSec float64 `json:"keys_per_sec,omitempty"`

	// Generations only.
	Series       string   `json:"series,omitempty"` // image or tree
	Generation   int      `json:"generation,omitempty"`
	LogicalBytes int64    `json:"logical_bytes,omitempty"` // bytes of the series so far
	StoredBytes  *int64   `json:"stored_bytes,omitempty"`  // growth of the server's stored bytes since the series began
	Ratio        *float64 `json:"ratio,omitempty"`         // LogicalBytes / StoredBytes
	Note         string   `json:"note,omitempty"`
}

// Latency is a distribution of operation times in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Mean float64 `json:"mean_ms"`
	Max  float64 `json:"max_ms"`
}

// Cleanup is what deleting the run's objects did.
type Cleanup struct {
	Skipped       bool     `json:"skipped"` // Keep was set
	Deleted       int64    `json:"deleted"`
	BucketDeleted bool     `json:"bucket_deleted"`
	Errors        int64    `json:"errors"`
	ErrorSamples  []string `json:"error_samples,omitempty"`
}

// maxErrorSamples is how many error messages a phase keeps.
const maxErrorSamples = 10

// collector gathers one phase's operations from concurrent workers.
type collector struct {
	m  *meter
	mu struct {
		sync.Mutex
		lat     []time.Duration
		bytes   int64
		errors  int64
		samples []string
	}
}

func newCollector(m *meter) *collector { return &collector{m: m} }

// ok records an operation that moved n payload bytes in d.
func (c *collector) ok(d time.Duration, n int64) {
	c.m.addOps(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.lat = append(c.mu.lat, d)
	c.mu.bytes += n
}

// fail records a failed operation.
func (c *collector) fail(err error) {
	c.m.addError()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.errors++
	if len(c.mu.samples) < maxErrorSamples {
		c.mu.samples = append(c.mu.samples, err.Error())
	}
}

// phase summarizes what was collected over elapsed.
func (c *collector) phase(name, workload string, elapsed time.Duration) Phase {
	c.mu.Lock()
	defer c.mu.Unlock()
	secs := elapsed.Seconds()
	p := Phase{
		Name: name, Workload: workload,
		Ops: int64(len(c.mu.lat)), Errors: c.mu.errors, Bytes: c.mu.bytes,
		Seconds: secs, Latency: latency(c.mu.lat),
		ErrorSamples: slices.Clone(c.mu.samples),
	}
	if secs > 0 {
		p.MBPerSec = float64(p.Bytes) / 1e6 / secs
		p.OpsPerSec = float64(p.Ops) / secs
	}
	return p
}

// latency computes the distribution of ds (nearest-rank percentiles).
func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Latency{P50: pct(0.50), P99: pct(0.99), P999: pct(0.999), Mean: ms(sum / time.Duration(len(s))), Max: ms(s[len(s)-1])}
}

// LoadReport reads a Report that Run wrote as JSON.
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	if r.Format != ReportFormat {
		return nil, fmt.Errorf("report %s: format %q, want %q", path, r.Format, ReportFormat)
	}
	return &r, nil
}

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteTable writes the report as tables for a person: one row per phase,
// then LIST and generation figures, then every error sample.
func (r *Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "cairn bench  %s  bucket %s  %s  %.1fs\n", r.Endpoint, r.Bucket, r.Start.Format(time.RFC3339), r.Seconds)
	p := r.Params
	fmt.Fprintf(ew, "workloads %s  streams %d  object %s  multipart >= %s in %s parts  seed %d\n\n",
		strings.Join(p.Workloads, ","), p.Streams, fmtBytes(p.ObjectSize), fmtBytes(p.MultipartThreshold), fmtBytes(p.PartSize), p.Seed)

	width := len("phase")
	for _, ph := range r.Phases {
		width = max(width, len(ph.Name))
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tops\terrors\tbytes\tseconds\tMB/s\tops/s\tp50 ms\tp99 ms\tp999 ms\t\n", width, "phase")
	for _, ph := range r.Phases {
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%s\t%.2f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t\n", width, ph.Name, ph.Ops, ph.Errors, fmtBytes(ph.Bytes),
			ph.Seconds, ph.MBPerSec, ph.OpsPerSec, ph.Latency.P50, ph.Latency.P99, ph.Latency.P999)
	}
	tw.Flush()

	for _, ph := range r.Phases {
		if ph.Keys > 0 {
			fmt.Fprintf(ew, "\n%s: %d keys in %d pages, %.1f keys/s, %.1f pages/s\n", ph.Name, ph.Keys, ph.Ops, ph.KeysPerSec, ph.OpsPerSec)
		}
	}

	if slices.ContainsFunc(r.Phases, func(ph Phase) bool { return ph.Series != "" }) {
		fmt.Fprintf(ew, "\ngenerations (stored bytes from %s)\n", r.StatsSource)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "series\tgen\tuploaded\tMB/s\tlogical\tstored\tlogical:stored\t")
		for _, ph := range r.Phases {
			if ph.Series == "" {
				continue
			}
			stored, ratio := "-", "-"
			if ph.StoredBytes != nil {
				stored = fmtBytes(*ph.StoredBytes)
			}
			if ph.Ratio != nil {
				ratio = fmt.Sprintf("%.2f:1", *ph.Ratio)
			}
			fmt.Fprintf(tw, "%-6s\t%d\t%s\t%.1f\t%s\t%s\t%s\t\n", ph.Series, ph.Generation, fmtBytes(ph.Bytes), ph.MBPerSec,
				fmtBytes(ph.LogicalBytes), stored, ratio)
		}
		tw.Flush()
		for _, ph := range r.Phases {
			if ph.Note != "" {
				fmt.Fprintf(ew, "%s: %s\n", ph.Name, ph.Note)
			}
		}
	}

	c := r.Cleanup
	switch {
	case c.Skipped:
		fmt.Fprintf(ew, "\nkept: objects under s3://%s/%s\n", r.Bucket, r.Prefix)
	default:
		fmt.Fprintf(ew, "\nclean-up: %d objects deleted, bucket deleted: %v, %d errors\n", c.Deleted, c.BucketDeleted, c.Errors)
	}
	if r.Errors > 0 {
		fmt.Fprintf(ew, "\n%d OPERATIONS FAILED\n", r.Errors)
		for _, ph := range r.Phases {
			for _, s := range ph.ErrorSamples {
				fmt.Fprintf(ew, "  %s: %s\n", ph.Name, s)
			}
		}
		for _, s := range c.ErrorSamples {
			fmt.Fprintf(ew, "  clean-up: %s\n", s)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(ew, "\nstopped: %s\n", r.Error)
	}
	return ew.err
}

// Compare writes a and b side by side, phase by phase, with the ratio B/A
// of each figure. Phases that only one report has are listed at the end.
func Compare(a, b *Report, w io.Writer) error {
	if a == nil || b == nil {
		return errors.New("compare: a report is nil")
	}
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "A: %s  %s  streams %d  object %s\n", a.Endpoint, a.Start.Format(time.RFC3339), a.Params.Streams, fmtBytes(a.Params.ObjectSize))
	fmt.Fprintf(ew, "B: %s  %s  streams %d  object %s\n\n", b.Endpoint, b.Start.Format(time.RFC3339), b.Params.Streams, fmtBytes(b.Params.ObjectSize))
	width := len("phase")
	for _, ph := range a.Phases {
		width = max(width, len(ph.Name))
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t%-14s\tA\tB\tB/A\t\n", width, "phase", "figure")
	byName := make(map[string]Phase, len(b.Phases))
	for _, ph := range b.Phases {
		byName[ph.Name] = ph
	}
	var onlyA, onlyB []string
	seen := map[string]bool{}
	for _, pa := range a.Phases {
		pb, ok := byName[pa.Name]
		if !ok {
			onlyA = append(onlyA, pa.Name)
			continue
		}
		seen[pa.Name] = true
		row := func(fig string, x, y float64, format string) {
			fmt.Fprintf(tw, "%-*s\t%-14s\t"+format+"\t"+format+"\t%s\t\n", width, pa.Name, fig, x, y, ratioStr(x, y))
		}
		if pa.Bytes > 0 || pb.Bytes > 0 {
			row("MB/s", pa.MBPerSec, pb.MBPerSec, "%.1f")
		}
		row("ops/s", pa.OpsPerSec, pb.OpsPerSec, "%.1f")
		if pa.Keys > 0 || pb.Keys > 0 {
			row("keys/s", pa.KeysPerSec, pb.KeysPerSec, "%.1f")
		}
		row("p50 ms", pa.Latency.P50, pb.Latency.P50, "%.2f")
		row("p99 ms", pa.Latency.P99, pb.Latency.P99, "%.2f")
		row("p999 ms", pa.Latency.P999, pb.Latency.P999, "%.2f")
		row("errors", float64(pa.Errors), float64(pb.Errors), "%.0f")
		if pa.StoredBytes != nil && pb.StoredBytes != nil {
			row("stored MB", float64(*pa.StoredBytes)/1e6, float64(*pb.StoredBytes)/1e6, "%.1f")
		}
		if pa.Ratio != nil && pb.Ratio != nil {
			row("logical:stored", *pa.Ratio, *pb.Ratio, "%.2f")
		}
	}
	for _, pb := range b.Phases {
		if !seen[pb.Name] {
			onlyB = append(onlyB, pb.Name)
		}
	}
	tw.Flush()
	if len(onlyA) > 0 {
		fmt.Fprintf(ew, "\nonly in A: %s\n", strings.Join(onlyA, ", "))
	}
	if len(onlyB) > 0 {
		fmt.Fprintf(ew, "\nonly in B: %s\n", strings.Join(onlyB, ", "))
	}
	return ew.err
}

func ratioStr(a, b float64) string {
	if a == 0 {
		if b == 0 {
			return "="
		}
		return "-"
	}
	return fmt.Sprintf("%.2fx", b/a)
}

// errWriter keeps the first write error so that a table's many Fprintf
// calls need one check.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

package bench

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLatency(t *testing.T) {
	var ds []time.Duration
	for i := 1000; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := latency(ds)
	if l.P50 != 500 || l.P99 != 990 || l.P999 != 999 || l.Max != 1000 || l.Mean != 500.5 {
		t.Errorf("latency of 1..1000 ms: %+v", l)
	}
	if l := latency(nil); l != (Latency{}) {
		t.Errorf("latency of nothing: %+v", l)
	}
}

func testReport(mbps, p99 float64, ratio float64) *Report {
	stored := int64(100e6)
	return &Report{
		Format: ReportFormat, Endpoint: "http://127.0.0.1:9000", Bucket: "b", Start: time.Unix(1e9, 0).UTC(),
		Params: Params{Workloads: []string{"put", "generations"}, Streams: 4, ObjectSize: 64 << 20, PartSize: 8 << 20, MultipartThreshold: 8 << 20},
		Phases: []Phase{
			{Name: "put", Workload: "put", Ops: 10, Bytes: 640 << 20, Seconds: 2, MBPerSec: mbps, OpsPerSec: 5, Latency: Latency{P50: 10, P99: p99, P999: p99}},
			{Name: "image-gen1", Workload: "generations", Series: SeriesImage, Generation: 1, Ops: 1, Bytes: 1 << 30, MBPerSec: 100, StoredBytes: &stored, Ratio: &ratio},
		},
	}
}

func TestCompare(t *testing.T) {
	a, b := testReport(100, 20, 2), testReport(250, 10, 3)
	b.Phases = append(b.Phases, Phase{Name: "small-put"})
	var out strings.Builder
	if err := Compare(a, b, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{"2.50x", "0.50x", "1.50x", "only in B: small-put"} {
		if !strings.Contains(s, want) {
			t.Errorf("Compare output lacks %q", want)
		}
	}
	if err := Compare(a, nil, &out); err == nil {
		t.Error("Compare with a nil report did not fail")
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	r := testReport(100, 20, 2)
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phases[0].MBPerSec != 100 || *got.Phases[1].Ratio != 2 || *got.Phases[1].StoredBytes != 100e6 || !got.Start.Equal(r.Start) {
		t.Errorf("round trip: %+v", got)
	}
	var table strings.Builder
	if err := got.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	if !strings.Contains(table.String(), "2.00:1") {
		t.Error("the table lacks the logical:stored ratio")
	}
	if _, err := LoadReport(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadReport of a missing file did not fail")
	}
}

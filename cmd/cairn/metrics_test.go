package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cairn-backup/cairn/gateway"
)

// TestServeMetrics: `cairn serve --metrics-listen` serves /metrics on its
// own port (the gateway's, secure connect's, Go's and the process's
// figures), and /_cairn/metrics on the S3 port takes the token from
// --metrics-token-file.
func TestServeMetrics(t *testing.T) {
	needBinary(t)
	ctx := t.Context()
	dir := t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "metrics.token")
	token := "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, "--metrics-listen", "127.0.0.1:0", "--metrics-token-file", tokenFile, "--secure-listen", "127.0.0.1:0", "--pprof")
	b, err := os.ReadFile(filepath.Join(dir, metricsAddrFile))
	if err != nil {
		t.Fatalf("no %s: %v\n%s", metricsAddrFile, err, s.stderr)
	}
	metricsURL := "http://" + strings.TrimSpace(string(b)) + "/metrics"

	cl := client(t, s, dir)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("backups")}); err != nil {
		t.Fatal(err)
	}
	data := random(5, 1<<20)
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("a"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}

	fams := parseMetrics(t, get(t, metricsURL, "", http.StatusOK))
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64 // -1: present, any value
	}{
		{"cairn_s3_requests_total", []string{"operation", "PutObject", "status", "200"}, 1},
		{"cairn_s3_requests_total", []string{"operation", "CreateBucket", "status", "200"}, 1},
		{"cairn_group_logical_bytes", []string{"group", gateway.DefaultGroup}, float64(len(data))},
		{"cairn_cleaner_runs_total", []string{"group", gateway.DefaultGroup}, 0},
		{"cairn_secure_sessions", nil, 0},
		{"cairn_secure_resends_total", nil, 0},
		{"go_goroutines", nil, -1},
		{"process_resident_memory_bytes", nil, -1},
	} {
		got, ok := metricValue(fams, tc.name, tc.labels...)
		if !ok || (tc.want >= 0 && got != tc.want) {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	get(t, strings.TrimSuffix(metricsURL, "/metrics")+"/other", "", http.StatusNotFound)
	// --pprof: the profiles a speed investigation takes, block and mutex
	// sampling on.
	for p, want := range map[string]string{"heap": "heap profile", "block": "contention", "mutex": "--- mutex", "goroutine": "goroutine profile"} {
		if b := get(t, strings.TrimSuffix(metricsURL, "/metrics")+"/debug/pprof/"+p+"?debug=1", "", http.StatusOK); !bytes.Contains(b, []byte(want)) {
			t.Errorf("/debug/pprof/%s: %.200s", p, b)
		}
	}

	// The S3 port: the bearer token, and nothing but the right one.
	admin := s.url() + gateway.AdminMetricsPath
	parseMetrics(t, get(t, admin, "Bearer "+token, http.StatusOK))
	var e struct{ Error, Code string }
	if err := json.Unmarshal(get(t, admin, "Bearer "+strings.ToUpper(token), http.StatusForbidden), &e); err != nil || e.Code != "AccessDenied" {
		t.Fatalf("a wrong token: %+v %v", e, err)
	}
}

// TestServeMetricsTokenFileErrors: a token file that cannot serve stops
// cairn serve before it opens anything, from the flag or its variable.
func TestServeMetricsTokenFileErrors(t *testing.T) {
	needBinary(t)
	empty := filepath.Join(t.TempDir(), "empty")
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(short, []byte("abc\n"), 0o600)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"missing", nil, []string{"--metrics-token-file", "/nonexistent/token"}, "--metrics-token-file: open /nonexistent/token"},
		{"empty", nil, []string{"--metrics-token-file", empty}, "want one token on one line"},
		{"short, from the environment", []string{"CAIRN_METRICS_TOKEN_FILE=" + short}, nil, "want at least 16"},
		{"pprof without a metrics listener", nil, []string{"--pprof"}, "--pprof serves on the --metrics-listen address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--secure-listen", "off"}, tc.args...)
			_, errs, code := cairn(t, tc.env, args...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want an error with %q:\n%s", code, tc.want, errs)
			}
			if _, err := os.Stat(filepath.Join(dir, "meta.db")); err == nil {
				t.Fatal("cairn serve opened the data directory before refusing the token file")
			}
		})
	}
}

func TestMetricsFlagsFromEnvironment(t *testing.T) {
	t.Setenv("CAIRN_METRICS_LISTEN", "127.0.0.1:9464")
	t.Setenv("CAIRN_METRICS_TOKEN_FILE", "/etc/cairn/metrics.token")
	_, o, err := serveFlags(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.metrics.listen != "127.0.0.1:9464" || o.metrics.tokenFile != "/etc/cairn/metrics.token" {
		t.Fatalf("metrics options from the environment: %+v", o.metrics)
	}
}

// get GETs url and answers the body, failing unless the status is want.
func get(t *testing.T, url, authorization string, want int) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != want {
		t.Fatalf("GET %s: %s (%v), want %d:\n%s", url, resp.Status, err, want, body)
	}
	return body
}

func parseMetrics(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, text)
	}
	return fams
}

// metricValue is the value of the family's metric whose labels include
// the name-value pairs given (a histogram's: its sample count).
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
next:
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

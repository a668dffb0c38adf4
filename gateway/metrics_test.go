package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cairn-backup/cairn/s3api"
)

const (
	metricsKey    = "metricskey"
	metricsSecret = "metricssecret"
	emptySHA256   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// metricsServer serves g over S3 on loopback with its metrics at
// AdminMetricsPath (bearer token as given, "" for none) and answers the
// server's URL.
func metricsServer(t *testing.T, g *Gateway, token string) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(g)
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	h, err := s3api.NewHandler(s3api.Config{
		Region:      "us-east-1",
		Secret:      func(k string) (string, bool) { return metricsSecret, k == metricsKey },
		Admin:       AdminWithMetrics(g.AdminHandler(metricsKey), promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), metricsKey),
		BearerPath:  AdminMetricsPath,
		BearerToken: token,
		Observe:     m.Observe,
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, g)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// metricsClient is an SDK client that sends bodies as they are (no
// aws-chunked framing, which counts in bytes in), so that bytes in can be
// compared with what was uploaded.
func metricsClient(url, secret string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(url),
		Region:                     "us-east-1",
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(metricsKey, secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// scrape GETs the metrics with the bearer token and parses them.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	resp := metricsGET(t, url, "Bearer "+token)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

func metricsGET(t *testing.T, url, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+AdminMetricsPath, nil)
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
	return resp
}

// value is the metric of family name whose labels include want: a
// counter's or gauge's value, a histogram's sample count; -1 if absent.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetricsCountRequestsAndGroups(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	url := metricsServer(t, g, "tok")
	c := metricsClient(url, metricsSecret)
	data := random(31, 3<<20) // several 1 MiB containers: the cleaner has some to reclaim
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"one", "two"} { // the same bytes twice: dedup 2x
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(out.Body); !bytes.Equal(got, data) {
		t.Fatal("GetObject: wrong bytes")
	}
	out.Body.Close()
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("absent")}); err == nil {
		t.Fatal("GetObject of an absent key succeeded")
	}
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	// Refused before routing (a bad signature): still named PutObject.
	bad := metricsClient(url, "not-the-secret")
	_, err = bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("x"), Body: strings.NewReader("x")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("PutObject with a wrong secret: %v", err)
	}

	fams := scrape(t, url, "tok")
	for _, tc := range []struct {
		op, status string
		want       float64
	}{
		{"CreateBucket", "200", 1},
		{"PutObject", "200", 2},
		{"PutObject", "403", 1},
		{"GetObject", "200", 1},
		{"GetObject", "404", 1},
		{"ListObjectsV2", "200", 1},
	} {
		if got := value(fams, "cairn_s3_requests_total", "operation", tc.op, "status", tc.status); got != tc.want {
			t.Errorf("cairn_s3_requests_total{operation=%s,status=%s} = %v, want %v", tc.op, tc.status, got, tc.want)
		}
	}
	if got := value(fams, "cairn_s3_request_duration_seconds", "operation", "PutObject"); got != 3 {
		t.Errorf("PutObject latency samples %v, want 3", got)
	}
	// The refused PUT's one byte counts too: it was read (and dropped) so
	// that the client could read the refusal.
	if got, want := value(fams, "cairn_s3_bytes_in_total", "operation", "PutObject"), float64(2*len(data)+1); got != want {
		t.Errorf("PutObject bytes in %v, want %v", got, want)
	}
	if got := value(fams, "cairn_s3_bytes_out_total", "operation", "GetObject"); got < float64(len(data)) {
		t.Errorf("GetObject bytes out %v, want at least %d", got, len(data))
	}
	if got, want := value(fams, "cairn_group_logical_bytes", "group", DefaultGroup), float64(2*len(data)); got != want {
		t.Errorf("logical bytes %v, want %v", got, want)
	}
	if got, want := value(fams, "cairn_group_unique_bytes", "group", DefaultGroup), float64(len(data)); got != want {
		t.Errorf("unique bytes %v, want %v", got, want)
	}
	if got := value(fams, "cairn_group_dedup_ratio", "group", DefaultGroup); got != 2 {
		t.Errorf("dedup ratio %v, want 2", got)
	}
	if got := value(fams, "cairn_group_stored_bytes", "group", DefaultGroup); got <= 0 || got > float64(len(data)+len(data)/2) {
		t.Errorf("stored bytes %v for %d unique bytes", got, len(data))
	}
	if got := value(fams, "cairn_cleaner_runs_total", "group", DefaultGroup); got != 0 {
		t.Errorf("cleaner runs %v before any run", got)
	}

	// The cleaner's counters move when it runs.
	for _, key := range []string{"one", "two"} {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := g.Clean(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, url, "tok")
	if got := value(fams, "cairn_cleaner_runs_total", "group", DefaultGroup); got != 1 {
		t.Errorf("cleaner runs %v, want 1", got)
	}
	if got := value(fams, "cairn_cleaner_reclaimed_bytes_total", "group", DefaultGroup); got != float64(res.BytesReclaimed) || got <= 0 {
		t.Errorf("cleaner reclaimed %v, want %d (> 0)", got, res.BytesReclaimed)
	}
	if got := value(fams, "cairn_group_logical_bytes", "group", DefaultGroup); got != 0 {
		t.Errorf("logical bytes %v after deleting everything", got)
	}
	// The first scrape is itself a request of the admin API.
	if got := value(fams, "cairn_s3_requests_total", "operation", s3api.OpAdmin, "status", "200"); got != 1 {
		t.Errorf("admin requests %v, want 1 (the first scrape)", got)
	}
}

// TestMetricsAuth: the metrics path takes the bearer token or root's
// SigV4; nothing else, and the token opens no other path.
func TestMetricsAuth(t *testing.T) {
	g := open(t, testConfig(t))
	withToken := metricsServer(t, g, "the-right-token")
	noToken := metricsServer(t, g, "")

	signed := func(t *testing.T, url, path, secret string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		creds := aws.Credentials{AccessKeyID: metricsKey, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	bearer := func(url, path, method, token string) func(t *testing.T) *http.Response {
		return func(t *testing.T) *http.Response {
			req, err := http.NewRequestWithContext(t.Context(), method, url+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
	}
	for _, tc := range []struct {
		name   string
		do     func(t *testing.T) *http.Response
		status int
		code   string // the JSON error's code; "" for a 200
		msg    string // part of the JSON error's message
	}{
		{"right token", bearer(withToken, AdminMetricsPath, http.MethodGet, "the-right-token"), 200, "", ""},
		{"wrong token", bearer(withToken, AdminMetricsPath, http.MethodGet, "the-wrong-token"), 403, "AccessDenied", "not valid"},
		{"token a prefix of the right one", bearer(withToken, AdminMetricsPath, http.MethodGet, "the-right"), 403, "AccessDenied", "not valid"},
		{"no token configured", bearer(noToken, AdminMetricsPath, http.MethodGet, "the-right-token"), 403, "AccessDenied", "no bearer token"},
		{"token on another admin path", bearer(withToken, AdminStatsPath, http.MethodGet, "the-right-token"), 400, "InvalidRequest", "Signature Version 4"},
		{"token with another method", bearer(withToken, AdminMetricsPath, http.MethodPost, "the-right-token"), 400, "InvalidRequest", "Signature Version 4"},
		{"no authorization", func(t *testing.T) *http.Response { return metricsGET(t, withToken, "") }, 403, "AccessDenied", ""},
		{"root SigV4", func(t *testing.T) *http.Response { return signed(t, withToken, AdminMetricsPath, metricsSecret) }, 200, "", ""},
		{"root SigV4, no token configured", func(t *testing.T) *http.Response { return signed(t, noToken, AdminMetricsPath, metricsSecret) }, 200, "", ""},
		{"bad SigV4", func(t *testing.T) *http.Response { return signed(t, withToken, AdminMetricsPath, "wrong") }, 403, "SignatureDoesNotMatch", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.do(t)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.code == "" {
				if !bytes.Contains(body, []byte("# TYPE cairn_group_logical_bytes gauge")) {
					t.Fatalf("no metrics in the answer:\n%s", body)
				}
				return
			}
			var e struct{ Error, Code string }
			if err := json.Unmarshal(body, &e); err != nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("not a JSON error (%v, %s): %s", err, resp.Header.Get("Content-Type"), body)
			}
			if e.Code != tc.code || e.Error == "" || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("error %+v, want code %s and a message with %q", e, tc.code, tc.msg)
			}
		})
	}
}

package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// AdminMetricsPath serves the Prometheus metrics on the S3 port, to the
// root user (SigV4) or to a scraper with the bearer token
// (s3api.Config.BearerPath).
const AdminMetricsPath = "/_cairn/metrics"

// Metrics are the gateway's Prometheus collectors: the S3 requests (fed by
// Observe, which s3api calls once per request) and, read at each scrape,
// the storage groups, the cleaner and the tiers. Register them in a
// registry of the caller's; nothing here is global.
type Metrics struct {
	g *Gateway

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec

	// series caches each operation and status's metrics, so that Observe
	// neither formats the status nor hashes labels on every request.
	mu     sync.RWMutex
	series map[seriesKey]*requestSeries

	scrape *scrapeCollector
}

type seriesKey struct {
	op     string
	status int
}

// requestSeries are the metrics one operation and status add to.
type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
	in, out  prometheus.Counter
}

// NewMetrics returns g's collectors.
func NewMetrics(g *Gateway) *Metrics {
	return &Metrics{
		g: g,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_s3_requests_total",
			Help: "S3 requests answered, by operation and HTTP status (499: the client went away).",
		}, []string{"operation", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cairn_s3_request_duration_seconds",
			Help: "S3 request latency, from the first byte read to the last written, by operation.",
			// 1 ms to about 4 minutes: a HEAD to a large object's PUT.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"operation"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_s3_bytes_in_total",
			Help: "Request body bytes received, as on the wire (aws-chunked framing included), by operation.",
		}, []string{"operation"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_s3_bytes_out_total",
			Help: "Response body bytes sent, by operation.",
		}, []string{"operation"}),
		series: map[seriesKey]*requestSeries{},
		scrape: newScrapeCollector(g),
	}
}

// Register adds every collector to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytesIn, m.bytesOut, m.scrape} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Observe counts one request; it is s3api.Config.Observe.
func (m *Metrics) Observe(s s3api.RequestStats) {
	k := seriesKey{s.Operation, s.Status}
	m.mu.RLock()
	sr := m.series[k]
	m.mu.RUnlock()
	if sr == nil {
		sr = m.newSeries(k)
	}
	sr.requests.Inc()
	sr.duration.Observe(s.Duration.Seconds())
	sr.in.Add(float64(s.BytesIn))
	sr.out.Add(float64(s.BytesOut))
}

func (m *Metrics) newSeries(k seriesKey) *requestSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sr := m.series[k]; sr != nil {
		return sr
	}
	sr := &requestSeries{
		requests: m.requests.WithLabelValues(k.op, strconv.Itoa(k.status)),
		duration: m.duration.WithLabelValues(k.op),
		in:       m.bytesIn.WithLabelValues(k.op),
		out:      m.bytesOut.WithLabelValues(k.op),
	}
	m.series[k] = sr
	return sr
}

// AdminWithMetrics serves metrics at AdminMetricsPath, to the root user or
// to a request s3api let in with the bearer token, and every other admin
// path with next (which admits root only).
func AdminWithMetrics(next, metrics http.Handler, rootAccessKey string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != AdminMetricsPath {
			next.ServeHTTP(w, r)
			return
		}
		key, signed := s3api.AccessKey(r.Context())
		if !s3api.BearerAuthenticated(r.Context()) && (!signed || rootAccessKey == "" || key != rootAccessKey) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "metrics are for the root access key or the metrics bearer token only", "code": "AccessDenied"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": r.Method + " is not allowed on " + r.URL.Path + " (GET)", "code": http.StatusText(http.StatusMethodNotAllowed)})
			return
		}
		metrics.ServeHTTP(w, r)
	})
}

// scrapeTimeout bounds the reads one scrape does (Collect has no context).
const scrapeTimeout = 10 * time.Second

// scrapeCollector reads, at each scrape, the figures the gateway already
// keeps: each group's chunkstore.Stats (counters and container rows: it
// never walks objects, unlike Gateway.Stats), the cleaner's totals and the
// tiers' movers.
type scrapeCollector struct {
	g      *Gateway
	groups []groupGauge
	clean  struct{ runs, failures, reclaimed *prometheus.Desc }
	tiers  []tierMetric
	repl   []replMetric
	errors *prometheus.Desc
	// incompatible counts replication peers refused for their protocol.
	incompatible *prometheus.Desc
}

// replMetric is one per-relationship metric, from ReplicationStatus.
type replMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(ReplicationStatus) float64
}

// groupFigures are what the group metrics read: the store's figures and,
// as they land, the gateway's own per-group figures.
type groupFigures struct {
	chunkstore.Stats
	// Used is the group's physical bytes (what its quota counts), Quota
	// its quota (0: none).
	Used, Quota int64
}

// groupFigures reads one group's figures; it is where quota and stream
// figures join the store's.
func (g *Gateway) groupFigures(ctx context.Context, gr *group) (groupFigures, error) {
	st, err := gr.store.Stats(ctx)
	if err != nil {
		return groupFigures{}, err
	}
	used, err := gr.store.Usage()
	return groupFigures{Stats: st, Used: used, Quota: gr.store.Quota()}, err
}

// groupGauge is one per-group metric: a line in newScrapeCollector.
type groupGauge struct {
	desc  *prometheus.Desc
	value func(groupFigures) float64
}

// tierMetric is one per-tier metric, from TierStatus.
type tierMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(TierStatus) float64
}

func newScrapeCollector(g *Gateway) *scrapeCollector {
	c := &scrapeCollector{g: g}
	group := func(name, help string, value func(groupFigures) float64) {
		c.groups = append(c.groups, groupGauge{prometheus.NewDesc(name, help, []string{"group"}, nil), value})
	}
	group("cairn_group_logical_bytes", "Bytes clients wrote to the group: every version and part.", func(f groupFigures) float64 { return float64(f.LogicalBytes) })
	group("cairn_group_unique_bytes", "Bytes of the group's distinct chunks: after dedup, before compression.", func(f groupFigures) float64 { return float64(f.UniqueBytes) })
	group("cairn_group_stored_bytes", "Bytes of the group's container files, dead records included.", func(f groupFigures) float64 { return float64(f.StoredBytes) })
	group("cairn_group_live_bytes", "The part of the stored bytes that referenced chunks occupy.", func(f groupFigures) float64 { return float64(f.LiveBytes) })
	group("cairn_group_index_bytes", "Bytes of the group's index database file.", func(f groupFigures) float64 { return float64(f.IndexBytes) })
	group("cairn_group_local_bytes", "Unique bytes with a copy on the group's disks.", func(f groupFigures) float64 { return float64(f.LocalBytes) })
	group("cairn_group_tiered_bytes", "Unique bytes with a copy in a cloud tier.", func(f groupFigures) float64 { return float64(f.TieredBytes) })
	group("cairn_group_used_bytes", "The group's physical bytes on disk (container files and index): what its quota counts.", func(f groupFigures) float64 { return float64(f.Used) })
	group("cairn_group_quota_bytes", "The group's quota in physical bytes; 0 when it has none.", func(f groupFigures) float64 { return float64(f.Quota) })
	group("cairn_group_active_streams", "Writes under way in the group, each appending to a container file (shared beyond the stream limit).", func(f groupFigures) float64 { return float64(f.ActiveStreams) })
	group("cairn_group_stream_limit", "The group's stream limit: concurrent writes that get a container file of their own.", func(f groupFigures) float64 { return float64(f.MaxStreams) })
	group("cairn_group_stream_overflows", "Times since the start a write shared a container file because the stream limit was reached (a counter).", func(f groupFigures) float64 { return float64(f.StreamOverflows) })
	group("cairn_group_dedup_ratio", "Logical bytes per unique byte; 0 when the group is empty.", func(f groupFigures) float64 { return f.DedupRatio() })
	// TODO(quota): group("cairn_group_quota_bytes", ..., func(f groupFigures) float64 { return float64(f.QuotaBytes) })
	// TODO(quota): group("cairn_group_quota_used_bytes", ...)
	// TODO(streams): group("cairn_group_active_streams", ...)

	c.clean.runs = prometheus.NewDesc("cairn_cleaner_runs_total", "Cleaner runs over the group since the start, failed ones included.", []string{"group"}, nil)
	c.clean.failures = prometheus.NewDesc("cairn_cleaner_failures_total", "Cleaner runs over the group that failed.", []string{"group"}, nil)
	c.clean.reclaimed = prometheus.NewDesc("cairn_cleaner_reclaimed_bytes_total", "Bytes the cleaner gave back to the group's disks.", []string{"group"}, nil)

	tier := func(name, help string, kind prometheus.ValueType, value func(TierStatus) float64) {
		c.tiers = append(c.tiers, tierMetric{prometheus.NewDesc(name, help, []string{"tier"}, nil), kind, value})
	}
	tier("cairn_tier_queued_jobs", "Transitions to the tier waiting or in progress.", prometheus.GaugeValue, func(s TierStatus) float64 { return float64(s.Queued) })
	tier("cairn_tier_failed_jobs_total", "Transitions to the tier that failed (the next scan queues them again).", prometheus.CounterValue, func(s TierStatus) float64 { return float64(s.Failed) })
	tier("cairn_tier_copied_versions_total", "Versions given a copy in the tier.", prometheus.CounterValue, func(s TierStatus) float64 { return float64(s.Copied) })
	tier("cairn_tier_moved_versions_total", "Versions whose local copy was released once in the tier.", prometheus.CounterValue, func(s TierStatus) float64 { return float64(s.Moved) })
	tier("cairn_tier_sent_bytes_total", "Bytes of packs uploaded to the tier.", prometheus.CounterValue, func(s TierStatus) float64 { return float64(s.SentBytes) })
	tier("cairn_tier_pack_bytes", "Plaintext bytes of the packs the groups record in the tier.", prometheus.GaugeValue, func(s TierStatus) float64 { return float64(s.PackBytes) })
	tier("cairn_tier_live_bytes", "The part of the tier's pack bytes live chunks use.", prometheus.GaugeValue, func(s TierStatus) float64 { return float64(s.LiveBytes) })
	tier("cairn_tier_pending_forgets", "Deletions of tiered versions not yet in the tier's catalog.", prometheus.GaugeValue, func(s TierStatus) float64 { return float64(s.Forgets) })
	repl := func(name, help string, kind prometheus.ValueType, value func(ReplicationStatus) float64) {
		c.repl = append(c.repl, replMetric{prometheus.NewDesc(name, help, []string{"bucket", "remote"}, nil), kind, value})
	}
	repl("cairn_replication_pending_changes", "Changes of the source bucket not yet at its replica.", prometheus.GaugeValue, func(s ReplicationStatus) float64 { return float64(s.PendingChanges) })
	repl("cairn_replication_pending_bytes", "Bytes of the versions those changes write.", prometheus.GaugeValue, func(s ReplicationStatus) float64 { return float64(s.PendingBytes) })
	repl("cairn_replication_lag_seconds", "Age of the oldest change not yet at the replica; 0 when in sync.", prometheus.GaugeValue, func(s ReplicationStatus) float64 { return s.LagSeconds })
	repl("cairn_replication_sent_bytes_total", "Record bytes sent to the replica since the start.", prometheus.CounterValue, func(s ReplicationStatus) float64 { return float64(s.BytesSent) })
	repl("cairn_replication_logical_bytes_total", "Logical bytes of the versions replicated since the start.", prometheus.CounterValue, func(s ReplicationStatus) float64 { return float64(s.LogicalBytes) })

	c.incompatible = prometheus.NewDesc("cairn_replication_incompatible_total", "Replication peers refused since the start because they speak another protocol version (an event names each).", nil, nil)
	c.errors = prometheus.NewDesc("cairn_scrape_errors", "Figures this scrape could not read (see the server log).", []string{"what"}, nil)
	return c
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, gg := range c.groups {
		ch <- gg.desc
	}
	ch <- c.clean.runs
	ch <- c.clean.failures
	ch <- c.clean.reclaimed
	for _, tm := range c.tiers {
		ch <- tm.desc
	}
	for _, rm := range c.repl {
		ch <- rm.desc
	}
	ch <- c.incompatible
	ch <- c.errors
}

// Collect reads the figures. A figure it cannot read is left out and
// counted in cairn_scrape_errors (and logged) rather than failing the
// whole scrape, so that one bad group does not blind the dashboards.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	g := c.g
	var groupErrs, tierErrs int
	for _, gr := range g.groupList() {
		name := gr.name
		f, err := g.groupFigures(ctx, gr)
		if err != nil {
			g.log.Warn("metrics: group figures", "group", name, "err", err)
			groupErrs++
		} else {
			for _, gg := range c.groups {
				ch <- prometheus.MustNewConstMetric(gg.desc, prometheus.GaugeValue, gg.value(f), name)
			}
		}
		t := g.cleanSt.total(name)
		ch <- prometheus.MustNewConstMetric(c.clean.runs, prometheus.CounterValue, float64(t.runs), name)
		ch <- prometheus.MustNewConstMetric(c.clean.failures, prometheus.CounterValue, float64(t.failures), name)
		ch <- prometheus.MustNewConstMetric(c.clean.reclaimed, prometheus.CounterValue, float64(t.reclaimed), name)
	}
	tiers, err := g.Tiers(ctx)
	if err != nil {
		g.log.Warn("metrics: tier status", "err", err)
		tierErrs++
	}
	for _, ts := range tiers {
		for _, tm := range c.tiers {
			ch <- prometheus.MustNewConstMetric(tm.desc, tm.kind, tm.value(ts), ts.Name)
		}
	}
	repls, err := g.Replications()
	if err != nil {
		g.log.Warn("metrics: replication status", "err", err)
		tierErrs++
	}
	for _, rs := range repls {
		for _, rm := range c.repl {
			ch <- prometheus.MustNewConstMetric(rm.desc, rm.kind, rm.value(rs), rs.Bucket, rs.Remote)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.incompatible, prometheus.CounterValue, float64(g.replIncompatible.Load()))
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, float64(groupErrs), "group")
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, float64(tierErrs), "tier")
}

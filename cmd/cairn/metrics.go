package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/tlsproxy"
)

// metricsAddrFile holds the address --metrics-listen serves on, for scripts
// and tests (port 0).
const metricsAddrFile = "metrics.addr"

// metricsOptions are `cairn serve`'s metrics flags.
type metricsOptions struct {
	listen, tokenFile string
	pprof             bool // Go's profiles at /debug/pprof/ beside /metrics
}

// newMetrics builds the server's private registry: the gateway's
// collectors, secure connect's counters when it runs, and the Go runtime's
// and the process's. It answers the registry and the /metrics handler.
func newMetrics(gw *gateway.Gateway, secure *secureServer, log *slog.Logger) (*gateway.Metrics, http.Handler, error) {
	reg := prometheus.NewRegistry()
	m := gateway.NewMetrics(gw)
	if err := m.Register(reg); err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if secure != nil {
		cs = append(cs, newSecureCollector(secure.srv.Stats))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, nil, fmt.Errorf("metrics: %w", err)
		}
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector's error is logged and its metrics left out; the
		// rest of the scrape still arrives.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Scrapes in parallel would each read every group's figures.
		MaxRequestsInFlight: 4,
	})
	return m, h, nil
}

// readMetricsToken reads --metrics-token-file: the bearer token a scraper
// sends to /_cairn/metrics on the S3 port. "" when no file is given.
func readMetricsToken(path string, log *slog.Logger) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--metrics-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("--metrics-token-file %s: want one token on one line (openssl rand -hex 32 > %s makes one)", path, path)
	}
	if len(token) < 16 {
		return "", fmt.Errorf("--metrics-token-file %s: the token has %d characters; want at least 16", path, len(token))
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the metrics token file is readable by others: chmod 600 it", "file", path, "mode", fi.Mode().Perm())
	}
	return token, nil
}

// serveMetrics serves h at /metrics on its own listener (--metrics-listen)
// until ctx ends, and records the address in DATA/metrics.addr. The
// listener has no authentication: it is for a network only scrapers reach.
func serveMetrics(ctx context.Context, addr, data string, h http.Handler, withPprof bool, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	addrPath := filepath.Join(data, metricsAddrFile)
	if err := writeFileAtomic(addrPath, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	if withPprof {
		// The profiles the speed work in chunkstore's doc was measured
		// with: CPU, heap, block and mutex, taken from a running server.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		<-done
		os.Remove(addrPath)
	}, nil
}

// secureCollector exports secure connect's counters (tlsproxy.Stats) at
// each scrape; tlsproxy itself knows nothing of Prometheus.
type secureCollector struct {
	stats func() tlsproxy.Stats
	descs []secureMetric
}

type secureMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(tlsproxy.Stats) float64
}

func newSecureCollector(stats func() tlsproxy.Stats) *secureCollector {
	c := &secureCollector{stats: stats}
	add := func(name, help string, kind prometheus.ValueType, value func(tlsproxy.Stats) float64) {
		c.descs = append(c.descs, secureMetric{prometheus.NewDesc(name, help, nil, nil), kind, value})
	}
	add("cairn_secure_sessions", "Live secure connect sessions.", prometheus.GaugeValue, func(s tlsproxy.Stats) float64 { return float64(s.Sessions) })
	add("cairn_secure_clients", "Distinct clients with a live session.", prometheus.GaugeValue, func(s tlsproxy.Stats) float64 { return float64(s.Clients) })
	add("cairn_secure_links", "Live TLS connections (multiconnect: several per session).", prometheus.GaugeValue, func(s tlsproxy.Stats) float64 { return float64(s.Links) })
	add("cairn_secure_streams", "Open application connections carried by secure connect.", prometheus.GaugeValue, func(s tlsproxy.Stats) float64 { return float64(s.Streams) })
	add("cairn_secure_bytes_in_total", "Application bytes received from clients and delivered.", prometheus.CounterValue, func(s tlsproxy.Stats) float64 { return float64(s.BytesIn) })
	add("cairn_secure_bytes_out_total", "Application bytes sent to clients.", prometheus.CounterValue, func(s tlsproxy.Stats) float64 { return float64(s.BytesOut) })
	add("cairn_secure_resends_total", "Frames sent again after a link was lost.", prometheus.CounterValue, func(s tlsproxy.Stats) float64 { return float64(s.Resends) })
	add("cairn_secure_reconnects_total", "Links that resumed or replaced one of an existing session.", prometheus.CounterValue, func(s tlsproxy.Stats) float64 { return float64(s.Reconnects) })
	add("cairn_secure_refused_total", "Handshakes or hellos refused.", prometheus.CounterValue, func(s tlsproxy.Stats) float64 { return float64(s.Refused) })
	add("cairn_secure_expired_total", "Sessions closed because an outage outlasted the limit.", prometheus.CounterValue, func(s tlsproxy.Stats) float64 { return float64(s.Expired) })
	return c
}

func (c *secureCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.descs {
		ch <- m.desc
	}
}

func (c *secureCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, m := range c.descs {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(st))
	}
}

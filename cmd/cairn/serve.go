package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/internal/connlimit"
	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/s3api"
)

// serveAddrFile holds the address `cairn serve` listens on, for scripts,
// tests (--listen 127.0.0.1:0) and `cairn admin`.
const serveAddrFile = "serve.addr"

// serveOptions are `cairn serve`'s flags.
type serveOptions struct {
	data, listen, region, domain, logLevel string
	groups                                 map[string]string
	grace                                  time.Duration
	secure                                 secureOptions
	lifecycle                              lifecycleOptions
	metrics                                metricsOptions
	maxConns, maxConnsPerHost              int
	clean                                  cleanOptions
	eventWebhook                           string
	sseMasterKey                           string
	diskFullPercent                        float64
}

// cleanOptions are the quota floor and the cleaner's own schedule.
type cleanOptions struct {
	minQuota             int64
	interval, check, gap time.Duration
	recompressIdle       time.Duration
}

// connLimits are the S3 port's connection bounds: as given, else 8192 in
// all, kept 256 descriptors under the process's limit (for the stores'
// files, the secure connect port, the tiers), and 1024 per client address
// or half the total when that is less.
func connLimits(total, perHost int) connlimit.Limits {
	if total <= 0 {
		total = 8192
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(total)+256 {
			total = max(int(rl.Cur)-256, 64)
		}
	}
	if perHost <= 0 {
		perHost = min(1024, max(total/2, 1))
	}
	return connlimit.Limits{Total: total, PerHost: perHost, Evict: true}
}

// lifecycleOptions are the lifecycle scanner's settings.
type lifecycleOptions struct {
	day, interval, catalog time.Duration
	rate                   int
}

func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveOptions, error) {
	o := &serveOptions{groups: map[string]string{}}
	fs := flag.NewFlagSet("cairn serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", env("CAIRN_DATA", "./cairn-data"), "data directory: metadata, credentials and the default storage group (CAIRN_DATA)")
	fs.StringVar(&o.listen, "listen", env("CAIRN_LISTEN", "127.0.0.1:9000"), "address to serve S3 on; port 0 picks a free one (CAIRN_LISTEN)")
	fs.StringVar(&o.region, "region", env("CAIRN_REGION", "us-east-1"), "region clients sign for (CAIRN_REGION)")
	fs.StringVar(&o.domain, "domain", env("CAIRN_DOMAIN", ""), "domain for virtual-host-style requests, bucket.DOMAIN (CAIRN_DOMAIN)")
	fs.StringVar(&o.logLevel, "log-level", env("CAIRN_LOG_LEVEL", "info"), "debug, info, warn or error (CAIRN_LOG_LEVEL)")
	grace, err := time.ParseDuration(env("CAIRN_SHUTDOWN_GRACE", "30s"))
	if err != nil {
		return nil, nil, fmt.Errorf("CAIRN_SHUTDOWN_GRACE: %w", err)
	}
	fs.DurationVar(&o.grace, "shutdown-grace", grace, "how long requests in flight may finish after SIGTERM (CAIRN_SHUTDOWN_GRACE)")
	if v := os.Getenv("CAIRN_GROUPS"); v != "" {
		for _, g := range strings.Split(v, ",") {
			if err := addGroup(o.groups, g); err != nil {
				return nil, nil, fmt.Errorf("CAIRN_GROUPS: %w", err)
			}
		}
	}
	if err := addLifecycleFlags(fs, &o.lifecycle); err != nil {
		return nil, nil, err
	}
	addSecureFlags(fs, &o.secure)
	fs.IntVar(&o.maxConns, "max-connections", 0, "S3 connections open at once; beyond it, idle ones give way or new ones are closed; 0: 8192, or less to fit the descriptor limit (CAIRN_MAX_CONNECTIONS)")
	fs.IntVar(&o.maxConnsPerHost, "max-connections-per-host", 0, "S3 connections open at once from one client address; 0: 1024, or half the total if less (CAIRN_MAX_CONNECTIONS_PER_HOST)")
	o.clean.minQuota = gateway.DefaultMinQuota
	fs.Var(sizeFlag{&o.clean.minQuota}, "min-quota", "smallest quota a storage group may be given, such as 1GiB for a small system or a test (default 100GiB) (CAIRN_MIN_QUOTA)")
	fs.DurationVar(&o.clean.interval, "clean-interval", 24*time.Hour, "how often the cleaner runs on each storage group on its own; 0: only when a group nears its quota or its disk fills, or on demand (CAIRN_CLEAN_INTERVAL)")
	fs.DurationVar(&o.clean.check, "clean-check", time.Minute, "how often each group's use of its quota and disk is looked at (CAIRN_CLEAN_CHECK)")
	fs.DurationVar(&o.clean.gap, "clean-gap", 5*time.Minute, "least time between two cleaner runs on a group nearing its quota or its disk (CAIRN_CLEAN_GAP)")
	fs.DurationVar(&o.clean.recompressIdle, "recompress-idle", time.Minute, "how long a group with compression zstd-later (the default) goes without writes before the cleaner makes its new chunks zstd; that run stops when writes begin (CAIRN_RECOMPRESS_IDLE)")
	fs.StringVar(&o.metrics.listen, "metrics-listen", "", "address to serve Prometheus metrics on, at /metrics, without authentication; off when empty (CAIRN_METRICS_LISTEN)")
	fs.BoolVar(&o.metrics.pprof, "pprof", false, "also serve Go's profiles (CPU, heap, block, mutex, trace) at /debug/pprof/ on the --metrics-listen address (CAIRN_PPROF)")
	fs.StringVar(&o.metrics.tokenFile, "metrics-token-file", "", "file holding a bearer token that GET /_cairn/metrics on the S3 port accepts besides root's SigV4 (CAIRN_METRICS_TOKEN_FILE)")
	fs.StringVar(&o.eventWebhook, "event-webhook", "", "URL to POST every event to as JSON, retried until taken (CAIRN_EVENT_WEBHOOK)")
	fs.StringVar(&o.sseMasterKey, "sse-master-key", "", "the master key file of server-side encryption (SSE-S3, SSE-KMS), made when absent; default DATA/sse-master.key: keep it off the data disks to protect against their theft, and back it up (CAIRN_SSE_MASTER_KEY)")
	fs.Float64Var(&o.diskFullPercent, "disk-full-percent", gateway.DefaultConfig("").DiskFullPercent, "a storage group's filesystem this full (percent used) writes a disk_nearly_full event (CAIRN_DISK_FULL_PERCENT)")
	fs.Func("group", "storage group NAME=DIR; repeat for more (CAIRN_GROUPS=name=dir,name=dir)", func(s string) error {
		return addGroup(o.groups, s)
	})
	// The flags not read from their variable above (--secure-keepalive as
	// CAIRN_SECURE_KEEPALIVE, and the rest).
	if err := applyEnv(fs, "CAIRN_"); err != nil {
		return nil, nil, err
	}
	return fs, o, nil
}

func addLifecycleFlags(fs *flag.FlagSet, o *lifecycleOptions) error {
	def := gateway.DefaultConfig("")
	for _, d := range []struct {
		p         *time.Duration
		name, env string
		def       time.Duration
		usage     string
	}{
		{&o.day, "lifecycle-day", "CAIRN_LIFECYCLE_DAY", def.LifecycleDay, "how long a lifecycle day lasts: rule days, idle times and copy-then-move delays scale with it (CAIRN_LIFECYCLE_DAY)"},
		{&o.interval, "lifecycle-interval", "CAIRN_LIFECYCLE_INTERVAL", def.LifecycleInterval, "how often the lifecycle scanner runs; 0 only on demand (CAIRN_LIFECYCLE_INTERVAL)"},
		{&o.catalog, "tier-catalog-interval", "CAIRN_TIER_CATALOG_INTERVAL", def.TierCatalogInterval, "how often deletions of tiered versions reach the tiers' catalogs (CAIRN_TIER_CATALOG_INTERVAL)"},
	} {
		v := d.def
		if s := os.Getenv(d.env); s != "" {
			var err error
			if v, err = time.ParseDuration(s); err != nil {
				return fmt.Errorf("%s: %w", d.env, err)
			}
		}
		fs.DurationVar(d.p, d.name, v, d.usage)
	}
	rate := def.LifecycleRate
	if s := os.Getenv("CAIRN_LIFECYCLE_RATE"); s != "" {
		var err error
		if rate, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("CAIRN_LIFECYCLE_RATE: %w", err)
		}
	}
	fs.IntVar(&o.rate, "lifecycle-rate", rate, "versions and uploads the lifecycle scanner reads per second; 0 unbounded (CAIRN_LIFECYCLE_RATE)")
	return nil
}

func addGroup(m map[string]string, s string) error {
	name, dir, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || name == "" || dir == "" {
		return fmt.Errorf("storage group %q: want NAME=DIR", s)
	}
	m[name] = dir
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// serve runs the gateway until ctx ends (SIGINT, SIGTERM), then lets
// requests in flight finish for the grace period and closes the stores.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o, err := serveFlags(stderr)
	if err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	level, err := parseLevel(o.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	metricsToken, err := readMetricsToken(o.metrics.tokenFile, log)
	if err != nil {
		return err
	}
	if o.metrics.pprof {
		if o.metrics.listen == "" {
			return errors.New("--pprof serves on the --metrics-listen address: give that too")
		}
		// Sampled, so that a server left with --pprof on pays little:
		// one blocking event in about 10 µs of blocked time, one
		// contended lock in 100.
		runtime.SetBlockProfileRate(10_000)
		runtime.SetMutexProfileFraction(100)
	}

	gcfg := gateway.DefaultConfig(o.data)
	gcfg.Groups = o.groups
	gcfg.Region = o.region
	gcfg.Logger = log
	gcfg.LifecycleDay, gcfg.LifecycleInterval, gcfg.LifecycleRate = o.lifecycle.day, o.lifecycle.interval, o.lifecycle.rate
	gcfg.TierCatalogInterval = o.lifecycle.catalog
	gcfg.MinQuota = o.clean.minQuota
	gcfg.CleanInterval, gcfg.CleanCheck, gcfg.CleanGap = o.clean.interval, o.clean.check, o.clean.gap
	if o.clean.interval < 0 || o.clean.check <= 0 || o.clean.gap <= 0 {
		return fmt.Errorf("--clean-interval %v, --clean-check %v, --clean-gap %v: want positive durations (the interval may be 0: no schedule)", o.clean.interval, o.clean.check, o.clean.gap)
	}
	if o.clean.recompressIdle <= 0 {
		return fmt.Errorf("--recompress-idle %v: want a positive duration", o.clean.recompressIdle)
	}
	gcfg.RecompressIdle = o.clean.recompressIdle
	gcfg.EventWebhook, gcfg.DiskFullPercent = o.eventWebhook, o.diskFullPercent
	gcfg.SSEMasterKeyFile = o.sseMasterKey
	if o.diskFullPercent <= 0 || o.diskFullPercent > 100 {
		return fmt.Errorf("--disk-full-percent %v: want a percentage above 0, at most 100", o.diskFullPercent)
	}
	if o.lifecycle.catalog <= 0 {
		return fmt.Errorf("--tier-catalog-interval %v: want a positive duration (1m in production)", o.lifecycle.catalog)
	}
	if o.lifecycle.day <= 0 {
		return fmt.Errorf("--lifecycle-day %v: want a positive duration (24h in production)", o.lifecycle.day)
	}
	// The gateway takes the data directory's lock first: a second cairn
	// stops here, before it touches anything.
	gw, err := gateway.New(ctx, gcfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := gw.Close(); err != nil {
			log.Error("close gateway", "err", err)
		}
	}()

	creds, created, err := rootCredentials(o.data)
	if err != nil {
		return err
	}
	rawLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	// Go raises the descriptor limit to its hard limit at start; these
	// bounds keep a flood from one client within it (connlimit).
	lim := connLimits(o.maxConns, o.maxConnsPerHost)
	ln := connlimit.Wrap(rawLn, lim)
	defer ln.Close()
	addr := ln.Addr().String()
	sctx, stopSecure := context.WithCancel(ctx)
	defer stopSecure()
	secure, err := startSecure(sctx, o.secure, o.data, addr, stdout, log)
	if err != nil {
		return err
	}
	gw.SetRoot(creds.AccessKey, creds.SecretKey)
	admin := gw.AdminHandler(creds.AccessKey)
	if secure != nil {
		admin = adminWithSecure(admin, secure, creds.AccessKey)
		defer func() {
			stopSecure()
			if err := <-secure.done; err != nil {
				log.Error("secure connect", "err", err)
			}
			os.Remove(filepath.Join(o.data, secureAddrFile))
		}()
	}
	metrics, metricsHandler, err := newMetrics(gw, secure, log)
	if err != nil {
		return err
	}
	admin = gateway.AdminWithMetrics(admin, metricsHandler, creds.AccessKey)
	if o.metrics.listen != "" {
		stopMetrics, err := serveMetrics(ctx, o.metrics.listen, o.data, metricsHandler, o.metrics.pprof, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	var groupRegions []string
	for name := range o.groups {
		groupRegions = append(groupRegions, name)
	}
	h, err := s3api.NewHandler(s3api.Config{
		Region:       o.region,
		GroupRegions: groupRegions,
		Domain:       o.domain,
		// The root key and the users' keys (cairn admin user).
		Secret:      gw.Secret,
		Admin:       admin,
		BearerPath:  gateway.AdminMetricsPath,
		BearerToken: metricsToken,
		Observe:     metrics.Observe,
		Logger:      log,
	}, gw)
	if err != nil {
		return err
	}

	// The credentials first: serve.addr says the server is ready, and a
	// script that waits for it reads the snippet next.
	if created {
		printCredentials(stdout, creds, o.region, addr, filepath.Join(o.data, credentialsFile))
	}
	addrPath := filepath.Join(o.data, serveAddrFile)
	if err := writeFileAtomic(addrPath, []byte(addr+"\n"), 0o644); err != nil {
		ln.Close()
		return err
	}
	defer os.Remove(addrPath)

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// What the limits need to know: a connection serving a request
		// is not one to give way to a new one.
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateActive:
				ln.Active(c)
			case http.StateIdle:
				ln.Idle(c)
			}
		},
	}
	srv.RegisterOnShutdown(gw.StopLongPolls) // cairn admin events --follow's
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("listening", "addr", addr, "data", o.data, "region", o.region)

	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; requests in flight may finish", "grace", o.grace)
	sctx, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		log.Warn("grace period over; connections closed", "err", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// printCredentials shows newly generated root credentials, once.
func printCredentials(w io.Writer, c credentials, region, addr, path string) {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	endpoint := "http://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, `Cairn generated root credentials and saved them in %s (mode 0600).
They are shown only now. To use them:

  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s
  aws --endpoint-url %s s3 ls

`, path, c.AccessKey, c.SecretKey, region, endpoint)
}

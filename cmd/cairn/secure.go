package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/internal/connlimit"
	"github.com/cairn-backup/cairn/s3api"
	"github.com/cairn-backup/cairn/tlsproxy"
)

// Secure connect (tlsproxy) in the binary: `cairn serve` runs the server
// side beside the gateway, `cairn connect` the client side near the backup
// tool, and `cairn admin secure-connect` issues client credentials.

const (
	secureDir      = "secure-connect" // under the data directory: CA, server cert, issued clients
	secureAddrFile = "secure.addr"    // the address secure connect listens on
	// AdminSecurePath serves the secure connect server's counters.
	adminSecurePath = "/_cairn/admin/secure-connect"
)

// secureOptions are serve's secure connect flags.
type secureOptions struct {
	listen, cert, key string
	keepalive, outage time.Duration
}

func addSecureFlags(fs *flag.FlagSet, o *secureOptions) {
	fs.StringVar(&o.listen, "secure-listen", env("CAIRN_SECURE_LISTEN", ""), `address for secure connect (TLS tunnels from "cairn connect"); default: the host --listen names, port 9443; "off" disables it (CAIRN_SECURE_LISTEN)`)
	fs.StringVar(&o.cert, "tls-cert", env("CAIRN_TLS_CERT", ""), "your own secure connect server certificate (PEM); default: one made with Cairn's own CA (CAIRN_TLS_CERT)")
	fs.StringVar(&o.key, "tls-key", env("CAIRN_TLS_KEY", ""), "the key of --tls-cert (CAIRN_TLS_KEY)")
	fs.DurationVar(&o.keepalive, "secure-keepalive", tlsproxy.DefaultKeepalive, "keepalive interval; a link silent for 3 intervals is taken as dead (CAIRN_SECURE_KEEPALIVE)")
	fs.DurationVar(&o.outage, "secure-outage-limit", tlsproxy.DefaultOutageLimit, "how long tunnelled connections are kept open through a WAN outage (CAIRN_SECURE_OUTAGE_LIMIT)")
}

// secureServer is secure connect running beside the gateway.
type secureServer struct {
	srv  *tlsproxy.Server
	addr string
	done chan error
}

// startSecure starts secure connect, forwarding only to the gateway's S3
// address; it returns nil when --secure-listen is off.
func startSecure(ctx context.Context, o secureOptions, data, s3addr string, stdout io.Writer, log *slog.Logger) (*secureServer, error) {
	if o.listen == "off" {
		return nil, nil
	}
	if (o.cert == "") != (o.key == "") {
		return nil, errors.New("secure connect: give both --tls-cert and --tls-key, or neither")
	}
	if o.listen == "" {
		o.listen = secureListenFor(s3addr)
	}
	rawLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("secure connect: %w (--secure-listen off disables it)", err)
	}
	// A tunnel holds at most 16 links; a source beyond its share is
	// refused (handshakes are rate-limited besides, in tlsproxy).
	ln := connlimit.Wrap(rawLn, connlimit.Limits{Total: 4096, PerHost: 256})
	srv, err := tlsproxy.NewServer(tlsproxy.ServerConfig{
		Listener:       ln,
		Dir:            filepath.Join(data, secureDir),
		CertFile:       o.cert,
		KeyFile:        o.key,
		AllowedTargets: []string{loopbackAddr(s3addr)},
		Keepalive:      o.keepalive,
		OutageLimit:    o.outage,
		Logger:         log.With("part", "secure-connect"),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &secureServer{srv: srv, addr: ln.Addr().String(), done: make(chan error, 1)}
	if err := writeFileAtomic(filepath.Join(data, secureAddrFile), []byte(s.addr+"\n"), 0o644); err != nil {
		ln.Close()
		return nil, err
	}
	go func() { s.done <- srv.Run(ctx) }()
	fp := srv.CAFingerprint()
	if o.cert != "" {
		fp = srv.CertFingerprint()
	}
	fmt.Fprintf(stdout, "Secure connect on %s; server fingerprint %s\n  issue a client credential: cairn admin secure-connect issue NAME --data %s\n", s.addr, fp, data)
	return s, nil
}

// secureListenFor is secure connect's default address: the S3 address's
// host (loopback when S3 listens on loopback, so that secure connect is not
// open to the network when S3 is not), port 9443.
func secureListenFor(s3addr string) string {
	host, _, err := net.SplitHostPort(s3addr)
	if err != nil {
		return tlsproxy.DefaultListen
	}
	return net.JoinHostPort(host, "9443")
}

// loopbackAddr turns a listen address with no host (":9000", "0.0.0.0:9000")
// into one to dial on this machine.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// adminWithSecure serves the secure connect server's counters at
// adminSecurePath, to the root key only, and everything else with next.
func adminWithSecure(next http.Handler, s *secureServer, root string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != adminSecurePath {
			next.ServeHTTP(w, r)
			return
		}
		if key, _ := s3api.AccessKey(r.Context()); key != root {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]string{"error": "the admin API is for the root access key only", "code": "AccessDenied"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.srv.Stats())
	})
}

const connectUsage = `Usage:
  cairn connect --server HOST:9443 --credential FILE [--ca FILE | --fingerprint SHA256:...] [flags]

Listens locally (--listen, default 127.0.0.1:9100: not 9000, so that it can run
beside a cairn serve on one machine) for the backup tool's plain S3
connections and carries them to a cairn server over secure connect: TLS,
resumed across WAN outages without losing a byte. Every flag can also be set
as CAIRN_CONNECT_<FLAG>: --outage-limit as CAIRN_CONNECT_OUTAGE_LIMIT.
`

// connectFlags makes cairn connect's flag set; every flag also reads
// CAIRN_CONNECT_<FLAG> (applyEnv).
func connectFlags(stderr io.Writer) (*flag.FlagSet, *tlsproxy.ClientConfig, *string, error) {
	cfg := tlsproxy.DefaultClientConfig()
	fs := flag.NewFlagSet("cairn connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, connectUsage)
	fs.StringVar(&cfg.Server, "server", "", "the server's secure connect address, HOST:9443")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "local address for the backup tool; port 0 picks one")
	fs.StringVar(&cfg.Credential, "credential", "", "client credential file from 'cairn admin secure-connect issue'")
	fs.StringVar(&cfg.CAFile, "ca", "", "CA certificate (PEM) to verify the server by")
	fs.StringVar(&cfg.Fingerprint, "fingerprint", "", "pin the server's certificate: SHA256:... as 'cairn serve' prints it")
	fs.StringVar(&cfg.Target, "target", "", "host:port the server should forward to (default: its own S3 port)")
	fs.IntVar(&cfg.Connections, "connections", cfg.Connections, "TLS connections to spread each session over (multiconnect)")
	fs.DurationVar(&cfg.OutageLimit, "outage-limit", cfg.OutageLimit, "how long local connections are kept open through an outage")
	fs.DurationVar(&cfg.Keepalive, "keepalive", cfg.Keepalive, "keepalive interval; a link silent for 3 intervals is taken as dead")
	logLevel := fs.String("log-level", env("CAIRN_LOG_LEVEL", "info"), "debug, info, warn or error (also CAIRN_LOG_LEVEL)")
	if err := applyEnv(fs, "CAIRN_CONNECT_"); err != nil {
		return nil, nil, nil, err
	}
	return fs, &cfg, logLevel, nil
}

// connect runs the client side of secure connect until ctx ends.
func connect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgp, logLevel, err := connectFlags(stderr)
	if err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := *cfgp
	if cfg.Server == "" || cfg.Credential == "" {
		fmt.Fprintln(stderr, "cairn connect: --server and --credential are required")
		return errUsage
	}
	level, err := parseLevel(*logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	cfg.Listener = ln
	cl, err := tlsproxy.NewClient(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Logger.Info("listening", "addr", ln.Addr().String(), "server", cfg.Server, "connections", cfg.Connections)
	fmt.Fprintf(stdout, "Point the backup tool at http://%s\n", ln.Addr())
	return cl.Run(ctx)
}

const secureConnectUsage = `Usage:
  cairn admin secure-connect issue NAME [--data DIR] [--out FILE] [--force]
  cairn admin secure-connect revoke NAME [--data DIR]

issue writes a client credential (certificate and key, mode 0600) that
'cairn connect --credential FILE' presents; revoke withdraws it at once.
`

// adminSecureConnect issues and revokes secure connect client credentials,
// working on the data directory (a running server sees the change at once).
func adminSecureConnect(args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || (args[0] != "issue" && args[0] != "revoke") {
		fmt.Fprint(stderr, secureConnectUsage)
		return errUsage
	}
	verb, name := args[0], args[1]
	fs := flag.NewFlagSet("cairn admin secure-connect "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env("CAIRN_DATA", "./cairn-data"), "the server's data directory (CAIRN_DATA)")
	out := fs.String("out", name+".pem", "where to write the credential")
	force := fs.Bool("force", false, "issue: overwrite the --out file if it exists")
	if err := parseFlags(fs, args[2:]); err != nil {
		return err
	}
	if verb == "issue" && !*force {
		// Checked before anything is issued: a refused issue changes nothing.
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("%s exists: choose another --out, or add --force to overwrite it", *out)
		}
	}
	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Only the server's certificate authority is used here; the target is
	// required by the config but nothing is forwarded.
	srv, err := tlsproxy.NewServer(tlsproxy.ServerConfig{Dir: filepath.Join(*data, secureDir), AllowedTargets: []string{"127.0.0.1:9000"}})
	if err != nil {
		return err
	}
	if verb == "revoke" {
		if err := srv.Revoke(name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", name)
		return nil
	}
	cred, err := srv.Issue(name)
	if err != nil {
		return err
	}
	if err := cred.WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "issued %s (valid until %s) to %s\n  cairn connect --server HOST:PORT --credential %s --fingerprint %s\n",
		name, cred.NotAfter.Format(time.DateOnly), *out, *out, cred.CAFingerprint)
	return nil
}

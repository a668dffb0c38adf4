package tlsproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

const (
	// DefaultListen is the secure connect port.
	DefaultListen = ":9443"
	// DefaultOutageLimit is how long a session survives without any link.
	DefaultOutageLimit = 10 * time.Minute
	// DefaultCacheBytes bounds the resend cache of a session, per direction.
	DefaultCacheBytes = 16 << 20
	// DefaultKeepalive is the ping interval; three silent intervals kill a link.
	DefaultKeepalive = 5 * time.Second
	// MaxConnections bounds ClientConfig.Connections.
	MaxConnections = 16

	minCacheBytes    = 4 * maxPayload
	handshakeTimeout = 10 * time.Second
	dialTimeout      = 10 * time.Second
)

// ServerConfig configures the secure connect server (`cairn serve`).
type ServerConfig struct {
	// Listen is the TCP address to accept clients on. Ignored if Listener
	// is set.
	Listen string
	// Listener, if set, is used instead of listening on Listen (tests,
	// socket activation). Run closes it.
	Listener net.Listener
	// Dir holds the CA, the server certificate and key, and the record of
	// issued client credentials (clients/NAME.pem). Keys are 0600.
	Dir string
	// CertFile and KeyFile are the user's own server certificate (chain)
	// and key, used instead of the generated one. Client credentials are
	// still issued by the CA in Dir.
	CertFile, KeyFile string
	// Hosts are extra DNS names or IPs for the generated server
	// certificate (besides localhost, 127.0.0.1, ::1 and the hostname).
	// Only used when the certificate is first created.
	Hosts []string
	// AllowedTargets are the host:port addresses the server forwards to;
	// the first is the default. Typically just the gateway's S3 address.
	// An empty host or "localhost" means 127.0.0.1.
	AllowedTargets []string
	// OutageLimit: once every link of a session has been down this long,
	// its application connections are reset. Default 10m.
	OutageLimit time.Duration
	// CacheBytes bounds each session's resend cache per direction.
	// Default 16 MiB.
	CacheBytes int
	// Keepalive is the ping interval on idle links; a link silent for
	// three intervals is dead. Default 5s.
	Keepalive time.Duration
	// HandshakeRate and HandshakeBurst bound the TLS handshakes one source
	// address may start: HandshakeRate a second, HandshakeBurst at once
	// (defaults 10 and 40: a client reconnecting 16 links passes). The
	// excess is closed before it costs a signature. A negative rate
	// disables the bound.
	HandshakeRate, HandshakeBurst int
	Logger                        *slog.Logger
}

// DefaultServerConfig returns a ServerConfig with every default filled in;
// Dir and AllowedTargets are still the caller's to set.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Listen:      DefaultListen,
		OutageLimit: DefaultOutageLimit,
		CacheBytes:  DefaultCacheBytes,
		Keepalive:   DefaultKeepalive,

		HandshakeRate:  10,
		HandshakeBurst: 40,
	}
}

func (c ServerConfig) withDefaults() ServerConfig {
	d := DefaultServerConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.OutageLimit == 0 {
		c.OutageLimit = d.OutageLimit
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = d.CacheBytes
	}
	if c.Keepalive == 0 {
		c.Keepalive = d.Keepalive
	}
	if c.HandshakeRate == 0 {
		c.HandshakeRate = d.HandshakeRate
	}
	if c.HandshakeBurst == 0 {
		c.HandshakeBurst = max(d.HandshakeBurst, c.HandshakeRate)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate names the first bad field.
func (c ServerConfig) Validate() error {
	switch {
	case c.Listener == nil && c.Listen == "":
		return errors.New("tlsproxy: ServerConfig.Listen is empty")
	case c.Dir == "":
		return errors.New("tlsproxy: ServerConfig.Dir is empty")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("tlsproxy: ServerConfig.CertFile and KeyFile go together")
	case len(c.AllowedTargets) == 0:
		return errors.New("tlsproxy: ServerConfig.AllowedTargets is empty")
	case c.OutageLimit <= 0:
		return fmt.Errorf("tlsproxy: ServerConfig.OutageLimit %v is not positive", c.OutageLimit)
	case c.CacheBytes < minCacheBytes || c.CacheBytes > 1<<30:
		return fmt.Errorf("tlsproxy: ServerConfig.CacheBytes %d is outside [%d, 1GiB]", c.CacheBytes, minCacheBytes)
	case c.Keepalive <= 0:
		return fmt.Errorf("tlsproxy: ServerConfig.Keepalive %v is not positive", c.Keepalive)
	}
	for _, t := range c.AllowedTargets {
		if _, err := canonicalTarget(t); err != nil {
			return fmt.Errorf("tlsproxy: ServerConfig.AllowedTargets: %w", err)
		}
	}
	return nil
}

// ClientConfig configures the secure connect client (`cairn connect`).
type ClientConfig struct {
	// Server is the secure connect server, host:port.
	Server string
	// ServerName overrides the name the server certificate must carry
	// when verifying with CAFile (default: the host of Server).
	ServerName string
	// Listen is where backup tools connect with plain TCP. Default
	// DefaultClientListen. Ignored if Listener is set.
	Listen string
	// Listener, if set, is used instead of listening on Listen. Run
	// closes it.
	Listener net.Listener
	// Target is the host:port the client asks the server to reach;
	// empty means the server's default (its first allowed target).
	Target string
	// CAFile verifies the server certificate (chain and hostname).
	CAFile string
	// Fingerprint pins the server certificate, or a CA in its chain, by
	// SHA-256: "SHA256:<hex>", as Server.CAFingerprint prints it.
	// Without CAFile or Fingerprint, the CA bundled in the credential is
	// trusted (chain only: that CA signs just this one server).
	Fingerprint string
	// Credential is the file Server.Issue produced (PEM bundle).
	Credential string
	// Connections is the number of TLS connections one session is spread
	// over (multiconnect). Default 1, at most MaxConnections.
	Connections int
	// OutageLimit: once every link has been down this long, the local
	// application connections are reset. Default 10m.
	OutageLimit time.Duration
	// CacheBytes bounds the session's resend cache. Default 16 MiB.
	CacheBytes int
	// Keepalive is the ping interval. Default 5s.
	Keepalive time.Duration
	Logger    *slog.Logger
}

// DefaultClientConfig returns a ClientConfig with every default filled in;
// Server, Credential and the trust anchor are still the caller's to set.
// DefaultClientListen is where a client listens for the backup tool by
// default: not 9000, the S3 port of a cairn serve, so that both run on one
// machine as they come.
const DefaultClientListen = "127.0.0.1:9100"

func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Listen:      DefaultClientListen,
		Connections: 1,
		OutageLimit: DefaultOutageLimit,
		CacheBytes:  DefaultCacheBytes,
		Keepalive:   DefaultKeepalive,
	}
}

func (c ClientConfig) withDefaults() ClientConfig {
	d := DefaultClientConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.Connections == 0 {
		c.Connections = d.Connections
	}
	if c.OutageLimit == 0 {
		c.OutageLimit = d.OutageLimit
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = d.CacheBytes
	}
	if c.Keepalive == 0 {
		c.Keepalive = d.Keepalive
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate names the first bad field.
func (c ClientConfig) Validate() error {
	switch {
	case c.Server == "":
		return errors.New("tlsproxy: ClientConfig.Server is empty")
	case c.Listener == nil && c.Listen == "":
		return errors.New("tlsproxy: ClientConfig.Listen is empty")
	case c.Credential == "":
		return errors.New("tlsproxy: ClientConfig.Credential is empty")
	case c.Connections < 1 || c.Connections > MaxConnections:
		return fmt.Errorf("tlsproxy: ClientConfig.Connections %d is outside [1, %d]", c.Connections, MaxConnections)
	case c.OutageLimit <= 0:
		return fmt.Errorf("tlsproxy: ClientConfig.OutageLimit %v is not positive", c.OutageLimit)
	case c.CacheBytes < minCacheBytes || c.CacheBytes > 1<<30:
		return fmt.Errorf("tlsproxy: ClientConfig.CacheBytes %d is outside [%d, 1GiB]", c.CacheBytes, minCacheBytes)
	case c.Keepalive <= 0:
		return fmt.Errorf("tlsproxy: ClientConfig.Keepalive %v is not positive", c.Keepalive)
	}
	if _, _, err := net.SplitHostPort(c.Server); err != nil {
		return fmt.Errorf("tlsproxy: ClientConfig.Server: %w", err)
	}
	if c.Target != "" {
		if _, err := canonicalTarget(c.Target); err != nil {
			return fmt.Errorf("tlsproxy: ClientConfig.Target: %w", err)
		}
		if len(c.Target) > 255 {
			return errors.New("tlsproxy: ClientConfig.Target is longer than 255 bytes")
		}
	}
	if c.Fingerprint != "" {
		if _, err := parseFingerprint(c.Fingerprint); err != nil {
			return fmt.Errorf("tlsproxy: ClientConfig.Fingerprint: %w", err)
		}
	}
	return nil
}

// canonicalTarget normalises host:port for comparison: lower-case host,
// and an empty host or "localhost" becomes 127.0.0.1.
func canonicalTarget(t string) (string, error) {
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		return "", fmt.Errorf("target %q: %w", t, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("target %q: no port", t)
	}
	host = strings.ToLower(host)
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// defaultHosts are the names the generated server certificate carries.
func defaultHosts(extra []string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	return append(hosts, extra...)
}

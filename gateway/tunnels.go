package gateway

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/cairn-backup/cairn/tlsproxy"
)

// A remote reached through secure connect: the gateway runs the client
// side of a tunnel to the remote's secure connect port itself, listening on
// a loopback port of its own, and its peer speaks plain HTTP to that port:
// the tunnel carries it over TLS and resends what a WAN outage cut, as it
// does for backup tools under cairn connect.

// RemoteSecure is how to reach a remote through secure connect.
type RemoteSecure struct {
	// Server is the remote's secure connect address, HOST:9443.
	Server string `json:"server"`
	// Credential is a file (on this server) from cairn admin
	// secure-connect issue at the remote's site.
	Credential string `json:"credential"`
	// Fingerprint pins the remote's certificate (SHA256:...), or CAFile
	// verifies it; with neither, the CA bundled in the credential does.
	Fingerprint string `json:"fingerprint,omitempty"`
	CAFile      string `json:"ca_file,omitempty"`
	// Connections spreads the tunnel over several TCP connections.
	Connections int `json:"connections,omitempty"`
}

// tunnel is one remote's running secure connect client.
type tunnel struct {
	addr   string // where the peer connects: 127.0.0.1:port
	cancel context.CancelFunc
	done   chan struct{}
}

// tunnels are the running tunnels, by remote.
type tunnels struct {
	mu   sync.Mutex
	byID map[string]*tunnel
}

// startTunnel starts remote c's tunnel (replacing any) and answers the
// local address its peer speaks to.
func (g *Gateway) startTunnel(c RemoteConfig) (string, error) {
	g.stopTunnel(c.Name)
	cfg := tlsproxy.DefaultClientConfig()
	cfg.Server, cfg.Credential, cfg.Fingerprint, cfg.CAFile = c.Secure.Server, c.Secure.Credential, c.Secure.Fingerprint, c.Secure.CAFile
	if c.Secure.Connections > 0 {
		cfg.Connections = c.Secure.Connections
	}
	cfg.Logger = g.log.With("remote", c.Name, "part", "secure connect")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	cfg.Listener = ln
	cl, err := tlsproxy.NewClient(cfg)
	if err != nil {
		ln.Close()
		return "", badRequest("remote %s: secure connect: %v", c.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &tunnel{addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		if err := cl.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.log.Error("secure connect to a remote ended", "remote", c.Name, "err", err)
		}
	}()
	g.tunnels.mu.Lock()
	if g.tunnels.byID == nil {
		g.tunnels.byID = map[string]*tunnel{}
	}
	g.tunnels.byID[c.Name] = t
	g.tunnels.mu.Unlock()
	return t.addr, nil
}

// stopTunnel stops a remote's tunnel, if it has one.
func (g *Gateway) stopTunnel(name string) {
	g.tunnels.mu.Lock()
	t := g.tunnels.byID[name]
	delete(g.tunnels.byID, name)
	g.tunnels.mu.Unlock()
	if t != nil {
		t.cancel()
		<-t.done
	}
}

// tunnelAddr is where a remote's tunnel listens, "" without one.
func (g *Gateway) tunnelAddr(name string) string {
	g.tunnels.mu.Lock()
	defer g.tunnels.mu.Unlock()
	if t := g.tunnels.byID[name]; t != nil {
		return t.addr
	}
	return ""
}

// startTunnels starts the tunnel of every remote reached through secure
// connect; one that cannot start (its credential file gone) is logged, and
// replication to that remote fails, saying so, until it is added again.
func (g *Gateway) startTunnels() {
	g.remotes.mu.Lock()
	var list []RemoteConfig
	for _, c := range g.remotes.list {
		if c.Secure != nil {
			list = append(list, c)
		}
	}
	g.remotes.mu.Unlock()
	for _, c := range list {
		if _, err := g.startTunnel(c); err != nil {
			g.log.Error("secure connect to a remote not started", "remote", c.Name, "err", err)
		}
	}
}

// stopTunnels stops every tunnel.
func (g *Gateway) stopTunnels() {
	g.tunnels.mu.Lock()
	var names []string
	for n := range g.tunnels.byID {
		names = append(names, n)
	}
	g.tunnels.mu.Unlock()
	for _, n := range names {
		g.stopTunnel(n)
	}
}

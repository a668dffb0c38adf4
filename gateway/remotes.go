package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/replicator"
)

// Remotes are the other Cairn gateways this one replicates to, kept in
// DATA/remotes.json (mode 0600: it holds their keys). A remote is probed
// when added: reachable, its keys accepted, and a replication protocol both
// speak.

const remotesFile = "remotes.json"

// RemoteConfig is a peer gateway and the keys to sign for it with (its root
// key: replication writes into replica buckets, which nobody else may).
type RemoteConfig struct {
	Name      string `json:"name"`
	Endpoint  string `json:"endpoint"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key,omitempty"`
	Region    string `json:"region,omitempty"`
	// Secure, when set, reaches the remote through secure connect
	// (tunnels.go); Endpoint may then be empty.
	Secure *RemoteSecure `json:"secure_connect,omitempty"`
}

// RemoteStatus is a remote as cairn admin remote ls shows it: no secret.
type RemoteStatus struct {
	Name      string   `json:"name"`
	Endpoint  string   `json:"endpoint"`
	AccessKey string   `json:"access_key"`
	Region    string   `json:"region"`
	Buckets   []string `json:"buckets"` // the source buckets replicating to it
}

// remotes is the registry.
type remotes struct {
	path string
	mu   sync.Mutex
	list map[string]RemoteConfig
}

func loadRemotes(dataDir string) (*remotes, error) {
	r := &remotes{path: filepath.Join(dataDir, remotesFile), list: map[string]RemoteConfig{}}
	b, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	var list []RemoteConfig
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", r.path, err)
	}
	for _, c := range list {
		r.list[c.Name] = c
	}
	return r, nil
}

// save writes the registry; the caller holds mu.
func (r *remotes) save() error {
	list := make([]RemoteConfig, 0, len(r.list))
	for _, name := range slices.Sorted(maps.Keys(r.list)) {
		list = append(list, r.list[name])
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(r.path, b, 0o600)
}

func (r *remotes) get(name string) (RemoteConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.list[name]
	return c, ok
}

func (c RemoteConfig) validate() error {
	if err := validGroupName(c.Name); err != nil {
		return badRequest("remote: %v", err)
	}
	if c.Secure != nil {
		if c.Secure.Server == "" || c.Secure.Credential == "" {
			return badRequest("remote %s: secure connect needs the remote's secure connect address and a credential file it issued", c.Name)
		}
	} else if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badRequest("remote %s: endpoint %q: want http://HOST:PORT or https://HOST:PORT", c.Name, c.Endpoint)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return badRequest("remote %s: give the remote's access key and secret key", c.Name)
	}
	return nil
}

// peer is a replication client for remote c; bandwidth bounds its bytes
// per second (0: unbounded).
func (g *Gateway) peer(c RemoteConfig, bandwidth int64) *replicator.Peer {
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	endpoint := c.Endpoint
	if c.Secure != nil {
		endpoint = "http://" + g.tunnelAddr(c.Name)
	}
	return replicator.NewPeer(endpoint, c.AccessKey, c.SecretKey, region, g.replHTTP, replicator.PeerOptions{
		BytesPerSecond: bandwidth,
		OnIncompatible: func(local, remote string) { g.incompatiblePeer(c.Name, local, remote) },
	})
}

// incompatiblePeer reports a peer whose protocol this gateway does not speak.
func (g *Gateway) incompatiblePeer(peer, local, remote string) {
	g.replIncompatible.Add(1)
	g.event(events.ReplicationIncompatible, peer, fmt.Sprintf("replication with %s refused: this gateway speaks replication %s, the peer %s (protocol/record format); upgrade the older side", peer, local, remote))
}

// AddRemote probes a peer and, if it answers as a Cairn that speaks our
// replication protocol and takes the keys, registers it.
func (g *Gateway) AddRemote(ctx context.Context, c RemoteConfig) (replicator.Hello, error) {
	if err := c.validate(); err != nil {
		return replicator.Hello{}, err
	}
	if _, ok := g.remotes.get(c.Name); ok {
		return replicator.Hello{}, conflict("RemoteExists", "remote %s exists (cairn admin remote rm %s first)", c.Name, c.Name)
	}
	if c.Secure != nil {
		if _, err := g.startTunnel(c); err != nil {
			return replicator.Hello{}, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	hello, err := g.peer(c, 0).Hello(pctx)
	if err != nil {
		if c.Secure != nil {
			g.stopTunnel(c.Name)
		}
		return replicator.Hello{}, probeError(c, err)
	}
	g.remotes.mu.Lock()
	defer g.remotes.mu.Unlock()
	g.remotes.list[c.Name] = c
	if err := g.remotes.save(); err != nil {
		delete(g.remotes.list, c.Name)
		return replicator.Hello{}, err
	}
	g.log.Info("remote added", "remote", c.Name, "endpoint", c.Endpoint, "server", hello.Server)
	return hello, nil
}

// probeError says what a failed probe of a remote means for the admin.
func probeError(c RemoteConfig, err error) error {
	var pe *replicator.PeerError
	switch {
	case errors.Is(err, replicator.ErrIncompatible):
		return conflict("IncompatiblePeer", "remote %s at %s: %v", c.Name, c.Endpoint, err)
	case errors.As(err, &pe) && pe.Status == http.StatusForbidden:
		return badRequest("remote %s at %s refused the keys (%s): give its root access key and secret key", c.Name, c.Endpoint, pe.Message)
	case errors.As(err, &pe):
		return badRequest("remote %s at %s answered %d %s: %s (is it a Cairn gateway?)", c.Name, c.Endpoint, pe.Status, pe.Code, pe.Message)
	case errors.Is(err, syscall.ECONNREFUSED):
		return badRequest("remote %s at %s is not reachable: connection refused (is cairn serve running there?)", c.Name, c.Endpoint)
	}
	return badRequest("remote %s at %s is not reachable: %v", c.Name, c.Endpoint, err)
}

// RemoveRemote forgets a remote no bucket replicates to.
func (g *Gateway) RemoveRemote(ctx context.Context, name string) error {
	st := g.remoteStatus(name)
	if st == nil {
		return &AdminError{Status: http.StatusNotFound, Code: "NoSuchRemote", Message: fmt.Sprintf("there is no remote %s (cairn admin remote ls lists them)", name)}
	}
	if len(st.Buckets) > 0 {
		return conflict("RemoteInUse", "buckets %v replicate to remote %s: remove their replication first", st.Buckets, name)
	}
	g.remotes.mu.Lock()
	defer g.remotes.mu.Unlock()
	c := g.remotes.list[name]
	delete(g.remotes.list, name)
	if err := g.remotes.save(); err != nil {
		g.remotes.list[name] = c
		return err
	}
	g.stopTunnel(name)
	return nil
}

// Remotes lists the remotes.
func (g *Gateway) Remotes() []RemoteStatus {
	g.remotes.mu.Lock()
	names := slices.Sorted(maps.Keys(g.remotes.list))
	g.remotes.mu.Unlock()
	out := []RemoteStatus{}
	for _, n := range names {
		if st := g.remoteStatus(n); st != nil {
			out = append(out, *st)
		}
	}
	return out
}

func (g *Gateway) remoteStatus(name string) *RemoteStatus {
	c, ok := g.remotes.get(name)
	if !ok {
		return nil
	}
	st := &RemoteStatus{Name: c.Name, Endpoint: c.Endpoint, AccessKey: c.AccessKey, Region: c.Region, Buckets: []string{}}
	if c.Secure != nil {
		st.Endpoint = "secure connect " + c.Secure.Server
	}
	for _, s := range g.senderList() {
		if s.remote() == name {
			st.Buckets = append(st.Buckets, s.bucket)
		}
	}
	return st
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Stats are a server's storage figures at one moment.
type Stats struct {
	// StoredBytes is what the server's data takes on disk.
	StoredBytes int64 `json:"stored_bytes"`
	// LogicalBytes is what clients wrote that the server holds, when the
	// source knows it (0 otherwise).
	LogicalBytes int64 `json:"logical_bytes,omitempty"`
}

// StatsSource reads a server's storage figures. Run calls it between
// phases, never concurrently. An error means no figures this time; it is
// counted and shown, and the run goes on.
type StatsSource interface {
	Stats(ctx context.Context) (Stats, error)
}

// Cleaner is implemented by a StatsSource that can make the server
// reclaim the space of deleted data, so that stored bytes drop. Clean
// returns once the space is reclaimed.
type Cleaner interface {
	Clean(ctx context.Context) error
}

// StatsFunc adapts a function to StatsSource.
type StatsFunc func(ctx context.Context) (Stats, error)

// Stats calls f.
func (f StatsFunc) Stats(ctx context.Context) (Stats, error) { return f(ctx) }

// DirStats is a server's data directory: its stored bytes are the sizes of
// the regular files below it. It works for any server that keeps its data
// in one local directory.
type DirStats string

// Stats sums the sizes of the regular files below the directory. Files
// that vanish during the walk are skipped.
func (d DirStats) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := filepath.WalkDir(string(d), func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != string(d) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !de.Type().IsRegular() {
			return nil
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		st.StoredBytes += fi.Size()
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("stats of %s: %w", string(d), err)
	}
	return st, nil
}

// Cairn admin API paths.
const (
	cairnStatsPath = "/_cairn/admin/stats"
	cairnCleanPath = "/_cairn/admin/clean"
)

// ErrNoStats means that the endpoint serves no Cairn admin API: it is
// another S3 server, or the credentials are not Cairn's root key.
var ErrNoStats = errors.New("no Cairn admin API at this endpoint")

// CairnStats reads a Cairn server's figures from its admin API
// (GET /_cairn/admin/stats, signed with SigV4 by the root access key):
// stored bytes are the storage groups' container and index bytes. It is a
// Cleaner too (POST /_cairn/admin/clean runs the cleaner).
type CairnStats struct {
	endpoint string
	region   string
	creds    aws.Credentials
	client   *http.Client
	signer   *v4.Signer
}

var (
	_ StatsSource = (*CairnStats)(nil)
	_ Cleaner     = (*CairnStats)(nil)
	_ StatsSource = DirStats("")
)

// NewCairnStats returns the admin API source of the Cairn at endpoint
// (http://host:port). A nil client means http.DefaultClient.
func NewCairnStats(endpoint, region, accessKey, secretKey string, client *http.Client) *CairnStats {
	if client == nil {
		client = http.DefaultClient
	}
	if region == "" {
		region = "us-east-1"
	}
	return &CairnStats{
		endpoint: strings.TrimRight(endpoint, "/"),
		region:   region,
		creds:    aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		client:   client,
		signer:   v4.NewSigner(),
	}
}

// Stats reads the figures. An endpoint without the admin API answers
// ErrNoStats.
func (c *CairnStats) Stats(ctx context.Context) (Stats, error) {
	body, err := c.do(ctx, http.MethodGet, cairnStatsPath)
	if err != nil {
		return Stats{}, err
	}
	// The gateway's Stats: {"groups": [{"name": ..., "StoredBytes": ...}],
	// "buckets": [...]}; the store's figures are either Go-named or
	// snake_case.
	var doc struct {
		Groups []map[string]json.RawMessage `json:"groups"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Groups == nil {
		return Stats{}, fmt.Errorf("cairn stats: unexpected answer %.200q: %w", body, ErrNoStats)
	}
	var st Stats
	for _, g := range doc.Groups {
		stored, ok := field(g, "StoredBytes", "stored_bytes")
		if !ok {
			return Stats{}, fmt.Errorf("cairn stats: a group without stored bytes in %.200q: %w", body, ErrNoStats)
		}
		index, _ := field(g, "IndexBytes", "index_bytes")
		logical, _ := field(g, "LogicalBytes", "logical_bytes")
		st.StoredBytes += stored + index
		st.LogicalBytes += logical
	}
	return st, nil
}

func field(m map[string]json.RawMessage, names ...string) (int64, bool) {
	for _, n := range names {
		if raw, ok := m[n]; ok {
			var v int64
			if json.Unmarshal(raw, &v) == nil {
				return v, true
			}
		}
	}
	return 0, false
}

// Clean runs the server's cleaner on every storage group.
func (c *CairnStats) Clean(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, cairnCleanPath)
	return err
}

// emptySHA256 is the SHA-256 of no bytes, the payload hash of a request
// without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (c *CairnStats) do(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, nil)
	if err != nil {
		return nil, fmt.Errorf("cairn %s: %w", path, err)
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if err := c.signer.SignHTTP(ctx, c.creds, req, emptySHA256, "s3", c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("cairn %s: %w", path, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cairn %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("cairn %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("cairn %s: %s: %.200s", path, resp.Status, body)
	default:
		return nil, fmt.Errorf("cairn %s: %s: %.200s: %w", path, resp.Status, body, ErrNoStats)
	}
}

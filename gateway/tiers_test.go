package gateway

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api"
)

// addS3Tier adds to g an S3 tier named name whose service is a second
// gateway, in this process, serving S3 on a loopback port, with a bucket
// "tier". It returns the second gateway.
func addS3Tier(t *testing.T, g *Gateway, name string) *Gateway {
	t.Helper()
	cfg := DefaultConfig(t.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	tg := open(t, cfg)
	h, err := s3api.NewHandler(s3api.Config{
		Region: "us-east-1",
		Secret: func(k string) (string, bool) { return "tiersecret", k == "tierkey" },
		Logger: slog.New(slog.DiscardHandler),
	}, tg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if err := tg.CreateBucket(t.Context(), "tier", ""); err != nil {
		t.Fatal(err)
	}
	err = g.AddTier(t.Context(), TierConfig{Name: name, Kind: TierS3, Endpoint: srv.URL, Bucket: "tier",
		Credentials: TierCredentials{AccessKey: "tierkey", SecretKey: "tiersecret"}})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// waitMover waits until the tier's mover has nothing queued.
func waitMover(t *testing.T, g *Gateway, name string) TierStatus {
	t.Helper()
	for range 1000 {
		st, err := g.Tiers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Name == name && s.Queued == 0 {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the mover of %s never emptied its queue", name)
	return TierStatus{}
}

package bench

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirStats(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"x": 10, "a/y": 200, "a/b/z": 3000} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := DirStats(dir).Stats(t.Context())
	if err != nil || st.StoredBytes != 3210 {
		t.Fatalf("DirStats: %+v, %v; want 3210 bytes", st, err)
	}
	if _, err := DirStats(filepath.Join(dir, "missing")).Stats(t.Context()); err == nil {
		t.Fatal("DirStats of a missing directory did not fail")
	}
}

// hideAdmin is a proxy in front of srv that answers every admin API path
// as a plain S3 server would: 404.
func hideAdmin(t *testing.T, srv cairnServer) cairnServer {
	u, err := url.Parse(srv.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_cairn/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code></Error>`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return cairnServer{endpoint: front.URL, data: srv.data}
}

func TestCairnStats(t *testing.T) {
	srv := startCairn(t)
	st, err := NewCairnStats(srv.endpoint, "", testAccessKey, testSecretKey, nil).Stats(t.Context())
	if err != nil || st.StoredBytes <= 0 {
		t.Fatalf("cairn stats: %+v, %v", st, err)
	}
	if _, err := NewCairnStats(srv.endpoint, "", testAccessKey, "wrong", nil).Stats(t.Context()); !errors.Is(err, ErrNoStats) {
		t.Errorf("cairn stats with a wrong secret: %v, want ErrNoStats", err)
	}
	hidden := hideAdmin(t, srv)
	if _, err := NewCairnStats(hidden.endpoint, "", testAccessKey, testSecretKey, nil).Stats(t.Context()); !errors.Is(err, ErrNoStats) {
		t.Errorf("cairn stats of a server without the admin API: %v, want ErrNoStats", err)
	}
}

// TestRunStatsSources runs generations where the endpoint has no admin
// API: without a stats source, then with the server's data directory.
func TestRunStatsSources(t *testing.T) {
	srv := hideAdmin(t, startCairn(t))
	ds := filepath.Join(t.TempDir(), "ds")
	if _, err := Gen(t.Context(), GenOptions{Out: ds, Seed: 2, Size: 1 << 20, Generations: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, source string
	}{
		{"none", "", "none: "},
		{"dir", srv.data, "dir " + srv.data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := runOpts(t, srv, WorkloadGenerations)
			opts.Dataset, opts.StatsDir = ds, tc.dir
			rep, err := Run(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(rep.StatsSource, tc.source) {
				t.Errorf("stats source %q, want %q…", rep.StatsSource, tc.source)
			}
			for _, name := range []string{"image-gen1", "tree-gen1"} {
				ph := phaseOf(t, rep, name)
				if (ph.StoredBytes != nil) != (tc.dir != "") || ph.Errors != 0 || ph.LogicalBytes != ph.Bytes {
					t.Errorf("%s: %+v", name, ph)
				}
			}
		})
	}
}

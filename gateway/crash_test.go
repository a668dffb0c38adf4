package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// TestCrashGateway kills a child process running PUTs (small and of many
// batches), overwrites, deletes and multipart uploads through the gateway
// with SIGKILL at random moments, reopens the data directory and checks:
// every key reads as its last acknowledged write or as one of the writes in
// flight at the kill (never a mix, never a write older than the last one
// acknowledged), and every group's records and manifests agree exactly:
// no manifest without its version, no version without its manifest.
func TestCrashGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes many times; run without -short")
	}
	iterations := 10
	if n, err := strconv.Atoi(os.Getenv("CAIRN_CRASH_ITERATIONS")); err == nil {
		iterations = n
	}
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "log")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	// The possible contents of each key: its last acknowledged state first
	// (a seed, or 0 for absent), then those of operations in flight.
	possible := map[string][]uint64{}
	acked := 0
	for it := range iterations {
		os.Remove(logPath)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashGatewayChild$")
		cmd.Env = append(os.Environ(), "CAIRN_GWCRASH_DIR="+dir, "CAIRN_GWCRASH_LOG="+logPath, fmt.Sprintf("CAIRN_GWCRASH_SEED=%d", it+1))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("iteration %d: child ended with %v before the kill:\n%s", it, err, out.String())
		}
		acked += readGatewayCrashLog(t, logPath, possible)

		g := open(t, crashGatewayConfig(dir))
		for key, states := range possible {
			got, _, err := get(t, g, "b", key, "")
			var seen uint64
			switch {
			case errors.Is(err, s3api.ErrNoSuchKey):
			case err != nil:
				t.Fatalf("iteration %d: %s: %v", it, key, err)
			default:
				seen = seedOf(got)
				if seen == 0 || !bytes.Equal(got, crashBody(seen)) {
					t.Fatalf("iteration %d: %s holds %d bytes that no write made", it, key, len(got))
				}
			}
			ok := false
			for _, s := range states {
				ok = ok || s == seen
			}
			if !ok {
				t.Fatalf("iteration %d: %s reads as write %d; possible after the kill: %v", it, key, seen, states)
			}
			possible[key] = []uint64{seen}
		}
		for _, gr := range g.groups {
			if err := gr.store.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		checkConsistent(t, g)
		g.Close()
	}
	if acked == 0 {
		t.Fatal("no write was ever acknowledged: the child did not get to work")
	}
	t.Logf("%d iterations, %d acknowledged operations checked", iterations, acked)
}

func crashGatewayConfig(dir string) Config {
	cfg := DefaultConfig(dir)
	cfg.MinPartSize = 1 << 10
	cfg.LockTimeout = 5 * time.Second
	cfg.ChunkStore = func(group, d string) chunkstore.Config {
		c := chunkstore.DefaultConfig(d)
		c.ContainerSize = 1 << 20
		c.BatchBytes = 128 << 10
		c.ReserveBytes = 0
		c.OpenTimeout = 5 * time.Second
		return c
	}
	return cfg
}

// crashBody is the content of write seed: its seed in the first 8 bytes,
// then seeded bytes, from 100 bytes to 600 KiB (several batches).
func crashBody(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	n := 100
	if r.IntN(3) == 0 {
		n = 100 + r.IntN(600<<10)
	}
	b := append([]byte(fmt.Sprintf("%08d", seed%1e8)), random(seed, n)...)
	return b
}

func seedOf(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	s, _ := strconv.ParseUint(string(b[:8]), 10, 64)
	return s
}

// readGatewayCrashLog applies the child's log: "W? key seed" before a write
// (or a delete, seed 0), "W key seed" after it was acknowledged.
func readGatewayCrashLog(t *testing.T, path string, possible map[string][]uint64) int {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(strings.TrimSuffix(line, ";"))
		if !strings.HasSuffix(line, ";") || len(f) != 3 {
			continue // torn last line
		}
		seed, _ := strconv.ParseUint(f[2], 10, 64)
		key := f[1]
		if _, ok := possible[key]; !ok {
			possible[key] = []uint64{0}
		}
		switch f[0] {
		case "W?":
			possible[key] = append(possible[key], seed)
		case "W":
			// Acknowledged: now the state, and every write of the key that
			// began before it ended is settled (the child writes a key from
			// one goroutine only).
			possible[key] = []uint64{seed}
			acked++
		}
	}
	return acked
}

// TestCrashGatewayChild is the child's body; it only runs when
// TestCrashGateway starts it.
func TestCrashGatewayChild(t *testing.T) {
	dir := os.Getenv("CAIRN_GWCRASH_DIR")
	if dir == "" {
		t.Skip("started by TestCrashGateway only")
	}
	iter, _ := strconv.ParseUint(os.Getenv("CAIRN_GWCRASH_SEED"), 10, 64)
	logf, err := os.OpenFile(os.Getenv("CAIRN_GWCRASH_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	logLine := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logf, format+";\n", args...)
	}
	ctx := context.Background()
	g, err := New(ctx, crashGatewayConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.HeadBucket(ctx, "b"); err != nil {
		if err := g.CreateBucket(ctx, "b", ""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(iter, uint64(w)))
			for n := uint64(1); ; n++ {
				key := fmt.Sprintf("w%d-k%d", w, rng.IntN(6)) // each key written by one goroutine
				seed := iter*1_000_000 + uint64(w)*100_000 + n
				switch op := rng.IntN(10); {
				case op < 2:
					logLine("W? %s 0", key)
					if _, err := g.DeleteObject(ctx, "b", key, ""); err != nil {
						t.Error(err)
						return
					}
					logLine("W %s 0", key)
				case op < 4:
					logLine("W? %s %d", key, seed)
					if err := crashMultipart(ctx, g, key, crashBody(seed)); err != nil {
						t.Error(err)
						return
					}
					logLine("W %s %d", key, seed)
				default:
					body := crashBody(seed)
					logLine("W? %s %d", key, seed)
					if _, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
						t.Error(err)
						return
					}
					logLine("W %s %d", key, seed)
				}
			}
		})
	}
	wg.Wait()
	t.Fatal("child stopped before it was killed")
}

// crashMultipart writes body as a multipart upload of up to three parts.
func crashMultipart(ctx context.Context, g *Gateway, key string, body []byte) error {
	id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: key})
	if err != nil {
		return err
	}
	var parts []s3api.CompletePart
	for n, rest := 1, body; len(rest) > 0; n++ {
		size := len(rest)
		if n < 3 && size > 2<<10 {
			size = max(1<<10, size/2)
		}
		p, err := g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: key, UploadID: id, PartNumber: n, Body: bytes.NewReader(rest[:size]), Size: int64(size)})
		if err != nil {
			return err
		}
		parts = append(parts, s3api.CompletePart{PartNumber: n, ETag: p.ETag})
		rest = rest[size:]
	}
	_, err = g.CompleteMultipartUpload(ctx, "b", key, id, parts, "", "")
	return err
}

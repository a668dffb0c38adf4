package chunkstore

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
)

// The crash tests run writers (and, in the cleaner case, deletes and the
// cleaner) in a child process, kill it with SIGKILL at a random moment,
// reopen the store and check it: every manifest the child reported
// committed reads back bit-exact, scrub finds nothing wrong, and at the end
// the cleaner reclaims every leaked byte.

// crashConfig is small so that a short run spans many batches, container
// files and seals.
func crashConfig(dir string) Config {
	cfg := DefaultConfig(dir)
	cfg.ContainerSize = 1 << 20
	cfg.BatchBytes = 128 << 10
	cfg.MaxStreams = 2
	cfg.ReserveBytes = 256 << 10
	cfg.OpenTimeout = 5 * time.Second
	return cfg
}

// crashText marks a seed whose object is text (compressible) rather than
// random bytes: the "later" mode's, whose S2 records the cleaner
// recompresses.
const crashText = 1 << 62

// crashObject is the content of object seed: pieces shared across objects
// (so writers dedup against each other and against released data) and
// bytes of its own.
func crashObject(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	piece := randomData
	if seed&crashText != 0 {
		piece = textData
	}
	var b []byte
	for n := r.IntN(12); n > 0; n-- {
		if r.IntN(3) == 0 {
			b = append(b, piece(seed*1000+uint64(n), 1+r.IntN(100<<10))...)
		} else {
			b = append(b, piece(uint64(r.IntN(24)), 200<<10)...)
		}
	}
	return b
}

func TestCrashWriters(t *testing.T) { runCrashTest(t, "writers") }
func TestCrashCleaner(t *testing.T) { runCrashTest(t, "cleaner") }

// TestCrashRecompress is the cleaner's case with compressible data written
// as zstd-later: the child's cleaner recompresses S2 records while it is
// killed.
func TestCrashRecompress(t *testing.T) { runCrashTest(t, "later") }

func runCrashTest(t *testing.T, mode string) {
	if testing.Short() {
		t.Skip("kills child processes many times; run without -short")
	}
	iterations := 15
	if n, err := strconv.Atoi(os.Getenv("CAIRN_CRASH_ITERATIONS")); err == nil {
		iterations = n
	}
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "log")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	committed := map[ManifestID]uint64{} // manifest -> content seed
	uncertain := map[ManifestID]uint64{} // release started, not confirmed
	compactions := 0                     // containers the child's cleaner compacted
	recompressions := 0                  // of them, recompressed
	for it := range iterations {
		os.Remove(logPath)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(),
			"CAIRN_CRASH_DIR="+dir, "CAIRN_CRASH_MODE="+mode, "CAIRN_CRASH_LOG="+logPath,
			fmt.Sprintf("CAIRN_CRASH_SEED=%d", it+1))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it open (recovering) and work, then kill it mid-flight.
		time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("iteration %d: child ended with %v before the kill:\n%s", it, err, stderr.String())
		}
		c, r := readCrashLog(t, logPath, committed, uncertain)
		compactions, recompressions = compactions+c, recompressions+r
		verifyAfterCrash(t, dir, committed, uncertain)
	}
	if len(committed) == 0 {
		t.Fatal("no write ever committed: the child did not get to work")
	}
	if mode != "writers" && compactions == 0 {
		t.Fatal("the child's cleaner never compacted a container: the test proved nothing about it")
	}
	if mode == "later" && recompressions == 0 {
		t.Fatal("the child's cleaner never recompressed a container: the test proved nothing about it")
	}

	// The next cleaner run reclaims everything crashes and releases leaked.
	s, err := Open(t.Context(), crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Clean(t.Context(), CleanOptions{Threshold: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.StoredBytes != st.LiveBytes {
		t.Errorf("after the cleaner: %d stored bytes, %d live (%s)", st.StoredBytes, st.LiveBytes, rep)
	}
	if later, err := s.LaterBytes(); err != nil || later != 0 {
		t.Errorf("after the cleaner: %d bytes still to recompress (%v)", later, err)
	}
	scrub, err := s.Scrub(t.Context(), ScrubOptions{})
	if err != nil || !scrub.OK() || scrub.LeakedBytes != 0 {
		t.Errorf("scrub after the cleaner: %v: %s", err, scrub)
	}
	for id, seed := range committed {
		checkManifest(t, s, id, seed)
	}
	t.Logf("%d iterations, %d manifests committed and verified, %d containers compacted by the child (%d recompressed); final clean: %s", iterations, len(committed), compactions, recompressions, rep)
}

// readCrashLog applies the child's log: "C id seed" after a commit
// returned, "R? id" before a release, "R id" after it returned.
func readCrashLog(t *testing.T, path string, committed, uncertain map[ManifestID]uint64) (compactions, recompressions int) {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if !strings.HasSuffix(sc.Text(), ";") || len(f) < 3 {
			continue // torn last line
		}
		id64, _ := strconv.ParseUint(f[1], 10, 64)
		id := ManifestID(id64)
		switch f[0] {
		case "C":
			seed, _ := strconv.ParseUint(strings.TrimSuffix(f[2], ";"), 10, 64)
			committed[id] = seed
		case "R?":
			uncertain[id] = committed[id]
			delete(committed, id)
		case "R":
			delete(uncertain, id)
		case "X":
			compactions += int(id64)
			if len(f) > 3 {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[3], ";"))
				recompressions += n
			}
		}
	}
	return compactions, recompressions
}

func verifyAfterCrash(t *testing.T, dir string, committed, uncertain map[ManifestID]uint64) {
	t.Helper()
	s, err := Open(t.Context(), crashConfig(dir))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	for id, seed := range committed {
		checkManifest(t, s, id, seed)
	}
	for id, seed := range uncertain {
		// Killed mid-release: gone, or whole.
		if _, err := s.Stat(t.Context(), id); errors.Is(err, ErrNotFound) {
			delete(uncertain, id)
			continue
		}
		checkManifest(t, s, id, seed)
		committed[id] = seed
		delete(uncertain, id)
	}
	rep, err := s.Scrub(t.Context(), ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("scrub after kill: %s", rep)
	}
}

func checkManifest(t *testing.T, s *Store, id ManifestID, seed uint64) {
	t.Helper()
	want := crashObject(seed)
	r, err := s.NewReader(t.Context(), id)
	if err != nil {
		t.Fatalf("committed manifest %d (seed %d): %v", id, seed, err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatalf("committed manifest %d: %v", id, err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("committed manifest %d (seed %d): read %d bytes, differ from the %d written", id, seed, got.Len(), len(want))
	}
}

// TestCrashChild is the child's body; it only runs when the crash tests
// start it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("CAIRN_CRASH_DIR")
	if dir == "" {
		t.Skip("started by TestCrashWriters and TestCrashCleaner only")
	}
	mode := os.Getenv("CAIRN_CRASH_MODE")
	iter, _ := strconv.ParseUint(os.Getenv("CAIRN_CRASH_SEED"), 10, 64)
	logf, err := os.OpenFile(os.Getenv("CAIRN_CRASH_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	logLine := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logf, format+";\n", args...)
	}
	cfg := crashConfig(dir)
	var text uint64
	if mode == "later" {
		cfg.Compression = CompressZstdLater
		text = crashText
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var mu sync.Mutex
	var mine []ManifestID
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(iter, uint64(w)))
			for n := uint64(0); ; n++ {
				seed := text | iter<<32 | uint64(w)<<24 | n
				wr := s.NewWriter(ctx)
				wr.Write(crashObject(seed))
				m, err := wr.Commit(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				logLine("C %d %d", m.ID, seed)
				mu.Lock()
				mine = append(mine, m.ID)
				var victim ManifestID
				if mode != "writers" && len(mine) > 2 && rng.IntN(2) == 0 {
					i := rng.IntN(len(mine))
					victim = mine[i]
					mine = append(mine[:i], mine[i+1:]...)
				}
				mu.Unlock()
				if victim != 0 {
					logLine("R? %d x", victim)
					if err := s.Release(ctx, victim); err != nil {
						t.Error(err)
						return
					}
					logLine("R %d x", victim)
				}
			}
		})
	}
	if mode != "writers" {
		wg.Go(func() {
			for {
				rep, err := s.Clean(ctx, CleanOptions{Threshold: 0.05})
				if err != nil {
					t.Error(err)
					return
				}
				if rep.Compacted > 0 {
					logLine("X %d %d %d", rep.Compacted, rep.BytesReclaimed, rep.Recompressed)
				}
			}
		})
	}
	wg.Wait() // only an error ends the loops; the parent kills us
	t.Fatal("child stopped before it was killed")
}

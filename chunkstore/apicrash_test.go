package chunkstore_test

// TestAPICrash kills a child process with SIGKILL while it uses the
// chunk-level API of a store all at once: imports replicated from a second
// store, CommitEntries of chunks the store holds, packs and moves into a
// tier with the cleaner dropping the local copies, writes with CommitWith,
// and releases (in the caller's transaction and not) while a reader of the
// same manifest is open. After every kill the parent reopens the store and
// checks that every manifest the child reported committed reads back
// bit-exact, that a manifest mid-commit or mid-release is gone or whole,
// that the committed manifests, the caller's namespace and the counters
// agree exactly with what the child reported, and that scrub is clean.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

const apiCrashTierName = "cold"

// apiCrashConfig is small so that a short run spans many batches, segments,
// container files and seals.
func apiCrashConfig(dir string, tier *chunkstoretest.DirTier, logger *slog.Logger) chunkstore.Config {
	cfg := chunkstore.DefaultConfig(dir)
	cfg.ContainerSize = 1 << 20
	cfg.BatchBytes = 128 << 10
	cfg.MaxStreams = 2
	cfg.ReserveBytes = 256 << 10
	cfg.OpenTimeout = 5 * time.Second
	cfg.RemoteTimeout = 10 * time.Second
	cfg.RemoteReadahead = 256 << 10
	if tier != nil {
		cfg.Remote = tier
	}
	cfg.Logger = logger
	return cfg
}

// objectSet makes the objects of the API tests from seeds: pieces shared
// across objects (so that imports, writes and the tier dedup against each
// other and against released data) and pieces of their own.
type objectSet struct {
	key           uint64 // the set's own random stream
	sharedBase    uint64 // the shared pieces are Data(sharedBase+i, sharedSize), i < shared
	shared        int
	sharedSize    int
	pieces, ownUp int // at most pieces pieces; own ones are up to ownUp bytes
}

// apiCrashObjects are large enough that a short run spans many batches,
// segments and container files.
var apiCrashObjects = objectSet{key: 0xa11c4a54, sharedBase: 1000, shared: 16, sharedSize: 96 << 10, pieces: 6, ownUp: 128 << 10}

// object is the content of seed.
func (o objectSet) object(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, o.key))
	var b []byte
	for i := range 1 + r.IntN(o.pieces) {
		if r.IntN(3) != 0 {
			b = append(b, chunkstoretest.Data(o.sharedBase+uint64(r.IntN(o.shared)), o.sharedSize)...)
		} else {
			b = append(b, chunkstoretest.Data(seed<<8|uint64(i), 1+r.IntN(o.ownUp))...)
		}
	}
	return b
}

// content is the content a descriptor names: seeds joined by "+", their
// objects one after the other (CommitEntries concatenates manifests).
func (o objectSet) content(desc string) ([]byte, error) {
	var b []byte
	for _, f := range strings.Split(desc, "+") {
		seed, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad content descriptor %q", desc)
		}
		b = append(b, o.object(seed)...)
	}
	return b, nil
}

// apiKey is a manifest's key in the caller's namespace; its value is the
// content descriptor.
func apiKey(id chunkstore.ManifestID) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

// apiKeys reads the caller's namespace: manifest -> descriptor.
func apiKeys(s *chunkstore.Store) (map[chunkstore.ManifestID]string, error) {
	keys := map[chunkstore.ManifestID]string{}
	err := s.View(func(tx *chunkstore.Tx) error {
		return tx.Bucket().ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("key %x in the caller's namespace", k)
			}
			keys[chunkstore.ManifestID(binary.BigEndian.Uint64(k))] = string(v)
			return nil
		})
	})
	return keys, err
}

// apiListEntries enumerates a whole manifest.
func apiListEntries(ctx context.Context, s *chunkstore.Store, id chunkstore.ManifestID) ([]chunkstore.Entry, error) {
	it, err := s.Entries(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var es []chunkstore.Entry
	for it.Next() {
		es = append(es, it.Entry())
	}
	return es, it.Err()
}

// apiReadManifest reads a whole manifest and compares it with want.
func apiReadManifest(ctx context.Context, s *chunkstore.Store, id chunkstore.ManifestID, want []byte) error {
	r, err := s.NewReader(ctx, id)
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Size() != int64(len(want)) {
		return fmt.Errorf("manifest %d: size %d, want %d", id, r.Size(), len(want))
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("manifest %d: read after %d bytes: %w", id, len(got), err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("manifest %d: read %d bytes that differ from the %d written (first difference at %d)", id, len(got), len(want), firstDiff(got, want))
	}
	return nil
}

func apiIDs(es []chunkstore.Entry) []chunkstore.ChunkID {
	out := make([]chunkstore.ChunkID, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// apiCheckChunks checks the store's chunk counters against the chunks its
// committed manifests name (once drained, nothing else holds one): how
// many, their bytes, and the bytes of those with a copy in the tier.
func apiCheckChunks(ctx context.Context, s *chunkstore.Store, tier string) error {
	var ids []chunkstore.ManifestID
	if err := s.Manifests(ctx, func(m chunkstore.Manifest) error {
		ids = append(ids, m.ID)
		return nil
	}); err != nil {
		return err
	}
	lens := map[chunkstore.ChunkID]uint32{}
	var all []chunkstore.ChunkID
	var unique int64
	for _, id := range ids {
		es, err := apiListEntries(ctx, s, id)
		if err != nil {
			return err
		}
		for _, e := range es {
			if _, ok := lens[e.ID]; !ok {
				lens[e.ID] = e.Len
				all = append(all, e.ID)
				unique += int64(e.Len)
			}
		}
	}
	notIn, err := s.NotInTier(ctx, tier, all)
	if err != nil {
		return err
	}
	tiered := unique
	for _, id := range notIn {
		tiered -= int64(lens[id])
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	if st.Chunks != int64(len(lens)) || st.UniqueBytes != unique || st.TieredBytes != tiered {
		return fmt.Errorf("counted %d chunks of %d bytes, %d of them in the tier; the committed manifests name %d chunks of %d bytes, %d in the tier",
			st.Chunks, st.UniqueBytes, st.TieredBytes, len(lens), unique, tiered)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func sortedIDs[V any](m map[chunkstore.ManifestID]V) []chunkstore.ManifestID {
	ids := make([]chunkstore.ManifestID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// apiCrashState is what the parent knows of the target store.
type apiCrashState struct {
	committed map[chunkstore.ManifestID]string // manifest -> descriptor
	orphans   map[chunkstore.ManifestID]bool   // committed, key deleted by a release cut short
	maybe     map[chunkstore.ManifestID]string // commit started, not confirmed
	releasing map[chunkstore.ManifestID]apiRelease
	released  map[chunkstore.ManifestID]bool
	moved     map[chunkstore.ManifestID]bool // Move returned
	sizes     map[string]int64               // descriptor -> content size

	// What the children did, summed over the runs.
	commits         map[string]int // by kind: i import, e CommitEntries, w writer
	releasesLeased  int            // releases with a reader of the manifest open
	moves           int
	compactions     int
	localDropped    int64
	recoveredMaybe  int // uncertain commits found committed
	recoveredAbsent int // uncertain commits found absent
}

type apiRelease struct {
	desc string
	kind string // t: key and release in one transaction; s: key, then Store.Release
}

func TestAPICrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes many times; run without -short")
	}
	iterations := 12
	if n, err := strconv.Atoi(os.Getenv("CAIRN_CRASH_ITERATIONS")); err == nil {
		iterations = n
	}
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "tier"), 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(base, "log")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	st := &apiCrashState{
		committed: map[chunkstore.ManifestID]string{},
		orphans:   map[chunkstore.ManifestID]bool{},
		maybe:     map[chunkstore.ManifestID]string{},
		releasing: map[chunkstore.ManifestID]apiRelease{},
		released:  map[chunkstore.ManifestID]bool{},
		moved:     map[chunkstore.ManifestID]bool{},
		sizes:     map[string]int64{},
		commits:   map[string]int{},
	}
	start := time.Now()
	for it := range iterations {
		os.Remove(logPath)
		cmd := exec.Command(os.Args[0], "-test.run=^TestAPICrashChild$")
		cmd.Env = append(os.Environ(), "CAIRN_APICRASH_DIR="+base, "CAIRN_APICRASH_LOG="+logPath,
			fmt.Sprintf("CAIRN_APICRASH_ITER=%d", it+1))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill := time.Duration(150+rng.IntN(500)) * time.Millisecond
		time.Sleep(kill)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("iteration %d: child ended with %v before the kill:\n%s", it, err, out.String())
		}
		st.readLog(t, it, logPath)
		st.verify(t, it, base)
	}

	// Everything the children did must have happened at least once, or the
	// test proved nothing about it.
	for _, k := range []string{"i", "e", "w"} {
		if st.commits[k] == 0 {
			t.Errorf("no commit of kind %q in %d runs", k, iterations)
		}
	}
	if st.releasesLeased == 0 {
		t.Error("no release with a reader open ever returned")
	}
	if st.moves == 0 {
		t.Error("no move ever returned")
	}
	if st.compactions == 0 {
		t.Error("the children's cleaner never compacted a container")
	}

	// The final clean reclaims everything the crashes, aborts and releases
	// leaked, and drops the local copies of moved chunks.
	tier := &chunkstoretest.DirTier{Name: apiCrashTierName, Dir: filepath.Join(base, "tier")}
	s, err := chunkstore.Open(t.Context(), apiCrashConfig(filepath.Join(base, "target"), tier, apiTestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Clean(t.Context(), chunkstore.CleanOptions{Threshold: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoredBytes != stats.LiveBytes {
		t.Errorf("after the final clean: %d bytes stored, %d live (%s)", stats.StoredBytes, stats.LiveBytes, rep)
	}
	scrub, err := s.Scrub(t.Context(), chunkstore.ScrubOptions{})
	if err != nil || !scrub.OK() || scrub.LeakedBytes != 0 {
		t.Errorf("scrub after the final clean: %v: %s", err, scrub)
	}
	if err := apiCheckChunks(t.Context(), s, apiCrashTierName); err != nil {
		t.Errorf("after the final clean: %v", err)
	}
	if st.localDropped+rep.LocalCopiesDropped == 0 {
		t.Error("no local copy of a moved chunk was ever dropped")
	}
	for _, id := range sortedIDs(st.committed) {
		want, err := apiCrashObjects.content(st.committed[id])
		if err != nil {
			t.Fatal(err)
		}
		if err := apiReadManifest(t.Context(), s, id, want); err != nil {
			t.Fatalf("after the final clean: committed manifest (%s): %v", st.committed[id], err)
		}
	}
	if moved := len(st.moved); moved > 0 && stats.TieredBytes == 0 {
		t.Errorf("%d manifests moved, nothing counted in the tier: %s", moved, stats)
	}
	t.Logf("%d runs in %v: commits %v (%d uncertain found whole, %d found absent), %d releases with a reader open, %d moves, %d compactions and %d local copies dropped by the children; %d manifests (%d orphaned by a cut release) verified; final clean: %s; %s",
		iterations, time.Since(start).Round(time.Millisecond), st.commits, st.recoveredMaybe, st.recoveredAbsent, st.releasesLeased, st.moves,
		st.compactions, st.localDropped, len(st.committed), len(st.orphans), rep, stats)
}

func apiTestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// readLog applies a child's log, line by line ("...;" each, a torn last
// line ignored):
//
//	C? id desc       a commit is about to happen (or is in its transaction)
//	C id desc kind   the commit returned
//	R? id kind       a release is about to begin
//	R id leased      the release returned
//	M id             a move returned
//	X n local        the cleaner compacted n containers, dropped local copies
func (st *apiCrashState) readLog(t *testing.T, it int, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, ";") {
			continue // torn
		}
		f := strings.Fields(strings.TrimSuffix(line, ";"))
		if len(f) < 2 {
			t.Fatalf("iteration %d: log line %q", it, line)
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			t.Fatalf("iteration %d: log line %q", it, line)
		}
		id := chunkstore.ManifestID(n)
		switch f[0] {
		case "C?":
			st.maybe[id] = f[2]
		case "C":
			if _, known := st.committed[id]; known {
				t.Fatalf("iteration %d: manifest %d committed twice (%s)", it, id, line)
			}
			st.committed[id] = f[2]
			delete(st.maybe, id)
			st.commits[f[3]]++
		case "R?":
			desc, ok := st.committed[id]
			if !ok {
				t.Fatalf("iteration %d: the child released manifest %d, which it never committed", it, id)
			}
			delete(st.committed, id)
			st.releasing[id] = apiRelease{desc: desc, kind: f[2]}
		case "R":
			delete(st.releasing, id)
			st.released[id] = true
			if f[2] == "leased" {
				st.releasesLeased++
			}
		case "M":
			st.moved[id] = true
			st.moves++
		case "X":
			st.compactions += int(n)
			l, _ := strconv.ParseInt(f[2], 10, 64)
			st.localDropped += l
		default:
			t.Fatalf("iteration %d: log line %q", it, line)
		}
	}
}

func (st *apiCrashState) content(t *testing.T, desc string) []byte {
	t.Helper()
	b, err := apiCrashObjects.content(desc)
	if err != nil {
		t.Fatal(err)
	}
	st.sizes[desc] = int64(len(b))
	return b
}

func (st *apiCrashState) verify(t *testing.T, it int, base string) {
	t.Helper()
	ctx := t.Context()
	tier := &chunkstoretest.DirTier{Name: apiCrashTierName, Dir: filepath.Join(base, "tier")}
	s, err := chunkstore.Open(ctx, apiCrashConfig(filepath.Join(base, "target"), tier, apiTestLogger(t)))
	if err != nil {
		t.Fatalf("iteration %d: reopen after the kill: %v", it, err)
	}
	defer s.Close()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("iteration %d: "+format, append([]any{it}, args...)...)
	}
	notFound := func(id chunkstore.ManifestID) error {
		if _, err := s.Stat(ctx, id); !errors.Is(err, chunkstore.ErrNotFound) {
			return fmt.Errorf("stat: %v", err)
		}
		if r, err := s.NewReader(ctx, id); !errors.Is(err, chunkstore.ErrNotFound) {
			if err == nil {
				r.Close()
			}
			return fmt.Errorf("new reader: %v", err)
		}
		if e, err := s.Entries(ctx, id, 0); !errors.Is(err, chunkstore.ErrNotFound) {
			if err == nil {
				e.Close()
			}
			return fmt.Errorf("entries: %v", err)
		}
		return nil
	}

	// Reads first, while the recovery's background work (drops of pending
	// imports and writes, interrupted releases and moves) runs.
	for _, id := range sortedIDs(st.committed) {
		if err := apiReadManifest(ctx, s, id, st.content(t, st.committed[id])); err != nil {
			fail("committed manifest (%s): %v", st.committed[id], err)
		}
	}
	// Cut short mid-commit: gone, or whole.
	for _, id := range sortedIDs(st.maybe) {
		desc := st.maybe[id]
		delete(st.maybe, id)
		if _, err := s.Stat(ctx, id); errors.Is(err, chunkstore.ErrNotFound) {
			if err := notFound(id); err != nil {
				fail("manifest %d, whose commit was cut short, is half there: %v", id, err)
			}
			st.recoveredAbsent++
			continue
		} else if err != nil {
			fail("stat %d: %v", id, err)
		}
		if err := apiReadManifest(ctx, s, id, st.content(t, desc)); err != nil {
			fail("manifest whose commit was cut short is there but not whole (%s): %v", desc, err)
		}
		st.committed[id] = desc
		st.recoveredMaybe++
	}
	// Cut short mid-release: gone, or whole.
	cutRelease := map[chunkstore.ManifestID]string{}
	for _, id := range sortedIDs(st.releasing) {
		rel := st.releasing[id]
		delete(st.releasing, id)
		if _, err := s.Stat(ctx, id); errors.Is(err, chunkstore.ErrNotFound) {
			if err := notFound(id); err != nil {
				fail("manifest %d, whose release was cut short, is half there: %v", id, err)
			}
			st.released[id] = true
			continue
		} else if err != nil {
			fail("stat %d: %v", id, err)
		}
		if err := apiReadManifest(ctx, s, id, st.content(t, rel.desc)); err != nil {
			fail("manifest whose release was cut short is there but not whole (%s): %v", rel.desc, err)
		}
		st.committed[id] = rel.desc
		cutRelease[id] = rel.kind
	}
	for _, id := range sortedIDs(st.released) {
		if err := notFound(id); err != nil {
			fail("released manifest %d is visible again: %v", id, err)
		}
	}

	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Nothing half-done is visible: the committed manifests are exactly the
	// ones the child reported, and so is the caller's namespace.
	var listed []chunkstore.ManifestID
	var logical int64
	if err := s.Manifests(ctx, func(m chunkstore.Manifest) error {
		listed = append(listed, m.ID)
		desc, ok := st.committed[m.ID]
		if !ok {
			return fmt.Errorf("manifest %d (%d bytes) is committed, and no commit of it was ever reported", m.ID, m.Size)
		}
		if m.Size != st.sizes[desc] {
			return fmt.Errorf("manifest %d: %d bytes, committed with %d", m.ID, m.Size, st.sizes[desc])
		}
		logical += m.Size
		return nil
	}); err != nil {
		fail("%v", err)
	}
	if len(listed) != len(st.committed) {
		fail("%d manifests listed, %d known committed", len(listed), len(st.committed))
	}
	keys, err := apiKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range sortedIDs(keys) {
		if desc, ok := st.committed[id]; !ok || desc != keys[id] {
			fail("the caller's namespace names manifest %d (%s), which is not committed with that content (%q)", id, keys[id], desc)
		}
	}
	for _, id := range sortedIDs(st.committed) {
		if _, ok := keys[id]; ok || st.orphans[id] {
			continue
		}
		if cutRelease[id] == "s" {
			// The key went in a transaction of its own, then the kill came
			// before Store.Release: committed, unknown to the children.
			st.orphans[id] = true
			continue
		}
		fail("committed manifest %d (%s) has no record in the caller's namespace, which commits with it", id, st.committed[id])
	}
	stats, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Manifests != int64(len(st.committed)) || stats.LogicalBytes != logical {
		fail("counted %d manifests of %d bytes; %d are committed, of %d bytes", stats.Manifests, stats.LogicalBytes, len(st.committed), logical)
	}
	if err := apiCheckChunks(ctx, s, apiCrashTierName); err != nil {
		fail("after draining: %v", err)
	}
	for _, id := range sortedIDs(st.moved) {
		if _, ok := st.committed[id]; !ok {
			continue
		}
		if m, err := s.Stat(ctx, id); err != nil || !m.Moved {
			fail("manifest %d: Move returned, now %+v, %v", id, m, err)
		}
	}
	rep, err := s.Scrub(ctx, chunkstore.ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		fail("scrub after the kill: %s", rep)
	}
}

// apiCrashPool is the child's view of the target's manifests.
type apiCrashPool struct {
	mu    sync.Mutex
	live  map[chunkstore.ManifestID]string // committed, with their key
	gone  map[chunkstore.ManifestID]bool   // taken by the releaser
	moved map[chunkstore.ManifestID]bool
}

func (p *apiCrashPool) add(id chunkstore.ManifestID, desc string) {
	p.mu.Lock()
	p.live[id] = desc
	p.mu.Unlock()
}

func (p *apiCrashPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// pick returns a random live manifest that ok accepts.
func (p *apiCrashPool) pick(rng *rand.Rand, ok func(chunkstore.ManifestID) bool) (chunkstore.ManifestID, string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []chunkstore.ManifestID
	for _, id := range sortedIDs(p.live) {
		if ok == nil || ok(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, "", false
	}
	id := ids[rng.IntN(len(ids))]
	return id, p.live[id], true
}

// take removes a live manifest for its releaser; false if another took it.
func (p *apiCrashPool) take(id chunkstore.ManifestID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.live[id]; !ok {
		return false
	}
	delete(p.live, id)
	p.gone[id] = true
	return true
}

func (p *apiCrashPool) isGone(id chunkstore.ManifestID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone[id]
}

// TestAPICrashChild is the child's body; it only runs when TestAPICrash
// starts it, and works until it is killed.
func TestAPICrashChild(t *testing.T) {
	base := os.Getenv("CAIRN_APICRASH_DIR")
	if base == "" {
		t.Skip("started by TestAPICrash only")
	}
	iter, _ := strconv.ParseUint(os.Getenv("CAIRN_APICRASH_ITER"), 10, 64)
	die := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "apicrash child, run %d: "+format+"\n", append([]any{iter}, args...)...)
		os.Exit(3)
	}
	logf, err := os.OpenFile(os.Getenv("CAIRN_APICRASH_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		die("%v", err)
	}
	var logMu sync.Mutex
	logLine := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		if _, err := fmt.Fprintf(logf, format+";\n", args...); err != nil {
			die("log: %v", err)
		}
	}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tier := &chunkstoretest.DirTier{Name: apiCrashTierName, Dir: filepath.Join(base, "tier")}
	tgt, err := chunkstore.Open(ctx, apiCrashConfig(filepath.Join(base, "target"), tier, logger))
	if err != nil {
		die("open target: %v", err)
	}
	srcDir := filepath.Join(base, "source")
	if err := os.RemoveAll(srcDir); err != nil {
		die("%v", err)
	}
	src, err := chunkstore.Open(ctx, apiCrashConfig(srcDir, nil, logger))
	if err != nil {
		die("open source: %v", err)
	}
	pool := &apiCrashPool{gone: map[chunkstore.ManifestID]bool{}, moved: map[chunkstore.ManifestID]bool{}}
	if pool.live, err = apiKeys(tgt); err != nil {
		die("%v", err)
	}
	const maxLive, minLive = 28, 8
	waitRoom := func() {
		for pool.size() >= maxLive {
			time.Sleep(2 * time.Millisecond)
		}
	}
	record := func(desc string, logMaybe bool) chunkstore.CommitFunc {
		return func(tx *chunkstore.Tx, m chunkstore.Manifest) error {
			if logMaybe {
				logLine("C? %d %s", m.ID, desc)
			}
			return tx.Bucket().Put(apiKey(m.ID), []byte(desc))
		}
	}
	readRecords := func(ids []chunkstore.ChunkID) []chunkstore.Record {
		var recs []chunkstore.Record
		for _, id := range ids {
			r, err := src.ReadRecord(ctx, id, nil)
			if err != nil {
				die("source record %s: %v", id, err)
			}
			recs = append(recs, r)
		}
		return recs
	}

	// release takes a live manifest and releases it, in the caller's
	// transaction ("t") or in one of its own after the key's ("s"), with a
	// reader open across the release when withReader.
	release := func(rng *rand.Rand, id chunkstore.ManifestID, desc string, withReader bool, pauseMs int, why string) {
		if !pool.take(id) {
			return // another releaser has it
		}
		want, err := apiCrashObjects.content(desc)
		if err != nil {
			die("%v", err)
		}
		var r *chunkstore.Reader
		var head []byte
		if withReader {
			if r, err = tgt.NewReader(ctx, id); err != nil {
				die("reader of committed manifest %d: %v", id, err)
			}
			head = make([]byte, rng.IntN(len(want)))
			if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, want[:len(head)]) {
				die("manifest %d: the first %d bytes read wrong (%v)", id, len(head), err)
			}
		}
		kind := "t"
		if rng.IntN(3) == 0 {
			kind = "s"
		}
		logLine("R? %d %s", id, kind)
		if kind == "t" {
			err = tgt.Update(func(tx *chunkstore.Tx) error {
				if err := tx.Bucket().Delete(apiKey(id)); err != nil {
					return err
				}
				return tx.Release(id)
			})
		} else {
			err = tgt.Update(func(tx *chunkstore.Tx) error { return tx.Bucket().Delete(apiKey(id)) })
			if err == nil {
				err = tgt.Release(ctx, id)
			}
		}
		if err != nil {
			die("release %d (%s): %v", id, kind, err)
		}
		leased := "-"
		if r != nil {
			leased = "leased"
		}
		logLine("R %d %s", id, leased)
		if r2, err := tgt.NewReader(ctx, id); !errors.Is(err, chunkstore.ErrNotFound) {
			if err == nil {
				r2.Close()
			}
			die("new reader of released manifest %d: %v", id, err)
		}
		if r != nil {
			// Let the drainer, the cleaner and the mover run before reading on.
			time.Sleep(time.Duration(rng.IntN(pauseMs+1)) * time.Millisecond)
			rest, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(rest, want[len(head):]) {
				die("manifest %d (%s, release kind %s), open across its release: read %d+%d of %d bytes: %v (equal %v)", id, why, kind, len(head), len(rest), len(want), err, bytes.Equal(rest, want[len(head):]))
			}
			r.Close()
		}
	}

	// (a) Replication: write in the source, import into the target.
	go func() {
		rng := rand.New(rand.NewPCG(iter, 1))
		for n := uint64(0); ; n++ {
			waitRoom()
			seed := iter<<32 | 1<<24 | n
			data := apiCrashObjects.object(seed)
			w := src.NewWriter(ctx)
			w.Write(data)
			sm, err := w.Commit(ctx)
			if err != nil {
				die("source commit: %v", err)
			}
			es, err := apiListEntries(ctx, src, sm.ID)
			if err != nil {
				die("source entries: %v", err)
			}
			im, err := tgt.NewImport(ctx)
			if err != nil {
				die("new import: %v", err)
			}
			mode := rng.IntN(4)
			ids := apiIDs(es)
			var recs []chunkstore.Record
			switch mode {
			case 0, 1: // offer every ID, send what is missing
				missing, err := im.Need(ctx, ids)
				if err != nil {
					die("need: %v", err)
				}
				recs = readRecords(missing)
			case 2: // send every record without asking
				recs = readRecords(ids)
			case 3: // offer half; Append names the rest
				missing, err := im.Need(ctx, ids[:len(ids)/2])
				if err != nil {
					die("need: %v", err)
				}
				recs = readRecords(missing)
			}
			for len(recs) > 0 {
				k := len(recs)
				if mode == 1 {
					k = 1 + rng.IntN(len(recs))
				}
				if err := im.PutRecords(ctx, recs[:k]); err != nil {
					die("put records: %v", err)
				}
				recs = recs[k:]
			}
			for rest := es; len(rest) > 0; {
				k := len(rest)
				if mode == 1 {
					k = 1 + rng.IntN(len(rest))
				}
				err := im.Append(ctx, rest[:k])
				var me *chunkstore.MissingChunksError
				if mode == 3 && errors.As(err, &me) {
					if err := im.PutRecords(ctx, readRecords(me.IDs)); err != nil {
						die("put records Append named: %v", err)
					}
					err = im.Append(ctx, rest[:k])
				}
				if err != nil {
					die("append (mode %d): %v", mode, err)
				}
				rest = rest[k:]
			}
			if im.Size() != int64(len(data)) {
				die("import of %d bytes has %d", len(data), im.Size())
			}
			if rng.IntN(8) == 0 {
				if err := im.Abort(); err != nil {
					die("abort import: %v", err)
				}
				continue
			}
			desc := strconv.FormatUint(seed, 10)
			logLine("C? %d %s", im.ID(), desc)
			m, err := im.Commit(ctx, record(desc, false))
			if err != nil {
				die("import commit: %v", err)
			}
			if m.ID != im.ID() || m.Size != int64(len(data)) || m.Chunks != int64(len(es)) {
				die("import committed %+v, want manifest %d of %d bytes, %d chunks", m, im.ID(), len(data), len(es))
			}
			logLine("C %d %s i", m.ID, desc)
			pool.add(m.ID, desc)
			if rng.IntN(4) == 0 {
				// At once, with a reader open: its holds may not be dropped yet.
				release(rng, m.ID, desc, true, 5, "just imported")
			}
			if err := src.Release(ctx, sm.ID); err != nil {
				die("source release: %v", err)
			}
		}
	}()

	// (b) CommitEntries of chunks the target has: a concatenation of
	// committed manifests, enumerated with leases held until the commit.
	go func() {
		rng := rand.New(rand.NewPCG(iter, 2))
		for {
			time.Sleep(time.Duration(5+rng.IntN(15)) * time.Millisecond)
			waitRoom()
			var (
				all   []chunkstore.Entry
				descs []string
				its   []*chunkstore.Entries
				size  int64
			)
			for range 1 + rng.IntN(3) {
				id, desc, ok := pool.pick(rng, nil)
				if !ok {
					break
				}
				it, err := tgt.Entries(ctx, id, 0)
				if errors.Is(err, chunkstore.ErrNotFound) && pool.isGone(id) {
					continue
				}
				if err != nil {
					die("entries of committed manifest %d: %v", id, err)
				}
				its = append(its, it)
				var n int64
				for it.Next() {
					all = append(all, it.Entry())
					n += int64(it.Entry().Len)
				}
				if err := it.Err(); err != nil {
					die("entries of manifest %d, held: %v", id, err)
				}
				if n != it.Manifest().Size {
					die("entries of manifest %d cover %d of %d bytes", id, n, it.Manifest().Size)
				}
				size += n
				descs = append(descs, desc)
			}
			desc := strings.Join(descs, "+")
			if len(all) > 0 && size <= 1536<<10 && strings.Count(desc, "+") < 8 {
				m, err := tgt.CommitEntries(ctx, all, record(desc, true))
				if err != nil {
					die("commit entries of held manifests (%s): %v", desc, err)
				}
				if m.Size != size || m.Chunks != int64(len(all)) {
					die("commit entries: %+v, want %d bytes, %d chunks", m, size, len(all))
				}
				logLine("C %d %s e", m.ID, desc)
				pool.add(m.ID, desc)
			}
			for _, it := range its {
				it.Close()
			}
		}
	}()

	// Writes with CommitWith, some aborted.
	go func() {
		rng := rand.New(rand.NewPCG(iter, 3))
		for n := uint64(0); ; n++ {
			waitRoom()
			seed := iter<<32 | 3<<24 | n
			data := apiCrashObjects.object(seed)
			w := tgt.NewWriter(ctx)
			if rng.IntN(6) == 0 {
				w.Write(data[:len(data)/2])
				if err := w.Abort(); err != nil {
					die("abort: %v", err)
				}
				continue
			}
			w.Write(data)
			desc := strconv.FormatUint(seed, 10)
			m, err := w.CommitWith(ctx, record(desc, true))
			if err != nil {
				die("commit: %v", err)
			}
			logLine("C %d %s w", m.ID, desc)
			pool.add(m.ID, desc)
		}
	}()

	// (c) Pack into the tier and move.
	go func() {
		rng := rand.New(rand.NewPCG(iter, 4))
		for {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			pool.mu.Lock()
			moved := 0
			for id := range pool.live {
				if pool.moved[id] {
					moved++
				}
			}
			local := len(pool.live) - moved
			pool.mu.Unlock()
			if local <= moved { // keep about half of them local
				continue
			}
			id, desc, ok := pool.pick(rng, func(id chunkstore.ManifestID) bool { return !pool.moved[id] })
			if !ok {
				continue
			}
			if m, err := tgt.Stat(ctx, id); err == nil && m.Moved {
				pool.mu.Lock()
				pool.moved[id] = true
				pool.mu.Unlock()
				continue
			}
			if _, _, err := tier.PackManifest(ctx, tgt, id); err != nil {
				if pool.isGone(id) {
					continue
				}
				die("pack committed manifest %d: %v", id, err)
			}
			if rng.IntN(5) == 0 {
				// A move racing a release while a reader holds the manifest.
				done := make(chan error, 1)
				go func() { done <- tgt.Move(ctx, id) }()
				release(rng, id, desc, true, 5, "racing a move")
				if err := <-done; err != nil && !errors.Is(err, chunkstore.ErrNotFound) {
					die("move of manifest %d, released meanwhile: %v (want it done or ErrNotFound)", id, err)
				}
				continue
			}
			if err := tgt.Move(ctx, id); err != nil {
				if pool.isGone(id) {
					continue
				}
				die("move committed manifest %d, packed: %v", id, err)
			}
			logLine("M %d", id)
			pool.mu.Lock()
			pool.moved[id] = true
			pool.mu.Unlock()
		}
	}()

	// The cleaner, with a small threshold, dropping moved chunks' copies.
	go func() {
		for {
			rep, err := tgt.Clean(ctx, chunkstore.CleanOptions{Threshold: 0.05})
			if err != nil {
				die("clean: %v", err)
			}
			if rep.Compacted > 0 || rep.LocalCopiesDropped > 0 {
				logLine("X %d %d", rep.Compacted, rep.LocalCopiesDropped)
			} else {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	// (d) Releases, most with a reader of the manifest open and being read.
	go func() {
		rng := rand.New(rand.NewPCG(iter, 5))
		for {
			if pool.size() <= minLive {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			id, desc, _ := pool.pick(rng, nil)
			release(rng, id, desc, rng.IntN(4) != 0, 20, "releaser")
		}
	}()

	// A reader of random manifests.
	go func() {
		rng := rand.New(rand.NewPCG(iter, 6))
		for {
			id, desc, ok := pool.pick(rng, nil)
			if !ok {
				time.Sleep(time.Millisecond)
				continue
			}
			want, err := apiCrashObjects.content(desc)
			if err != nil {
				die("%v", err)
			}
			var r *chunkstore.Reader
			if rng.IntN(2) == 0 {
				r, err = tgt.NewReader(ctx, id)
			} else {
				// A lease taken in a view, which a release must wait for.
				err = tgt.View(func(tx *chunkstore.Tx) error {
					var err error
					r, err = tx.NewReader(ctx, id)
					return err
				})
			}
			if errors.Is(err, chunkstore.ErrNotFound) && pool.isGone(id) {
				continue
			}
			if err != nil {
				die("reader of committed manifest %d: %v", id, err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				die("manifest %d (%s), opened while committed: read %d of %d bytes: %v (equal %v)", id, desc, len(got), len(want), err, bytes.Equal(got, want))
			}
		}
	}()

	time.Sleep(time.Minute)
	die("not killed within a minute")
}

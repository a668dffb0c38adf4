package cloudtier

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/chunkstore/chunkstoretest"
)

// memTarget is a fake Target in memory, for the tests of the pack format
// and the sender; target_test.go runs the real targets (Azurite, a Cairn).
type memTarget struct {
	mu      sync.Mutex
	objs    map[string][]byte
	gets    atomic.Int64
	getByte atomic.Int64
	putErr  error
}

func newMemTarget() *memTarget { return &memTarget{objs: map[string][]byte{}} }

func (m *memTarget) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, sum []byte) error {
	b, err := io.ReadAll(io.LimitReader(body, size))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.putErr != nil {
		return m.putErr
	}
	if s := md5.Sum(b); int64(len(b)) != size || !bytes.Equal(s[:], sum) {
		return fmt.Errorf("mem: put %s: md5 or size mismatch", name)
	}
	m.objs[name] = b
	return nil
}

func (m *memTarget) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	m.mu.Lock()
	b, ok := m.objs[name]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("mem: %s: %w", name, ErrNotFound)
	}
	if n < 0 {
		n = int64(len(b)) - off
	}
	if off+n > int64(len(b)) {
		n = int64(len(b)) - off
	}
	m.gets.Add(1)
	m.getByte.Add(n)
	return io.NopCloser(bytes.NewReader(b[off : off+n])), nil
}

func (m *memTarget) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, name)
	return nil
}

func (m *memTarget) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	m.mu.Lock()
	var names []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			names = append(names, k)
		}
	}
	m.mu.Unlock()
	slices.Sort(names)
	for _, n := range names {
		m.mu.Lock()
		size := int64(len(m.objs[n]))
		m.mu.Unlock()
		if err := fn(n, size); err != nil {
			return err
		}
	}
	return nil
}

func (m *memTarget) String() string { return "mem" }

// sendAll adds each manifest to snd and flushes.
func sendAll(tb testing.TB, snd *Sender, ids ...chunkstore.ManifestID) {
	tb.Helper()
	for _, id := range ids {
		if err := snd.Add(tb.Context(), id); err != nil {
			tb.Fatal(err)
		}
	}
	if err := snd.Flush(tb.Context()); err != nil {
		tb.Fatal(err)
	}
}

func testTier(t *testing.T, tg Target) *Tier {
	mk, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return &Tier{Name: "cold", Target: tg, Keys: DeriveKeys(mk), KeyGen: 1}
}

// tieredStore is a store whose Remote is a registry holding tier.
func tieredStore(t *testing.T, tier *Tier) (*chunkstore.Store, *Registry) {
	reg := NewRegistry()
	reg.Set(tier)
	cfg := chunkstoretest.Config(t)
	cfg.Remote = reg
	return chunkstoretest.Open(t, cfg), reg
}

// TestSendMoveRead: objects sent through a Sender, moved and cleaned read
// back byte-exact from the tier; a second object sharing the data sends
// nothing; packs hold no plaintext and no chunk ID; every pack's index
// opens and names each chunk by its MAC.
func TestSendMoveRead(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, _ := tieredStore(t, tier)
	data := chunkstoretest.Data(1, 6<<20)
	m1 := chunkstoretest.Put(t, s, data)
	snd := NewSender(s, tier, t.TempDir(), 1<<20) // several packs
	sendAll(t, snd, m1.ID)
	st := snd.Stats()
	if st.Packs < 4 {
		t.Fatalf("%d packs for 6 MiB in 1 MiB packs", st.Packs)
	}
	m2 := chunkstoretest.Put(t, s, data)
	sendAll(t, snd, m2.ID)
	if got := snd.Stats(); got != st {
		t.Fatalf("the same data sent again: %+v then %+v", st, got)
	}
	for _, id := range []chunkstore.ManifestID{m1.ID, m2.ID} {
		if err := s.Move(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Clean(ctx, chunkstore.CleanOptions{Threshold: 0.01}); err != nil {
		t.Fatal(err)
	}
	if got := chunkstoretest.Read(t, s, m1.ID); !bytes.Equal(got, data) {
		t.Fatal("read-through differs")
	}
	if mt.gets.Load() == 0 {
		t.Fatal("nothing was fetched from the tier: the local copies were not dropped")
	}

	var ids []chunkstore.ChunkID
	it, err := s.Entries(ctx, m1.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		ids = append(ids, it.Entry().ID)
	}
	it.Close()
	macs := map[[32]byte]bool{}
	for _, id := range ids {
		macs[tier.Keys.ChunkMAC(id)] = true
	}
	found := 0
	for name, obj := range mt.objs {
		if !strings.HasPrefix(name, packPrefix) || len(name) != len(packPrefix)+32 {
			t.Fatalf("object name %q", name)
		}
		if bytes.Contains(obj, data[1000:1032]) {
			t.Fatalf("pack %s holds plaintext", name)
		}
		for _, id := range ids {
			if bytes.Contains(obj, id[:]) || bytes.Contains(obj, []byte(id.String())) {
				t.Fatalf("pack %s holds chunk ID %s", name, id)
			}
		}
		idx, err := ReadPackIndex(ctx, mt, tier.Keys, name, int64(len(obj)))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range idx.Entries {
			if macs[e.MAC] {
				found++
			}
		}
	}
	if found != len(macs) {
		t.Fatalf("indexes name %d of %d chunks", found, len(macs))
	}
}

// TestDamagedPack: a flipped byte anywhere in a pack's data fails the read
// with ErrDamaged; a wrong key fails to open the index; nothing wrong is
// returned.
func TestDamagedPack(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, reg := tieredStore(t, tier)
	data := chunkstoretest.Data(2, 300<<10)
	m := chunkstoretest.Put(t, s, data)
	snd := NewSender(s, tier, t.TempDir(), 32<<20)
	sendAll(t, snd, m.ID)
	var p chunkstore.PackInfo
	s.Packs(ctx, func(pi chunkstore.PackInfo) error { p = pi; return nil })
	obj := mt.objs[p.Object]
	obj[70000] ^= 1 // the second sio package
	buf := make([]byte, 1000)
	err := reg.Fetch(ctx, p.Pack, 65536+10, buf)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), p.Object) {
		t.Fatalf("damaged fetch: %v", err)
	}
	if err := reg.Fetch(ctx, p.Pack, 10, buf); err != nil {
		t.Fatalf("the undamaged package fails: %v", err)
	}
	other := testTier(t, mt)
	if _, err := ReadPackIndex(ctx, mt, other.Keys, p.Object, int64(len(obj))); !errors.Is(err, ErrDamaged) {
		t.Fatalf("index under a wrong key: %v", err)
	}
	obj[len(obj)-1] ^= 1
	if _, err := ReadPackIndex(ctx, mt, tier.Keys, p.Object, int64(len(obj))); !errors.Is(err, ErrDamaged) {
		t.Fatalf("bad trailer: %v", err)
	}
}

// TestSharedFetch: many readers of the same range fetch it once.
func TestSharedFetch(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, reg := tieredStore(t, tier)
	m := chunkstoretest.Put(t, s, chunkstoretest.Data(3, 2<<20))
	snd := NewSender(s, tier, t.TempDir(), 32<<20)
	sendAll(t, snd, m.ID)
	var p chunkstore.PackInfo
	s.Packs(ctx, func(pi chunkstore.PackInfo) error { p = pi; return nil })
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			if err := reg.Fetch(ctx, p.Pack, 4096, buf); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := mt.gets.Load(); n > 2 {
		t.Fatalf("16 readers of one range made %d fetches", n)
	}
}

// TestSendFailure: a failed upload records nothing and leaves no spool
// file; the next attempt sends it all.
func TestSendFailure(t *testing.T) {
	ctx := t.Context()
	mt := newMemTarget()
	tier := testTier(t, mt)
	s, _ := tieredStore(t, tier)
	m := chunkstoretest.Put(t, s, chunkstoretest.Data(4, 1<<20))
	dir := t.TempDir()
	snd := NewSender(s, tier, dir, 32<<20)
	mt.putErr = errors.New("mem: down")
	if err := snd.Add(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := snd.Flush(ctx); err == nil {
		t.Fatal("flush to a failing target succeeded")
	}
	if err := s.Move(ctx, m.ID); err == nil {
		t.Fatal("moved with nothing in the tier")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spool files left: %v", ents)
	}
	mt.putErr = nil
	sendAll(t, snd, m.ID)
	if err := s.Move(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkSend(b *testing.B) {
	mt := newMemTarget()
	mk, _ := NewMasterKey()
	tier := &Tier{Name: "cold", Target: mt, Keys: DeriveKeys(mk), KeyGen: 1}
	s := chunkstoretest.New(b)
	const size = 32 << 20
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		m := chunkstoretest.Put(b, s, chunkstoretest.Data(uint64(i), size))
		b.StartTimer()
		snd := NewSender(s, tier, b.TempDir(), 32<<20)
		sendAll(b, snd, m.ID)
	}
}

func BenchmarkFetch(b *testing.B) {
	ctx := b.Context()
	mt := newMemTarget()
	mk, _ := NewMasterKey()
	tier := &Tier{Name: "cold", Target: mt, Keys: DeriveKeys(mk), KeyGen: 1}
	reg := NewRegistry()
	reg.Set(tier)
	s := chunkstoretest.New(b)
	m := chunkstoretest.Put(b, s, chunkstoretest.Data(9, 32<<20))
	snd := NewSender(s, tier, b.TempDir(), 64<<20)
	sendAll(b, snd, m.ID)
	var p chunkstore.PackInfo
	s.Packs(ctx, func(pi chunkstore.PackInfo) error { p = pi; return nil })
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		// past the cache: each fetch opens its range
		off := (int64(i) * int64(len(buf))) % (p.Size - int64(len(buf)))
		reg.mu.Lock()
		reg.fmu.Lock()
		reg.recent, reg.cached = nil, 0
		reg.fmu.Unlock()
		reg.mu.Unlock()
		if err := reg.Fetch(ctx, p.Pack, off, buf); err != nil {
			b.Fatal(err)
		}
	}
}

package cloudtier

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Tier is a configured tier: its name (what lifecycle rules and S3 call its
// storage class), its cloud store, its keys, and the key generation new
// packs are sealed with.
type Tier struct {
	Name   string
	Target Target
	Keys   Keys
	KeyGen uint32
}

// Registry holds the configured tiers and reads their packs: it is the
// chunkstore.Remote of every storage group. Readers of the same pack share
// fetches: a range being fetched (or one that holds it) is waited for
// rather than fetched again, and recently opened ranges are kept (up to
// cacheBytes) for the readers just behind. A reader that goes through a
// pack in order has the next range fetched while it works on this one.
type Registry struct {
	mu    sync.RWMutex
	tiers map[string]*Tier

	fmu      sync.Mutex
	inflight map[rangeKey]*fetchCall
	recent   []cached // most recent last
	cached   int64
	lastEnd  map[string]int64 // per pack, where the last read ended
}

// cacheBytes bounds the opened ranges a Registry keeps: the one a reader
// prefetched, and what the readers just behind it share.
const cacheBytes = 32 << 20

// fetchTimeout bounds one shared fetch; a reader's own context (the chunk
// store's RemoteTimeout) may end its wait sooner.
const fetchTimeout = 5 * time.Minute

type rangeKey struct {
	tier, object string
	first, last  int64 // sio packages
}

type fetchCall struct {
	done  chan struct{}
	start int64
	plain []byte
	err   error
}

type cached struct {
	tier, object string
	start        int64
	plain        []byte
}

var _ chunkstore.Remote = (*Registry)(nil)

// NewRegistry is an empty registry.
func NewRegistry() *Registry {
	return &Registry{tiers: map[string]*Tier{}, inflight: map[rangeKey]*fetchCall{}, lastEnd: map[string]int64{}}
}

// Set adds or replaces a tier.
func (r *Registry) Set(t *Tier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tiers[t.Name] = t
}

// Remove forgets a tier.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	delete(r.tiers, name)
	r.mu.Unlock()
	r.fmu.Lock()
	defer r.fmu.Unlock()
	keep := r.recent[:0]
	r.cached = 0
	for _, c := range r.recent {
		if c.tier != name {
			keep = append(keep, c)
			r.cached += int64(len(c.plain))
		}
	}
	r.recent = keep
}

// Get returns the named tier.
func (r *Registry) Get(name string) (*Tier, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tiers[name]
	return t, ok
}

// Names lists the tiers, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.tiers))
}

// Fetch reads len(p) plaintext bytes at off of a pack. Each sio package
// is authenticated as it opens, so a byte altered in the cloud fails the
// read (with ErrDamaged, naming the object) and never reaches p; the chunk
// store then checks each record as it checks a local one.
func (r *Registry) Fetch(ctx context.Context, p chunkstore.Pack, off int64, buf []byte) error {
	t, ok := r.Get(p.Tier)
	if !ok {
		return fmt.Errorf("cloudtier: tier %q is not configured (cairn admin tier add)", p.Tier)
	}
	n := int64(len(buf))
	if n == 0 {
		return nil
	}
	key := rangeKey{tier: p.Tier, object: p.Object, first: off / sioPayload, last: (off + n - 1) / sioPayload}
	r.fmu.Lock()
	// A reader going through the pack in order gets the next range
	// fetched while it checks and sends this one.
	if r.sequential(p, off, off+n) {
		if next := r.nextRange(p, key); next.last >= next.first && r.covering(next) == nil && !r.cachedRange(p, next) {
			r.startFetch(ctx, t, p, next)
		}
	}
	if r.fromCache(p, off, buf) {
		r.fmu.Unlock()
		return nil
	}
	c := r.covering(key)
	if c == nil {
		c = r.startFetch(ctx, t, p, key)
	}
	r.fmu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.err != nil {
		return c.err
	}
	copy(buf, c.plain[off-c.start:])
	return nil
}

// covering returns the fetch in flight whose range holds key's, if any;
// r.fmu held.
func (r *Registry) covering(key rangeKey) *fetchCall {
	if c := r.inflight[key]; c != nil {
		return c
	}
	for k, c := range r.inflight {
		if k.tier == key.tier && k.object == key.object && k.first <= key.first && key.last <= k.last {
			return c
		}
	}
	return nil
}

// startFetch starts fetching key's range; r.fmu held. The fetch outlives
// a reader that gives up, for the others that wait on it, but no longer
// than fetchTimeout.
func (r *Registry) startFetch(ctx context.Context, t *Tier, p chunkstore.Pack, key rangeKey) *fetchCall {
	c := &fetchCall{done: make(chan struct{})}
	r.inflight[key] = c
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	go func() {
		defer cancel()
		r.fetch(fctx, t, p, key, c)
	}()
	return c
}

// sequential records where a read of a pack ended and says whether it
// began where the last one ended; r.fmu held.
func (r *Registry) sequential(p chunkstore.Pack, off, end int64) bool {
	k := p.Tier + "\x00" + p.Object
	seq := r.lastEnd[k] == off && off > 0
	if len(r.lastEnd) > 1024 {
		clear(r.lastEnd)
	}
	r.lastEnd[k] = end
	return seq
}

// nextRange is the range after key's, twice its length (a reader's next
// span may be longer than this one), within the pack.
func (r *Registry) nextRange(p chunkstore.Pack, key rangeKey) rangeKey {
	n := key.last - key.first + 1
	lastPkg := (p.Size - 1) / sioPayload
	return rangeKey{tier: key.tier, object: key.object, first: key.last + 1, last: min(key.last+2*n, lastPkg)}
}

func (r *Registry) fetch(ctx context.Context, t *Tier, p chunkstore.Pack, key rangeKey, c *fetchCall) {
	start := key.first * sioPayload
	end := min((key.last+1)*sioPayload, p.Size)
	c.start, c.plain, c.err = openRange(ctx, t, p, start, end-start)
	r.fmu.Lock()
	defer r.fmu.Unlock()
	delete(r.inflight, key)
	close(c.done)
	if c.err != nil || int64(len(c.plain)) > cacheBytes/2 {
		return
	}
	r.recent = append(r.recent, cached{tier: p.Tier, object: p.Object, start: c.start, plain: c.plain})
	r.cached += int64(len(c.plain))
	for r.cached > cacheBytes {
		r.cached -= int64(len(r.recent[0].plain))
		r.recent[0] = cached{}
		r.recent = r.recent[1:]
	}
}

// cachedRange says whether the cache holds all of key's range; r.fmu held.
func (r *Registry) cachedRange(p chunkstore.Pack, key rangeKey) bool {
	start, end := key.first*sioPayload, min((key.last+1)*sioPayload, p.Size)
	for _, c := range r.recent {
		if c.object == p.Object && c.tier == p.Tier && start >= c.start && end <= c.start+int64(len(c.plain)) {
			return true
		}
	}
	return false
}

// fromCache fills buf from a recently opened range that holds all of it;
// r.fmu held.
func (r *Registry) fromCache(p chunkstore.Pack, off int64, buf []byte) bool {
	for i := len(r.recent) - 1; i >= 0; i-- {
		c := r.recent[i]
		if c.object == p.Object && c.tier == p.Tier && off >= c.start && off+int64(len(buf)) <= c.start+int64(len(c.plain)) {
			copy(buf, c.plain[off-c.start:])
			return true
		}
	}
	return false
}

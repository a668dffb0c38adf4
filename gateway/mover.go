package gateway

// The mover carries out what the lifecycle scanner finds due for a tier.
// One mover per tier takes jobs (a version, its manifest, copy or move) in
// the order the scans queued them, sends what of each manifest the tier
// lacks through a cloudtier.Sender per group (so a chunk crosses to a tier
// once, whatever object or bucket it is in), and once a flush has put a
// job's chunks in the tier:
//
//   - a move (lifecycle Transition, cloud policy move) releases the local
//     copy with chunkstore.Store.Move, which refuses unless every chunk has
//     a copy in a tier; a copy keeps it;
//   - the version's record names the tier (what S3 shows as its storage
//     class), in a write transaction that checks the version still names
//     the same manifest.
//
// Nothing about a job is durable before it is done: a crash or a failed
// upload loses the queue, and the next scan finds the same versions due and
// queues them again. Chunks that reached the tier are not sent twice: the
// chunk store records them with their pack as soon as the pack is stored.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/s3api"
)

// packSize is the plaintext size at which a pack is sealed and sent.
const packSize = 16 << 20

// moverQueue bounds the jobs waiting for one tier: a scan that outruns the
// uploads waits for them.
const moverQueue = 1024

// moveJob is one version due for a tier.
type moveJob struct {
	group    *group
	bucket   string
	key      string
	seq      []byte
	manifest chunkstore.ManifestID
	tier     string
	move     bool // release the local copy once the tier holds it
	// unrestore ends a restore: the local copies go again.
	unrestore bool
}

func (j moveJob) id() string { return j.bucket + "\x00" + j.key + "\x00" + string(j.seq) }

// MoverStats are a tier's mover's counts since the gateway started.
type MoverStats struct {
	Queued    int    `json:"queued"` // jobs waiting or in progress
	Copied    int64  `json:"copied"` // versions now with a copy in the tier
	Moved     int64  `json:"moved"`  // of which the local copy was released
	Failed    int64  `json:"failed"` // jobs that failed (queued again by the next scan)
	SentBytes int64  `json:"sent"`   // bytes of packs uploaded
	PacksSent int64  `json:"packs_sent"`
	LastError string `json:"last_error,omitempty"`
}

type mover struct {
	g    *Gateway
	tier *cloudtier.Tier
	jobs chan moveJob
	stop context.CancelFunc
	done chan struct{}

	catalog  *cloudtier.Catalog // written by loop only
	cleans   chan cleanReq      // tier cleans, run by loop between flushes
	dropping []string           // packs the last clean dropped, deleted by the next (loop only)

	mu       sync.Mutex
	inflight map[string]bool
	st       MoverStats
	senders  map[*group]*cloudtier.Sender
}

// moverFor returns the tier's mover, starting it on first use.
func (g *Gateway) moverFor(name string) (*mover, error) {
	g.tiers.mu.Lock()
	defer g.tiers.mu.Unlock()
	return g.moverLocked(name)
}

// moverLocked is moverFor with g.tiers.mu held.
func (g *Gateway) moverLocked(name string) (*mover, error) {
	t := g.tiers
	if m := t.movers[name]; m != nil {
		return m, nil
	}
	tr, ok := t.reg.Get(name)
	if !ok {
		return nil, fmt.Errorf("no tier is named %q", name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &mover{g: g, tier: tr, catalog: cloudtier.NewCatalog(tr), cleans: make(chan cleanReq), jobs: make(chan moveJob, moverQueue), stop: cancel, done: make(chan struct{}),
		inflight: map[string]bool{}, senders: map[*group]*cloudtier.Sender{}}
	t.movers[name] = m
	go m.loop(ctx)
	return m, nil
}

// closeMovers stops every mover; jobs not done are found again by the next
// scan.
func (g *Gateway) closeMovers() {
	t := g.tiers
	t.mu.Lock()
	ms := t.movers
	t.movers = map[string]*mover{}
	t.mu.Unlock()
	for _, m := range ms {
		m.close()
	}
}

func (m *mover) close() {
	m.stop()
	<-m.done
}

// enqueue hands jobs to their tiers' movers, waiting while a queue is
// full; a job already queued is not queued twice.
func (g *Gateway) enqueue(ctx context.Context, jobs []moveJob) error {
	for _, j := range jobs {
		m, err := g.moverFor(j.tier)
		if err != nil {
			return err
		}
		m.mu.Lock()
		dup := m.inflight[j.id()]
		if !dup {
			m.inflight[j.id()] = true
			m.st.Queued++
		}
		m.mu.Unlock()
		if dup {
			continue
		}
		select {
		case m.jobs <- j:
		case <-m.done: // stopped (tier removed, key rotated): the next scan queues it again
			m.finish(j, ErrClosedTier)
		case <-ctx.Done():
			m.finish(j, ctx.Err())
			return ctx.Err()
		}
	}
	return nil
}

func (m *mover) stats() MoverStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// finish ends a job, counting it.
func (m *mover) finish(j moveJob, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.inflight, j.id())
	m.st.Queued--
	switch {
	case err != nil:
		m.st.Failed++
		m.st.LastError = err.Error()
	case j.move:
		m.st.Copied++
		m.st.Moved++
	default:
		m.st.Copied++
	}
}

// loop takes jobs while there are some and flushes when the queue runs dry
// (or a flush is due anyway), so that small objects share packs. Between
// jobs it appends the groups' forgets to the catalog every
// Config.TierCatalogInterval.
func (m *mover) loop(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(m.g.cfg.TierCatalogInterval)
	defer tick.Stop()
	cleanTick := time.NewTicker(m.g.cfg.TierCleanInterval)
	defer cleanTick.Stop()
	var pending []moveJob
	for {
		var j moveJob
		select {
		case <-ctx.Done():
			for _, p := range pending {
				m.finish(p, ctx.Err())
			}
			m.closeSenders()
			return
		case <-tick.C:
			if err := m.appendCatalog(ctx, nil, time.Now().UTC()); err != nil {
				m.noteError(err)
			}
			continue
		case <-cleanTick.C:
			m.flush(ctx, &pending)
			if _, err := m.clean(ctx); err != nil {
				m.noteError(err)
			}
			continue
		case req := <-m.cleans:
			// After a flush: no pack is uploading and not yet recorded, so
			// every unrecorded object the cleaner finds is an orphan.
			m.flush(ctx, &pending)
			cctx, cancel := context.WithCancel(req.ctx)
			stop := context.AfterFunc(ctx, cancel) // a closing mover ends it too
			rep, err := m.clean(cctx)
			stop()
			cancel()
			req.reply <- cleanResult{rep, err}
			continue
		case j = <-m.jobs:
		}
		pending = append(pending, j)
		if err := m.sender(j.group).Add(ctx, j.manifest); err != nil {
			m.fail(ctx, j.group, &pending, err)
			continue
		}
		if len(m.jobs) > 0 && len(pending) < moverQueue {
			continue // more to pack first
		}
		m.flush(ctx, &pending)
	}
}

// closeSenders drops the senders' open packs and their spool files.
func (m *mover) closeSenders() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for gr, s := range m.senders {
		s.Close()
		delete(m.senders, gr)
	}
}

func (m *mover) sender(gr *group) *cloudtier.Sender {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.senders[gr]
	if s == nil {
		s = cloudtier.NewSender(gr.store, m.tier, m.g.spoolDir(), packSize)
		m.senders[gr] = s
	}
	return s
}

// fail ends the pending jobs of a group whose sender failed: what they
// added since the last flush must be added again, by the next scan.
func (m *mover) fail(ctx context.Context, gr *group, pending *[]moveJob, err error) {
	m.g.log.Warn("tier upload failed", "tier", m.tier.Name, "group", gr.name, "err", err)
	if ctx.Err() == nil {
		m.g.event(events.TierFailing, m.tier.Name, fmt.Sprintf("uploading storage group %s's data to tier %s failed: %v", gr.name, m.tier.Name, err))
	}
	keep := (*pending)[:0]
	for _, p := range *pending {
		if p.group == gr {
			m.finish(p, err)
		} else {
			keep = append(keep, p)
		}
	}
	*pending = keep
}

// flush sends the open packs of every group with pending jobs, appends
// what they put in the tier to the catalog, and then completes the jobs.
func (m *mover) flush(ctx context.Context, pending *[]moveJob) {
	if len(*pending) == 0 {
		return
	}
	groups := map[*group]bool{}
	for _, p := range *pending {
		groups[p.group] = true
	}
	for gr := range groups {
		before := m.sender(gr).Stats()
		err := m.sender(gr).Flush(ctx)
		after := m.sender(gr).Stats()
		m.mu.Lock()
		m.st.SentBytes += after.SentBytes - before.SentBytes
		m.st.PacksSent += after.Packs - before.Packs
		m.mu.Unlock()
		if err != nil {
			m.fail(ctx, gr, pending, err)
		}
	}
	now := time.Now().UTC()
	err := m.g.markCataloged(*pending)
	if err == nil {
		err = m.appendCatalog(ctx, *pending, now)
	}
	if err != nil {
		if ctx.Err() == nil {
			m.g.event(events.TierFailing, m.tier.Name, fmt.Sprintf("recording moved data in tier %s's catalog failed: %v", m.tier.Name, err))
		}
		// The chunks are in the tier: the next scan queues the jobs again
		// and sends nothing but their catalog records.
		for _, p := range *pending {
			m.finish(p, err)
		}
		*pending = (*pending)[:0]
		return
	}
	for _, p := range *pending {
		m.finish(p, m.g.complete(ctx, p, now))
	}
	*pending = (*pending)[:0]
}

// appendCatalog appends to the tier's catalog the records of jobs whose
// chunks are in the tier, and every group's pending forgets, which it then
// deletes.
func (m *mover) appendCatalog(ctx context.Context, jobs []moveJob, now time.Time) error {
	// Forgets first: they are of versions and buckets catalogued before
	// (a version deleted before its record is written gets none), so a
	// bucket deleted and made again reads right.
	var recs []cloudtier.CatalogRecord
	forgets := map[*group][][]byte{}
	for _, gr := range m.g.groupList() {
		fr, rows, err := pendingForgets(gr, m.tier.Name)
		if err == nil && len(fr) > 0 {
			var br []cloudtier.CatalogRecord
			br, err = bucketCatalogRecords(gr, fr, now, m.g.sse)
			recs = append(append(recs, fr...), br...)
		}
		if err != nil {
			return fmt.Errorf("tier %s: catalog: group %s: %w", m.tier.Name, gr.name, err)
		}
		if len(rows) > 0 {
			forgets[gr] = rows
		}
	}
	vrecs, err := m.g.catalogVersions(ctx, jobs, now)
	if err != nil {
		return fmt.Errorf("tier %s: catalog: %w", m.tier.Name, err)
	}
	recs = append(recs, vrecs...)
	if len(recs) == 0 {
		return nil
	}
	if err := m.catalog.Append(ctx, recs); err != nil {
		return err
	}
	for gr, rows := range forgets {
		if err := dropForgets(gr, rows); err != nil {
			return fmt.Errorf("tier %s: catalog: group %s: %w", m.tier.Name, gr.name, err)
		}
	}
	return nil
}

type cleanReq struct {
	ctx   context.Context
	reply chan cleanResult
}

type cleanResult struct {
	rep cloudtier.CleanReport
	err error
}

// clean runs the tier's cleaner over every group.
func (m *mover) clean(ctx context.Context) (cloudtier.CleanReport, error) {
	var stores []*chunkstore.Store
	for _, gr := range m.g.groupList() {
		stores = append(stores, gr.store)
	}
	rep, err := cloudtier.Clean(ctx, m.tier, stores, cloudtier.CleanOptions{PackSize: packSize, SpoolDir: m.g.spoolDir(), Deferred: m.dropping})
	m.dropping = append(m.dropping[rep.Deleted:], rep.Dropping...)
	if err == nil && (rep.Dropped+rep.Repacked+rep.Orphans+rep.Deleted) > 0 {
		m.g.log.Info("tier cleaned", "tier", m.tier.Name, "dropped", rep.Dropped, "repacked", rep.Repacked, "orphans", rep.Orphans)
	}
	return rep, err
}

// CleanTier runs a tier's cleaner now: packs no chunk needs are deleted,
// sparse packs repacked, orphans removed.
func (g *Gateway) CleanTier(ctx context.Context, name string) (cloudtier.CleanReport, error) {
	if !g.tiers.has(name) {
		return cloudtier.CleanReport{}, s3api.ErrInvalidArgument.WithMessagef("no tier is named %q (cairn admin tier ls lists them)", name)
	}
	m, err := g.moverFor(name)
	if err != nil {
		return cloudtier.CleanReport{}, err
	}
	req := cleanReq{ctx: ctx, reply: make(chan cleanResult, 1)}
	select {
	case m.cleans <- req:
	case <-ctx.Done():
		return cloudtier.CleanReport{}, ctx.Err()
	case <-m.done:
		return cloudtier.CleanReport{}, ErrClosedTier
	}
	select {
	case r := <-req.reply:
		return r.rep, r.err
	case <-ctx.Done():
		return cloudtier.CleanReport{}, ctx.Err()
	}
}

// ErrClosedTier: the tier's mover stopped (the gateway is closing, or the
// tier was removed).
var ErrClosedTier = errors.New("the tier's mover has stopped")

func (m *mover) noteError(err error) {
	m.g.log.Warn("tier", "tier", m.tier.Name, "err", err)
	if !errors.Is(err, context.Canceled) {
		m.g.event(events.TierFailing, m.tier.Name, fmt.Sprintf("tier %s: %v", m.tier.Name, err))
	}
	m.mu.Lock()
	m.st.LastError = err.Error()
	m.mu.Unlock()
}

// complete finishes a job whose chunks are all in the tier: the move, then
// the record.
func (g *Gateway) complete(ctx context.Context, j moveJob, now time.Time) error {
	if j.unrestore && !g.restoreStillExpired(j) {
		return nil // restored again meanwhile: the local copies stay
	}
	if j.move {
		if err := j.group.store.Move(ctx, j.manifest); err != nil {
			return fmt.Errorf("bucket %s key %q: %w", j.bucket, j.key, err)
		}
	}
	err := updateIn(j.group, j.bucket, func(_ *chunkstore.Tx, k *bkt) error {
		ck := composite(j.key, j.seq)
		b := k.ver.Get(ck)
		if b == nil {
			return nil // deleted meanwhile: its release undoes the move
		}
		var rec versionRecord
		if err := decode(b, &rec); err != nil {
			return err
		}
		if rec.Manifest != j.manifest || rec.DeleteMarker {
			return nil
		}
		tierVersion(&rec, j, now)
		enc, err := encode(rec)
		if err != nil {
			return err
		}
		return k.ver.Put(ck, enc)
	})
	if errors.Is(err, s3api.ErrNoSuchBucket) {
		return nil
	}
	return err
}

// restoreStillExpired says whether the restore j ends is still over.
func (g *Gateway) restoreStillExpired(j moveJob) bool {
	expired := false
	g.viewBucket(j.bucket, func(_ *chunkstore.Tx, k *bkt) error {
		b := k.ver.Get(composite(j.key, j.seq))
		if b == nil {
			return nil
		}
		var rec versionRecord
		if err := decode(b, &rec); err != nil {
			return err
		}
		expired = rec.Manifest == j.manifest && restoreExpired(rec, time.Now().UTC())
		return nil
	})
	return expired
}

const spoolDirName = "tier-spool"

// spoolDir is where packs are sealed before they are sent.
func (g *Gateway) spoolDir() string {
	dir := filepath.Join(g.cfg.DataDir, spoolDirName)
	os.MkdirAll(dir, 0o700)
	return dir
}

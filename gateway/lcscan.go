package gateway

// The lifecycle scanner applies what package policy decides. It walks a
// bucket's versions in key order, a batch at a time, and then its multipart
// uploads:
//
//   - A batch is read in a read transaction: nothing due costs writers
//     nothing. The keys with something due are then re-read, decided again
//     and changed in one write transaction of the group, which also commits
//     the cursor and the run's counts: after a crash the scan resumes after
//     the last batch that committed, and a batch is applied once or not at
//     all.
//   - A key is decided on its whole version stack and again after every
//     change until nothing more is due (expiring the current version makes
//     it noncurrent, which may let a delete marker or an older version go),
//     so a second run straight after the first changes nothing.
//   - Expiring the current version is a DELETE without a version ID, as S3
//     does: a delete marker in a versioned bucket, the object gone in one
//     without versioning. Expired manifests are released in the same
//     transaction and reach the cleaner like any DELETE's.
//   - The scan reads at most Config.LifecycleRate versions per second.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/policy"
	"github.com/cairn-backup/cairn/s3api"
)

// scanBatch is how many versions (or uploads) one batch reads.
const scanBatch = 256

// cursorEvery bounds how long a scan with nothing due goes without
// committing its cursor.
const cursorEvery = time.Second

// ScanCounts are what a lifecycle run did.
type ScanCounts struct {
	Scanned           int64 `json:"scanned"`            // versions and uploads examined
	Expired           int64 `json:"expired"`            // current versions expired
	NoncurrentExpired int64 `json:"noncurrent_expired"` // noncurrent versions deleted
	MarkersRemoved    int64 `json:"markers_removed"`    // expired object delete markers removed
	UploadsAborted    int64 `json:"uploads_aborted"`    // incomplete multipart uploads aborted
	TransitionsDue    int64 `json:"transitions_due"`    // versions due for a tier, waiting for the mover
	Errors            int64 `json:"errors"`
	// LockedSkipped counts expirations due on versions object lock kept.
	LockedSkipped int64 `json:"locked_skipped,omitempty"`
}

func (c *ScanCounts) add(o ScanCounts) {
	c.Scanned += o.Scanned
	c.Expired += o.Expired
	c.NoncurrentExpired += o.NoncurrentExpired
	c.MarkersRemoved += o.MarkersRemoved
	c.UploadsAborted += o.UploadsAborted
	c.TransitionsDue += o.TransitionsDue
	c.Errors += o.Errors
	c.LockedSkipped += o.LockedSkipped
}

// ScanRun is one run over one bucket.
type ScanRun struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Phase is "versions" then "uploads"; Cursor the last bbolt key done.
	Phase  string `json:"phase,omitempty"`
	Cursor []byte `json:"cursor,omitempty"`
	ScanCounts
	LastError string `json:"last_error,omitempty"`
}

// scanRecord is a bucket's scanner state, stored under keyScan.
type scanRecord struct {
	Run  *ScanRun `json:"run,omitempty"`  // in progress (resumed after a restart)
	Last *ScanRun `json:"last,omitempty"` // the last one finished
}

const (
	phaseVersions = "versions"
	phaseUploads  = "uploads"
)

// scanner runs lifecycle scans: on an interval, on demand, and at start for
// runs a restart interrupted. One scan per bucket at a time.
type scanner struct {
	g      *Gateway
	mu     sync.Mutex
	busy   map[string]*sync.Mutex
	stop   context.CancelFunc
	done   chan struct{}
	paceMu sync.Mutex // the rate bound is the gateway's, across buckets
}

func (g *Gateway) startScanner() {
	ctx, cancel := context.WithCancel(context.Background())
	g.scan = &scanner{g: g, busy: map[string]*sync.Mutex{}, stop: cancel, done: make(chan struct{})}
	if g.cfg.LifecycleInterval <= 0 {
		close(g.scan.done)
		return
	}
	go g.scan.loop(ctx)
}

func (s *scanner) close() {
	s.stop()
	<-s.done
}

func (s *scanner) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.g.cfg.LifecycleInterval)
	defer t.Stop()
	for {
		// The first pass at start resumes runs a restart interrupted.
		if _, err := s.g.RunLifecycle(ctx, "", nil); err != nil && ctx.Err() == nil {
			s.g.log.Error("lifecycle scan", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// active reports whether a run holds the bucket now.
func (s *scanner) active(bucket string) bool {
	s.mu.Lock()
	m := s.busy[bucket]
	s.mu.Unlock()
	if m == nil || m.TryLock() {
		if m != nil {
			m.Unlock()
		}
		return false
	}
	return true
}

// lock serializes runs over one bucket.
func (s *scanner) lock(bucket string) func() {
	s.mu.Lock()
	m := s.busy[bucket]
	if m == nil {
		m = &sync.Mutex{}
		s.busy[bucket] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// LifecycleReport is what RunLifecycle did, per bucket and in total.
type LifecycleReport struct {
	Buckets map[string]ScanCounts `json:"buckets"`
	Total   ScanCounts            `json:"total"`
}

// RunLifecycle scans bucket (every bucket with rules when bucket is "")
// now, resuming a run in progress. progress, when set, gets the counts of
// the bucket being scanned after each batch.
func (g *Gateway) RunLifecycle(ctx context.Context, bucket string, progress func(bucket string, c ScanCounts)) (LifecycleReport, error) {
	rep := LifecycleReport{Buckets: map[string]ScanCounts{}}
	var names []string
	if bucket != "" {
		if _, err := g.bucketGroup(bucket); err != nil {
			return rep, err
		}
		names = []string{bucket}
	} else {
		g.mu.RLock()
		names = slices.Sorted(maps.Keys(g.buckets))
		g.mu.RUnlock()
	}
	var errs []error
	for _, name := range names {
		c, err := g.scanBucket(ctx, name, progress)
		if errors.Is(err, s3api.ErrNoSuchBucket) && bucket == "" {
			continue // deleted meanwhile
		}
		if c != nil {
			rep.Buckets[name] = c.ScanCounts
			rep.Total.add(c.ScanCounts)
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err() // the counts so far: the run resumes later
			}
			errs = append(errs, fmt.Errorf("bucket %s: %w", name, err))
		}
	}
	return rep, errors.Join(errs...)
}

// scanBucket runs (or resumes) one scan of a bucket with rules; nil when it
// has none.
func (g *Gateway) scanBucket(ctx context.Context, name string, progress func(string, ScanCounts)) (*ScanRun, error) {
	// A replica runs no rules of its own: it converges to its source,
	// whose expirations reach it as deletes.
	if _, ok := g.replicas.Load(name); ok {
		return nil, nil
	}
	defer g.scan.lock(name)()
	gr, err := g.bucketGroup(name)
	if err != nil {
		return nil, err
	}
	// A read first: a bucket without rules or a run costs no commit.
	idle := false
	err = g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		rec, err := k.scanRecord()
		idle = err == nil && rec.Run == nil && k.rec.RulesStamp == 0
		return err
	})
	if err != nil || idle {
		return nil, err
	}
	var run *ScanRun
	err = updateIn(gr, name, func(_ *chunkstore.Tx, k *bkt) error {
		rec, err := k.scanRecord()
		if err != nil {
			return err
		}
		if rec.Run != nil {
			run = rec.Run // interrupted: resume
			return nil
		}
		if k.rec.RulesStamp == 0 {
			return nil
		}
		run = &ScanRun{Started: time.Now().UTC(), Phase: phaseVersions}
		rec.Run = run
		return k.saveScan(rec)
	})
	if err != nil || run == nil {
		return nil, err
	}
	lastCommit := time.Now()
	for run.Phase != "" {
		if err := ctx.Err(); err != nil {
			return run, err
		}
		b, err := g.readBatch(name, run)
		if err != nil {
			return run, err
		}
		for i := range b.moves {
			b.moves[i].group = gr
		}
		if err := g.enqueue(ctx, b.moves); err != nil {
			return run, err
		}
		g.pace(ctx, b.read)
		var delta ScanCounts
		var errs []string
		if len(b.due) > 0 || len(b.errs) > 0 || b.end || time.Since(lastCommit) >= cursorEvery {
			err = updateIn(gr, name, func(_ *chunkstore.Tx, k *bkt) error {
				delta = ScanCounts{Scanned: int64(b.read)}
				errs = append(errs[:0], b.errs...)
				if err := g.applyBatch(k, run.Phase, b, &delta, &errs); err != nil {
					return err
				}
				delta.Errors += int64(len(errs))
				next := *run
				next.ScanCounts.add(delta)
				if len(errs) > 0 {
					next.LastError = errs[len(errs)-1]
				}
				next.Cursor = b.cursor
				if b.end {
					next.Phase, next.Cursor = nextPhase(run.Phase), nil
				}
				rec, err := k.scanRecord()
				if err != nil {
					return err
				}
				if next.Phase == "" {
					next.Finished = time.Now().UTC()
					rec.Run, rec.Last = nil, &next
				} else {
					rec.Run = &next
				}
				return k.saveScan(rec)
			})
			if errors.Is(err, s3api.ErrNoSuchBucket) {
				return run, nil // deleted while it was scanned
			}
			if err != nil {
				return run, err
			}
			lastCommit = time.Now()
			for _, e := range errs {
				g.log.Warn("lifecycle scan passed a key it could not apply", "bucket", name, "err", e)
			}
			if len(errs) > 0 {
				run.LastError = errs[len(errs)-1]
			}
			run.ScanCounts.add(delta)
			run.Cursor = b.cursor
			if b.end {
				run.Phase, run.Cursor = nextPhase(run.Phase), nil
			}
		} else {
			// Nothing due: the cursor and counts are committed with the
			// next batch that commits (a crash re-reads at most a second).
			run.Scanned += int64(b.read)
			run.TransitionsDue += b.transitions
			run.Cursor = b.cursor
		}
		if progress != nil {
			progress(name, run.ScanCounts)
		}
	}
	run.Finished = time.Now().UTC()
	return run, nil
}

func nextPhase(p string) string {
	if p == phaseVersions {
		return phaseUploads
	}
	return ""
}

// pace sleeps so that the scan reads at most LifecycleRate items a second.
func (g *Gateway) pace(ctx context.Context, n int) {
	rate := g.cfg.LifecycleRate
	if rate <= 0 || n == 0 {
		return
	}
	g.scan.paceMu.Lock()
	defer g.scan.paceMu.Unlock()
	t := time.NewTimer(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// batch is one batch read: how many items, the keys (or upload rows) with
// something due, the cursor after it, and whether the phase ended.
type batch struct {
	read        int
	transitions int64
	moves       []moveJob // versions due for a tier
	errs        []string  // keys that could not be read, and why
	due         [][]byte  // versions: object keys; uploads: upl rows
	cursor      []byte
	end         bool
}

// readBatch reads the next batch of run's phase and decides it.
func (g *Gateway) readBatch(name string, run *ScanRun) (batch, error) {
	var b batch
	err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
		lc, cp, err := g.rules(k)
		if err != nil {
			return err
		}
		now := time.Now()
		switch run.Phase {
		case phaseVersions:
			return g.readVersions(k, lc, cp, now, run.Cursor, &b)
		case phaseUploads:
			return g.readUploads(k, lc, now, run.Cursor, &b)
		}
		return fmt.Errorf("lifecycle scan of %s: unknown phase %q", name, run.Phase)
	})
	return b, err
}

// readVersions reads whole keys after cursor (a key's prefix) until the
// batch holds scanBatch versions.
func (g *Gateway) readVersions(k *bkt, lc *policy.Lifecycle, cp *policy.CloudPolicy, now time.Time, cursor []byte, b *batch) error {
	c := k.ver.Cursor()
	var ck []byte
	if cursor == nil {
		ck, _ = c.First()
	} else if end := prefixEnd(cursor); end != nil {
		ck, _ = c.Seek(end)
	}
	for ck != nil && b.read < scanBatch {
		key, _, err := splitComposite(ck)
		if err != nil {
			return err
		}
		stack, err := k.stack(key)
		if err != nil {
			// One bad key must not stop the scan of the rest for good: it
			// is counted, named in the run, and passed.
			b.read++
			b.errs = append(b.errs, fmt.Sprintf("key %q: %v", key, err))
			stack = nil
		}
		b.read += len(stack)
		changes, moves := g.decideStack(k, lc, cp, key, stack, now)
		b.transitions += int64(len(moves))
		b.moves = append(b.moves, moves...)
		if changes > 0 {
			b.due = append(b.due, []byte(key))
		}
		b.cursor = keyPrefix(key)
		end := prefixEnd(b.cursor)
		if end == nil {
			break
		}
		ck, _ = c.Seek(end)
	}
	b.end = ck == nil
	return nil
}

// readUploads reads upload rows after cursor (a row's key).
func (g *Gateway) readUploads(k *bkt, lc *policy.Lifecycle, now time.Time, cursor []byte, b *batch) error {
	c := k.upl.Cursor()
	var ck, v []byte
	if cursor == nil {
		ck, v = c.First()
	} else if ck, v = c.Seek(cursor); bytes.Equal(ck, cursor) {
		ck, v = c.Next()
	}
	for ; ck != nil && b.read < scanBatch; ck, v = c.Next() {
		b.read++
		b.cursor = bytes.Clone(ck)
		if due, err := g.abortDue(lc, ck, v, now); err != nil {
			return err
		} else if due {
			b.due = append(b.due, bytes.Clone(ck))
		}
	}
	b.end = ck == nil
	return nil
}

// abortDue reports whether the upload in row (ck, v) is due for abort.
func (g *Gateway) abortDue(lc *policy.Lifecycle, ck, v []byte, now time.Time) (bool, error) {
	if lc == nil {
		return false, nil
	}
	key, _, err := splitComposite(ck)
	if err != nil {
		return false, err
	}
	var u uploadRecord
	if err := decode(v, &u); err != nil {
		return false, err
	}
	_, due := lc.AbortUpload(key, u.Initiated, now, g.clock())
	return due, nil
}

// stack reads every version of key, newest first.
func (k *bkt) stack(key string) ([]version, error) {
	p := keyPrefix(key)
	c := k.ver.Cursor()
	var out []version
	for ck, v := c.Seek(p); ck != nil && bytes.HasPrefix(ck, p); ck, v = c.Next() {
		if len(ck) != len(p)+seqLen {
			continue
		}
		ver := version{seq: bytes.Clone(ck[len(p):]), latest: len(out) == 0}
		if err := decode(v, &ver.rec); err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		out = append(out, ver)
	}
	return out, nil
}

// decisions decides every version of a stack.
func (g *Gateway) decisions(k *bkt, lc *policy.Lifecycle, cp *policy.CloudPolicy, key string, stack []version, now time.Time) []policy.Decision {
	out := make([]policy.Decision, len(stack))
	for i, v := range stack {
		pv := k.policyVersion(key, v, i == 0)
		if i > 0 {
			pv.NoncurrentSince = stack[i-1].rec.Modified
			pv.NewerNoncurrent = i - 1
		} else if v.rec.DeleteMarker {
			pv.OnlyVersion = len(stack) == 1
		}
		if lc != nil {
			out[i] = lc.Decide(pv, now, g.clock())
		}
		if out[i].Action == policy.None && cp != nil {
			out[i] = cp.Decide(pv, v.rec.TieredAt, now, g.clock())
		}
	}
	return out
}

// decideStack counts the changes due on a stack (expirations) and returns
// the versions due for a tier, as jobs for its mover (without their group).
func (g *Gateway) decideStack(k *bkt, lc *policy.Lifecycle, cp *policy.CloudPolicy, key string, stack []version, now time.Time) (changes int, moves []moveJob) {
	for i, d := range g.decisions(k, lc, cp, key, stack, now) {
		switch d.Action {
		case policy.None:
		case policy.Transition, policy.CopyToTier, policy.MoveToTier:
			v := stack[i]
			moves = append(moves, moveJob{bucket: k.name, key: key, seq: v.seq, manifest: v.rec.Manifest,
				tier: d.Tier, move: d.Action != policy.CopyToTier})
		default:
			changes++
		}
	}
	for _, v := range stack {
		if restoreExpired(v.rec, now) {
			moves = append(moves, moveJob{bucket: k.name, key: key, seq: v.seq, manifest: v.rec.Manifest,
				tier: v.rec.Tier, move: true, unrestore: true})
		}
	}
	return changes, moves
}

// maxRounds bounds how often one key is decided again after a change.
const maxRounds = 8

// applyBatch applies what is due in a batch, deciding each key again on
// what this write transaction sees.
// A key that fails is named in errs and passed; the others are applied.
func (g *Gateway) applyBatch(k *bkt, phase string, b batch, c *ScanCounts, errs *[]string) error {
	lc, cp, err := g.rules(k)
	if err != nil {
		return err
	}
	now := time.Now()
	c.TransitionsDue += b.transitions
	for _, due := range b.due {
		if phase == phaseUploads {
			v := k.upl.Get(due)
			if v == nil {
				continue // completed or aborted meanwhile
			}
			ok, err := g.abortDue(lc, due, v, now)
			if err != nil {
				return err
			}
			if !ok {
				continue // no longer due: the others in the batch may be
			}
			key, uid, err := splitComposite(due)
			if err != nil {
				return err
			}
			if err := k.dropUpload(key, bytes.Clone(uid)); err != nil {
				return err
			}
			c.UploadsAborted++
			continue
		}
		if err := g.expireKey(k, lc, cp, string(due), now, c); err != nil {
			*errs = append(*errs, fmt.Sprintf("key %q: %v", due, err))
		}
	}
	return nil
}

// expireKey applies the expirations due on key until none is.
func (g *Gateway) expireKey(k *bkt, lc *policy.Lifecycle, cp *policy.CloudPolicy, key string, now time.Time, c *ScanCounts) error {
	for range maxRounds {
		stack, err := k.stack(key)
		if err != nil {
			return err
		}
		changed := false
		for i, d := range g.decisions(k, lc, cp, key, stack, now) {
			v := stack[i]
			if v.rec.lockedAt(time.Now(), false) && (d.Action == policy.ExpireNoncurrent || (d.Action == policy.ExpireCurrent && k.versioning() == s3api.VersioningUnset)) {
				// Object lock: a locked version outlives its rules;
				// a later scan expires it once its lock has passed.
				c.LockedSkipped++
				continue
			}
			switch d.Action {
			case policy.ExpireCurrent:
				if !v.latest || v.rec.DeleteMarker {
					continue
				}
				if k.versioning() == s3api.VersioningUnset {
					err = k.drop(key, v)
				} else {
					_, err = k.push(key, deleteMarker())
				}
				c.Expired++
			case policy.ExpireNoncurrent:
				err = k.drop(key, v)
				c.NoncurrentExpired++
			case policy.RemoveDeleteMarker:
				if !v.latest || !v.rec.DeleteMarker || len(stack) != 1 {
					continue
				}
				err = k.drop(key, v)
				c.MarkersRemoved++
			default:
				continue
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", key, err)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return nil
}

// scanRecord reads the bucket's scanner state.
func (k *bkt) scanRecord() (scanRecord, error) {
	var rec scanRecord
	if v := k.b.Get(keyScan); v != nil {
		if err := decode(v, &rec); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

func (k *bkt) saveScan(rec scanRecord) error {
	v, err := encode(rec)
	if err != nil {
		return err
	}
	return k.b.Put(keyScan, v)
}

// BucketLifecycle is a bucket's lifecycle state for `cairn admin lifecycle
// status`.
type BucketLifecycle struct {
	Bucket      string   `json:"bucket"`
	Rules       int      `json:"rules"`             // lifecycle rules (enabled or not)
	CloudPolicy bool     `json:"cloud_policy"`      // a cloud policy is set
	Running     *ScanRun `json:"running,omitempty"` // a run begun and not finished
	Active      bool     `json:"active"`            // a scan is at work on it now (else Running was interrupted)
	Last        *ScanRun `json:"last,omitempty"`
}

// LifecycleStatus describes every bucket's rules and scans.
func (g *Gateway) LifecycleStatus(ctx context.Context) ([]BucketLifecycle, error) {
	g.mu.RLock()
	names := slices.Sorted(maps.Keys(g.buckets))
	g.mu.RUnlock()
	var out []BucketLifecycle
	for _, name := range names {
		err := g.viewBucket(name, func(_ *chunkstore.Tx, k *bkt) error {
			lc, cp, err := g.rules(k)
			if err != nil {
				return err
			}
			rec, err := k.scanRecord()
			if err != nil {
				return err
			}
			st := BucketLifecycle{Bucket: name, CloudPolicy: cp != nil, Running: rec.Run, Last: rec.Last, Active: g.scan.active(name)}
			if lc != nil {
				st.Rules = len(lc.Rules)
			}
			out = append(out, st)
			return nil
		})
		if errors.Is(err, s3api.ErrNoSuchBucket) {
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

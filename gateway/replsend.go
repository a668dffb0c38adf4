package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/replicator"
	"github.com/cairn-backup/cairn/s3api"
)

// One sender per replicating bucket reads the bucket's change log from its
// start and applies each change at the replica: a version's data through
// the chunk-level protocol (only the chunks the replica's group lacks
// travel), delete markers, deletes and tag changes as operations without
// data. A change leaves the log only once the replica has it, so a broken
// link, a full replica or a crash on either side leaves it there to be sent
// again, and every step is idempotent at the replica.
//
// Errors are retried with backoff (a second, doubling to a minute); a
// replica out of space (507) is retried every 30 seconds: the relationship
// shows it, and resumes by itself when space returns.

// replOp is one change as the replica applies it (repltarget.go).
type replOp struct {
	Op     string            `json:"op"` // replPut, replDrop, replTags, opClaim, opRelease
	Key    string            `json:"key,omitempty"`
	Seq    []byte            `json:"seq,omitempty"`
	Rec    *versionRecord    `json:"rec,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	Source string            `json:"source,omitempty"` // opClaim: what the replica replicates
	// opClaim with Seed: the replica waits for a seed exported after Since.
	Seed  bool      `json:"seed,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// opPromote: replicate back to bucket Dest through remote Back.
	Back string `json:"back,omitempty"`
	Dest string `json:"dest,omitempty"`
	// opClaim and opPromote: the source bucket's object lock
	// configuration, which the replica keeps (objectlock.go).
	Lock *lockRecord `json:"lock,omitempty"`
}

// Operations on the replica bucket itself.
const (
	opClaim   = "claim"   // make (or take) the bucket as a replica of Source
	opRelease = "release" // the relationship ended: writable again
)

// ReplicationStatus is one relationship as cairn admin replication ls and
// stats show it.
type ReplicationStatus struct {
	Bucket        string `json:"bucket"`
	Remote        string `json:"remote"`
	ReplicaBucket string `json:"replica_bucket"`
	Schedule      string `json:"schedule,omitempty"`
	Bandwidth     int64  `json:"bandwidth,omitempty"`
	Paused        bool   `json:"paused,omitempty"`
	// State: idle, sending, waiting for its window, paused, replica full,
	// retrying after an error.
	State          string    `json:"state"`
	PendingChanges int64     `json:"pending_changes"`
	PendingBytes   int64     `json:"pending_bytes"`
	OldestPending  time.Time `json:"oldest_pending,omitzero"`
	LagSeconds     float64   `json:"lag_seconds"`
	// Since the server started: versions sent, their logical bytes, and
	// the record bytes that crossed the wire for them.
	Versions      int64     `json:"versions"`
	LogicalBytes  int64     `json:"logical_bytes"`
	BytesSent     int64     `json:"bytes_sent"`
	Operations    int64     `json:"operations"` // markers, deletes, tags
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
}

// replSender replicates one bucket.
type replSender struct {
	g      *Gateway
	bucket string
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{} // buffered 1: send now, window or not

	mu   sync.Mutex
	rec  replRecord
	peer *replicator.Peer
	st   ReplicationStatus
	// manual counts callers of RunReplication waiting: while they wait the
	// window does not hold the sender back.
	manual int
	// drained is closed and replaced each time the log is found empty.
	drained chan struct{}
}

func (s *replSender) record() replRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

func (s *replSender) remote() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Remote
}

func (s *replSender) setState(state string) {
	s.mu.Lock()
	s.st.State = state
	s.mu.Unlock()
}

func (s *replSender) fail(err error) {
	s.mu.Lock()
	s.st.LastError, s.st.LastErrorTime = err.Error(), time.Now().UTC()
	s.mu.Unlock()
}

// startSender starts (or restarts, with a new record) bucket's sender.
func (g *Gateway) startSender(bucket string, rec replRecord) error {
	c, ok := g.remotes.get(rec.Remote)
	if !ok {
		return fmt.Errorf("bucket %s replicates to remote %s, which is not configured (cairn admin remote add)", bucket, rec.Remote)
	}
	g.stopSender(bucket)
	ctx, cancel := context.WithCancel(context.Background())
	s := &replSender{g: g, bucket: bucket, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
		rec: rec, peer: g.peer(c, rec.Bandwidth), drained: make(chan struct{})}
	g.replMu.Lock()
	g.senders[bucket] = s
	g.replMu.Unlock()
	go s.loop(ctx)
	return nil
}

// stopSender stops bucket's sender, if any, and waits for it.
func (g *Gateway) stopSender(bucket string) {
	g.replMu.Lock()
	s := g.senders[bucket]
	delete(g.senders, bucket)
	g.replMu.Unlock()
	if s != nil {
		s.cancel()
		<-s.done
	}
}

func (g *Gateway) sender(bucket string) *replSender {
	g.replMu.Lock()
	defer g.replMu.Unlock()
	return g.senders[bucket]
}

func (g *Gateway) senderList() []*replSender {
	g.replMu.Lock()
	defer g.replMu.Unlock()
	out := make([]*replSender, 0, len(g.senders))
	for _, s := range g.senders {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *replSender) int {
		return strings.Compare(a.bucket, b.bucket)
	})
	return out
}

// replPoll is how often an idle sender looks at its log.
const replPoll = 200 * time.Millisecond

func (s *replSender) loop(ctx context.Context) {
	defer close(s.done)
	backoff := time.Duration(0)
	for {
		wait := replPoll
		if backoff > 0 {
			wait = backoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-s.kick:
		}
		s.mu.Lock()
		rec, manual := s.rec, s.manual > 0
		s.mu.Unlock()
		if rec.Paused && !manual {
			s.setState("paused")
			continue
		}
		if !manual && !inWindow(rec.Schedule, time.Now()) {
			s.setState("waiting for its window " + rec.Schedule)
			continue
		}
		n, err := s.sendBatch(ctx, rec)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && n == 0:
			s.setState("idle")
			backoff = 0
			s.mu.Lock()
			close(s.drained)
			s.drained = make(chan struct{})
			s.mu.Unlock()
		case err == nil:
			backoff = 0
			s.kickSelf() // more may wait
		default:
			s.fail(err)
			var pe *replicator.PeerError
			if errors.As(err, &pe) && pe.Status == http.StatusInsufficientStorage {
				s.setState("replica full: waiting for space")
				backoff = 30 * time.Second
			} else {
				s.setState("retrying after an error")
				backoff = min(max(2*backoff, time.Second), time.Minute)
			}
			backoff += time.Duration(rand.Int64N(int64(backoff / 4)))
			s.g.log.Warn("replication", "bucket", s.bucket, "remote", rec.Remote, "err", err, "retry_in", backoff.Round(time.Millisecond))
		}
	}
}

func (s *replSender) kickSelf() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// replBatch is how many changes a sender reads from its log at a time.
const replBatch = 64

// sendBatch sends the first changes of the log; it answers how many it
// sent, and stops at the first error.
func (s *replSender) sendBatch(ctx context.Context, rec replRecord) (int, error) {
	gr, err := s.g.bucketGroup(s.bucket)
	if err != nil {
		return 0, err
	}
	var lks [][]byte
	var rows []replLogRow
	err = gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, s.bucket)
		if err != nil {
			return err
		}
		lks, rows, err = k.nextChanges(replBatch)
		return err
	})
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	s.setState("sending")
	for i, row := range rows {
		failed, err := s.apply(ctx, gr, rec, row)
		if err != nil {
			return i, err
		}
		err = updateIn(gr, s.bucket, func(_ *chunkstore.Tx, k *bkt) error { return k.changeDone(lks[i], row, failed) })
		if err != nil {
			return i, err
		}
	}
	return len(rows), nil
}

// apply sends one change. failed says the replica refused it for good (a
// version whose data it will not take): the change is dropped and the
// version shows FAILED.
func (s *replSender) apply(ctx context.Context, gr *group, rec replRecord, row replLogRow) (failed bool, err error) {
	var v versionRecord
	found := false
	err = gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, s.bucket)
		if err != nil {
			return err
		}
		if b := k.ver.Get(composite(row.Key, row.Seq)); b != nil {
			found = true
			return decode(b, &v)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	op := replOp{Op: row.Op, Key: row.Key, Seq: row.Seq}
	switch row.Op {
	case replPut:
		if !found {
			return false, nil // deleted since: its drop follows in the log
		}
		rule, ok := rec.matching(row.Key, v.Meta.Tags)
		if !ok || (v.DeleteMarker && !rule.DeleteMarkers) {
			return false, nil
		}
		if !replicable(v) {
			// Sealed under this site's keys (the group's SSE-S3 key, the
			// key ring's): the replica could not open it. SSE-C objects
			// replicate: their key is the client's, the same at both ends.
			s.g.event(events.ReplicationSSERefused, s.bucket, fmt.Sprintf("bucket %s: %s (version %s) is encrypted with %s and is not replicated: a replica cannot open data sealed under this site's keys", s.bucket, row.Key, v.ID, v.SSE.Mode))
			return true, nil
		}
		op.Rec = replicaRecord(v)
		if v.DeleteMarker {
			return false, s.applyOp(ctx, rec, op)
		}
		doc, err := json.Marshal(op)
		if err != nil {
			return false, err
		}
		st, err := replicator.SendVersion(ctx, gr.store, v.Manifest, s.peer, rec.Bucket, doc)
		if errors.Is(err, chunkstore.ErrNotFound) && !errors.As(err, new(*replicator.PeerError)) {
			return false, nil // released meanwhile: deleted, and its drop follows
		}
		var pe *replicator.PeerError
		if errors.As(err, &pe) && pe.Code == "BadRecord" {
			s.g.log.Error("replication: the replica refused a record of this store as damaged", "bucket", s.bucket, "key", row.Key, "err", err)
			s.fail(err)
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("sending %s: %w", row.Key, err)
		}
		s.mu.Lock()
		s.st.Versions++
		s.st.LogicalBytes += st.LogicalBytes
		s.st.BytesSent += st.BytesSent
		s.mu.Unlock()
		return false, nil
	case replTags:
		if !found {
			return false, nil
		}
		op.Tags = v.Meta.Tags
	case replLock:
		if !found {
			return false, nil
		}
		op.Rec = replicaRecord(v)
	}
	return false, s.applyOp(ctx, rec, op)
}

func (s *replSender) applyOp(ctx context.Context, rec replRecord, op replOp) error {
	doc, err := json.Marshal(op)
	if err != nil {
		return err
	}
	if err := s.peer.Apply(ctx, rec.Bucket, doc); err != nil {
		return fmt.Errorf("%s %s: %w", op.Op, op.Key, err)
	}
	s.mu.Lock()
	s.st.Operations++
	s.mu.Unlock()
	return nil
}

// replicable says whether a replica can open a version's data: not when
// it is sealed under this site's keys (SSE-S3, SSE-KMS). SSE-C versions
// are: the key is the client's, and seals the same at both ends.
func replicable(v versionRecord) bool {
	return v.SSE == nil || v.SSE.Mode == s3api.SSEModeCustomer
}

// replicaRecord is what of a version the replica keeps: what clients see
// (ID, size, ETag, time, metadata, tags, checksum, parts), none of this
// store's own state (manifest, tier).
func replicaRecord(v versionRecord) *versionRecord {
	return &versionRecord{
		ID: v.ID, DeleteMarker: v.DeleteMarker, Size: v.Size, ETag: v.ETag, Modified: v.Modified,
		Meta: v.Meta, Checksum: v.Checksum, Parts: v.Parts, PartSizes: v.PartSizes, PartChecksums: v.PartChecksums,
		LockMode: v.LockMode, LockUntil: v.LockUntil, LegalHold: v.LegalHold,
		SSE: v.SSE, // SSE-C only (apply refuses the others): the key's check travels
	}
}

// inWindow says whether now falls in a daily window "HH:MM-HH:MM" (local
// time; a window that ends before it starts runs over midnight); "" is
// always.
func inWindow(window string, now time.Time) bool {
	if window == "" {
		return true
	}
	from, to, err := parseWindow(window)
	if err != nil {
		return true // validated when set
	}
	m := now.Hour()*60 + now.Minute()
	if from <= to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// parseWindow reads "22:00-06:00" as minutes of the day.
func parseWindow(w string) (from, to int, err error) {
	var h1, m1, h2, m2 int
	if n, err := fmt.Sscanf(w, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || n != 4 ||
		h1 < 0 || h1 > 23 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 || (h2 == 24 && m2 != 0) {
		return 0, 0, fmt.Errorf("schedule %q: want a daily window such as 22:00-06:00", w)
	}
	from, to = h1*60+m1, h2*60+m2
	if from == to {
		return 0, 0, fmt.Errorf("schedule %q: the window is empty", w)
	}
	return from, to, nil
}

// status is the relationship's figures, the backlog read from the log.
func (s *replSender) status() (ReplicationStatus, error) {
	s.mu.Lock()
	st := s.st
	rec := s.rec
	s.mu.Unlock()
	st.Bucket, st.Remote, st.ReplicaBucket = s.bucket, rec.Remote, rec.Bucket
	st.Schedule, st.Bandwidth, st.Paused = rec.Schedule, rec.Bandwidth, rec.Paused
	if st.State == "" {
		st.State = "starting"
	}
	gr, err := s.g.bucketGroup(s.bucket)
	if err != nil {
		return st, err
	}
	var bl replBacklog
	err = gr.store.View(func(tx *chunkstore.Tx) error {
		k, err := openBkt(tx, s.bucket)
		if err != nil {
			return err
		}
		bl, err = k.backlog()
		return err
	})
	st.PendingChanges, st.PendingBytes, st.OldestPending = bl.Changes, bl.Bytes, bl.Oldest
	if !bl.Oldest.IsZero() {
		st.LagSeconds = time.Since(bl.Oldest).Seconds()
	}
	return st, err
}

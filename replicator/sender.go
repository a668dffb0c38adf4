package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// maxRestarts bounds how often SendVersion starts a version over after the
// peer lost its transfer: a peer that keeps losing them is broken, and the
// gateway's log retries the version later anyway.
const maxRestarts = 3

// recordsBodyTarget is the size at which the sender closes a records body:
// half of MaxRecordsBody, so one body is one short request even over a slow
// link, and the sender holds at most this (plus one record) in memory.
const recordsBodyTarget = 8 << 20

// abortTimeout bounds the best-effort abort after a failure; the peer's
// janitor drops the transfer anyway if the abort does not get through.
const abortTimeout = 10 * time.Second

// SendStats describes one SendVersion.
type SendStats struct {
	Chunks       int64 // entries of the manifest
	ChunksSent   int64 // records sent, over all attempts
	LogicalBytes int64 // the manifest's size
	BytesSent    int64 // records bodies on the wire (frames included), over all attempts
	Restarts     int   // times the peer lost the transfer and the version started over
	// AlreadyApplied: the peer had the version already (a repeat after a
	// lost commit answer); nothing changed there.
	AlreadyApplied bool
}

// SendVersion replicates manifest id of src into bucket at the peer, as
// the object version op describes (opaque here; the peer's Target reads
// it). It offers the manifest's chunk IDs a batch at a time, sends the
// records the peer lacks as stored, appends the batch, and commits with op.
// Memory is one batch of entries (MaxBatch) and one records body (about
// 8 MiB) whatever the object's size.
//
// If the peer lost the transfer (NoSuchTransfer: it restarted, or expired
// the transfer) the version starts over, at most maxRestarts times; the
// chunks sent before are in the peer's store by then, so a restart sends
// little. On any other error the transfer is aborted (best effort) and the
// error returned: a *PeerError (e.g. 507 QuotaExceeded), an
// *IncompatibleError, or the link's error. Sending the same op again after
// any failure is safe: the peer's Target answers ErrAlreadyApplied for a
// version it has.
func SendVersion(ctx context.Context, src *chunkstore.Store, id chunkstore.ManifestID, p *Peer, bucket string, op json.RawMessage) (SendStats, error) {
	var st SendStats
	for {
		err := sendAttempt(ctx, src, id, p, bucket, op, &st)
		switch {
		case err == nil:
			return st, nil
		case errors.Is(err, ErrNoSuchTransfer) && st.Restarts < maxRestarts && ctx.Err() == nil:
			st.Restarts++
		default:
			return st, fmt.Errorf("replicate manifest %d to %s bucket %s: %w", id, p.Endpoint(), bucket, err)
		}
	}
}

// sendAttempt is one transfer of the version, aborted on failure unless the
// peer lost it.
func sendAttempt(ctx context.Context, src *chunkstore.Store, id chunkstore.ManifestID, p *Peer, bucket string, op json.RawMessage, st *SendStats) error {
	tid, err := p.NewTransfer(ctx, bucket)
	if err != nil {
		return err
	}
	vs := &versionSender{src: src, p: p, transfer: tid, st: st, body: p.bodies.get()}
	err = vs.run(ctx, id, op)
	p.bodies.put(vs.body)
	if err != nil && !errors.Is(err, ErrNoSuchTransfer) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		_ = p.Abort(actx, tid) // best effort: the peer's janitor is the backstop
		cancel()
	}
	return err
}

// versionSender is one attempt's state; its buffers are reused batch to
// batch.
type versionSender struct {
	src      *chunkstore.Store
	p        *Peer
	transfer string
	st       *SendStats
	offset   int64 // logical bytes appended at the peer

	seen    map[chunkstore.ChunkID]struct{}
	ids     []chunkstore.ChunkID
	body    *[]byte // one records body, from the Peer's pool
	scratch []byte  // ReadRecord's buffer
}

func (vs *versionSender) run(ctx context.Context, id chunkstore.ManifestID, op json.RawMessage) error {
	it, err := vs.src.Entries(ctx, id, 0)
	if err != nil {
		return err
	}
	defer it.Close()
	vs.st.LogicalBytes = it.Manifest().Size
	vs.st.Chunks = 0
	vs.seen = make(map[chunkstore.ChunkID]struct{}, MaxBatch)
	batch := make([]chunkstore.Entry, 0, MaxBatch)
	for it.Next() {
		batch = append(batch, it.Entry())
		if len(batch) == MaxBatch {
			if err := vs.sendBatch(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		if err := vs.sendBatch(ctx, batch); err != nil {
			return err
		}
	}
	// A 0-byte object has no entries and comes straight here.
	c, err := vs.p.Commit(ctx, vs.transfer, vs.offset, op)
	if err != nil {
		return err
	}
	vs.st.AlreadyApplied = c.AlreadyApplied
	return nil
}

// sendBatch offers the batch's distinct chunks, sends the missing ones and
// appends the batch.
func (vs *versionSender) sendBatch(ctx context.Context, batch []chunkstore.Entry) error {
	clear(vs.seen)
	vs.ids = vs.ids[:0]
	for _, e := range batch {
		if _, dup := vs.seen[e.ID]; !dup {
			vs.seen[e.ID] = struct{}{}
			vs.ids = append(vs.ids, e.ID)
		}
	}
	missing, err := vs.p.Need(ctx, vs.transfer, vs.ids)
	if err != nil {
		return err
	}
	if err := vs.sendRecords(ctx, missing); err != nil {
		return err
	}
	err = vs.p.Append(ctx, vs.transfer, vs.offset, batch)
	var mc *chunkstore.MissingChunksError
	if errors.As(err, &mc) {
		// Need holds what it reports present, so this is a peer that lost
		// chunks in between (a repair, a bug): send them, once.
		if err := vs.sendRecords(ctx, mc.IDs); err != nil {
			return err
		}
		err = vs.p.Append(ctx, vs.transfer, vs.offset, batch)
	}
	if err != nil {
		return err
	}
	for _, e := range batch {
		vs.offset += int64(e.Len)
	}
	vs.st.Chunks += int64(len(batch))
	return nil
}

// sendRecords reads the records of ids as stored (no recompression) and
// sends them in bodies of about recordsBodyTarget.
func (vs *versionSender) sendRecords(ctx context.Context, ids []chunkstore.ChunkID) error {
	body, n := (*vs.body)[:0], 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := vs.p.putRecordsBody(ctx, vs.transfer, body); err != nil {
			return err
		}
		vs.st.ChunksSent += int64(n)
		vs.st.BytesSent += int64(len(body))
		body, n = body[:0], 0
		return nil
	}
	for _, id := range ids {
		rec, err := vs.src.ReadRecord(ctx, id, vs.scratch)
		if err != nil {
			return err
		}
		vs.scratch = rec.Data[:0]
		if n == MaxBatch || (n > 0 && len(body)+RecordFrameSize(rec) > recordsBodyTarget) {
			if err := flush(); err != nil {
				return err
			}
		}
		body = AppendRecord(body, rec)
		n++
	}
	err := flush()
	*vs.body = body[:0]
	return err
}

package gateway

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// Replication's side of a source bucket's records. A bucket that replicates
// (its bucketRecord has a Replication) keeps a durable change log in its own
// tree, written in the very transaction that makes each change, so that no
// committed change can be missed whatever crashes when:
//
//	buckets/<name>/rlog/<stamp:8>      replLogRow (JSON): one change, in order
//	buckets/<name>/rpend/<ekey>00 01<seq> the stamp of the version's latest
//	                                   row, or failedMark + it: what
//	                                   x-amz-replication-status reads
//
// The sender (replsend.go) reads rlog from its start, applies each change at
// the replica (every step idempotent), and deletes the row, and the rpend
// entry if it still names that row, in one transaction. A replica bucket
// (ReplicaOf set) takes writes only from its source, through the replication
// protocol (repltarget.go).

var (
	bktRlog  = []byte("rlog")
	bktRpend = []byte("rpend")
)

// failedMark starts an rpend value whose change the replica refused for good.
const failedMark = 'F'

// Change kinds in the log.
const (
	replPut  = "put"  // a version or delete marker was written
	replDrop = "drop" // a version or delete marker was deleted
	replTags = "tags" // a version's tags changed
	replLock = "lock" // a version's retention or legal hold changed
)

// replLogRow is one change to replicate.
type replLogRow struct {
	Op  string `json:"op"`
	Key string `json:"key"`
	Seq []byte `json:"seq"` // the version's seq
}

// replRecord is a source bucket's replication relationship.
type replRecord struct {
	Remote string     `json:"remote"` // the peer, as cairn admin remote add named it
	Bucket string     `json:"bucket"` // the replica bucket there
	Role   string     `json:"role,omitempty"`
	Rules  []replRule `json:"rules"`
	// Schedule limits sending to a daily window ("22:00-06:00", local
	// time); "" sends continuously.
	Schedule string `json:"schedule,omitempty"`
	// Bandwidth bounds the bytes sent per second; 0 is unbounded.
	Bandwidth int64 `json:"bandwidth,omitempty"`
	Paused    bool  `json:"paused,omitempty"`
}

// replRule selects what replicates, as an S3 replication rule does.
type replRule struct {
	ID            string            `json:"id,omitempty"`
	Priority      int               `json:"priority,omitempty"`
	Enabled       bool              `json:"enabled"`
	Prefix        string            `json:"prefix,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	DeleteMarkers bool              `json:"delete_markers"`
	// Filter says the rule was given with a Filter (S3's V2 rules) rather
	// than a top-level Prefix, for GetBucketReplication.
	Filter       bool   `json:"filter,omitempty"`
	StorageClass string `json:"storage_class,omitempty"`
	// Existing: the versions the bucket held when the rule was set are
	// sent too (S3's ExistingObjectReplication).
	Existing bool `json:"existing,omitempty"`
}

// matching is the enabled rule that selects key with tags, if any; of
// several, the one of highest Priority, as S3 chooses.
func (r *replRecord) matching(key string, tags map[string]string) (replRule, bool) {
	var best replRule
	found := false
	for _, rule := range r.Rules {
		if !rule.Enabled || !strings.HasPrefix(key, rule.Prefix) {
			continue
		}
		ok := true
		for tk, tv := range rule.Tags {
			if tags[tk] != tv {
				ok = false
				break
			}
		}
		if ok && (!found || rule.Priority > best.Priority) {
			best, found = rule, true
		}
	}
	return best, found
}

// logChange appends a change of key's version seq to the bucket's log, in
// the transaction that makes it, when the bucket replicates and a rule
// selects the version.
func (k *bkt) logChange(op, key string, seq []byte, rec versionRecord) error {
	r := k.rec.Replication
	if r == nil {
		return nil
	}
	// Frozen for a reversal: refused in the transaction, so that no
	// commit lands after the freeze whatever was checked before it.
	if (k.rec.Reverse != nil && k.rec.Reverse.Phase != reverseActivating) || k.rec.Promoting {
		return frozenError(k.name)
	}
	if _, ok := r.matching(key, rec.Meta.Tags); !ok {
		return nil
	}
	stamp, err := nextStamp(k.tx)
	if err != nil {
		return err
	}
	row, err := encode(replLogRow{Op: op, Key: key, Seq: seq})
	if err != nil {
		return err
	}
	rlog, err := k.b.CreateBucketIfNotExists(bktRlog)
	if err != nil {
		return err
	}
	lk := binary.BigEndian.AppendUint64(nil, stamp)
	if err := rlog.Put(lk, row); err != nil {
		return err
	}
	rpend, err := k.b.CreateBucketIfNotExists(bktRpend)
	if err != nil {
		return err
	}
	return rpend.Put(composite(key, seq), lk)
}

// replicationStatus is x-amz-replication-status for a version: REPLICA in
// a replica bucket; in a source bucket PENDING while a change of it waits,
// FAILED when the replica refused it, COMPLETED once sent; "" when no rule
// selects it.
func (k *bkt) replicationStatus(key string, v version) string {
	if k.rec.ReplicaOf != "" {
		return "REPLICA"
	}
	r := k.rec.Replication
	if r == nil {
		return ""
	}
	if _, ok := r.matching(key, v.rec.Meta.Tags); !ok {
		return ""
	}
	if rpend := k.b.Bucket(bktRpend); rpend != nil {
		if p := rpend.Get(composite(key, v.seq)); p != nil {
			if len(p) > 0 && p[0] == failedMark {
				return "FAILED"
			}
			return "PENDING"
		}
	}
	return "COMPLETED"
}

// replBacklog is what a source bucket's log holds: changes, the bytes of
// the versions they write, and the time of the oldest.
type replBacklog struct {
	Changes int64
	Bytes   int64
	Oldest  time.Time
}

func (k *bkt) backlog() (replBacklog, error) {
	var out replBacklog
	rlog := k.b.Bucket(bktRlog)
	if rlog == nil {
		return out, nil
	}
	err := rlog.ForEach(func(lk, v []byte) error {
		if out.Changes == 0 && len(lk) == 8 {
			out.Oldest = stampTime(binary.BigEndian.Uint64(lk))
		}
		out.Changes++
		var row replLogRow
		if err := decode(v, &row); err != nil {
			return err
		}
		if row.Op == replPut {
			if b := k.ver.Get(composite(row.Key, row.Seq)); b != nil {
				var rec versionRecord
				if err := decode(b, &rec); err == nil {
					out.Bytes += rec.Size
				}
			}
		}
		return nil
	})
	return out, err
}

// nextChanges reads up to n rows of the log from its start.
func (k *bkt) nextChanges(n int) (keys [][]byte, rows []replLogRow, err error) {
	rlog := k.b.Bucket(bktRlog)
	if rlog == nil {
		return nil, nil, nil
	}
	c := rlog.Cursor()
	for lk, v := c.First(); lk != nil && len(rows) < n; lk, v = c.Next() {
		var row replLogRow
		if err := decode(v, &row); err != nil {
			return nil, nil, fmt.Errorf("replication log row %x: %w", lk, err)
		}
		keys, rows = append(keys, bytes.Clone(lk)), append(rows, row)
	}
	return keys, rows, nil
}

// changeDone deletes a sent change, and its rpend entry unless a later
// change of the same version took it over; failed keeps the entry, marked,
// for x-amz-replication-status.
func (k *bkt) changeDone(lk []byte, row replLogRow, failed bool) error {
	if rlog := k.b.Bucket(bktRlog); rlog != nil {
		if err := rlog.Delete(lk); err != nil {
			return err
		}
	}
	rpend := k.b.Bucket(bktRpend)
	if rpend == nil {
		return nil
	}
	pk := composite(row.Key, row.Seq)
	if !bytes.Equal(rpend.Get(pk), lk) {
		return nil
	}
	if failed && row.Op != replDrop {
		return rpend.Put(pk, append([]byte{failedMark}, lk...))
	}
	return rpend.Delete(pk)
}

// dropReplLog removes a bucket's log, when its replication ends.
func (k *bkt) dropReplLog() error {
	for _, name := range [][]byte{bktRlog, bktRpend} {
		if k.b.Bucket(name) != nil {
			if err := k.b.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// writable refuses a write to a replica bucket: only its source writes to
// it, through the replication protocol.
func (g *Gateway) writable(bucket string) error {
	if _, ok := g.frozen.Load(bucket); ok {
		return frozenError(bucket)
	}
	if src, ok := g.replicas.Load(bucket); ok {
		return s3api.ErrReadOnlyReplica.WithMessagef("The bucket %s is a replica of %s and is read-only: write to the source bucket.", bucket, src)
	}
	return nil
}

// loadReplicas reads which buckets of gr are replicas.
func (g *Gateway) loadReplicas(gr *group) error {
	return gr.store.View(func(tx *chunkstore.Tx) error {
		return eachBucket(tx, func(k *bkt) error {
			if k.rec.ReplicaOf != "" {
				g.replicas.Store(k.name, k.rec.ReplicaOf)
			}
			if k.rec.SeedPending {
				g.seedPending.Store(k.name, true)
			}
			if (k.rec.Reverse != nil && k.rec.Reverse.Phase != reverseActivating) || k.rec.Promoting {
				g.frozen.Store(k.name, true)
			}
			if k.rec.Reverse != nil {
				g.reversing = append(g.reversing, k.name)
			}
			if k.rec.Replication != nil {
				g.replSources.Store(k.name, true)
			}
			return nil
		})
	})
}

package cloudtier

import (
	"context"
	"fmt"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Sender puts the chunks of manifests that a tier lacks into packs and the
// packs into the tier, for one store. A chunk is sent once per tier: the
// store is asked which chunks have no copy there (NotInTier), and a chunk
// already in the open pack is not added again. A pack is sealed in a spool
// file, never whole in memory, and recorded in the store (AddPack) only
// once the service has confirmed every byte (its MD5 check), so a chunk the
// store believes is in the tier is in the tier.
//
// One pack uploads while the next is filled, so that reading and sealing
// records on one core overlaps the upload on the other; at most two spool
// files exist at a time.
//
// A Sender is not safe for concurrent use: a tier's mover owns it.
type Sender struct {
	store    *chunkstore.Store
	tier     *Tier
	dir      string
	packSize int64

	w *packWriter
	// inPack holds the chunks of the open pack and of the pack uploading:
	// not yet recorded, so NotInTier still names them.
	inPack  map[chunkstore.ChunkID]bool
	up      *upload // the pack uploading, if any
	buf     []byte
	st      SenderStats
	pending []chunkstore.ChunkID
}

// upload is a sealed pack on its way to the tier.
type upload struct {
	w       *packWriter
	objSize int64
	done    chan struct{}
	err     error
}

// SenderStats count what a Sender did.
type SenderStats struct {
	Packs      int64 // packs stored in the tier
	Chunks     int64 // records placed in those packs
	SentBytes  int64 // bytes of pack objects uploaded
	PlainBytes int64 // of which records
}

// sendBatch is how many chunk IDs one NotInTier asks about.
const sendBatch = 1024

// NewSender sends store's chunks to tier, sealing packs of about packSize
// plaintext bytes in dir.
func NewSender(store *chunkstore.Store, tier *Tier, dir string, packSize int64) *Sender {
	return &Sender{store: store, tier: tier, dir: dir, packSize: packSize, inPack: map[chunkstore.ChunkID]bool{}}
}

// Stats reports what the Sender has sent.
func (s *Sender) Stats() SenderStats { return s.st }

// Add adds the chunks of a committed manifest that the tier lacks to the
// open pack, sending each pack that fills. The manifest's chunks are in
// the tier once Add and then Flush have returned nil. On an error the open
// pack is dropped: what was added since the last Flush must be added
// again.
func (s *Sender) Add(ctx context.Context, id chunkstore.ManifestID) error {
	err := s.add(ctx, id)
	if err != nil {
		s.drop()
	}
	return err
}

func (s *Sender) add(ctx context.Context, id chunkstore.ManifestID) error {
	it, err := s.store.Entries(ctx, id, 0)
	if err != nil {
		return fmt.Errorf("cloudtier: manifest %d: %w", id, err)
	}
	defer it.Close()
	s.pending = s.pending[:0]
	for it.Next() {
		e := it.Entry()
		if s.inPack[e.ID] {
			continue
		}
		s.pending = append(s.pending, e.ID)
		if len(s.pending) == sendBatch {
			if err := s.sendMissing(ctx); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("cloudtier: manifest %d: %w", id, err)
	}
	return s.sendMissing(ctx)
}

// sendMissing adds those pending chunks that the tier lacks.
func (s *Sender) sendMissing(ctx context.Context) error {
	missing, err := s.store.NotInTier(ctx, s.tier.Name, s.pending)
	s.pending = s.pending[:0]
	if err != nil {
		return fmt.Errorf("cloudtier: %w", err)
	}
	return s.addRecords(ctx, missing)
}

// AddChunks adds the chunks ids to the open pack whether or not the tier
// has them: a repack's way to give chunks a copy outside the pack it is
// about to drop. Errors are as Add's.
func (s *Sender) AddChunks(ctx context.Context, ids []chunkstore.ChunkID) error {
	err := s.addRecords(ctx, ids)
	if err != nil {
		s.drop()
	}
	return err
}

// addRecords reads the records of ids from the store and adds them.
func (s *Sender) addRecords(ctx context.Context, missing []chunkstore.ChunkID) error {
	seen := make(map[chunkstore.ChunkID]bool, len(missing))
	for _, id := range missing {
		if s.inPack[id] || seen[id] {
			continue // twice in one batch
		}
		seen[id] = true
		rec, err := s.store.ReadRecord(ctx, id, s.buf)
		if err != nil {
			return fmt.Errorf("cloudtier: chunk %s: %w", id, err)
		}
		s.buf = rec.Data[:0]
		if s.w == nil {
			if s.w, err = newPackWriter(s.dir, s.tier.Keys, s.tier.KeyGen); err != nil {
				return err
			}
		}
		if err := s.w.add(rec); err != nil {
			return err
		}
		s.inPack[id] = true
		if s.w.size >= s.packSize {
			if err := s.send(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flush sends the open pack, if any, and waits until every pack is
// stored and recorded.
func (s *Sender) Flush(ctx context.Context) error {
	err := s.flush(ctx)
	if err != nil {
		s.drop()
	}
	return err
}

func (s *Sender) flush(ctx context.Context) error {
	if s.w != nil {
		if err := s.send(ctx); err != nil {
			return err
		}
	}
	return s.wait()
}

// send seals the open pack and starts its upload, once the one before has
// finished.
func (s *Sender) send(ctx context.Context) error {
	if err := s.wait(); err != nil {
		return err
	}
	w := s.w
	s.w = nil
	objSize, sum, err := w.seal()
	if err != nil {
		w.discard()
		return err
	}
	u := &upload{w: w, objSize: objSize, done: make(chan struct{})}
	s.up = u
	go func() {
		defer close(u.done)
		u.err = s.store1(ctx, w, objSize, sum)
	}()
	return nil
}

// store1 uploads a sealed pack and records it.
func (s *Sender) store1(ctx context.Context, w *packWriter, objSize int64, sum []byte) error {
	if err := s.tier.Target.Put(ctx, w.name, w.f, objSize, sum); err != nil {
		// The object may exist or not; unrecorded, it is an orphan the
		// tier's cleaner removes.
		return fmt.Errorf("cloudtier: tier %s: %w", s.tier.Name, err)
	}
	p := chunkstore.Pack{Tier: s.tier.Name, Object: w.name, KeyGen: w.gen, Size: w.size}
	if _, _, err := s.store.AddPack(ctx, p, w.chunks); err != nil {
		return fmt.Errorf("cloudtier: record pack %s: %w", w.name, err)
	}
	return nil
}

// wait waits for the pack uploading, if any, and counts it.
func (s *Sender) wait() error {
	u := s.up
	if u == nil {
		return nil
	}
	<-u.done
	s.up = nil
	u.w.discard()
	if u.err != nil {
		return u.err
	}
	s.st.Packs++
	s.st.Chunks += int64(len(u.w.chunks))
	s.st.SentBytes += u.objSize
	s.st.PlainBytes += u.w.size
	for _, c := range u.w.chunks {
		delete(s.inPack, c.ID) // recorded: NotInTier knows now
	}
	return nil
}

// drop forgets the open pack and the one uploading (waited for: its
// outcome no longer matters).
func (s *Sender) drop() {
	if s.w != nil {
		s.w.discard()
		s.w = nil
	}
	s.wait()
	clear(s.inPack)
}

// Close drops the open pack.
func (s *Sender) Close() error {
	s.drop()
	return nil
}

package chunkstore

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Compression later (CompressZstdLater). zstd is what stores the least
// (doc.go, Choices) but, at 3.8 ns a byte on 16 KiB chunks, it was 43% of
// the server's CPU in a first backup of source code, half the speed of a
// server that stores the bytes as they come. S2 is three times as fast and
// stores 1.2x what zstd does. So new chunks are written with S2, their
// container counted in the later bucket, and the cleaner (Clean) rewrites
// those containers' live records with zstd when the store is idle or short
// of space, the way it copies records forward when it compacts: the copy
// outside the gate, the switch of the index in one transaction, the old
// container file removed after. A crash before the switch leaves the old
// records in place and the new container file's records unreferenced (the
// next open cuts them off); after it, the new records are the only ones.
//
// A recompressed record is checked on the way: its CRC, its S2 payload's
// length, and the BLAKE3 of the plaintext against its chunk ID, so a
// damaged record is never given a fresh CRC. Sealed records are written
// with zstd at once: the cleaner has no key to open them.

// LaterBytes is how much of the store is S2 records waiting for the
// cleaner to make them zstd (CompressZstdLater).
func (s *Store) LaterBytes() (int64, error) {
	var n int64
	err := s.view(func(t *txn) error {
		var err error
		n, err = t.laterTotal()
		return err
	})
	return n, err
}

func (t *txn) laterTotal() (int64, error) {
	var n int64
	err := t.later.ForEach(func(_, v []byte) error {
		if len(v) == 8 {
			n += int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
}

// dropOrphanLater deletes the later rows of containers that are gone. The
// cleaner deletes a container's row with the container; a store compacted
// by a Cairn from before zstd-later kept the rows of what it removed, and
// they would count as work that no run can do.
func (t *txn) dropOrphanLater() error {
	var gone [][]byte
	if err := t.later.ForEach(func(k, _ []byte) error {
		if t.containers.Get(k) == nil {
			gone = append(gone, k)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range gone {
		if err := t.later.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// LastWrite is when a writer or an import last stored data (zero: not
// since the store opened).
func (s *Store) LastWrite() time.Time {
	if ns := s.lastWrite.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// recompressing is the zstd rewrite of S2 records during a compaction.
type recompressing struct {
	cs            *codecs
	plain, z, rec []byte // reused buffers
}

// record returns rec (a whole record of chunk id, its CRC checked) as it
// is to be copied forward: with an S2 payload, a zstd record of the same
// chunk when that is smaller; any other record as it is.
func (r *recompressing) record(rec []byte, h recordHeader) ([]byte, error) {
	if h.codec != CodecS2 || h.sealed {
		return rec, nil
	}
	plain, err := r.cs.decompress(CodecS2, rec[recordHeaderSize:], int(h.rawLen), r.plain)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", h.id, err)
	}
	r.plain = plain[:0]
	if got := hashChunk(plain); got != h.id {
		return nil, fmt.Errorf("record of chunk %s holds chunk %s: %w", h.id, got, ErrCorrupt)
	}
	z := r.cs.enc.EncodeAll(plain, r.z[:0])
	r.z = z[:0]
	if len(z) >= int(h.storedLen) {
		return rec, nil // S2 did as well: keep its record
	}
	r.rec = appendRecord(r.rec[:0], h.id, CodecZstd, len(plain), z)
	return r.rec, nil
}

package chunkstore

import (
	"bytes"
	"fmt"
)

// upgrade brings a store of an older format to storeFormat, inside the
// transaction that opens it, so that a crash leaves it old or new, never
// between. Format 1 entries, headers and counters are read as they are
// (decodeEntry, decodeManifestHeader, decodeCounters) and written in
// format 2 when they next change, so the upgrade only has to fill the
// pending bucket, which format 1 did not have: one walk of the manifest
// headers, once.
func (s *Store) upgrade(t *txn, from byte) error {
	if from != 1 {
		return fmt.Errorf("no upgrade from format %d", from)
	}
	n := 0
	err := t.manifests.ForEach(func(k, v []byte) error {
		h, err := decodeManifestHeader(v)
		if err != nil {
			return fmt.Errorf("manifest %x: %w", k, err)
		}
		if h.state != stateCommitted {
			n++
			return t.pending.Put(k, []byte{pendDrain})
		}
		return nil
	})
	if err != nil {
		return err
	}
	f := append([]byte{storeFormat}, bytes.Clone(t.meta.Get(keyFormat))[1:]...)
	if err := t.meta.Put(keyFormat, f); err != nil {
		return err
	}
	s.log.Info("upgraded the store's format", "from", from, "to", storeFormat, "unfinished_manifests", n)
	return nil
}

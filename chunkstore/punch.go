package chunkstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// A disk too full to copy a container's live records forward (compact)
// still gets its dead records' space back: punchDead drops the index rows
// of the container's unreferenced chunks, then punches holes over their
// records (fallocate PUNCH_HOLE: the file keeps its length, the blocks go
// back to the filesystem). Nothing is copied, so nothing needs room; the
// container stays, its live records where they were, and a later clean
// compacts it once there is space. Chunks that moved manifests still
// reference keep their local copy: a reader may be on it.

// errNoPunch: the filesystem cannot punch holes.
var errNoPunch = errors.New("the filesystem cannot punch holes in files")

// punchDead frees the records of container id that no manifest needs and
// returns the bytes it gave back.
func (s *Store) punchDead(id uint64) (dropped, freed int64, err error) {
	type span struct{ off, n int64 }
	var spans []span
	s.gate.Lock()
	err = s.update(func(t *txn) error {
		return t.eachLocal(id, func(lr locRec, e entry) error {
			if e.refs != 0 {
				return nil
			}
			old := e
			if err := t.set(lr.id, &old, nil); err != nil {
				return err
			}
			spans = append(spans, span{lr.offset, e.size})
			dropped++
			return nil
		})
	})
	s.gate.Unlock()
	if err != nil || len(spans) == 0 {
		return 0, 0, err
	}
	// No index row names these records now, so no reader or writer will
	// touch them: their blocks can go.
	f, err := os.OpenFile(filepath.Join(s.ctrDir, containerName(id)), os.O_WRONLY, 0)
	if err != nil {
		return dropped, 0, err
	}
	defer f.Close()
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	for i := 0; i < len(spans); {
		j, end := i+1, spans[i].off+spans[i].n
		for j < len(spans) && spans[j].off == end { // merge neighbours
			end += spans[j].n
			j++
		}
		if err := punchHole(f, spans[i].off, end-spans[i].off); err != nil {
			return dropped, freed, fmt.Errorf("container %d: %w", id, err)
		}
		freed += end - spans[i].off
		i = j
	}
	return dropped, freed, nil
}

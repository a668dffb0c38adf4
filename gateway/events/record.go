package events

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Event is one entry of the log.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Message string    `json:"message"`
}

// Kinds of events.
const (
	QuotaReached            = "quota_reached"
	CleanerFailed           = "cleaner_failed"
	DiskNearlyFull          = "disk_nearly_full"
	ScrubDamage             = "scrub_damage"
	ReplicationIncompatible = "replication_incompatible"
	TierFailing             = "tier_failing"
	// ReplicationSSERefused: a version sealed under this site's keys
	// (SSE-S3, SSE-KMS) was not replicated: the replica cannot open it.
	ReplicationSSERefused = "replication_sse_refused"
)

// ErrCorrupt: a record whose CRC or JSON is wrong.
var ErrCorrupt = errors.New("corrupt event record")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeRecord returns e's line, newline included.
func encodeRecord(e Event) ([]byte, error) {
	js, err := json.Marshal(e) // escapes newlines: a record is one line
	if err != nil {
		return nil, fmt.Errorf("events: encode: %w", err)
	}
	line := make([]byte, 0, 8+1+len(js)+1)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(js, castagnoli))
	line = append(line, js...)
	return append(line, '\n'), nil
}

// decodeRecord parses one line, without its newline.
func decodeRecord(line []byte) (Event, error) {
	var e Event
	if len(line) < 10 || line[8] != ' ' {
		return e, fmt.Errorf("%w: short line", ErrCorrupt)
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:8]); err != nil {
		return e, fmt.Errorf("%w: crc: %v", ErrCorrupt, err)
	}
	js := line[9:]
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	if crc32.Checksum(js, castagnoli) != want {
		return e, fmt.Errorf("%w: crc mismatch", ErrCorrupt)
	}
	if err := json.Unmarshal(js, &e); err != nil {
		return e, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if e.Seq == 0 {
		return e, fmt.Errorf("%w: no seq", ErrCorrupt)
	}
	return e, nil
}

// scanResult is what scanRecords found in a stretch of the file.
type scanResult struct {
	records int    // whole, valid records
	corrupt int    // whole lines that did not decode
	lastSeq uint64 // the largest Seq seen
	end     int64  // offset just past the last newline: where a torn tail starts
}

// scanRecords reads the lines of b (which starts at offset base in the
// file), calling fn for each valid record unless fn is nil. Bytes after the
// last newline are a torn tail (or an append in flight): not counted.
func scanRecords(b []byte, base int64, fn func(Event)) scanResult {
	r := scanResult{end: base}
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return r
		}
		line := b[:i]
		b = b[i+1:]
		r.end += int64(i + 1)
		e, err := decodeRecord(line)
		if err != nil {
			r.corrupt++
			continue
		}
		r.records++
		r.lastSeq = max(r.lastSeq, e.Seq)
		if fn != nil {
			fn(e)
		}
	}
}

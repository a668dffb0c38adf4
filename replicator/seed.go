package replicator

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Seeding: the first sync of a bucket carried on a disk rather than over a
// WAN. Export writes a bucket's unique chunks, as stored, and its versions
// (op documents and entry lists) to a directory; import, at the replica,
// puts the records (each checked against its chunk ID) and commits the
// versions through the same Target that replication uses, so a version
// already there is not written twice and replication afterwards sends only
// what the replica lacks.
//
// A seed directory:
//
//	seed.json          SeedHeader: written last, when the export is whole
//	chunks-NNNNNN.rec  record frames (AppendRecord), up to seedFileSize each
//	versions.jsonl     one seedVersion per line, in key order
//	entries.bin        the data versions' entries (AppendEntries), in order
//	progress.json      while exporting: the record files finished
//	seen.db            while exporting: the chunk IDs in finished files
//
// An export cut short (kill, disk full, ^C) resumes: finished record files
// and the chunks they hold are kept, the file being written is written
// again, and the version list is walked again (it is small beside the
// data). Every file's SHA-256 is in seed.json; import checks each as it
// reads it.

// SeedFormat is the seed directory's layout version.
const SeedFormat = 1

const (
	seedHeaderName   = "seed.json"
	seedProgressName = "progress.json"
	seedSeenName     = "seen.db"
	seedVersionsName = "versions.jsonl"
	seedEntriesName  = "entries.bin"
	// seedFileSize is where a record file is closed and the next begun.
	seedFileSize = 256 << 20
)

// SeedSource enumerates a bucket's versions for an export.
type SeedSource interface {
	// SeedVersions calls fn for every version and delete marker of bucket
	// with its op document (what the replica's Target takes: CommitFunc
	// for a version with data, Apply for one without) and, when hasData,
	// its manifest in the store.
	SeedVersions(ctx context.Context, bucket string, fn func(op json.RawMessage, m chunkstore.ManifestID, hasData bool) error) error
}

// SeedHeader describes a whole seed.
type SeedHeader struct {
	Format       int        `json:"format"`
	Source       string     `json:"source"` // the source, as its relationship names it
	Bucket       string     `json:"bucket"`
	Created      time.Time  `json:"created"` // the export's start
	Versions     int64      `json:"versions"`
	Markers      int64      `json:"markers"`
	Chunks       int64      `json:"chunks"`
	LogicalBytes int64      `json:"logical_bytes"`
	RecordBytes  int64      `json:"record_bytes"`
	Files        []SeedFile `json:"files"`
}

// SeedFile is one file of a seed and its checksum.
type SeedFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SeedProgress is what an export or import has done so far.
type SeedProgress struct {
	Versions     int64 `json:"versions"`
	LogicalBytes int64 `json:"logical_bytes"`
	Chunks       int64 `json:"chunks"`
	RecordBytes  int64 `json:"record_bytes"`
	// Skipped: versions already at the replica (import).
	Skipped int64 `json:"skipped,omitempty"`
}

// seedVersion is one line of versions.jsonl.
type seedVersion struct {
	Op      json.RawMessage `json:"op"`
	Data    bool            `json:"data"`
	Size    int64           `json:"size,omitempty"`
	Entries int64           `json:"entries,omitempty"` // how many, next in entries.bin
}

// seedProgress is progress.json: the finished record files.
type seedProgress struct {
	Source  string     `json:"source"`
	Bucket  string     `json:"bucket"`
	Created time.Time  `json:"created"`
	Files   []SeedFile `json:"files"`
	Chunks  int64      `json:"chunks"`
	Bytes   int64      `json:"bytes"`
}

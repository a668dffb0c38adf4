package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/chunkstore"
)

// ProtocolVersion is the replication protocol this code speaks: the routes,
// their parameters and the body formats below. Change it with any change a
// peer of the previous version would misread. 2: the "lock" operation
// (retention and legal hold changes), and versions that carry their lock,
// encryption, part checksums and ACL, which a peer of version 1 would
// silently drop.
const ProtocolVersion = 2

// RecordFormat pins the record layout of chunkstore/record.go (magic
// "CRN1", codec, lengths, chunk ID, CRC32C, payload): records travel as
// stored, so two Cairns can exchange them only if both read that layout.
// The chunk store exports no such constant; bump this when record.go's
// layout changes. 2: byte 5 of the header flags a sealed record (SSE),
// which a peer of format 1 refuses as corrupt.
const RecordFormat = 2

// VersionHeader carries "<protocol>/<recordformat>" on every request and
// every response, so each side can check the other on every call.
const VersionHeader = "X-Cairn-Replication"

// PathPrefix is where the gateway mounts the Handler.
const PathPrefix = "/_cairn/replication/"

// Bounds of one request body. MaxBatch is below the chunk store's own bound
// per call (64 Ki items) so that one call is one short transaction.
const (
	MaxBatch = 4096 // IDs or entries per call
	// MaxRecordsBody bounds a PutRecords body: 16 MiB of records plus the
	// framing of MaxBatch of them.
	MaxRecordsBody = 16<<20 + MaxBatch*recordFrameHeader
	// maxRecordData bounds one record: the chunk store's largest raw chunk
	// (16 MiB) plus its 52-byte header.
	maxRecordData = 16<<20 + 52
	// maxOpBody bounds an opaque JSON op (commit, apply).
	maxOpBody = 1 << 20
)

const (
	idSize            = 32
	entrySize         = idSize + 4
	recordFrameHeader = idSize + 1 + 4 + 4
)

// Hello is what a server says about itself (GET hello).
type Hello struct {
	Protocol     int    `json:"protocol"`
	RecordFormat int    `json:"recordFormat"`
	Server       string `json:"server,omitempty"`
}

// Version is h's "<protocol>/<recordformat>", as in VersionHeader.
func (h Hello) Version() string { return formatVersion(h.Protocol, h.RecordFormat) }

// Compatible reports whether a peer saying h can talk to one saying local.
// Versions must be equal: there is one version so far, and a later one will
// say here what it still accepts.
func (h Hello) Compatible(local Hello) bool {
	return h.Protocol == local.Protocol && h.RecordFormat == local.RecordFormat
}

func formatVersion(protocol, recordFormat int) string {
	return strconv.Itoa(protocol) + "/" + strconv.Itoa(recordFormat)
}

// parseVersion reads a VersionHeader value; ok is false for anything but
// two decimal numbers.
func parseVersion(s string) (h Hello, ok bool) {
	p, r, found := strings.Cut(s, "/")
	if !found {
		return Hello{}, false
	}
	var err1, err2 error
	h.Protocol, err1 = strconv.Atoi(p)
	h.RecordFormat, err2 = strconv.Atoi(r)
	return h, err1 == nil && err2 == nil
}

// ErrIncompatible is matched (errors.Is) by *IncompatibleError.
var ErrIncompatible = errors.New("incompatible replication peer")

// IncompatibleError says that the peer speaks another protocol or record
// format: nothing was sent. The gateway reports it as an event; retrying
// does not help until one side is upgraded.
type IncompatibleError struct {
	Local, Remote Hello
}

func (e *IncompatibleError) Error() string {
	name := ""
	if e.Remote.Server != "" {
		name = " (" + e.Remote.Server + ")"
	}
	return fmt.Sprintf("replication peer%s speaks protocol %d (record format %d); this side speaks protocol %d (record format %d)",
		name, e.Remote.Protocol, e.Remote.RecordFormat, e.Local.Protocol, e.Local.RecordFormat)
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

// Bodies. All integers are little-endian, like the chunk store's records.
//
//	IDs:     n × 32-byte chunk ID
//	entries: n × (32-byte chunk ID, uint32 length)
//	records: n × (32-byte chunk ID, codec byte, uint32 raw length,
//	              uint32 data length, data: the whole record as stored)
//
// Decoders bound the count (MaxBatch) and sizes, and return errors naming
// what is wrong and where; they never panic (FuzzDecodeIDs, FuzzDecodeEntries,
// FuzzDecodeRecords).

// AppendIDs appends the encoding of ids to dst.
func AppendIDs(dst []byte, ids []chunkstore.ChunkID) []byte {
	for _, id := range ids {
		dst = append(dst, id[:]...)
	}
	return dst
}

// DecodeIDs decodes an ID list.
func DecodeIDs(b []byte) ([]chunkstore.ChunkID, error) {
	if len(b)%idSize != 0 {
		return nil, fmt.Errorf("ID list of %d bytes: not a multiple of %d", len(b), idSize)
	}
	n := len(b) / idSize
	if n > MaxBatch {
		return nil, fmt.Errorf("ID list of %d IDs: at most %d per call", n, MaxBatch)
	}
	ids := make([]chunkstore.ChunkID, n)
	for i := range ids {
		ids[i] = chunkstore.ChunkID(b[i*idSize : (i+1)*idSize])
	}
	return ids, nil
}

// AppendEntries appends the encoding of entries (offsets are not sent: the
// receiver appends in order) to dst.
func AppendEntries(dst []byte, entries []chunkstore.Entry) []byte {
	for _, e := range entries {
		dst = append(dst, e.ID[:]...)
		dst = binary.LittleEndian.AppendUint32(dst, e.Len)
	}
	return dst
}

// DecodeEntries decodes an entry list. Offsets are left zero: the chunk
// store ignores them and appends in order.
func DecodeEntries(b []byte) ([]chunkstore.Entry, error) {
	if len(b)%entrySize != 0 {
		return nil, fmt.Errorf("entry list of %d bytes: not a multiple of %d", len(b), entrySize)
	}
	n := len(b) / entrySize
	if n > MaxBatch {
		return nil, fmt.Errorf("entry list of %d entries: at most %d per call", n, MaxBatch)
	}
	es := make([]chunkstore.Entry, n)
	for i := range es {
		p := b[i*entrySize:]
		es[i].ID = chunkstore.ChunkID(p[:idSize])
		es[i].Len = binary.LittleEndian.Uint32(p[idSize:])
		if es[i].Len == 0 {
			return nil, fmt.Errorf("entry %d (chunk %s): length 0", i, es[i].ID)
		}
	}
	return es, nil
}

// RecordFrameSize is the encoded size of r in a records body.
func RecordFrameSize(r chunkstore.Record) int { return recordFrameHeader + len(r.Data) }

// AppendRecord appends r's frame to dst.
func AppendRecord(dst []byte, r chunkstore.Record) []byte {
	dst = append(dst, r.ID[:]...)
	dst = append(dst, byte(r.Codec))
	dst = binary.LittleEndian.AppendUint32(dst, r.RawLen)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Data)))
	return append(dst, r.Data...)
}

// DecodeRecords decodes a records body. The records' Data alias b. It
// checks the framing only: the receiver's Import.PutRecords verifies each
// record against its chunk ID before writing anything.
func DecodeRecords(b []byte) ([]chunkstore.Record, error) {
	if len(b) > MaxRecordsBody {
		return nil, fmt.Errorf("records body of %d bytes: at most %d", len(b), MaxRecordsBody)
	}
	var recs []chunkstore.Record
	for off := 0; off < len(b); {
		if len(recs) == MaxBatch {
			return nil, fmt.Errorf("records body: more than %d records", MaxBatch)
		}
		if len(b)-off < recordFrameHeader {
			return nil, fmt.Errorf("record %d at byte %d: %d bytes left, a frame header is %d", len(recs), off, len(b)-off, recordFrameHeader)
		}
		p := b[off:]
		r := chunkstore.Record{
			ID:     chunkstore.ChunkID(p[:idSize]),
			Codec:  chunkstore.Codec(p[idSize]),
			RawLen: binary.LittleEndian.Uint32(p[idSize+1:]),
		}
		n := binary.LittleEndian.Uint32(p[idSize+5:])
		switch {
		case n == 0 || n > maxRecordData:
			return nil, fmt.Errorf("record %d (chunk %s): data length %d: want 1 to %d", len(recs), r.ID, n, maxRecordData)
		case uint64(n) > uint64(len(p)-recordFrameHeader):
			return nil, fmt.Errorf("record %d (chunk %s): data length %d, %d bytes left", len(recs), r.ID, n, len(p)-recordFrameHeader)
		}
		end := recordFrameHeader + int(n)
		r.Data = p[recordFrameHeader:end:end]
		recs = append(recs, r)
		off += end
	}
	return recs, nil
}

package chunkstore

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"

	"lukechampine.com/blake3"
)

// ChunkID names a chunk: the 256-bit BLAKE3 hash of its plaintext.
type ChunkID [32]byte

func (id ChunkID) String() string { return hex.EncodeToString(id[:]) }

// hashChunk computes a chunk's ID.
func hashChunk(data []byte) ChunkID {
	return ChunkID(blake3.Sum256(data))
}

// A record is one chunk inside a container file. It describes itself, so a
// container file can be verified and the index rebuilt from it alone:
//
//	off len
//	  0   4  magic "CRN1"
//	  4   1  codec (CodecRaw, CodecZstd, CodecS2)
//	  5   1  flags: 1 = sealed (the payload is the compressed chunk sealed
//	         with sio under a SealKey, and the chunk ID is keyed: seal.go)
//	  6   2  reserved, zero
//	  8   4  raw (plaintext) length, little-endian
//	 12   4  stored (payload) length
//	 16  32  chunk ID (BLAKE3 of the plaintext)
//	 48   4  CRC32C of bytes 0..48 and the payload
//	 52   …  payload
//
// The CRC catches torn and bit-rotted records cheaply (scans, the cleaner);
// the chunk ID catches everything else when a reader hashes the plaintext.
// Byte 5 was reserved (zero) before sealed records: every record written
// before reads as it did, and code from before refuses a sealed record as
// corrupt rather than return its sealed bytes.
const (
	recordHeaderSize = 52
	// maxRecordRaw bounds what a decoder accepts, so a corrupt length can
	// never make a reader allocate more than this.
	maxRecordRaw = 16 << 20
)

var recordMagic = [4]byte{'C', 'R', 'N', '1'}

// recordFlagSealed marks a sealed record (byte 5 of the header).
const recordFlagSealed = 1

// Codec is how a record's payload is encoded.
type Codec uint8

const (
	CodecRaw Codec = iota
	CodecZstd
	CodecS2
	numCodecs
)

func (c Codec) String() string {
	switch c {
	case CodecRaw:
		return "raw"
	case CodecZstd:
		return "zstd"
	case CodecS2:
		return "s2"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type recordHeader struct {
	codec     Codec
	rawLen    uint32
	storedLen uint32
	id        ChunkID
	crc       uint32
	sealed    bool
}

// size is the whole record's length on disk.
func (h recordHeader) size() int64 { return recordHeaderSize + int64(h.storedLen) }

// appendRecord appends the encoded record for a chunk to dst.
func appendRecord(dst []byte, id ChunkID, c Codec, rawLen int, payload []byte) []byte {
	return appendRecordFlags(dst, id, c, 0, rawLen, payload)
}

// appendRecordFlags is appendRecord with the header's flags.
func appendRecordFlags(dst []byte, id ChunkID, c Codec, flags byte, rawLen int, payload []byte) []byte {
	return append(appendRecordHeader(dst, id, c, flags, rawLen, payload), payload...)
}

// appendRecordHeader appends the header of the record for a chunk to dst:
// the record is that header followed by payload.
func appendRecordHeader(dst []byte, id ChunkID, c Codec, flags byte, rawLen int, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, recordMagic[:]...)
	dst = append(dst, byte(c), flags, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(rawLen))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, id[:]...)
	crc := crc32.Update(0, castagnoli, dst[start:start+48])
	crc = crc32.Update(crc, castagnoli, payload)
	return binary.LittleEndian.AppendUint32(dst, crc)
}

// fixRecordHeader sets the stored length of the record rec (header and a
// payload of n bytes) and its CRC, for a payload written after the header.
func fixRecordHeader(rec []byte, n int) {
	binary.LittleEndian.PutUint32(rec[12:], uint32(n))
	crc := crc32.Update(0, castagnoli, rec[:48])
	crc = crc32.Update(crc, castagnoli, rec[recordHeaderSize:recordHeaderSize+n])
	binary.LittleEndian.PutUint32(rec[48:], crc)
}

// decodeRecordHeader parses and sanity-checks a header. It does not check
// the CRC, which covers the payload too: see checkRecord.
func decodeRecordHeader(b []byte) (recordHeader, error) {
	if len(b) < recordHeaderSize {
		return recordHeader{}, fmt.Errorf("record header: %d bytes, want %d: %w", len(b), recordHeaderSize, ErrCorrupt)
	}
	if [4]byte(b[0:4]) != recordMagic {
		return recordHeader{}, fmt.Errorf("record header: bad magic %x: %w", b[0:4], ErrCorrupt)
	}
	h := recordHeader{
		codec:     Codec(b[4]),
		rawLen:    binary.LittleEndian.Uint32(b[8:]),
		storedLen: binary.LittleEndian.Uint32(b[12:]),
		id:        ChunkID(b[16:48]),
		crc:       binary.LittleEndian.Uint32(b[48:]),
		sealed:    b[5] == recordFlagSealed,
	}
	switch {
	case h.codec >= numCodecs:
		return h, fmt.Errorf("record header: unknown codec %d: %w", h.codec, ErrCorrupt)
	case b[5]&^recordFlagSealed != 0 || b[6]|b[7] != 0:
		return h, fmt.Errorf("record header: reserved bytes set: %w", ErrCorrupt)
	case h.rawLen == 0 || h.rawLen > maxRecordRaw:
		return h, fmt.Errorf("record header: raw length %d: %w", h.rawLen, ErrCorrupt)
	case h.sealed:
		// Sealing adds a header and tag per 64 KiB package: the payload is
		// at most the raw chunk sealed.
		if h.storedLen == 0 || h.storedLen > sealedSize(h.rawLen) {
			return h, fmt.Errorf("record header: sealed stored length %d for raw %d: %w", h.storedLen, h.rawLen, ErrCorrupt)
		}
	case h.codec == CodecRaw && h.storedLen != h.rawLen:
		return h, fmt.Errorf("record header: raw record stored %d of %d bytes: %w", h.storedLen, h.rawLen, ErrCorrupt)
	case h.storedLen == 0 || h.storedLen > h.rawLen:
		// The writer stores raw whenever compression does not save space.
		return h, fmt.Errorf("record header: stored length %d for raw %d: %w", h.storedLen, h.rawLen, ErrCorrupt)
	}
	return h, nil
}

// checkRecord verifies the CRC of a whole record (header and payload).
func checkRecord(rec []byte, h recordHeader) error {
	if int64(len(rec)) != h.size() {
		return fmt.Errorf("record %s: %d bytes, want %d: %w", h.id, len(rec), h.size(), ErrCorrupt)
	}
	crc := crc32.Update(0, castagnoli, rec[:48])
	crc = crc32.Update(crc, castagnoli, rec[recordHeaderSize:])
	if crc != h.crc {
		return fmt.Errorf("record %s: CRC mismatch: %w", h.id, ErrCorrupt)
	}
	return nil
}

// decodeRecord checks a whole record and returns its plaintext, verified
// against the chunk ID. buf is reused for the plaintext when large enough.
// A sealed record needs key (else ErrSealed); a plain one, no key: a plain
// record where a sealed one was expected is ErrCorrupt, never plaintext
// passed off as sealed. opened is a reusable buffer for a sealed payload
// (the plaintext of a raw sealed record aliases it).
func decodeRecord(rec []byte, cs *codecs, buf []byte, key *SealKey, opened *[]byte) (recordHeader, []byte, error) {
	return decodeRecordCheck(rec, cs, buf, key, opened, true)
}

// decodeRecordCheck is decodeRecord, hashing the plaintext to check it
// against the chunk ID only when checkID is set; the CRC, which covers the
// header (ID included) and the payload as the writer built them from the
// bytes it hashed, is always checked, and a sealed payload is always
// authenticated as it is opened.
func decodeRecordCheck(rec []byte, cs *codecs, buf []byte, key *SealKey, opened *[]byte, checkID bool) (recordHeader, []byte, error) {
	h, err := decodeRecordHeader(rec)
	if err != nil {
		return h, nil, err
	}
	if err := checkRecord(rec, h); err != nil {
		return h, nil, err
	}
	payload := rec[recordHeaderSize:]
	switch {
	case h.sealed && key == nil:
		return h, nil, fmt.Errorf("record %s: %w", h.id, ErrSealed)
	case !h.sealed && key != nil:
		return h, nil, fmt.Errorf("record %s is not sealed where a sealed one was expected: %w", h.id, ErrCorrupt)
	case h.sealed:
		var scratch []byte
		if opened != nil {
			scratch = *opened
		}
		if payload, err = key.openPayload(scratch, h.id, payload); err != nil {
			return h, nil, err
		}
		if opened != nil {
			*opened = payload
		}
		if h.codec == CodecRaw && len(payload) != int(h.rawLen) {
			return h, nil, fmt.Errorf("record %s: raw sealed payload of %d bytes, want %d: %w", h.id, len(payload), h.rawLen, ErrCorrupt)
		}
	}
	plain, err := cs.decompress(h.codec, payload, int(h.rawLen), buf)
	if err != nil {
		return h, nil, fmt.Errorf("record %s: %w", h.id, err)
	}
	if checkID && key.hasher()(plain) != h.id {
		return h, nil, fmt.Errorf("record %s: content does not match its ID: %w", h.id, ErrCorrupt)
	}
	return h, plain, nil
}

// Record is a chunk as stored: its encoded bytes (header and payload, the
// same in a container file, in a pack and on the wire between Cairns) and
// what its header says. Moving a record between stores never recompresses.
type Record struct {
	ID     ChunkID
	Codec  Codec
	RawLen uint32 // plaintext length
	// Sealed: the payload is sealed under a SealKey (seal.go); without the
	// key only its CRC can be checked.
	Sealed bool
	Data   []byte // the whole record: header and payload
}

// Payload is the record's stored bytes, after the header.
func (r Record) Payload() []byte { return r.Data[recordHeaderSize:] }

// ParseRecord reads a record's header and checks its CRC; it does not
// decompress nor hash the content (PutRecords does). b is not copied.
func ParseRecord(b []byte) (Record, error) {
	h, err := decodeRecordHeader(b)
	if err != nil {
		return Record{}, err
	}
	if err := checkRecord(b, h); err != nil {
		return Record{}, err
	}
	return Record{ID: h.id, Codec: h.codec, RawLen: h.rawLen, Sealed: h.sealed, Data: b}, nil
}

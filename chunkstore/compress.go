package chunkstore

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression selects how a store compresses new chunks. Every store reads
// every codec, so the setting can change at any time.
type Compression string

const (
	CompressNone Compression = "none"
	CompressS2   Compression = "s2"
	CompressZstd Compression = "zstd" // zstd at its fastest level
	// CompressZstdLater writes new chunks with S2, 2.5 to 3 times as fast
	// as zstd, and the cleaner recompresses them with zstd later, when the
	// store is idle or short of space (Clean): uploads go at S2's pace and
	// the disk ends up holding what zstd stores. Sealed chunks, which the
	// cleaner cannot open, are written with zstd at once.
	CompressZstdLater Compression = "zstd-later"
)

// codecs holds the stateless-to-callers compressors of one store. zstd's
// EncodeAll and DecodeAll are safe for concurrent use.
type codecs struct {
	write atomic.Pointer[writeSetting] // how new chunks are compressed (SetCompression)
	enc   *zstd.Encoder
	dec   *zstd.Decoder
}

// writeSetting is a Compression setting as the writers apply it.
type writeSetting struct {
	name  Compression
	codec Codec // what new chunks are offered to
	later bool  // S2 records are to become zstd ones (CompressZstdLater)
}

// Check refuses a setting other than none, s2, zstd and zstd-later.
func (c Compression) Check() error {
	if c == "" {
		return fmt.Errorf("compression %q: want none, s2, zstd or zstd-later", c)
	}
	_, err := settingFor(c)
	return err
}

// settingFor is how a Compression setting writes ("": none).
func settingFor(c Compression) (*writeSetting, error) {
	switch c {
	case CompressNone, "":
		return &writeSetting{name: CompressNone, codec: CodecRaw}, nil
	case CompressS2:
		return &writeSetting{name: c, codec: CodecS2}, nil
	case CompressZstd:
		return &writeSetting{name: c, codec: CodecZstd}, nil
	case CompressZstdLater:
		return &writeSetting{name: c, codec: CodecS2, later: true}, nil
	}
	return nil, fmt.Errorf("compression %q: want none, s2, zstd or zstd-later", c)
}

func newCodecs(c Compression) (*codecs, error) {
	ws, err := settingFor(c)
	if err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		// EncodeAll takes one of this many encoders, blocking when none is
		// free: writers compress on every core.
		zstd.WithEncoderConcurrency(max(4, runtime.GOMAXPROCS(0))),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false)) // the record CRC and the chunk ID cover it
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxRecordRaw),
		zstd.IgnoreChecksum(true))
	if err != nil {
		return nil, err
	}
	cs := &codecs{enc: enc, dec: dec}
	cs.write.Store(ws)
	return cs, nil
}

func (cs *codecs) close() { cs.dec.Close() }

// compress returns the codec and payload to store for plain, and the
// buffer to pass as buf next time (the compressor's output buffer, kept
// even when the chunk is stored raw, so that incompressible data does not
// allocate one per chunk). It falls back to raw when compression saves
// less than 1/32 of the chunk: reading raw is cheaper, and incompressible
// data (already compressed backups, encrypted archives) then reads back at
// no cost. later says the payload is S2 for the cleaner to make zstd
// (CompressZstdLater); a sealed chunk is never left for later.
func (cs *codecs) compress(plain, buf []byte, sealed bool) (c Codec, payload, scratch []byte, later bool) {
	ws := cs.write.Load()
	var out []byte
	write := ws.codec
	if ws.later && sealed {
		write = CodecZstd
	}
	switch write {
	case CodecZstd:
		out = cs.enc.EncodeAll(plain, buf[:0])
	case CodecS2:
		if n := s2.MaxEncodedLen(len(plain)); cap(buf) < n {
			buf = make([]byte, n)
		}
		out = s2.Encode(buf[:cap(buf)], plain)
	default:
		return CodecRaw, plain, buf, false
	}
	if len(out) >= len(plain)-len(plain)/32 {
		return CodecRaw, plain, out, false
	}
	// Sealed, write is zstd here: only an unsealed S2 record waits.
	return write, out, out, write == CodecS2 && ws.later
}

// decompress returns the plaintext of a payload of rawLen bytes.
func (cs *codecs) decompress(c Codec, payload []byte, rawLen int, buf []byte) ([]byte, error) {
	var out []byte
	var err error
	switch c {
	case CodecRaw:
		return payload, nil
	case CodecZstd:
		out, err = cs.dec.DecodeAll(payload, buf[:0])
	case CodecS2:
		var n int
		if n, err = s2.DecodedLen(payload); err == nil && n != rawLen {
			return nil, fmt.Errorf("s2 payload decodes to %d bytes, want %d: %w", n, rawLen, ErrCorrupt)
		}
		if err == nil {
			if cap(buf) < rawLen {
				buf = make([]byte, rawLen)
			}
			out, err = s2.Decode(buf[:rawLen], payload)
		}
	default:
		return nil, fmt.Errorf("unknown codec %d: %w", c, ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("%s payload: %v: %w", c, err, ErrCorrupt)
	}
	if len(out) != rawLen {
		return nil, fmt.Errorf("%s payload decodes to %d bytes, want %d: %w", c, len(out), rawLen, ErrCorrupt)
	}
	return out, nil
}

package tlsproxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// frameType is the first byte of every frame. Types below frameOpen are
// link frames: they belong to one TLS connection and are never resent.
// Types from frameOpen up are session frames: numbered, cached until
// acknowledged, and delivered exactly once and in order.
type frameType uint8

const (
	frameHello   frameType = 1 // client → server, first frame on a link
	frameWelcome frameType = 2 // server → client, answer to an accepted hello
	frameRefuse  frameType = 3 // server → client, answer to a refused hello
	frameAck     frameType = 4 // cumulative acknowledgement; seq carries the value
	framePing    frameType = 5 // keepalive
	frameGoodbye frameType = 6 // the sender ends the session

	frameOpen   frameType = 16 // client → server: a new stream
	frameData   frameType = 17 // stream bytes
	frameFin    frameType = 18 // the sender will write no more on the stream (half-close)
	frameReset  frameType = 19 // the stream is aborted; payload is a reason
	frameWindow frameType = 20 // the receiver consumed bytes; payload is a uint32 credit
)

const (
	headerLen     = 17       // type u8, stream u32, seq u64, length u32
	maxPayload    = 64 << 10 // largest data payload
	maxReasonLen  = 512      // largest reset / refuse reason
	maxHelloLen   = 512
	windowLen     = 4
	welcomeLen    = 16 + 32 + 4 + 8
	helloFixedLen = 1 + 1 + 1 + 4 + 8
)

// String names a frame type for logs and errors.
func (t frameType) String() string {
	switch t {
	case frameHello:
		return "hello"
	case frameWelcome:
		return "welcome"
	case frameRefuse:
		return "refuse"
	case frameAck:
		return "ack"
	case framePing:
		return "ping"
	case frameGoodbye:
		return "goodbye"
	case frameOpen:
		return "open"
	case frameData:
		return "data"
	case frameFin:
		return "fin"
	case frameReset:
		return "reset"
	case frameWindow:
		return "window"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// sequenced reports whether frames of this type are session frames.
func (t frameType) sequenced() bool { return t >= frameOpen }

// header is the fixed 17-byte prefix of every frame.
type header struct {
	typ    frameType
	stream uint32
	seq    uint64
	length uint32
}

func (h header) encode(b []byte) {
	b[0] = byte(h.typ)
	binary.BigEndian.PutUint32(b[1:5], h.stream)
	binary.BigEndian.PutUint64(b[5:13], h.seq)
	binary.BigEndian.PutUint32(b[13:17], h.length)
}

// decodeHeader parses and validates a frame header: every rule that can be
// checked without the payload is checked here, so a reader never allocates
// for a frame it would reject.
func decodeHeader(b []byte) (header, error) {
	if len(b) < headerLen {
		return header{}, fmt.Errorf("%w: short header (%d bytes)", ErrProtocol, len(b))
	}
	h := header{
		typ:    frameType(b[0]),
		stream: binary.BigEndian.Uint32(b[1:5]),
		seq:    binary.BigEndian.Uint64(b[5:13]),
		length: binary.BigEndian.Uint32(b[13:17]),
	}
	bad := func(what string) (header, error) {
		return header{}, fmt.Errorf("%w: %s frame: %s", ErrProtocol, h.typ, what)
	}
	if h.typ.sequenced() {
		if h.stream == 0 {
			return bad("stream 0")
		}
		if h.seq == 0 {
			return bad("seq 0")
		}
	} else if h.stream != 0 {
		return bad("link frame with a stream")
	}
	switch h.typ {
	case frameHello:
		if h.seq != 0 || h.length < helloFixedLen || h.length > maxHelloLen {
			return bad("bad seq or length")
		}
	case frameWelcome:
		if h.seq != 0 || h.length != welcomeLen {
			return bad("bad seq or length")
		}
	case frameRefuse:
		if h.seq != 0 || h.length < 1 || h.length > 1+maxReasonLen {
			return bad("bad seq or length")
		}
	case frameAck:
		if h.length != 0 {
			return bad("payload")
		}
	case framePing, frameGoodbye:
		if h.seq != 0 || h.length != 0 {
			return bad("bad seq or length")
		}
	case frameOpen, frameFin:
		if h.length != 0 {
			return bad("payload")
		}
	case frameData:
		if h.length == 0 || h.length > maxPayload {
			return bad(fmt.Sprintf("length %d", h.length))
		}
	case frameReset:
		if h.length > maxReasonLen {
			return bad(fmt.Sprintf("length %d", h.length))
		}
	case frameWindow:
		if h.length != windowLen {
			return bad(fmt.Sprintf("length %d", h.length))
		}
	default:
		return header{}, fmt.Errorf("%w: unknown frame type %d", ErrProtocol, b[0])
	}
	return h, nil
}

// decodeFrame parses one whole frame from the front of b. It returns
// io.ErrUnexpectedEOF when b holds only part of a frame. It is the decoder
// the fuzz target exercises; links use readHeader plus io.ReadFull.
func decodeFrame(b []byte) (h header, payload []byte, n int, err error) {
	if len(b) < headerLen {
		return header{}, nil, 0, io.ErrUnexpectedEOF
	}
	h, err = decodeHeader(b)
	if err != nil {
		return header{}, nil, 0, err
	}
	end := headerLen + int(h.length)
	if len(b) < end {
		return header{}, nil, 0, io.ErrUnexpectedEOF
	}
	if err := checkPayload(h, b[headerLen:end]); err != nil {
		return header{}, nil, 0, err
	}
	return h, b[headerLen:end], end, nil
}

// checkPayload validates the payload of the frame types that carry a
// structured one.
func checkPayload(h header, p []byte) error {
	var err error
	switch h.typ {
	case frameHello:
		_, err = decodeHello(p)
	case frameWelcome:
		_, err = decodeWelcome(p)
	case frameRefuse:
		_, err = decodeRefuse(p)
	case frameWindow:
		_, err = decodeWindow(p)
	}
	return err
}

// appendFrame appends an encoded frame to b.
func appendFrame(b []byte, h header, payload []byte) []byte {
	h.length = uint32(len(payload))
	var hb [headerLen]byte
	h.encode(hb[:])
	b = append(b, hb[:]...)
	return append(b, payload...)
}

// writeFrame writes one link frame (handshake and refusal paths only; the
// data path goes through link.writeLoop).
func writeFrame(w io.Writer, typ frameType, seq uint64, payload []byte) error {
	_, err := w.Write(appendFrame(nil, header{typ: typ, seq: seq}, payload))
	return err
}

// readFrame reads one whole frame whose payload is at most max bytes; it
// is used during the handshake, before the steady-state reader starts.
func readFrame(r io.Reader) (header, []byte, error) {
	var hb [headerLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return header{}, nil, err
	}
	h, err := decodeHeader(hb[:])
	if err != nil {
		return header{}, nil, err
	}
	p := make([]byte, h.length)
	if _, err := io.ReadFull(r, p); err != nil {
		return header{}, nil, err
	}
	if err := checkPayload(h, p); err != nil {
		return header{}, nil, err
	}
	return h, p, nil
}

func decodeWindow(p []byte) (uint32, error) {
	if len(p) != windowLen {
		return 0, fmt.Errorf("%w: window payload of %d bytes", ErrProtocol, len(p))
	}
	n := binary.BigEndian.Uint32(p)
	if n == 0 || n > 1<<30 {
		return 0, fmt.Errorf("%w: window credit %d", ErrProtocol, n)
	}
	return n, nil
}

func encodeWindow(n uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, n)
}

// bufPool recycles data frame buffers (header + largest payload). It lives
// in each Server and Client, never at package level.
type bufPool struct{ p sync.Pool }

const bufSize = headerLen + maxPayload

func newBufPool() *bufPool {
	return &bufPool{p: sync.Pool{New: func() any {
		b := make([]byte, bufSize)
		return &b
	}}}
}

func (p *bufPool) get() []byte { return (*p.p.Get().(*[]byte))[:bufSize] }

func (p *bufPool) put(b []byte) {
	if cap(b) < bufSize {
		return
	}
	b = b[:bufSize]
	p.p.Put(&b)
}

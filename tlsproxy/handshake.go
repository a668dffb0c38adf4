package tlsproxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

const protocolVersion = 1

// Hello kinds.
const (
	helloNew    = 1 // open a new session to target
	helloAttach = 2 // add or replace a link of an existing session
)

// sessionID names a session; it is random and not secret.
type sessionID [16]byte

func (id sessionID) String() string {
	if id == (sessionID{}) {
		return "(not established)"
	}
	return hex.EncodeToString(id[:6])
}

// hello is the first frame a client sends on every link.
type hello struct {
	kind  uint8
	slot  uint8  // connection index 0..Connections-1
	cache uint32 // the client's resend cache bound (what the server may have to reorder)
	ack   uint64 // attach: the client's cumulative received seq

	target string // new: host:port, empty for the server's default

	session sessionID // attach
	counter uint64    // attach: fresh per attach, never reused
	mac     [32]byte  // attach: proof, see attachProof
}

func (h hello) encode() []byte {
	b := []byte{protocolVersion, h.kind, h.slot}
	b = binary.BigEndian.AppendUint32(b, h.cache)
	b = binary.BigEndian.AppendUint64(b, h.ack)
	switch h.kind {
	case helloNew:
		b = append(b, byte(len(h.target)))
		b = append(b, h.target...)
	case helloAttach:
		b = append(b, h.session[:]...)
		b = binary.BigEndian.AppendUint64(b, h.counter)
		b = append(b, h.mac[:]...)
	}
	return b
}

func decodeHello(p []byte) (hello, error) {
	bad := func(what string) (hello, error) {
		return hello{}, fmt.Errorf("%w: hello: %s", ErrProtocol, what)
	}
	if len(p) < helloFixedLen {
		return bad("short")
	}
	if p[0] != protocolVersion {
		return bad(fmt.Sprintf("unsupported version %d", p[0]))
	}
	h := hello{
		kind:  p[1],
		slot:  p[2],
		cache: binary.BigEndian.Uint32(p[3:7]),
		ack:   binary.BigEndian.Uint64(p[7:15]),
	}
	rest := p[helloFixedLen:]
	switch h.kind {
	case helloNew:
		if len(rest) < 1 || len(rest) != 1+int(rest[0]) {
			return bad("target length")
		}
		h.target = string(rest[1:])
		if !utf8.ValidString(h.target) {
			return bad("target is not UTF-8")
		}
		if h.ack != 0 {
			return bad("ack on a new session")
		}
	case helloAttach:
		if len(rest) != 16+8+32 {
			return bad("attach length")
		}
		copy(h.session[:], rest[:16])
		h.counter = binary.BigEndian.Uint64(rest[16:24])
		copy(h.mac[:], rest[24:])
	default:
		return bad(fmt.Sprintf("kind %d", h.kind))
	}
	return h, nil
}

// welcome is the server's answer to an accepted hello.
type welcome struct {
	session sessionID
	secret  [32]byte // new sessions only; zero on attach
	cache   uint32   // the server's resend cache bound
	ack     uint64   // the server's cumulative received seq
}

func (w welcome) encode() []byte {
	b := append([]byte(nil), w.session[:]...)
	b = append(b, w.secret[:]...)
	b = binary.BigEndian.AppendUint32(b, w.cache)
	return binary.BigEndian.AppendUint64(b, w.ack)
}

func decodeWelcome(p []byte) (welcome, error) {
	if len(p) != welcomeLen {
		return welcome{}, fmt.Errorf("%w: welcome of %d bytes", ErrProtocol, len(p))
	}
	var w welcome
	copy(w.session[:], p[:16])
	copy(w.secret[:], p[16:48])
	w.cache = binary.BigEndian.Uint32(p[48:52])
	w.ack = binary.BigEndian.Uint64(p[52:60])
	return w, nil
}

// refusal is the server's answer to a refused hello. Fatal refusals (bad
// target) stop the client; others (unknown session) make it start a new
// session.
type refusal struct {
	fatal  bool
	reason string
}

func (r refusal) encode() []byte {
	reason := r.reason
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	b := []byte{0}
	if r.fatal {
		b[0] = 1
	}
	return append(b, reason...)
}

func decodeRefuse(p []byte) (refusal, error) {
	if len(p) < 1 || len(p) > 1+maxReasonLen || p[0] > 1 {
		return refusal{}, fmt.Errorf("%w: refuse payload", ErrProtocol)
	}
	return refusal{fatal: p[0] == 1, reason: string(p[1:])}, nil
}

const exporterLabel = "EXPORTER-cairn-tlsproxy-attach"

// attachProof is the MAC a client sends to attach a link to a session. It
// binds the session secret (which only travelled inside TLS), the session,
// the per-attach counter, the slot, and keying material exported from this
// very TLS connection, so a captured proof is useless on any other
// connection, and a proof is never accepted twice (see replayWindow).
func attachProof(secret [32]byte, id sessionID, counter uint64, slot uint8, cs tls.ConnectionState) ([32]byte, error) {
	var out [32]byte
	ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
	if err != nil {
		return out, fmt.Errorf("export keying material: %w", err)
	}
	m := hmac.New(sha256.New, secret[:])
	m.Write([]byte("cairn-tlsproxy attach v1\x00"))
	m.Write(id[:])
	m.Write(binary.BigEndian.AppendUint64(nil, counter))
	m.Write([]byte{slot})
	m.Write(ekm)
	copy(out[:], m.Sum(nil))
	return out, nil
}

// replayWindow remembers which attach counters a session has accepted:
// the highest, and a bitmap of the 64 below it (as IPsec does), so links
// of a multiconnect session may attach slightly out of order but no
// counter is ever accepted twice.
type replayWindow struct {
	max  uint64
	seen uint64 // bit i: counter max-i was accepted
}

// accept records c and reports whether it was fresh.
func (w *replayWindow) accept(c uint64) bool {
	switch {
	case c == 0:
		return false
	case c > w.max:
		shift := c - w.max
		if shift >= 64 {
			w.seen = 0
		} else {
			w.seen <<= shift
		}
		w.seen |= 1
		w.max = c
		return true
	case w.max-c >= 64:
		return false
	default:
		bit := uint64(1) << (w.max - c)
		if w.seen&bit != 0 {
			return false
		}
		w.seen |= bit
		return true
	}
}

package tlsproxy

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	var id sessionID
	copy(id[:], "0123456789abcdef")
	tests := []struct {
		name    string
		h       header
		payload []byte
	}{
		{"data", header{typ: frameData, stream: 7, seq: 42}, bytes.Repeat([]byte{9}, maxPayload)},
		{"open", header{typ: frameOpen, stream: 1, seq: 1}, nil},
		{"fin", header{typ: frameFin, stream: 3, seq: 1 << 40}, nil},
		{"reset", header{typ: frameReset, stream: 3, seq: 5}, []byte("connection reset")},
		{"window", header{typ: frameWindow, stream: 3, seq: 6}, encodeWindow(1 << 20)},
		{"ack", header{typ: frameAck, seq: 99}, nil},
		{"ping", header{typ: framePing}, nil},
		{"goodbye", header{typ: frameGoodbye}, nil},
		{"hello new", header{typ: frameHello}, hello{kind: helloNew, slot: 2, cache: 1 << 20, target: "127.0.0.1:9000"}.encode()},
		{"hello attach", header{typ: frameHello}, hello{kind: helloAttach, slot: 3, ack: 77, session: id, counter: 5}.encode()},
		{"welcome", header{typ: frameWelcome}, welcome{session: id, cache: 123, ack: 4}.encode()},
		{"refuse", header{typ: frameRefuse}, refusal{fatal: true, reason: "target not allowed"}.encode()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := appendFrame(nil, tc.h, tc.payload)
			h, p, n, err := decodeFrame(append(b, 0xff)) // trailing byte: next frame
			if err != nil {
				t.Fatal(err)
			}
			tc.h.length = uint32(len(tc.payload))
			if h != tc.h || !bytes.Equal(p, tc.payload) || n != len(b) {
				t.Fatalf("decoded %+v %d bytes, n=%d; want %+v %d bytes, n=%d", h, len(p), n, tc.h, len(tc.payload), len(b))
			}
			if _, _, _, err := decodeFrame(b[:len(b)-1]); len(b) > headerLen && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("truncated frame: %v", err)
			}
		})
	}
}

func TestFrameRejects(t *testing.T) {
	tests := []struct {
		name    string
		h       header
		payload []byte
	}{
		{"unknown type", header{typ: 99}, nil},
		{"data seq 0", header{typ: frameData, stream: 1}, []byte{1}},
		{"data stream 0", header{typ: frameData, seq: 1}, []byte{1}},
		{"empty data", header{typ: frameData, stream: 1, seq: 1}, nil},
		{"oversize data", header{typ: frameData, stream: 1, seq: 1}, make([]byte, maxPayload+1)},
		{"ping with stream", header{typ: framePing, stream: 1}, nil},
		{"zero window", header{typ: frameWindow, stream: 1, seq: 1}, encodeWindow(0)},
		{"hello bad version", header{typ: frameHello}, append([]byte{9}, make([]byte, helloFixedLen)...)},
		{"hello bad target length", header{typ: frameHello}, append(hello{kind: helloNew}.encode(), 'x')},
		{"refuse bad flag", header{typ: frameRefuse}, []byte{7, 'x'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := appendFrame(nil, tc.h, tc.payload)
			if _, _, _, err := decodeFrame(b); !errors.Is(err, ErrProtocol) {
				t.Fatalf("decodeFrame = %v, want ErrProtocol", err)
			}
		})
	}
}

// FuzzFrameDecode feeds arbitrary bytes to the frame decoder: it must
// never panic, and whatever it accepts must encode back to the same bytes.
func FuzzFrameDecode(f *testing.F) {
	var id sessionID
	f.Add(appendFrame(nil, header{typ: frameData, stream: 1, seq: 1}, []byte("hello")))
	f.Add(appendFrame(nil, header{typ: frameHello}, hello{kind: helloNew, target: "127.0.0.1:9000"}.encode()))
	f.Add(appendFrame(nil, header{typ: frameHello}, hello{kind: helloAttach, session: id, counter: 1}.encode()))
	f.Add(appendFrame(nil, header{typ: frameWelcome}, welcome{session: id}.encode()))
	f.Add(appendFrame(nil, header{typ: frameWindow, stream: 2, seq: 3}, encodeWindow(5)))
	f.Add(appendFrame(appendFrame(nil, header{typ: frameAck, seq: 3}, nil), header{typ: frameReset, stream: 1, seq: 4}, []byte("x")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for len(rest) > 0 {
			h, p, n, err := decodeFrame(rest)
			if err != nil {
				if !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if n < headerLen || n > len(rest) || int(h.length) != len(p) {
				t.Fatalf("decoded n=%d len=%d from %d bytes", n, len(p), len(rest))
			}
			if again := appendFrame(nil, h, p); !bytes.Equal(again, rest[:n]) {
				t.Fatalf("re-encoding differs:\n%x\n%x", again, rest[:n])
			}
			switch h.typ {
			case frameHello:
				hl, err := decodeHello(p)
				if err != nil {
					t.Fatal(err)
				}
				if again := hl.encode(); !bytes.Equal(again, p) {
					t.Fatalf("hello re-encoding differs:\n%x\n%x", again, p)
				}
			case frameWelcome:
				w, _ := decodeWelcome(p)
				if !bytes.Equal(w.encode(), p) {
					t.Fatal("welcome re-encoding differs")
				}
			case frameRefuse:
				r, _ := decodeRefuse(p)
				if !bytes.Equal(r.encode(), p) {
					t.Fatal("refuse re-encoding differs")
				}
			}
			rest = rest[n:]
		}
	})
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	steps := []struct {
		c    uint64
		want bool
	}{
		{0, false}, {1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {3, false},
		{100, true}, {37, true}, {36, false}, {37, false}, {99, true}, {1000, true}, {999, true}, {100, false},
	}
	for _, s := range steps {
		if got := w.accept(s.c); got != s.want {
			t.Fatalf("accept(%d) = %v, want %v", s.c, got, s.want)
		}
	}
}

// fakeLink is enough of a link for outbox tests.
func fakeLink(id uint64) *link {
	return &link{id: id, wake: make(chan struct{}, 1), dead: make(chan struct{})}
}

func TestOutboxBackPressureAndRequeue(t *testing.T) {
	pool := newBufPool()
	var st counters
	o := newOutbox(2*maxPayload, pool, &st)
	l1, l2 := fakeLink(1), fakeLink(2)
	o.addLink(l1)
	o.addLink(l2)
	push := func() {
		buf := pool.get()
		if err := o.pushData(1, buf, maxPayload); err != nil {
			t.Error(err)
		}
	}
	push()
	push()
	pushed := make(chan struct{})
	go func() { push(); close(pushed) }()
	select {
	case <-pushed:
		t.Fatal("push into a full cache did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	w, err := o.take(l1, nil)
	if err != nil || len(w.frames) != 2 {
		t.Fatalf("take = %d frames, %v", len(w.frames), err)
	}
	o.release(w.frames)
	// l1 dies: its two unacked frames go to l2, first, in order.
	o.linkDown(l1.id)
	if err := o.ack(1); err != nil { // frame 1 arrived before the loss
		t.Fatal(err)
	}
	<-pushed
	w, _ = o.take(l2, nil)
	var seqs []uint64
	for _, f := range w.frames {
		seqs = append(seqs, f.seq)
	}
	if len(seqs) != 2 || seqs[0] != 2 || seqs[1] != 3 {
		t.Fatalf("l2 took seqs %v, want [2 3]", seqs)
	}
	if st.resends.Load() != 1 {
		t.Fatalf("resends = %d, want 1", st.resends.Load())
	}
	o.release(w.frames)
	if err := o.ack(3); err != nil {
		t.Fatal(err)
	}
	if n, b := o.cached(); n != 0 || b != 0 {
		t.Fatalf("cache holds %d frames, %d bytes after the last ack", n, b)
	}
	if err := o.ack(9); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ack of an unsent frame = %v, want ErrProtocol", err)
	}
}

func TestInboxReorder(t *testing.T) {
	in := newInbox(newBufPool())
	in.setPeerCache(1 << 20)
	var got []uint64
	deliver := func(f inFrame) { got = append(got, f.h.seq) }
	for _, seq := range []uint64{3, 1, 1, 5, 2, 3, 4, 4, 6} {
		f := inFrame{h: header{typ: frameData, stream: 1, seq: seq}, payload: []byte{byte(seq)}}
		if _, err := in.receive(f, deliver); err != nil {
			t.Fatal(err)
		}
	}
	want := []uint64{1, 2, 3, 4, 5, 6}
	if len(got) != len(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	}
	if in.delivered.Load() != 6 {
		t.Fatalf("cumulative ack %d, want 6", in.delivered.Load())
	}
	big := inFrame{h: header{typ: frameData, stream: 1, seq: 100}, payload: make([]byte, 2<<20)}
	if _, err := in.receive(big, deliver); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized reorder = %v, want ErrProtocol", err)
	}
}

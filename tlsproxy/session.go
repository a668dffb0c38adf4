package tlsproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

type role uint8

const (
	roleClient role = iota
	roleServer
)

// sessionParams are the tunables a session takes from its Server or Client.
type sessionParams struct {
	outageLimit time.Duration
	keepalive   time.Duration
	cacheBytes  int
}

const (
	ackEvery = 128 << 10            // ack at the latest after this many received data bytes
	ackDelay = 5 * time.Millisecond // or this long after the first unacknowledged frame
)

// session is one client's tunnel: the streams it carries, its resend cache
// (out), its reorder buffer (in), and the links it currently runs on. A
// session outlives its links: it lasts until the client ends it, or every
// link has been down for longer than the outage limit.
type session struct {
	role    role
	params  sessionParams
	log     *slog.Logger
	pool    *bufPool
	stats   *counters
	out     *outbox
	in      *inbox
	ctx     context.Context // cancelled when the session closes
	cancel  context.CancelFunc
	done    chan struct{}
	onClose func(*session, error)
	// dial reaches the session's target (server only).
	dial func(ctx context.Context) (net.Conn, error)

	// Server side, fixed at creation.
	owner  [32]byte // SHA-256 of the client certificate
	client string   // client name (certificate common name)
	target string

	attachCounter atomic.Uint64 // client: last attach counter used
	ackArmed      atomic.Bool
	unacked       atomic.Int64
	ackEvery      atomic.Int64

	mu struct {
		sync.Mutex
		established bool
		id          sessionID
		secret      [32]byte
		replay      replayWindow
		links       map[uint64]*link
		streams     map[uint32]*stream
		nextStream  uint32
		closed      bool
		err         error
		downTimer   *time.Timer
		downEpoch   uint64
		slots       uint32 // bit n: slot n has been attached (client)
	}
}

// attached records that slot has a link and says whether it had one
// before: only a slot's second attach and later are reconnects.
func (s *session) attached(slot uint8) (before bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bit := uint32(1) << (slot % 32)
	before = s.mu.slots&bit != 0
	s.mu.slots |= bit
	return before
}

func newSession(ctx context.Context, r role, p sessionParams, log *slog.Logger, pool *bufPool, stats *counters) *session {
	s := &session{
		role:   r,
		params: p,
		log:    log,
		pool:   pool,
		stats:  stats,
		out:    newOutbox(p.cacheBytes, pool, stats),
		in:     newInbox(pool),
		done:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.ackEvery.Store(ackEvery)
	s.mu.links = make(map[uint64]*link)
	s.mu.streams = make(map[uint32]*stream)
	s.mu.Lock()
	s.startDownTimerLocked()
	s.mu.Unlock()
	return s
}

// establish records the session's identity and the peer's cache bound.
func (s *session) establish(id sessionID, secret [32]byte, peerCache uint32) {
	s.in.setPeerCache(peerCache)
	s.ackEvery.Store(int64(min(ackEvery, max(int(peerCache)/4, maxPayload))))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.id, s.mu.secret, s.mu.established = id, secret, true
}

// identity returns the session's id and secret, and whether it is
// established (client: a server welcomed it).
func (s *session) identity() (sessionID, [32]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.id, s.mu.secret, s.mu.established
}

// acceptCounter checks an attach counter against the replay window.
func (s *session) acceptCounter(c uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.replay.accept(c)
}

func (s *session) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// addLink makes l one of the session's links, replacing (and killing) the
// link that held the same slot, which its owner evidently gave up on.
func (s *session) addLink(l *link) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	var old *link
	for _, o := range s.mu.links {
		if o.slot == l.slot {
			old = o
		}
	}
	s.mu.links[l.id] = l
	if s.mu.downTimer != nil {
		s.mu.downTimer.Stop()
		s.mu.downTimer = nil
	}
	s.mu.downEpoch++
	s.mu.Unlock()
	s.out.addLink(l)
	if old != nil {
		old.kill()
	}
	return nil
}

// removeLink forgets l and requeues its unacknowledged frames. The last
// link going down starts the outage clock.
func (s *session) removeLink(l *link) {
	s.mu.Lock()
	if s.mu.links[l.id] == l {
		delete(s.mu.links, l.id)
		if len(s.mu.links) == 0 && !s.mu.closed {
			s.startDownTimerLocked()
		}
	}
	s.mu.Unlock()
	s.out.linkDown(l.id)
}

func (s *session) startDownTimerLocked() {
	s.mu.downEpoch++
	ep := s.mu.downEpoch
	s.mu.downTimer = time.AfterFunc(s.params.outageLimit, func() { s.expire(ep) })
}

// expire closes the session if it has had no link since epoch ep.
func (s *session) expire(ep uint64) {
	s.mu.Lock()
	stale := s.mu.closed || len(s.mu.links) > 0 || s.mu.downEpoch != ep
	streams, established, id := len(s.mu.streams), s.mu.established, s.mu.id
	s.mu.Unlock()
	if stale {
		return
	}
	if established || streams > 0 {
		s.stats.expired.Add(1)
		s.log.Warn("session expired: outage outlasted the limit, resetting its connections",
			"session", id, "client", s.client, "limit", s.params.outageLimit, "streams", streams)
	}
	s.close(fmt.Errorf("%w (%s)", ErrOutage, s.params.outageLimit), false)
}

// close ends the session: optionally tells the peer (goodbye), then kills
// the links and resets every application connection. It is idempotent.
func (s *session) close(err error, goodbye bool) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return
	}
	s.mu.closed = true
	s.mu.err = err
	if s.mu.downTimer != nil {
		s.mu.downTimer.Stop()
	}
	nlinks := len(s.mu.links)
	s.mu.Unlock()

	if goodbye && nlinks > 0 {
		select {
		case <-s.out.requestGoodbye():
		case <-time.After(time.Second):
		}
	}
	s.out.close()
	s.mu.Lock()
	links := make([]*link, 0, len(s.mu.links))
	for _, l := range s.mu.links {
		links = append(links, l)
	}
	streams := make([]*stream, 0, len(s.mu.streams))
	for _, st := range s.mu.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	for _, l := range links {
		l.kill()
	}
	for _, st := range streams {
		st.abort()
	}
	s.cancel()
	close(s.done)
	if s.onClose != nil {
		s.onClose(s, err)
	}
}

// counts returns the live links and streams.
func (s *session) counts() (links, streams int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.links), len(s.mu.streams)
}

// receive takes a session frame from a link.
func (s *session) receive(f inFrame) error {
	n, err := s.in.receive(f, s.dispatch)
	if err != nil {
		return err
	}
	s.stats.bytesIn.Add(int64(n))
	if s.unacked.Add(int64(max(n, 1))) >= s.ackEvery.Load() {
		s.unacked.Store(0)
		s.out.requestAck()
	} else if s.ackArmed.CompareAndSwap(false, true) {
		time.AfterFunc(ackDelay, func() {
			s.ackArmed.Store(false)
			s.unacked.Store(0)
			s.out.requestAck()
		})
	}
	return nil
}

// dispatch delivers one in-order frame. It runs with the inbox locked and
// must not block.
func (s *session) dispatch(f inFrame) {
	if f.h.typ == frameOpen {
		s.remoteOpen(f.h.stream)
		return
	}
	st := s.stream(f.h.stream)
	if st == nil {
		s.in.free(f) // a stream already gone: late data, window or reset
		return
	}
	switch f.h.typ {
	case frameData:
		st.deliverData(f)
	case frameFin:
		st.deliverFin()
	case frameReset:
		st.remoteReset(string(f.payload))
	case frameWindow:
		n, _ := decodeWindow(f.payload) // validated by the link reader
		st.grant(int(n))
	}
}

func (s *session) stream(id uint32) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.streams[id]
}

func (s *session) removeStream(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.streams, id)
}

// maxStreams bounds the open streams of one session.
const maxStreams = 4096

// openLocal (client) carries a newly accepted application connection as a
// new stream.
func (s *session) openLocal(conn net.Conn) error {
	ac, ok := conn.(appConn)
	if !ok {
		return fmt.Errorf("connection %T cannot half-close", conn)
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if len(s.mu.streams) >= maxStreams {
		s.mu.Unlock()
		return fmt.Errorf("too many streams (%d)", maxStreams)
	}
	s.mu.nextStream++
	st := newStream(s, s.mu.nextStream)
	s.mu.streams[st.id] = st
	s.mu.Unlock()
	if err := s.out.pushControl(frameOpen, st.id, nil); err != nil {
		st.abort()
		s.removeStream(st.id)
		return err
	}
	st.attach(ac)
	return nil
}

// remoteOpen (server) starts a stream the client opened and dials the
// target for it.
func (s *session) remoteOpen(id uint32) {
	refuse := func(reason string) {
		s.log.Warn("stream refused", "session", s.ident(), "client", s.client, "stream", id, "reason", reason)
		_ = s.out.pushControl(frameReset, id, []byte(reason))
	}
	if s.role != roleServer {
		refuse("only the client opens streams")
		return
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return
	}
	if _, dup := s.mu.streams[id]; dup || id <= s.mu.nextStream {
		s.mu.Unlock()
		refuse("stream id reused")
		return
	}
	if len(s.mu.streams) >= maxStreams {
		s.mu.Unlock()
		refuse(fmt.Sprintf("too many streams (%d)", maxStreams))
		return
	}
	s.mu.nextStream = id
	st := newStream(s, id)
	s.mu.streams[id] = st
	s.mu.Unlock()
	go s.dialStream(st)
}

func (s *session) dialStream(st *stream) {
	conn, err := s.dial(s.ctx)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("dial target failed", "session", s.ident(), "target", s.target, "err", err)
		}
		st.fail("dial target: " + err.Error())
		s.removeStream(st.id)
		return
	}
	ac, ok := conn.(appConn)
	if !ok {
		conn.Close()
		st.fail("target connection cannot half-close")
		s.removeStream(st.id)
		return
	}
	st.attach(ac)
}

// ident returns the session id for logs.
func (s *session) ident() sessionID {
	id, _, _ := s.identity()
	return id
}

// errGoodbye: the peer ended the session.
var errGoodbye = errors.New("peer ended the session")

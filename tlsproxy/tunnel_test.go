package tlsproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"github.com/cairn-backup/cairn/tlsproxy/linktest"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestHalfClose: the client half-closes after its request; the target
// reads to EOF, answers, and closes; the client reads the whole answer.
func TestHalfClose(t *testing.T) {
	target := listen(t)
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h := sha256.New()
				if _, err := io.Copy(h, c); err != nil {
					return
				}
				c.Write(h.Sum(nil))
			}()
		}
	}()
	srv, saddr, _ := runServer(t, target.Addr().String(), nil)
	_, caddr, _ := runClient(t, saddr, srv.CAFingerprint(), nil)

	for _, size := range []int64{0, 1, 3 << 20} {
		c, err := net.Dial("tcp", caddr)
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.New()
		if _, err := io.Copy(io.MultiWriter(c, want), newGen(uint64(size), size)); err != nil {
			t.Fatal(err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c) // ends at the target's close: fin came back
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, want.Sum(nil)) {
			t.Fatalf("size %d: target hashed %x, sent %x", size, got, want.Sum(nil))
		}
		c.Close()
	}
	waitFor(t, "streams to be forgotten", func() bool { return srv.Stats().Streams == 0 })
}

// TestResetPropagates: an RST on one side becomes an RST on the other, in
// both directions.
func TestResetPropagates(t *testing.T) {
	target := listen(t)
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	srv, saddr, _ := runServer(t, target.Addr().String(), nil)
	_, caddr, _ := runClient(t, saddr, srv.CAFingerprint(), nil)

	t.Run("target resets", func(t *testing.T) {
		c, err := net.Dial("tcp", caddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("x"))
		tc := <-accepted
		rst(tc)
		c.SetReadDeadline(time.Now().Add(liveness))
		_, err = io.ReadAll(c)
		if !isReset(err) {
			t.Fatalf("client read = %v, want a reset", err)
		}
	})
	t.Run("application resets", func(t *testing.T) {
		c, err := net.Dial("tcp", caddr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		tc := <-accepted
		defer tc.Close()
		buf := make([]byte, 1)
		if _, err := io.ReadFull(tc, buf); err != nil {
			t.Fatal(err)
		}
		rst(c)
		tc.SetReadDeadline(time.Now().Add(liveness))
		_, err = io.ReadAll(tc)
		if !isReset(err) {
			t.Fatalf("target read = %v, want a reset", err)
		}
	})
}

type cutKind int

const (
	cutReset     cutKind = iota // RST every link
	cutStall                    // hold all traffic for longer than the link timeout
	cutBlackHole                // stop forwarding on every link, no RST
	cutDown                     // RST, and refuse reconnections for a while
)

func (k cutKind) String() string {
	return [...]string{"reset", "stall", "black hole", "down"}[k]
}

// cutDriver performs cuts while a transfer runs: cut i once progress has
// passed at[i] and the tunnel is back up after the previous cut.
func cutDriver(ctx context.Context, t *testing.T, p *linktest.Proxy, c *Client, conns int, kinds []cutKind, at []int64, progress *atomic.Int64) <-chan int {
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		for i, k := range kinds {
			for progress.Load() < at[i] || c.Stats().Links < conns {
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			switch k {
			case cutReset:
				p.ResetAll()
			case cutStall:
				p.Stall(5 * testKeepalive * 3 / 2) // 1.5s: links die and reconnect through the stall
			case cutBlackHole:
				p.BlackHole(-1)
			case cutDown:
				p.Down(time.Second)
			}
			n++
			t.Logf("cut %d (%s) at %d MiB", n, k, progress.Load()>>20)
		}
	}()
	return done
}

// TestTransferSurvivesCuts moves 1 GiB (64 MiB with -short) each way
// through the tunnel and a link-cutting proxy, with six cuts of four kinds
// during each transfer, and checks every byte.
func TestTransferSurvivesCuts(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	be := startBackend(t)
	srv, saddr, _ := runServer(t, be.addr, func(c *ServerConfig) { c.CacheBytes = 2 << 20 })
	proxy := linktest.New(t, saddr)
	cl, caddr, _ := runClient(t, proxy.Addr(), srv.CAFingerprint(), func(c *ClientConfig) { c.CacheBytes = 2 << 20 })
	hc := httpVia(caddr)

	kinds := []cutKind{cutReset, cutStall, cutBlackHole, cutDown, cutReset, cutBlackHole}
	for _, dir := range []string{"upload", "download"} {
		t.Run(dir, func(t *testing.T) {
			rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
			at := make([]int64, len(kinds))
			for i := range at { // spread over 5%..85% of the transfer, jittered
				at[i] = size/20 + int64(i)*size*8/10/int64(len(kinds)) + rng.Int64N(size/20)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			var progress atomic.Int64
			before := cl.Stats()
			cuts := cutDriver(ctx, t, proxy, cl, 1, kinds, at, &progress)
			start := time.Now()
			var err error
			if dir == "upload" {
				err = upload(ctx, hc, seed, size, &progress)
			} else {
				err = download(ctx, hc, seed, size, &progress)
			}
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			n := <-cuts
			after := cl.Stats()
			t.Logf("%d MiB byte-exact in %v with %d cuts; client: %d reconnects, %d resent frames",
				size>>20, time.Since(start).Round(time.Millisecond), n, after.Reconnects-before.Reconnects, after.Resends-before.Resends)
			if n < 5 {
				t.Fatalf("only %d cuts happened during the transfer", n)
			}
			if after.Reconnects-before.Reconnects < 4 {
				t.Fatalf("only %d reconnects", after.Reconnects-before.Reconnects)
			}
		})
	}
	if st := srv.Stats(); st.Sessions != 1 || st.Expired != 0 {
		t.Fatalf("server has %d sessions, %d expired; want the one session throughout", st.Sessions, st.Expired)
	}
}

// TestOutageBeyondLimit: when the link stays down longer than the outage
// limit, both ends reset their application connections (no hang), and
// the tunnel works again, with a new session, once the link is back.
func TestOutageBeyondLimit(t *testing.T) {
	be := startBackend(t)
	const limit = time.Second
	srv, saddr, srec := runServer(t, be.addr, func(c *ServerConfig) { c.OutageLimit = limit })
	proxy := linktest.New(t, saddr)
	cl, caddr, crec := runClient(t, proxy.Addr(), srv.CAFingerprint(), func(c *ClientConfig) { c.OutageLimit = limit })
	hc := httpVia(caddr)

	var progress atomic.Int64
	errc := make(chan error, 1)
	go func() { errc <- upload(t.Context(), hc, 1, 1<<40, &progress) }() // far more than will ever flow
	waitFor(t, "upload to reach the backend", func() bool { return srv.Stats().BytesIn > 4<<20 })
	proxy.Down(2 * limit)

	select {
	case err := <-errc:
		if err == nil || !isReset(err) {
			t.Fatalf("upload ended with %v, want a connection reset", err)
		}
		t.Logf("application saw: %v", err)
	case <-time.After(liveness):
		t.Fatal("upload still hanging after the outage limit")
	}
	select {
	case err := <-be.uploadErr:
		if !isReset(err) {
			t.Fatalf("backend saw %v, want a connection reset", err)
		}
	case <-time.After(liveness):
		t.Fatal("backend upload still hanging after the outage limit")
	}
	crec.wait(t, "session expired")
	srec.wait(t, "session expired")
	if st := cl.Stats(); st.Expired != 1 {
		t.Fatalf("client expired %d sessions, want 1", st.Expired)
	}

	// Once the link is back, a new session carries new connections.
	waitFor(t, "a new session", func() bool { return cl.Stats().Links == 1 })
	var p2 atomic.Int64
	if err := download(t.Context(), hc, 2, 1<<20, &p2); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

// TestMulticonnectSurvivesLosingThree spreads a session over 4 links, then
// loses 3 of them (2 reset, 1 black-holed) while refusing reconnection:
// the transfer finishes on the last link, byte-exact.
func TestMulticonnectSurvivesLosingThree(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 32 << 20
	}
	be := startBackend(t)
	srv, saddr, _ := runServer(t, be.addr, nil)
	proxy := linktest.New(t, saddr)
	cl, caddr, _ := runClient(t, proxy.Addr(), srv.CAFingerprint(), func(c *ClientConfig) { c.Connections = 4 })
	hc := httpVia(caddr)
	waitFor(t, "4 links", func() bool { return cl.Stats().Links == 4 && srv.Stats().Links == 4 })

	for _, dir := range []string{"upload", "download"} {
		t.Run(dir, func(t *testing.T) {
			var progress atomic.Int64
			errc := make(chan error, 1)
			go func() {
				if dir == "upload" {
					errc <- upload(t.Context(), hc, 3, size, &progress)
				} else {
					errc <- download(t.Context(), hc, 3, size, &progress)
				}
			}()
			waitFor(t, "transfer to start", func() bool { return progress.Load() > size/8 })
			before, sbefore := cl.Stats(), srv.Stats()
			waitFor(t, "4 live connections in the proxy", func() bool { return len(proxy.Live()) == 4 })
			proxy.Refuse(time.Hour)
			ps := proxy.Live()
			ps[0].BlackHole()
			ps[1].Reset()
			ps[2].Reset()
			// Only one link may carry the rest; unless the transfer is
			// already over, the client must see the three go.
			select {
			case err := <-errc:
				errc <- err
			default:
				waitFor(t, "3 links to go", func() bool { return cl.Stats().Links == 1 })
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			after, safter := cl.Stats(), srv.Stats()
			t.Logf("%d MiB over the last link; client resent %d frames, server %d", size>>20,
				after.Resends-before.Resends, safter.Resends-sbefore.Resends)
			proxy.Refuse(0)
			waitFor(t, "4 links again", func() bool { return cl.Stats().Links == 4 })
		})
	}
	if st := srv.Stats(); st.Sessions != 1 {
		t.Fatalf("server has %d sessions, want 1", st.Sessions)
	}
}

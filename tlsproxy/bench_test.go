package tlsproxy

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
)

const benchChunk = 32 << 20 // bytes per iteration

// startSink accepts connections, discards what they send, and answers one
// byte per benchChunk received. With conf, it speaks TLS.
func startSink(b *testing.B, conf *tls.Config) string {
	var ln net.Listener = listen(b)
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256<<10)
				got := 0
				for {
					n, err := c.Read(buf)
					got += n
					for got >= benchChunk {
						got -= benchChunk
						if _, err := c.Write([]byte{1}); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// pump writes benchChunk per iteration to addr and waits for the sink to
// have it all.
func pump(b *testing.B, addr string, conf *tls.Config) {
	c, err := net.Dial("tcp", addr)
	if conf != nil {
		c = tls.Client(c, conf)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	block := make([]byte, 1<<20)
	newGen(1, int64(len(block))).Read(block)
	ack := make([]byte, 1)
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for range benchChunk / len(block) {
			if _, err := c.Write(block); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := io.ReadFull(c, ack); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThroughput compares one TCP stream straight to a sink
// ("direct"), over plain TLS to a TLS sink ("direct-tls": the cost of the
// cipher alone), and through the tunnel (two more loopback hops, TLS,
// frames, acks, resend cache) with one and with four connections.
func BenchmarkThroughput(b *testing.B) {
	sink := startSink(b, nil)
	b.Run("direct", func(b *testing.B) { pump(b, sink, nil) })
	b.Run("direct-tls", func(b *testing.B) {
		fx := getFixture(b)
		cert, key, err := loadPair(filepath.Join(fx.dir, serverCertFile), filepath.Join(fx.dir, serverKeyFile))
		if err != nil {
			b.Fatal(err)
		}
		tsink := startSink(b, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}})
		pump(b, tsink, &tls.Config{InsecureSkipVerify: true})
	})
	for _, conns := range []int{1, 4} {
		name := map[int]string{1: "tunnel", 4: "tunnel-multiconnect4"}[conns]
		b.Run(name, func(b *testing.B) {
			srv, saddr, _ := runServer(b, sink, func(c *ServerConfig) {
				c.Logger, c.Keepalive = slog.New(slog.DiscardHandler), DefaultKeepalive
			})
			cl, caddr, _ := runClient(b, saddr, srv.CAFingerprint(), func(c *ClientConfig) {
				c.Logger, c.Keepalive, c.Connections = slog.New(slog.DiscardHandler), DefaultKeepalive, conns
			})
			waitFor(b, "links", func() bool { return cl.Stats().Links == conns })
			pump(b, caddr, nil)
		})
	}
}

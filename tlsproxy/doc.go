// Package tlsproxy is Cairn's secure connect: a TLS tunnel between a backup
// site and the gateway that survives WAN outages without losing or
// repeating a byte, optionally spread over several TCP connections
// (multiconnect).
//
// A Client (`cairn connect`) listens for plain TCP from backup tools and
// carries every accepted connection to a Server (`cairn serve`, port 9443),
// which forwards it to an allowed target, normally the gateway's own S3
// port. The package imports nothing else of Cairn's.
//
// # Nouns
//
//   - Credential: a client certificate and key (RSA 4096) signed by the
//     server's CA, issued by Server.Issue as a PEM bundle that also carries
//     the CA certificate. The server accepts a TLS client only if its
//     certificate chains to the CA, is for client use, and is the one on
//     record in Dir/clients/NAME.pem; deleting or re-issuing the record
//     revokes it. Everything else is refused during the TLS handshake,
//     with the reason logged, before any forwarding.
//   - Session: one client's tunnel. The server creates it on a "new" hello,
//     names it with a random id and hands the client a 32-byte session
//     secret inside TLS. A session outlives its TCP connections: when they
//     drop, both sides keep the application connections open until the
//     client is back, for at most the outage limit; after that, the
//     application connections are reset (RST), never left hanging.
//   - Link: one TLS connection carrying a session's frames. A session has
//     up to Connections links, one per slot; the client keeps each slot
//     connected, reconnecting with backoff. Every link after the first is
//     attached with a proof: HMAC-SHA256 under the session secret over the
//     session id, a fresh attach counter, the slot, and keying material
//     exported from that very TLS connection (RFC 5705). The server also
//     requires the same client certificate as the session's owner and
//     refuses any counter it has already seen, so a recorded or replayed
//     attach is useless.
//   - Stream: one application connection inside a session. Only the client
//     opens streams; the target is fixed per session and checked against
//     AllowedTargets when the session is created (never an open relay).
//     A fin frame half-closes one direction (CloseWrite on the far socket),
//     a reset frame aborts both (the far application sees an RST). Each
//     stream has a 4 MiB flow-control window, so one application that stops
//     reading holds up only its own stream.
//   - Frame: the unit on the wire. Session frames (open, data, fin, reset,
//     window) get a sequence number from a per-session, per-direction
//     counter; link frames (hello, welcome, refuse, ack, ping, goodbye)
//     belong to one connection and are never resent.
//   - Ack: a cumulative acknowledgement, "I have delivered every session
//     frame up to seq". Sent at least every 128 KiB and 5 ms after data.
//   - Resend cache: each side keeps the session frames it sent until they
//     are acked, bounded by CacheBytes of data per session and direction.
//     When a link is lost, its unacked frames are requeued, ahead of new
//     ones, on the remaining links (or the next one); the receiver drops
//     duplicates and reorders by sequence number, so each byte stream goes
//     on exactly once and in order. A full cache stops the reading of
//     application sockets (back-pressure); nothing is ever dropped.
//
// Dead links are found by keepalives: an idle link sends a ping every
// Keepalive, and a link silent for three intervals, or whose writes make
// no progress that long (a black hole), is closed.
//
// # Limits
//
// Sessions live in memory: a server restart loses them, and clients start
// new sessions (their open connections are reset). A session has one
// target, chosen when it opens. A link that cannot move 64 KiB in three
// keepalive intervals (about 35 kbit/s with the default 5s) counts as dead.
//
// # Wire format
//
// After the TLS handshake (1.2 minimum, 1.3 preferred), both directions
// are a sequence of frames with a 17-byte header, big-endian:
//
//	type   u8   see below
//	stream u32  0 for link frames; non-zero for session frames
//	seq    u64  session frames: sequence number from 1; ack: the acked seq; else 0
//	length u32  payload bytes
//	payload
//
// Link frames:
//
//	1 hello    client→server, first frame on a link:
//	           version u8 (1), kind u8 (1 new, 2 attach), slot u8,
//	           cache u32 (client's resend cache bound), ack u64 (attach: client's cumulative seq),
//	           new:    target length u8, target (host:port, empty for the default)
//	           attach: session [16], counter u64, mac [32]
//	2 welcome  server→client: session [16], secret [32] (new only, else zero),
//	           cache u32 (server's bound), ack u64 (server's cumulative seq)
//	3 refuse   server→client: fatal u8, reason (UTF-8, ≤512 bytes); then the link closes.
//	           Fatal (target not allowed) stops the client; otherwise (unknown session)
//	           the client starts a new session.
//	4 ack      seq = cumulative seq, no payload
//	5 ping     no payload
//	6 goodbye  the sender ends the session
//
// Session frames:
//
//	16 open    client→server, no payload: a new stream (ids increase from 1)
//	17 data    1..65536 bytes of the stream
//	18 fin     no payload: the sender's half of the stream is closed
//	19 reset   reason (≤512 bytes): the stream is aborted
//	20 window  u32 credit: the receiver wrote that many more bytes to its socket
//
// mac = HMAC-SHA256(secret, "cairn-tlsproxy attach v1\x00" ‖ session ‖
// counter u64 ‖ slot u8 ‖ TLS exporter("EXPORTER-cairn-tlsproxy-attach", 32)).
//
// # Files in ServerConfig.Dir
//
//	ca.pem, ca.key (0600)           the CA (generated, RSA 4096)
//	server.pem, server.key (0600)   the generated server certificate, unless CertFile/KeyFile
//	clients/NAME.pem                the certificate of each issued credential
//
// # Wiring
//
//	// cairn serve --secure-listen :9443 ("off": skip) [--tls-cert F --tls-key F]
//	srv, err := tlsproxy.NewServer(tlsproxy.ServerConfig{Listen: ":9443", Dir: filepath.Join(dataDir, "secure-connect"),
//		CertFile: certFlag, KeyFile: keyFlag, AllowedTargets: []string{s3Addr}, Logger: log})
//	g.Go(func() error { return srv.Run(ctx) })
//
//	// cairn admin secure-connect issue NAME
//	cred, err := srv.Issue(name) // then cred.WriteFile(name + ".pem"); print srv.CAFingerprint()
//
//	// cairn connect --server H:9443 --listen 127.0.0.1:9000 --ca F | --fingerprint SHA256:… --credential F --connections N
//	cl, err := tlsproxy.NewClient(tlsproxy.ClientConfig{Server: server, Listen: listen, CAFile: ca,
//		Fingerprint: fp, Credential: cred, Connections: n, Logger: log})
//	err = cl.Run(ctx) // nil when ctx ends; ErrUntrustedServer or ErrRefused: exit non-zero
package tlsproxy

package tlsproxy

import (
	"net"

	"golang.org/x/sys/unix"
)

// resetByPeer reports whether a TCP connection whose read returned EOF was
// in fact reset. Linux reports a peer's RST once, to whichever call on the
// socket comes first: when a write took it, the next read returns EOF as
// if the peer had closed in order. The socket's state tells them apart: a
// reset leaves it CLOSE, an orderly close from the peer CLOSE_WAIT (or
// later states of an orderly close).
func resetByPeer(c net.Conn) bool {
	for { // through wrappers (a connection limiter's) to the socket
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	var state uint8
	_ = raw.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			state = info.State
		}
	})
	const tcpClose = 7 // TCP_CLOSE in the kernel's tcp_states.h
	return state == tcpClose
}

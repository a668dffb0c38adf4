//go:build !linux

package tlsproxy

import "net"

// resetByPeer cannot tell a reset from an orderly close after the reset's
// error was reported to a write, outside Linux; see tcpstate_linux.go.
func resetByPeer(net.Conn) bool { return false }

package tlsproxy

import "errors"

var (
	// ErrUntrustedServer: the server's certificate matched neither the
	// configured CA nor the pinned fingerprint. Client.Run returns it.
	ErrUntrustedServer = errors.New("tlsproxy: server certificate not trusted")
	// ErrRefused: the server refused this client (unknown or revoked
	// credential, target not allowed). Client.Run returns it.
	ErrRefused = errors.New("tlsproxy: refused by server")
	// ErrOutage: every link of a session was down for longer than the
	// outage limit; the session's application connections were reset.
	ErrOutage = errors.New("tlsproxy: outage outlasted the limit")
	// ErrProtocol: the peer sent something the wire format forbids.
	ErrProtocol = errors.New("tlsproxy: protocol violation")
	// ErrClosed: the session or tunnel was shut down.
	ErrClosed = errors.New("tlsproxy: closed")
	// ErrRevoked ends the sessions of a client whose credential was
	// revoked (or replaced).
	ErrRevoked = errors.New("tlsproxy: client credential revoked")
)

// errClientRejected marks a client certificate the server does not accept.
var errClientRejected = errors.New("client certificate rejected")

package tlsproxy

import "sync/atomic"

// Stats is a snapshot of a Server's or Client's counters.
type Stats struct {
	Sessions   int   // live sessions
	Clients    int   // distinct client names with a live session (server)
	Links      int   // live TLS connections
	Streams    int   // open application connections
	BytesIn    int64 // application bytes received from the peer and delivered
	BytesOut   int64 // application bytes read from local sockets and sent
	Resends    int64 // session frames sent again after a link was lost
	Reconnects int64 // links attached to an existing session (resume or replacement)
	Refused    int64 // handshakes or hellos refused (server), refusals received (client)
	Expired    int64 // sessions closed because an outage outlasted the limit
}

// counters is shared by a Server or Client and all its sessions.
type counters struct {
	bytesIn, bytesOut, resends, reconnects, refused, expired atomic.Int64
}

func (c *counters) fill(st *Stats) {
	st.BytesIn = c.bytesIn.Load()
	st.BytesOut = c.bytesOut.Load()
	st.Resends = c.resends.Load()
	st.Reconnects = c.reconnects.Load()
	st.Refused = c.refused.Load()
	st.Expired = c.expired.Load()
}

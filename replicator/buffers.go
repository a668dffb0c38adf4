package replicator

// bodyBuffers keeps a few records bodies (about 8 MiB each) for reuse.
// Growing (and zeroing) a fresh one per call or per version was most of
// the sender's and the receiver's allocations; a sync.Pool did not help,
// as every body is large enough to start a GC cycle that empties it. The
// price is up to cap(bodyBuffers) idle bodies held per Peer and Handler.
type bodyBuffers chan *[]byte

func newBodyBuffers(n int) bodyBuffers { return make(bodyBuffers, n) }

func (bb bodyBuffers) get() *[]byte {
	select {
	case b := <-bb:
		return b
	default:
		return new([]byte)
	}
}

func (bb bodyBuffers) put(b *[]byte) {
	if cap(*b) == 0 || cap(*b) > MaxRecordsBody {
		return
	}
	select {
	case bb <- b:
	default:
	}
}

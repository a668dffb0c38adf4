package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/gateway/events"
)

// waitEvent long-polls g's event log until an event of kind is there
// (the test's deadline bounds it) and returns it.
func waitEvent(t *testing.T, g *Gateway, kind string) events.Event {
	t.Helper()
	var after uint64
	for {
		evs, err := g.Events(t.Context(), after, 0, time.Minute)
		if err != nil {
			t.Fatalf("waiting for a %s event: %v", kind, err)
		}
		for _, e := range evs {
			if e.Kind == kind {
				return e
			}
			after = e.Seq
		}
	}
}

// TestDiskNearlyFullEvent: a group's filesystem past the threshold writes
// a disk_nearly_full event naming the group, the event is read back after
// the gateway restarts, and StopLongPolls ends a long poll.
func TestDiskNearlyFullEvent(t *testing.T) {
	cfg := testConfig(t)
	cfg.DiskFullPercent = 1e-9 // any filesystem in use is past it
	g := open(t, cfg)
	e := waitEvent(t, g, events.DiskNearlyFull)
	if e.Subject != DefaultGroup || !strings.Contains(e.Message, "% used") {
		t.Fatalf("event %+v", e)
	}
	g.Close()

	cfg.DiskFullPercent = 100
	g = open(t, cfg)
	evs, err := g.Events(t.Context(), 0, 0, 0)
	if err != nil || len(evs) != 1 || evs[0] != e {
		t.Fatalf("after a restart: %+v, %v (want %+v)", evs, err, e)
	}

	// A server shutting down ends the long polls at once (else this waits
	// an hour: the test's timeout would say so).
	g.StopLongPolls()
	if evs, err := g.Events(t.Context(), e.Seq, 0, time.Hour); err != nil || len(evs) != 0 {
		t.Fatalf("a long poll after StopLongPolls: %+v, %v", evs, err)
	}
}

package gateway

// The gateway's side of the event log (package events): it opens
// DATA/events.log, emits where a condition an admin must hear about is met,
// watches the groups' filesystems, and serves the log to the admin API.

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/s3api"
)

// EventsFile is the event log's name in the data directory.
const EventsFile = "events.log"

// OpenEvents opens the event log of the data directory dataDir for a
// process that runs without the gateway (cairn admin scrub).
func OpenEvents(dataDir string, opts events.Options) (*events.Log, error) {
	return events.Open(filepath.Join(dataDir, EventsFile), opts)
}

// openEvents opens the gateway's event log and starts the disk check.
func (g *Gateway) openEvents() error {
	opts := events.DefaultOptions()
	opts.Logger = g.log
	opts.Webhook = g.cfg.EventWebhook
	l, err := OpenEvents(g.cfg.DataDir, opts)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.events = l
	return nil
}

// event records an event (and logs it at WARN). It never fails the
// caller: an event that cannot be written is logged instead.
func (g *Gateway) event(kind, subject, message string) {
	if g.events == nil {
		return
	}
	if _, _, err := g.events.Emit(kind, subject, message); err != nil {
		g.log.Error("event not written", "kind", kind, "subject", subject, "message", message, "err", err)
	}
}

// Events returns up to limit events after the Seq after, oldest first.
// With wait > 0 and none yet, it waits up to wait for one (a long poll
// for cairn admin events --follow).
func (g *Gateway) Events(ctx context.Context, after uint64, limit int, wait time.Duration) ([]events.Event, error) {
	if wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		go func() {
			select {
			case <-g.pollsStopped: // StopLongPolls
				cancel()
			case <-wctx.Done():
			}
		}()
		err := g.events.Wait(wctx, after)
		waitOver := wctx.Err() != nil // the wait ran out, or StopLongPolls
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil && !waitOver {
			return nil, err
		}
	}
	return g.events.Since(after, limit)
}

// StopLongPolls ends the waits of Events now, and makes later ones
// answer at once: an http.Server shutting down waits for its requests, and
// a long poll would hold it for its whole wait (RegisterOnShutdown).
func (g *Gateway) StopLongPolls() { g.stopPollsOnce.Do(func() { close(g.pollsStopped) }) }

// startDiskCheck checks every group's filesystem now and then every
// Config.DiskCheckInterval until Close.
func (g *Gateway) startDiskCheck() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	g.stopDiskCheck = func() { cancel(); <-done }
	go func() {
		defer close(done)
		tick := time.NewTicker(g.cfg.DiskCheckInterval)
		defer tick.Stop()
		for {
			g.checkDisks()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// checkDisks emits DiskNearlyFull for each group whose filesystem is used
// at Config.DiskFullPercent or more (as df counts: used over used plus
// what an unprivileged writer may still use).
func (g *Gateway) checkDisks() {
	for _, gr := range g.groupList() {
		name, dir := gr.name, gr.dir
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			g.log.Warn("disk check", "group", name, "dir", dir, "err", err)
			continue
		}
		used := (st.Blocks - st.Bfree) * uint64(st.Bsize)
		avail := st.Bavail * uint64(st.Bsize)
		if used+avail == 0 {
			continue
		}
		pct := 100 * float64(used) / float64(used+avail)
		if pct >= g.cfg.DiskFullPercent {
			g.event(events.DiskNearlyFull, name, fmt.Sprintf("the filesystem of storage group %s (%s) is %.1f%% used: %d MiB free of %d MiB (threshold %.4g%%)",
				name, dir, pct, avail>>20, (used+avail)>>20, g.cfg.DiskFullPercent))
		}
	}
}

// EventsPage is what AdminEventsPath answers.
type EventsPage struct {
	Events []events.Event `json:"events"`
}

// maxEventsWait bounds a long poll of AdminEventsPath.
const maxEventsWait = 60 * time.Second

func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	limit := 1000
	var wait time.Duration
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			err = s3api.ErrInvalidArgument.WithMessagef("after=%q: want an event's seq", v)
		}
	}
	if v := q.Get("limit"); v != "" && err == nil {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 {
			err = s3api.ErrInvalidArgument.WithMessagef("limit=%q: want a positive number", v)
		}
	}
	if v := q.Get("wait"); v != "" && err == nil {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			err = s3api.ErrInvalidArgument.WithMessagef("wait=%q: want a duration such as 30s", v)
		}
		wait = min(wait, maxEventsWait)
	}
	var page EventsPage
	if err == nil {
		page.Events, err = g.Events(r.Context(), after, limit, wait)
	}
	g.reply(w, r, page, err)
}

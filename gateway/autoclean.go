package gateway

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/events"
)

// The cleaner runs on its own, per storage group, so that each group (a
// performance tier in particular) has its own schedule and never waits on
// another group's compaction:
//   - every Config.CleanInterval since its last run;
//   - when the group nears its quota or its disk fills (Config.CleanPressure
//     of either), at most once per Config.CleanGap: a clean that frees
//     nothing is not repeated in a tight loop;
//   - at once (within the gap) when a write was refused at the quota, so
//     that space freed by deletes comes back without an admin.
// An admin can pause these runs (cairn admin clean pause); the pause is kept
// in meta.db across restarts. cairn admin clean runs the cleaner whatever
// the pause says.

var keyCleanPaused = []byte("clean-paused")

// autoClean is one group's cleaner loop.
type autoClean struct {
	cancel context.CancelFunc
	done   chan struct{}
	poke   chan struct{} // buffered 1: a refusal at the quota

	mu     sync.Mutex
	status GroupCleanStatus
}

// GroupCleanStatus is what a group's own cleaner runs did last.
type GroupCleanStatus struct {
	Group          string    `json:"group"`
	Running        bool      `json:"running"`
	LastRun        time.Time `json:"last_run,omitzero"`
	LastReason     string    `json:"last_reason,omitempty"` // schedule, quota, disk
	BytesReclaimed int64     `json:"bytes_reclaimed"`       // by the last run
	Runs           int64     `json:"runs"`
	LastError      string    `json:"last_error,omitempty"`
}

// CleanSchedule is the automatic cleaner's settings and each group's runs.
type CleanSchedule struct {
	Paused   bool               `json:"paused"`
	Interval string             `json:"interval"` // "0s": only under pressure or on demand
	Pressure float64            `json:"pressure"`
	Groups   []GroupCleanStatus `json:"groups"`
}

func (a *autoClean) nudge() {
	if a.poke == nil {
		return
	}
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

func (a *autoClean) setStatus(fn func(st *GroupCleanStatus)) {
	a.mu.Lock()
	fn(&a.status)
	a.mu.Unlock()
}

func (a *autoClean) snapshot() GroupCleanStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

func (c Config) cleanCheck() time.Duration {
	if c.CleanCheck > 0 {
		return c.CleanCheck
	}
	return time.Minute
}

func (c Config) cleanPressure() float64 {
	if c.CleanPressure > 0 && c.CleanPressure <= 1 {
		return c.CleanPressure
	}
	return 0.9
}

func (c Config) recompressIdle() time.Duration {
	if c.RecompressIdle > 0 {
		return c.RecompressIdle
	}
	return time.Minute
}

func (c Config) cleanGap() time.Duration {
	if c.CleanGap > 0 {
		return c.CleanGap
	}
	return 5 * time.Minute
}

// startAutoClean starts gr's cleaner loop (not while recovering).
func (g *Gateway) startAutoClean(gr *group) {
	if g.cfg.recovering {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	gr.clean.cancel = cancel
	gr.clean.done = make(chan struct{})
	gr.clean.poke = make(chan struct{}, 1)
	gr.clean.status.Group = gr.name
	go g.autoCleanLoop(ctx, gr)
}

// stopAutoClean stops gr's loop and waits for a run in progress to give up.
func (gr *group) stopAutoClean() {
	if gr.clean.cancel == nil {
		return
	}
	gr.clean.cancel()
	<-gr.clean.done
}

func (g *Gateway) autoCleanLoop(ctx context.Context, gr *group) {
	defer close(gr.clean.done)
	tick := time.NewTicker(g.cfg.cleanCheck())
	defer tick.Stop()
	lastScheduled := time.Now() // not at every start: the schedule counts from it
	var lastPressure time.Time
	for {
		poked := false
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-gr.clean.poke:
			poked = true
		}
		if g.cleanPaused.Load() {
			continue
		}
		now := time.Now()
		reason := ""
		if iv := g.cfg.CleanInterval; iv > 0 && now.Sub(lastScheduled) >= iv {
			reason = "schedule"
		} else if now.Sub(lastPressure) >= g.cfg.cleanGap() {
			reason = g.pressure(gr, poked)
		}
		if reason == "" {
			continue
		}
		if reason == "schedule" {
			lastScheduled = now
		} else {
			lastPressure = now
		}
		g.autoCleanRun(ctx, gr, reason)
	}
}

// pressure says why gr needs cleaning now ("quota", "disk", or
// "compression": S2 records to make zstd and no write for RecompressIdle),
// or "".
func (g *Gateway) pressure(gr *group, refused bool) string {
	if refused {
		return "quota"
	}
	p := g.cfg.cleanPressure()
	if q := gr.store.Quota(); q > 0 {
		if used, err := gr.store.Usage(); err == nil && float64(used) >= p*float64(q) {
			return "quota"
		}
	}
	var st syscall.Statfs_t
	if syscall.Statfs(gr.dir, &st) == nil && st.Blocks > 0 {
		if used := 1 - float64(st.Bavail)/float64(st.Blocks); used >= p {
			return "disk"
		}
	}
	if time.Since(gr.store.LastWrite()) < g.cfg.recompressIdle() {
		return ""
	}
	if later, err := gr.store.LaterBytes(); err == nil && later > 0 {
		return "compression"
	}
	return ""
}

func (g *Gateway) autoCleanRun(ctx context.Context, gr *group, reason string) {
	gr.clean.setStatus(func(st *GroupCleanStatus) { st.Running = true })
	// Recompression is idle work: a run for it, or on the schedule, stops
	// recompressing when writes begin; one for space does not.
	yield := reason == "compression" || reason == "schedule"
	rep, err := g.cleanGroup(ctx, gr, "on its own, for "+reason, chunkstore.CleanOptions{YieldToWrites: yield})
	if ctx.Err() != nil {
		gr.clean.setStatus(func(st *GroupCleanStatus) { st.Running = false })
		return // stopping
	}
	gr.clean.setStatus(func(st *GroupCleanStatus) {
		st.Running, st.LastRun, st.LastReason, st.Runs = false, time.Now().UTC(), reason, st.Runs+1
		st.BytesReclaimed, st.LastError = rep.BytesReclaimed, ""
		if err != nil {
			st.LastError = err.Error()
		}
	})
	if err != nil {
		return // an event says so (cleanGroup)
	}
	g.log.Info("cleaned on its own", "group", gr.name, "reason", reason, "reclaimed", rep.BytesReclaimed)
}

// cleanGroup runs the cleaner on one group: the one way both the admin's
// runs and the group's own go, counted for the metrics and, when it fails,
// an event (why says who ran it). A caller that went away is no failure.
func (g *Gateway) cleanGroup(ctx context.Context, gr *group, why string, opts chunkstore.CleanOptions) (chunkstore.CleanReport, error) {
	rep, err := gr.store.Clean(ctx, opts)
	gone := ctx.Err() != nil
	if !gone {
		g.cleanSt.count(gr.name, rep.BytesReclaimed, err)
	}
	if err != nil {
		if gone {
			return rep, fmt.Errorf("group %s: %w", gr.name, err)
		}
		g.event(events.CleanerFailed, gr.name, fmt.Sprintf("the cleaner failed on storage group %s (run %s): %v", gr.name, why, err))
		return rep, fmt.Errorf("group %s: %w", gr.name, err)
	}
	return rep, nil
}

// CleanSchedule reports the automatic cleaner's settings and runs.
func (g *Gateway) CleanSchedule() CleanSchedule {
	out := CleanSchedule{Paused: g.cleanPaused.Load(), Interval: g.cfg.CleanInterval.String(), Pressure: g.cfg.cleanPressure()}
	for _, gr := range g.groupList() {
		out.Groups = append(out.Groups, gr.clean.snapshot())
	}
	return out
}

// PauseCleaner pauses (or resumes) the cleaner's own runs, durably.
func (g *Gateway) PauseCleaner(paused bool) error {
	err := g.db.Update(func(tx *bolt.Tx) error {
		sys, err := tx.CreateBucketIfNotExists(bktSys)
		if err != nil {
			return err
		}
		if paused {
			return sys.Put(keyCleanPaused, []byte{1})
		}
		return sys.Delete(keyCleanPaused)
	})
	if err != nil {
		return fmt.Errorf("gateway: meta.db: %w", err)
	}
	g.cleanPaused.Store(paused)
	g.log.Info("the cleaner's own runs", "paused", paused)
	return nil
}

// loadCleanPaused reads the pause from meta.db.
func (g *Gateway) loadCleanPaused() error {
	return g.db.View(func(tx *bolt.Tx) error {
		if sys := tx.Bucket(bktSys); sys != nil {
			g.cleanPaused.Store(sys.Get(keyCleanPaused) != nil)
		}
		return nil
	})
}

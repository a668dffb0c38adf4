package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/gateway/events"
)

const scrubUsage = `Usage:
  cairn admin scrub [--data DIR] [--group NAME=DIR ...] [--repair]
  cairn admin scrub --tier NAME [--read-data] [--data DIR] [--group NAME=DIR ...]

Reads every container file of every storage group and checks each chunk
against its ID, the index against the files, the manifests against the index
and every reference count. --repair then rebuilds each group's index from its
container files. Run it with cairn serve stopped: it needs the stores alone.

With --tier, it checks a tier instead: every pack the groups record is there
and its sealed index opens and names the chunks the groups say it holds; the
catalog opens whole; --read-data also opens every sealed package of every
pack and checks each record's CRC. It names each damaged or missing object.
`

// adminScrub scrubs every storage group's chunk store, offline, showing
// progress on a terminal and a summary per group. It fails (exit 1) when
// any group has a fault.
func adminScrub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cairn admin scrub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, scrubUsage)
	dataDir := fs.String("data", env("CAIRN_DATA", "./cairn-data"), "the server's data directory (CAIRN_DATA)")
	repair := fs.Bool("repair", false, "rebuild each group's index from its container files after the checks")
	tier := fs.String("tier", "", "check this tier's packs and catalog instead of the groups")
	readData := fs.Bool("read-data", false, "with --tier: read and check every pack's data, not only its index")
	groups := map[string]string{}
	fs.Func("group", "storage group NAME=DIR, as given to cairn serve; repeat for more", func(s string) error {
		return addGroup(groups, s)
	})
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	data := *dataDir
	if _, err := os.Stat(data); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	cfg := gateway.DefaultConfig(data)
	cfg.Groups = groups
	dirs := cfg.GroupDirs()
	// Every group the data directory knows, not only those named here: a
	// group left out would be reported "ok" unread.
	known, err := gateway.RegisteredGroups(data)
	if errors.Is(err, gateway.ErrInUse) {
		return fmt.Errorf("%w: stop cairn serve before scrubbing", err)
	}
	if err != nil {
		return err
	}
	for name, dir := range known {
		if _, ok := dirs[name]; !ok {
			dirs[name] = dir
		}
	}
	names := make([]string, 0, len(dirs))
	for name := range dirs {
		names = append(names, name)
	}
	sort.Strings(names)

	tty := isTerminal(stderr)
	if *tier != "" {
		if *repair {
			return errors.New("--repair is for the groups; a tier is repaired by tiering again (tier clean removes what is damaged beyond use)")
		}
		return scrubTier(ctx, data, *tier, *readData, dirs, names, tty, stdout, stderr)
	}
	if *readData {
		return errors.New("--read-data goes with --tier NAME")
	}
	faults, lost := 0, 0
	for _, name := range names {
		if _, err := os.Stat(dirs[name]); err != nil {
			faults++
			fmt.Fprintf(stdout, "group %s: FAULTS\n  its directory %s: %v\n", name, dirs[name], err)
			emitEvent(data, events.ScrubDamage, name, fmt.Sprintf("scrub: the directory of storage group %s is unreadable: %v", name, err), stderr)
			continue
		}
		s, err := chunkstore.Open(ctx, chunkstore.DefaultConfig(dirs[name]))
		if errors.Is(err, chunkstore.ErrLocked) {
			return fmt.Errorf("group %s: %w: stop cairn serve before scrubbing", name, err)
		}
		if err != nil {
			return fmt.Errorf("group %s: %w", name, err)
		}
		start := time.Now()
		last := time.Time{}
		rep, err := s.Scrub(ctx, chunkstore.ScrubOptions{Repair: *repair, Progress: func(p chunkstore.ScrubProgress) {
			if !tty || time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			fmt.Fprintf(stderr, "\rscrub %s: container %d of %d, %s read", name, p.Containers, p.TotalContainers, bytesIEC(p.BytesRead))
		}})
		if tty {
			fmt.Fprint(stderr, "\r\033[K")
		}
		var damaged []gateway.DamagedObject
		if err == nil && len(rep.DamagedManifests) > 0 {
			damaged, err = gateway.DamagedObjects(s, rep.DamagedManifests)
		}
		s.Close()
		if err != nil {
			return fmt.Errorf("group %s: %w", name, err)
		}
		status := "ok"
		if !rep.OK() || len(damaged) > 0 {
			status = "FAULTS"
			faults++
		}
		fmt.Fprintf(stdout, "group %s: %s in %s\n  %s\n", name, status, time.Since(start).Round(time.Millisecond),
			strings.ReplaceAll(rep.String(), "\n", "\n  "))
		for _, d := range damaged {
			lost++
			fmt.Fprintf(stdout, "  damaged: bucket %s key %q version %s: back it up again\n", d.Bucket, d.Key, d.VersionID)
		}
		if status != "ok" {
			emitEvent(data, events.ScrubDamage, name, scrubEventMessage(name, rep, len(damaged)), stderr)
		}
	}
	switch {
	case lost > 0:
		return fmt.Errorf("%d object versions are damaged (named above): their data cannot be read whole; back them up again", lost)
	case faults > 0 && !*repair:
		return fmt.Errorf("%d storage group(s) have faults; see above (--repair rebuilds the index from the container files)", faults)
	}
	return nil
}

// isTerminal reports whether w is a terminal, where a progress line may be
// rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// scrubTier checks a tier for every group, offline.
func scrubTier(ctx context.Context, data, name string, readData bool, dirs map[string]string, names []string, tty bool, stdout, stderr io.Writer) error {
	tier, err := gateway.LoadTier(data, name)
	if err != nil {
		return err
	}
	var stores []*chunkstore.Store
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	for _, g := range names {
		s, err := chunkstore.Open(ctx, chunkstore.DefaultConfig(dirs[g]))
		if errors.Is(err, chunkstore.ErrLocked) {
			return fmt.Errorf("group %s: %w: stop cairn serve before scrubbing", g, err)
		}
		if err != nil {
			return fmt.Errorf("group %s: %w", g, err)
		}
		stores = append(stores, s)
	}
	start := time.Now()
	var last time.Time
	rep, err := cloudtier.Scrub(ctx, tier, stores, cloudtier.ScrubOptions{ReadData: readData, Progress: func(p cloudtier.ScrubProgress) {
		if !tty || time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "\rscrub tier %s: pack %d of %d, %s read", name, p.Packs, p.TotalPacks, bytesIEC(p.BytesRead))
	}})
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("tier %s: %w", name, err)
	}
	status := "ok"
	if !rep.OK() {
		status = "FAULTS"
	}
	fmt.Fprintf(stdout, "tier %s: %s in %s\n  %s\n", name, status, time.Since(start).Round(time.Millisecond), strings.ReplaceAll(rep.String(), "\n", "\n  "))
	if !rep.OK() {
		emitEvent(data, events.ScrubDamage, "tier "+name, fmt.Sprintf("scrub found %d problems in tier %s; the first: %s", len(rep.Problems), name, firstOf(rep.Problems)), stderr)
		return fmt.Errorf("tier %s has %d problems; see above", name, len(rep.Problems))
	}
	return nil
}

// scrubEventMessage sums up a group's scrub faults in one line for the
// event log; the scrub's output has the whole report.
func scrubEventMessage(group string, rep chunkstore.ScrubReport, damaged int) string {
	return fmt.Sprintf("scrub found faults in storage group %s: %d damaged object versions, %d corrupt bytes, %d missing chunks, %d dangling references, %d reference count mismatches; the first: %s",
		group, damaged, rep.CorruptRecords, rep.MissingChunks, rep.DanglingRefs, rep.RefMismatches, firstOf(rep.Problems))
}

func firstOf(problems []string) string {
	if len(problems) == 0 {
		return "(none named)"
	}
	return problems[0]
}

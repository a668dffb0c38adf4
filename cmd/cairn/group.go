package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cairn-backup/cairn/gateway"
)

// adminGroup is `cairn admin group add NAME --path DIR [--performance]
// [--quota SIZE] [--streams N] [--compression C] | set NAME ... | ls | rm NAME`.
func adminGroup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"add", "set", "ls", "rm"}, args[0]) {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	name, rest := "", args[1:]
	if cmd != "ls" {
		name, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin group "+cmd, stderr)
	var dir, compression string
	var quota, streams optionalFlag
	var performance boolFlag
	if cmd == "add" {
		fs.StringVar(&dir, "path", "", "the group's directory (made if missing): a volume of its own, such as an SSD for a performance tier")
	}
	if cmd == "add" || cmd == "set" {
		fs.Var(&performance, "performance", "mark the group as a performance tier (--performance=false unmarks it)")
		fs.Var(&quota, "quota", "limit the group's physical bytes (after dedup and compression), such as 500GiB; none removes the limit")
		fs.Var(&streams, "streams", "how many concurrent writes get a container file of their own (default 16); beyond it they share")
		fs.StringVar(&compression, "compression", "", "how new chunks are compressed: zstd-later (the default: written with s2, made zstd by the cleaner when the group is idle), zstd (smallest at once), s2 (about 2.5x faster than zstd, a quarter more bytes on source code) or none (for data that is already compressed or encrypted)")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if cmd != "ls" && name == "" {
		return errors.New("name the storage group: cairn admin group " + cmd + " NAME")
	}
	switch cmd {
	case "ls":
		body, err := o.call(ctx, http.MethodGet, gateway.AdminGroupsPath)
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		var gs []gateway.GroupInfo
		if err := json.Unmarshal(body, &gs); err != nil {
			return fmt.Errorf("group ls: %w", err)
		}
		return printGroups(stdout, gs)
	case "rm":
		if _, err := o.call(ctx, http.MethodDelete, gateway.AdminGroupsPath+"?name="+url.QueryEscape(name)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "storage group %s removed; its directory is left as it is (cairn admin group add %s --path DIR brings it back)\n", name, name)
		return nil
	}
	q, err := quota.size("--quota")
	if err != nil {
		return err
	}
	n, err := streams.count("--streams")
	if err != nil {
		return err
	}
	var path string
	var doc any
	method := http.MethodPost
	if cmd == "add" {
		if dir == "" {
			return errors.New("give the group's directory: cairn admin group add " + name + " --path DIR")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("--path: %w", err)
		}
		spec := gateway.GroupSpec{Name: name, Dir: abs, Performance: performance.set && performance.v}
		if q != nil {
			spec.Quota = *q
		}
		if n != nil {
			spec.Streams = *n
		}
		spec.Compression = compression
		path, doc = gateway.AdminGroupsPath, spec
	} else {
		ch := gateway.GroupChange{Quota: q, Streams: n}
		if performance.set {
			ch.Performance = &performance.v
		}
		if compression != "" {
			ch.Compression = &compression
		}
		if ch == (gateway.GroupChange{}) {
			return errors.New("say what to change: --quota SIZE|none, --streams N, --compression zstd-later|zstd|s2|none or --performance[=false]")
		}
		method, path, doc = http.MethodPatch, gateway.AdminGroupsPath+"?name="+url.QueryEscape(name), ch
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	body, err := o.send(ctx, method, path, b)
	if err != nil || o.json {
		return writeBody(stdout, body, err)
	}
	var gi gateway.GroupInfo
	if err := json.Unmarshal(body, &gi); err != nil {
		return fmt.Errorf("group %s: %w", cmd, err)
	}
	verb := "added"
	if cmd == "set" {
		verb = "changed"
	}
	fmt.Fprintf(stdout, "storage group %s %s: %s\n", name, verb, groupSettings(gi))
	return nil
}

func groupSettings(gi gateway.GroupInfo) string {
	quota := "no quota"
	if gi.Quota > 0 {
		quota = "quota " + bytesIEC(gi.Quota)
	}
	kind := ""
	if gi.Performance {
		kind = "performance tier, "
	}
	return fmt.Sprintf("%sat %s, %s, %d streams, compression %s", kind, gi.Dir, quota, gi.Streams, gi.Compression)
}

func printGroups(w io.Writer, gs []gateway.GroupInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPATH\tFS\tCAPACITY\tFREE\tUSED\tQUOTA\tLOGICAL\tUNIQUE\tSTORED\tDEDUP\tRATIO\tSTREAMS\tCOMPRESSION\tBUCKETS")
	for _, g := range gs {
		name := shortName(g.Name)
		if g.Performance {
			name += " (perf)"
		}
		quota := "-"
		if g.Quota > 0 {
			quota = fmt.Sprintf("%s (%.0f%%)", bytesIEC(g.Quota), 100*float64(g.Used)/float64(g.Quota))
		}
		buckets := "-"
		if len(g.Buckets) > 0 {
			buckets = strings.Join(g.Buckets[:min(len(g.Buckets), 3)], ",")
			if len(g.Buckets) > 3 {
				buckets += fmt.Sprintf(" +%d", len(g.Buckets)-3)
			}
		}
		compression := g.Compression
		if g.LaterBytes > 0 {
			compression += fmt.Sprintf(" (%s to recompress)", bytesIEC(g.LaterBytes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2fx\t%.2fx\t%d\t%s\t%s\n", name, g.Dir, g.Filesystem,
			bytesIEC(g.Capacity), bytesIEC(g.Free), bytesIEC(g.Used), quota, bytesIEC(g.LogicalBytes),
			bytesIEC(g.UniqueBytes), bytesIEC(g.StoredBytes), g.DedupRatio, g.Ratio, g.Streams, compression, buckets)
	}
	return tw.Flush()
}

// optionalFlag is a flag whose absence means "unchanged".
type optionalFlag struct {
	v   string
	set bool
}

func (f *optionalFlag) String() string { return f.v }
func (f *optionalFlag) Set(s string) error {
	f.v, f.set = s, true
	return nil
}

// size is the flag as a byte count; "none" and "0" are 0 (no quota).
func (f *optionalFlag) size(name string) (*int64, error) {
	if !f.set {
		return nil, nil
	}
	var n int64
	if f.v != "none" {
		if err := (sizeFlag{&n}).Set(f.v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &n, nil
}

// count is the flag as a positive count.
func (f *optionalFlag) count(name string) (*int, error) {
	if !f.set {
		return nil, nil
	}
	n, err := strconv.Atoi(f.v)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%s %q: want a whole number of at least 1", name, f.v)
	}
	return &n, nil
}

// boolFlag is a boolean flag that knows whether it was given.
type boolFlag struct{ v, set bool }

func (f *boolFlag) String() string   { return fmt.Sprint(f.v) }
func (f *boolFlag) IsBoolFlag() bool { return true }
func (f *boolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	f.v, f.set = v, true
	return nil
}

var _ flag.Value = (*boolFlag)(nil)

// adminCleanSchedule is `cairn admin clean status | pause | resume`.
func adminCleanSchedule(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	o, fs := adminFlags("cairn admin clean "+cmd, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cmd != "status" {
		path := gateway.AdminCleanPausePath
		if cmd == "resume" {
			path = gateway.AdminCleanResumePath
		}
		return callAndSay(ctx, o, stdout, http.MethodPost, path)
	}
	body, err := o.call(ctx, http.MethodGet, gateway.AdminCleanSchedulePath)
	if err != nil || o.json {
		return writeBody(stdout, body, err)
	}
	var cs gateway.CleanSchedule
	if err := json.Unmarshal(body, &cs); err != nil {
		return fmt.Errorf("clean status: %w", err)
	}
	state := "runs on its own"
	if cs.Paused {
		state = "paused (cairn admin clean resume)"
	}
	fmt.Fprintf(stdout, "cleaner: %s; every %s, and when a group reaches %.0f%% of its quota or disk\n", state, cs.Interval, 100*cs.Pressure)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tRUNNING\tRUNS\tLAST RUN\tREASON\tRECLAIMED\tLAST ERROR")
	for _, g := range cs.Groups {
		last, reason, lastErr := "-", "-", "-"
		if !g.LastRun.IsZero() {
			last, reason = g.LastRun.Format("2006-01-02 15:04:05Z"), g.LastReason
		}
		if g.LastError != "" {
			lastErr = g.LastError
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%s\t%s\t%s\t%s\n", shortName(g.Group), g.Running, g.Runs, last, reason, bytesIEC(g.BytesReclaimed), lastErr)
	}
	return tw.Flush()
}

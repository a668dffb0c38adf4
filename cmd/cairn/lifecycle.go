package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cairn-backup/cairn/gateway"
)

// leadingArg takes a positional argument given before the flags
// (`cairn admin policy set BUCKET --tier t`), or "" when the first argument
// is a flag.
func leadingArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// adminLifecycle is `cairn admin lifecycle run [BUCKET]` and `status`.
func adminLifecycle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "run" && args[0] != "status") {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	bucket, rest := "", args[1:]
	if cmd == "run" {
		bucket, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin lifecycle "+cmd, stderr)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if cmd == "status" {
		body, err := o.call(ctx, http.MethodGet, gateway.AdminLifecyclePath)
		if err != nil {
			return err
		}
		if o.json {
			_, err = stdout.Write(body)
			return err
		}
		var st []gateway.BucketLifecycle
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("lifecycle status: %w", err)
		}
		return printLifecycleStatus(stdout, st)
	}

	path := gateway.AdminLifecycleRunPath
	if bucket != "" {
		path += "?bucket=" + url.QueryEscape(bucket)
	}
	body, err := callWithProgress(ctx, o, stderr, http.MethodPost, path, func() string { return runningLine(ctx, o, bucket) })
	if err != nil {
		return err
	}
	if o.json {
		_, err := stdout.Write(body)
		return err
	}
	var rep gateway.LifecycleReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("lifecycle run: %w", err)
	}
	if len(rep.Buckets) == 0 {
		if bucket != "" {
			fmt.Fprintf(stdout, "bucket %s has no lifecycle rules and no cloud policy: nothing to do\n", bucket)
		} else {
			fmt.Fprintln(stdout, "no bucket has lifecycle rules or a cloud policy")
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(rep.Buckets)) {
		fmt.Fprintf(stdout, "bucket %s: %s\n", name, countsLine(rep.Buckets[name]))
	}
	if len(rep.Buckets) > 1 {
		fmt.Fprintf(stdout, "total: %s\n", countsLine(rep.Total))
	}
	return nil
}

// runningLine describes the scan in progress, from the server's status.
func runningLine(ctx context.Context, o *adminOptions, bucket string) string {
	body, err := o.call(ctx, http.MethodGet, gateway.AdminLifecyclePath)
	if err != nil {
		return ""
	}
	var st []gateway.BucketLifecycle
	if json.Unmarshal(body, &st) != nil {
		return ""
	}
	for _, b := range st {
		if b.Running != nil && (bucket == "" || b.Bucket == bucket) {
			return fmt.Sprintf("lifecycle %s (%s): %s", b.Bucket, b.Running.Phase, countsLine(b.Running.ScanCounts))
		}
	}
	return ""
}

func countsLine(c gateway.ScanCounts) string {
	line := fmt.Sprintf("%d scanned, %d expired, %d noncurrent expired, %d delete markers removed, %d uploads aborted, %d due for a tier, %d errors",
		c.Scanned, c.Expired, c.NoncurrentExpired, c.MarkersRemoved, c.UploadsAborted, c.TransitionsDue, c.Errors)
	if c.LockedSkipped > 0 {
		// Said only when it happened: most buckets have no object lock.
		line += fmt.Sprintf(", %d kept by object lock", c.LockedSkipped)
	}
	return line
}

func printLifecycleStatus(w io.Writer, st []gateway.BucketLifecycle) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKET\tRULES\tCLOUD POLICY\tSCAN\tLAST RUN\tEXPIRED\tABORTED\tQUEUED FOR TIER")
	for _, b := range st {
		cp := "-"
		if b.CloudPolicy {
			cp = "yes"
		}
		scan, last, expired, aborted, queued := "idle", "never", "-", "-", "-"
		if r := b.Running; r != nil {
			scan = fmt.Sprintf("running (%s, %d scanned)", r.Phase, r.Scanned)
			if !b.Active {
				scan = fmt.Sprintf("interrupted after %d scanned (resumes at the next run)", r.Scanned)
			}
		}
		if l := b.Last; l != nil {
			last = l.Finished.Local().Format(time.DateTime)
			expired = fmt.Sprint(l.Expired + l.NoncurrentExpired + l.MarkersRemoved)
			aborted = fmt.Sprint(l.UploadsAborted)
			queued = fmt.Sprint(l.TransitionsDue)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Bucket, b.Rules, cp, scan, last, expired, aborted, queued)
	}
	return tw.Flush()
}

// adminPolicy is `cairn admin policy set|get|rm BUCKET`.
func adminPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "set" && args[0] != "get" && args[0] != "rm") {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	bucket, rest := leadingArg(args[1:])
	o, fs := adminFlags("cairn admin policy "+cmd, stderr)
	var p cloudPolicyFlags
	if cmd == "set" {
		p.register(fs)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if bucket == "" {
		return errors.New("name the bucket: cairn admin policy " + cmd + " BUCKET")
	}
	path := gateway.AdminPolicyPath + "?bucket=" + url.QueryEscape(bucket)
	switch cmd {
	case "get":
		body, err := o.call(ctx, http.MethodGet, path)
		if err != nil {
			return err
		}
		_, err = stdout.Write(body)
		return err
	case "rm":
		if _, err := o.call(ctx, http.MethodDelete, path); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "bucket %s: cloud policy removed\n", bucket)
		return nil
	}
	doc, err := p.document()
	if err != nil {
		return err
	}
	if _, err := o.send(ctx, http.MethodPut, path, doc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bucket %s: cloud policy set\n", bucket)
	return nil
}

// cloudPolicyFlags are `policy set`'s flags, written the way admins think
// of a policy; they become the JSON document the admin API takes.
type cloudPolicyFlags struct {
	file                                                   string
	idle, tier, mode, after, ext, excludeExt, dir, exclDir string
}

func (p *cloudPolicyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.file, "file", "", "the policy as a JSON document (the admin API's form) instead of flags")
	fs.StringVar(&p.tier, "tier", "", "the tier to send data to (cairn admin tier ls)")
	fs.StringVar(&p.mode, "mode", "", "copy (a second copy in the cloud), move (release local copies once in the cloud) or copy-then-move (release after --after)")
	fs.StringVar(&p.after, "after", "", "copy-then-move: how long after the copy local copies are released (30d, 72h)")
	fs.StringVar(&p.idle, "idle", "", "only objects not written for this long (72h, 7d)")
	fs.StringVar(&p.ext, "ext", "", "only these file extensions, comma-separated (.vbk,.vib)")
	fs.StringVar(&p.excludeExt, "exclude-ext", "", "all but these file extensions, comma-separated")
	fs.StringVar(&p.dir, "dir", "", "only keys under these directories, comma-separated (backups/,vm/)")
	fs.StringVar(&p.exclDir, "exclude-dir", "", "all but keys under these directories, comma-separated (tmp/)")
}

func (p *cloudPolicyFlags) document() ([]byte, error) {
	if p.file != "" {
		if p.tier != "" || p.mode != "" || p.after != "" || p.idle != "" || p.ext != "" || p.excludeExt != "" || p.dir != "" || p.exclDir != "" {
			return nil, errors.New("--file gives the whole policy: leave out the other flags")
		}
		b, err := os.ReadFile(p.file)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		return b, nil
	}
	if p.tier == "" || p.mode == "" {
		return nil, errors.New("a cloud policy needs --tier NAME and --mode copy|move|copy-then-move")
	}
	doc := map[string]any{"tier": p.tier, "mode": p.mode}
	for name, v := range map[string]string{"idle": p.idle, "after": p.after} {
		if v != "" {
			doc[name] = v
		}
	}
	for name, v := range map[string]string{"include_ext": p.ext, "exclude_ext": p.excludeExt, "include_dirs": p.dir, "exclude_dirs": p.exclDir} {
		if v != "" {
			doc[name] = strings.Split(v, ",")
		}
	}
	return json.Marshal(doc)
}

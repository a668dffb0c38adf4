package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/internal/bench"
	"github.com/cairn-backup/cairn/gateway"
)

// adminRemote is `cairn admin remote add NAME --endpoint URL --access-key K
// --secret-key S [--remote-region R] | ls | rm NAME`.
func adminRemote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"add", "ls", "rm"}, args[0]) {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	name, rest := "", args[1:]
	if cmd != "ls" {
		name, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin remote "+cmd, stderr)
	if cmd == "add" {
		o, fs = adminFlagsAs("cairn admin remote add", stderr, "server", "server-region")
	}
	var c gateway.RemoteConfig
	var sec gateway.RemoteSecure
	if cmd == "add" {
		fs.StringVar(&c.Endpoint, "endpoint", "", "the remote Cairn's S3 address, such as https://dr-site:9000 (or a cairn connect tunnel's)")
		fs.StringVar(&sec.Server, "secure-connect", "", "reach the remote through secure connect instead: its secure connect address, HOST:9443")
		fs.StringVar(&sec.Credential, "credential", "", "with --secure-connect: a credential file the remote's site issued (cairn admin secure-connect issue)")
		fs.StringVar(&sec.Fingerprint, "fingerprint", "", "with --secure-connect: pin the remote's certificate, SHA256:... as its cairn serve prints it")
		fs.StringVar(&sec.CAFile, "ca", "", "with --secure-connect: a CA certificate (PEM) to verify the remote by")
		fs.IntVar(&sec.Connections, "connections", 0, "with --secure-connect: TCP connections to spread the tunnel over (multiconnect)")
		fs.StringVar(&c.AccessKey, "access-key", "", "the remote's root access key")
		fs.StringVar(&c.SecretKey, "secret-key", "", "the remote's root secret key")
		fs.StringVar(&c.Region, "region", "", "the remote's region (default us-east-1)")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if cmd != "ls" && name == "" {
		return errors.New("name the remote: cairn admin remote " + cmd + " NAME")
	}
	switch cmd {
	case "ls":
		body, err := o.call(ctx, http.MethodGet, gateway.AdminRemotesPath)
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		var rs []gateway.RemoteStatus
		if err := json.Unmarshal(body, &rs); err != nil {
			return fmt.Errorf("remote ls: %w", err)
		}
		if len(rs) == 0 {
			_, err := fmt.Fprintln(stdout, "no remotes: add one with cairn admin remote add")
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REMOTE\tENDPOINT\tACCESS KEY\tREPLICATING")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Endpoint, r.AccessKey, orDash(strings.Join(r.Buckets, ",")))
		}
		return tw.Flush()
	case "rm":
		if _, err := o.call(ctx, http.MethodDelete, gateway.AdminRemotesPath+"?name="+url.QueryEscape(name)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "remote %s removed\n", name)
		return nil
	}
	c.Name = name
	if sec.Server != "" {
		abs, err := filepath.Abs(sec.Credential)
		if err != nil || sec.Credential == "" {
			return errors.New("--secure-connect needs --credential FILE: a credential the remote's site issued")
		}
		sec.Credential = abs
		c.Secure = &sec
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	body, err := o.send(ctx, http.MethodPost, gateway.AdminRemotesPath, doc)
	if err != nil {
		return err
	}
	var hello struct {
		Protocol, RecordFormat int
		Server                 string
	}
	json.Unmarshal(body, &hello)
	where := c.Endpoint
	if c.Secure != nil {
		where = "secure connect " + c.Secure.Server
	}
	fmt.Fprintf(stdout, "remote %s added: %s answers (%s, replication protocol %d)\n", name, where, orDash(hello.Server), hello.Protocol)
	return nil
}

// adminReplication is `cairn admin replication add|ls|rm|pause|resume|run`.
func adminReplication(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"add", "ls", "rm", "pause", "resume", "run", "reverse"}, args[0]) {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	bucket, rest := "", args[1:]
	if cmd != "ls" {
		bucket, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin replication "+cmd, stderr)
	spec := gateway.ReplicationSpec{Bucket: bucket}
	var bandwidth, back string
	var abort bool
	if cmd == "reverse" {
		fs.StringVar(&back, "back", "", "the remote, at the replica's site, that names this site (cairn admin remote add there): the replica, promoted, replicates back through it")
		fs.BoolVar(&abort, "abort", false, "undo a reversal that has not yet made this bucket a replica")
	}
	if cmd == "add" {
		fs.StringVar(&spec.Remote, "remote", "", "the remote (cairn admin remote add) that holds the replica")
		fs.StringVar(&spec.ReplicaBucket, "bucket", "", "the replica bucket at the remote: made if missing; read-only to S3 clients there")
		fs.StringVar(&spec.Prefix, "prefix", "", "replicate only keys with this prefix")
		fs.BoolVar(&spec.Existing, "existing", false, "send the versions the bucket holds already too, not only what is written from now")
		fs.BoolVar(&spec.Seed, "seed", false, "the replica starts from a seed: export one now (cairn admin seed export) and import it there; changes wait for it")
		fs.BoolVar(&spec.DeleteMarkers, "delete-markers", true, "replicate delete markers (deletes of versions always replicate)")
		fs.StringVar(&spec.Schedule, "schedule", "", "send only in a daily window, such as 22:00-06:00 (server's local time); default: continuously")
		fs.StringVar(&bandwidth, "bandwidth", "", "bound the bytes sent per second, such as 50MB/s; default: unbounded")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if cmd != "ls" && bucket == "" {
		return errors.New("name the source bucket: cairn admin replication " + cmd + " BUCKET")
	}
	q := "?bucket=" + url.QueryEscape(bucket)
	switch cmd {
	case "ls":
		body, err := o.call(ctx, http.MethodGet, gateway.AdminReplicationPath)
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		var st []gateway.ReplicationStatus
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("replication ls: %w", err)
		}
		return printReplications(stdout, st)
	case "rm":
		return callAndSay(ctx, o, stdout, http.MethodDelete, gateway.AdminReplicationPath+q)
	case "pause":
		return callAndSay(ctx, o, stdout, http.MethodPost, gateway.AdminReplicationPausePath+q)
	case "resume":
		return callAndSay(ctx, o, stdout, http.MethodPost, gateway.AdminReplicationResumePath+q)
	case "reverse":
		path := gateway.AdminReplicationReversePath + q + "&back=" + url.QueryEscape(back)
		if abort {
			path += "&abort=1"
		}
		body, err := callWithProgress(ctx, o, stderr, http.MethodPost, path, func() string { return replicationLine(ctx, o, bucket) })
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		var res gateway.ReverseResult
		if err := json.Unmarshal(body, &res); err != nil {
			return fmt.Errorf("replication reverse: %w", err)
		}
		if res.Aborted {
			fmt.Fprintf(stdout, "reversal of %s aborted: it takes writes again, and the replica at %s is a replica again\n", bucket, res.Remote)
			return nil
		}
		fmt.Fprintf(stdout, "bucket %s is now a read-only replica of %s, which takes the writes (at remote %s) and replicates back here; %.1fs\n", bucket, res.NowReplicaOf, res.Remote, res.Seconds)
		return nil
	case "run":
		body, err := callWithProgress(ctx, o, stderr, http.MethodPost, gateway.AdminReplicationRunPath+q, func() string { return replicationLine(ctx, o, bucket) })
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		var run gateway.ReplicationRun
		if err := json.Unmarshal(body, &run); err != nil {
			return fmt.Errorf("replication run: %w", err)
		}
		fmt.Fprintf(stdout, "bucket %s replicated: %d versions (%s) and %d other changes; %s sent (%.2fx of the logical bytes) in %.1fs\n",
			bucket, run.Versions, bytesIEC(run.LogicalBytes), run.Operations, bytesIEC(run.BytesSent), ratioOf(run.BytesSent, run.LogicalBytes), run.Seconds)
		return nil
	}
	if spec.Remote == "" || spec.ReplicaBucket == "" {
		return errors.New("say where to: cairn admin replication add " + bucket + " --remote NAME --bucket REPLICA")
	}
	if bandwidth != "" {
		n, err := bench.ParseSize(strings.TrimSuffix(bandwidth, "/s"))
		if err != nil || n == 0 {
			return fmt.Errorf("--bandwidth %q: want bytes per second, such as 50MB/s or 10MiB/s", bandwidth)
		}
		spec.Bandwidth = n
	}
	doc, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	body, err := o.send(ctx, http.MethodPost, gateway.AdminReplicationPath, doc)
	if err != nil {
		return err
	}
	return sayResult(stdout, body)
}

func callAndSay(ctx context.Context, o *adminOptions, stdout io.Writer, method, path string) error {
	body, err := o.call(ctx, method, path)
	if err != nil {
		return err
	}
	return sayResult(stdout, body)
}

// sayResult prints an admin answer's "result".
func sayResult(stdout io.Writer, body []byte) error {
	var r struct{ Result string }
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, r.Result)
	return err
}

func writeBody(w io.Writer, body []byte, err error) error {
	if err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ratioOf(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// replicationLine is a run's progress line: what is left.
func replicationLine(ctx context.Context, o *adminOptions, bucket string) string {
	body, err := o.call(ctx, http.MethodGet, gateway.AdminReplicationPath)
	if err != nil {
		return ""
	}
	var st []gateway.ReplicationStatus
	if json.Unmarshal(body, &st) != nil {
		return ""
	}
	for _, s := range st {
		if s.Bucket == bucket {
			return fmt.Sprintf("replicating %s: %d changes (%s) left, %s sent", bucket, s.PendingChanges, bytesIEC(s.PendingBytes), bytesIEC(s.BytesSent))
		}
	}
	return ""
}

func printReplications(w io.Writer, st []gateway.ReplicationStatus) error {
	if len(st) == 0 {
		_, err := fmt.Fprintln(w, "no bucket replicates: set one with cairn admin replication add (or PutBucketReplication)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKET\tREMOTE\tREPLICA\tSTATE\tPENDING\tLAG\tSENT\tLOGICAL\tSCHEDULE\tLAST ERROR")
	for _, s := range st {
		lag := "-"
		if s.LagSeconds > 0 {
			lag = (time.Duration(s.LagSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d (%s)\t%s\t%s\t%s\t%s\t%s\n", shortName(s.Bucket), s.Remote, shortName(s.ReplicaBucket), s.State,
			s.PendingChanges, bytesIEC(s.PendingBytes), lag, bytesIEC(s.BytesSent), bytesIEC(s.LogicalBytes), orDash(s.Schedule), orDash(s.LastError))
	}
	return tw.Flush()
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/tlsproxy"
)

const adminUsage = `Usage:
  cairn admin stats [--data DIR] [--endpoint URL] [--json]
  cairn admin clean [--data DIR] [--endpoint URL] [--json]
  cairn admin clean status | pause | resume          (the cleaner's own runs: schedule, quota and disk pressure, zstd-later when idle)
  cairn admin group add NAME --path DIR [--performance] [--quota SIZE] [--streams N] [--compression zstd-later|zstd|s2|none]
  cairn admin group set NAME [--quota SIZE|none] [--streams N] [--compression zstd-later|zstd|s2|none] [--performance[=false]]
  cairn admin group ls | rm NAME
  cairn admin kms key add NAME | key ls      (SSE-KMS's local key ring; keys are wrapped under the SSE master key)
  cairn admin user add NAME [--policy readwrite|readonly|writeonly|POLICY.json] | ls | rm NAME
  cairn admin user disable NAME | enable NAME | key add NAME | key rm NAME KEY | policy set NAME POLICY
  cairn admin remote add NAME --endpoint URL --access-key K --secret-key S [--region R] | ls | rm NAME
  cairn admin remote add NAME --secure-connect HOST:9443 --credential FILE --fingerprint SHA256:... --access-key K --secret-key S
                     (remote add names this server with --server URL, as --endpoint is the remote's)
  cairn admin replication add BUCKET --remote NAME --bucket REPLICA [--prefix P] [--delete-markers=false]
                     [--schedule 22:00-06:00] [--bandwidth 50MB/s] [--existing | --seed]
  cairn admin replication ls | rm BUCKET | pause BUCKET | resume BUCKET | run BUCKET
  cairn admin replication reverse BUCKET --back REMOTE-AT-THE-REPLICA [--abort]
  cairn admin seed export BUCKET --to DIR | import --from DIR --bucket REPLICA   (DIR on the server's machine)
  cairn admin events [--follow] [--after SEQ] [--last N] [--json] [--data DIR] [--endpoint URL]
  cairn admin scrub [--data DIR] [--group NAME=DIR ...] [--repair]   (with cairn serve stopped)
  cairn admin scrub --tier NAME [--read-data] [--data DIR]           (with cairn serve stopped)
  cairn admin lifecycle run [BUCKET] | status   [--data DIR] [--endpoint URL] [--json]
  cairn admin policy set BUCKET --tier T --mode copy|move|copy-then-move [--after 30d] [--idle 72h]
                     [--ext .vbk,.vib | --exclude-ext .tmp] [--dir backups/ | --exclude-dir tmp/]
  cairn admin policy set BUCKET --file policy.json | get BUCKET | rm BUCKET
  cairn admin tier add NAME --kind azure --account-url URL --container C [--prefix P] --credentials FILE
  cairn admin tier add NAME --kind s3 --endpoint URL --bucket B [--region R] [--prefix P] --credentials FILE
                     (tier add names the server with --server URL, as --endpoint is the tier's)
  cairn admin tier ls | rm NAME | clean NAME | rotate-key NAME | escrow NAME --passphrase-file F
  cairn admin secure-connect issue NAME [--data DIR] [--out FILE] [--force] | revoke NAME [--data DIR]

The root credentials come from CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY,
else from DIR/credentials.json, else from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. The server is --endpoint (CAIRN_ENDPOINT), else the one
whose address a running cairn serve left in DIR/serve.addr, else
http://127.0.0.1:9000.
`

// adminOptions are the admin commands' flags.
type adminOptions struct {
	data, endpoint, region string
	json                   bool
}

func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "secure-connect" {
		return adminSecureConnect(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "scrub" {
		return adminScrub(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "lifecycle" {
		return adminLifecycle(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "policy" {
		return adminPolicy(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "tier" {
		return adminTier(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "group" {
		return adminGroup(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "kms" {
		return adminKMS(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "user" {
		return adminUser(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "remote" {
		return adminRemote(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "replication" {
		return adminReplication(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "seed" {
		return adminSeed(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 1 && args[0] == "clean" && slices.Contains([]string{"status", "pause", "resume"}, args[1]) {
		return adminCleanSchedule(ctx, args[1], args[2:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "events" {
		return adminEvents(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "stats" && args[0] != "clean") {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	o, fs := adminFlags("cairn admin "+args[0], stderr)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "stats":
		body, err := o.call(ctx, http.MethodGet, gateway.AdminStatsPath)
		if err != nil {
			return err
		}
		if o.json {
			_, err = stdout.Write(body)
			return err
		}
		var st gateway.Stats
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		if err := printStats(stdout, st); err != nil {
			return err
		}
		// Secure connect's counters, when the server runs it.
		if body, err := o.call(ctx, http.MethodGet, adminSecurePath); err == nil {
			var sc tlsproxy.Stats
			if err := json.Unmarshal(body, &sc); err != nil {
				return fmt.Errorf("secure connect stats: %w", err)
			}
			fmt.Fprintf(stdout, "\nsecure connect: %d sessions from %d clients, %d links, %d connections; %s in, %s out; %d resends, %d reconnects, %d refused, %d expired\n",
				sc.Sessions, sc.Clients, sc.Links, sc.Streams, bytesIEC(sc.BytesIn), bytesIEC(sc.BytesOut), sc.Resends, sc.Reconnects, sc.Refused, sc.Expired)
		}
		// Replication, when a bucket replicates.
		if body, err := o.call(ctx, http.MethodGet, gateway.AdminReplicationPath); err == nil {
			var rs []gateway.ReplicationStatus
			if err := json.Unmarshal(body, &rs); err != nil {
				return fmt.Errorf("replication status: %w", err)
			}
			if len(rs) > 0 {
				fmt.Fprintln(stdout)
				if err := printReplications(stdout, rs); err != nil {
					return err
				}
			}
		}
		return nil
	default:
		body, err := callWithProgress(ctx, o, stderr, http.MethodPost, gateway.AdminCleanPath, func() string { return cleanLine(ctx, o) })
		if err != nil {
			return err
		}
		if o.json {
			_, err = stdout.Write(body)
			return err
		}
		var res gateway.CleanResult
		if err := json.Unmarshal(body, &res); err != nil {
			return fmt.Errorf("clean: %w", err)
		}
		for _, g := range res.Groups {
			fmt.Fprintf(stdout, "group %s: reclaimed %s (%d containers compacted, %d of them recompressed with zstd, %d skipped)\n", g.Name, bytesIEC(g.BytesReclaimed), g.Compacted, g.Recompressed, g.Skipped)
		}
		fmt.Fprintf(stdout, "reclaimed %s in total\n", bytesIEC(res.BytesReclaimed))
		return nil
	}
}

// callWithProgress makes an admin call that runs a while; on a terminal
// it shows line() (the server's status of the run) until the call returns.
func callWithProgress(ctx context.Context, o *adminOptions, stderr io.Writer, method, path string, line func() string) ([]byte, error) {
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		body, err := o.call(ctx, method, path)
		done <- result{body, err}
	}()
	tty := isTerminal(stderr)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case res := <-done:
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			return res.body, res.err
		case <-tick.C:
			if tty {
				if l := line(); l != "" {
					fmt.Fprint(stderr, "\r\033[K"+l)
				}
			}
		}
	}
}

// cleanLine describes the cleaner run in progress, from the server.
func cleanLine(ctx context.Context, o *adminOptions) string {
	body, err := o.call(ctx, http.MethodGet, gateway.AdminCleanPath)
	if err != nil {
		return ""
	}
	var st gateway.CleanStatus
	if json.Unmarshal(body, &st) != nil || !st.Running {
		return ""
	}
	return fmt.Sprintf("clean group %s: container %d of %d, %s reclaimed", st.Group, st.Done, st.Total, bytesIEC(st.BytesReclaimed))
}

// adminFlags makes the flag set every admin command that talks to a
// server shares.
func adminFlags(name string, stderr io.Writer) (*adminOptions, *flag.FlagSet) {
	return adminFlagsAs(name, stderr, "endpoint", "region")
}

// adminFlagsAs is adminFlags with the server's URL and region under other
// flag names, for a command whose own --endpoint and --region mean
// something else (`tier add`).
func adminFlagsAs(name string, stderr io.Writer, endpointFlag, regionFlag string) (*adminOptions, *flag.FlagSet) {
	o := &adminOptions{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", env("CAIRN_DATA", "./cairn-data"), "data directory of the server, for its credentials and address (CAIRN_DATA)")
	fs.StringVar(&o.endpoint, endpointFlag, env("CAIRN_ENDPOINT", ""), "server URL; default from DATA/serve.addr (CAIRN_ENDPOINT)")
	fs.StringVar(&o.region, regionFlag, env("CAIRN_REGION", "us-east-1"), "region the server signs for (CAIRN_REGION)")
	fs.BoolVar(&o.json, "json", false, "print the server's JSON as it is")
	return o, fs
}

// call sends one SigV4-signed admin request and returns the body of a 200.
func (o adminOptions) call(ctx context.Context, method, path string) ([]byte, error) {
	return o.send(ctx, method, path, nil)
}

// defaultEndpoint is where admin commands look for a server when neither
// --endpoint nor the data directory says: cairn serve's default address.
const defaultEndpoint = "http://127.0.0.1:9000"

// serverURL is the server admin commands call: --endpoint
// (CAIRN_ENDPOINT), else the one whose address DATA/serve.addr holds,
// else the default address.
func (o *adminOptions) serverURL() string {
	if o.endpoint != "" {
		return o.endpoint
	}
	if b, err := os.ReadFile(filepath.Join(o.data, serveAddrFile)); err == nil {
		return "http://" + strings.TrimSpace(string(b))
	}
	return defaultEndpoint
}

// send is call with a request body. The server is --endpoint
// (CAIRN_ENDPOINT), else the one whose address DATA/serve.addr holds,
// else the default address; the credentials CAIRN_ROOT_ACCESS_KEY and
// CAIRN_ROOT_SECRET_KEY, else DATA/credentials.json, else the AWS_*
// variables the README has you export.
func (o adminOptions) send(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	creds, ok, err := envCredentials()
	if err != nil {
		return nil, err
	}
	if !ok {
		if creds, err = loadCredentials(o.data); err != nil {
			aws := credentials{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
			if aws.AccessKey == "" || aws.SecretKey == "" {
				return nil, fmt.Errorf("root credentials: set CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or point --data at the server's data directory (%w)", err)
			}
			creds = aws
		}
	}
	endpoint := o.serverURL()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: creds.AccessKey, SecretAccessKey: creds.SecretKey},
		req, hash, "s3", o.region, time.Now())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("the server at %s is not running (connection refused): start cairn serve, or name another with --endpoint", endpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("the server at %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		// The admin API says what was wrong as {"error": "..."}.
		var e struct{ Error string }
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

func printStats(w io.Writer, st gateway.Stats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "GROUP\tLOGICAL\tUNIQUE\tSTORED\tRATIO\tTIERED\tMANIFESTS\t")
	for _, g := range st.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t%s\t%d\t\n", g.Name, bytesIEC(g.LogicalBytes), bytesIEC(g.UniqueBytes),
			bytesIEC(g.StoredBytes+g.IndexBytes), g.Ratio, bytesIEC(g.TieredBytes), g.Manifests)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
	fmt.Fprintln(tw, "BUCKET\tGROUP\tOBJECTS\tLOGICAL\tVERSIONS\tALL VERSIONS\t")
	for _, b := range st.Buckets {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t\n", shortName(b.Name), shortName(b.Group), b.Objects, bytesIEC(b.LogicalBytes), b.Versions, bytesIEC(b.VersionBytes))
	}
	if len(st.Tiers) > 0 {
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
		fmt.Fprintln(tw, "TIER\tPACKS\tSTORED\tQUEUED\tFAILED\tSENT\t")
		for _, t := range st.Tiers {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t\n", t.Name, t.Packs, bytesIEC(t.PackBytes), t.Queued, t.Failed, bytesIEC(t.SentBytes))
		}
	}
	return tw.Flush()
}

// shortName keeps a table column narrow: a name past 32 characters keeps
// its start and end around "..." (--json has it whole).
func shortName(s string) string {
	if len(s) <= 32 {
		return s
	}
	return s[:16] + "..." + s[len(s)-13:]
}

// bytesIEC formats n bytes in binary units.
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

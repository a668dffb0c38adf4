package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/gateway"
)

const credentialsHelp = `a JSON file: {"account_name": "...", "account_key": "..."} or {"sas": "sv=..."} for azure, {"access_key": "...", "secret_key": "..."} for s3`

// adminTier is `cairn admin tier add NAME ... | ls | rm NAME | escrow NAME
// | clean NAME | rotate-key NAME`.
func adminTier(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"add", "ls", "rm", "escrow", "clean", "rotate-key"}, args[0]) {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	name, rest := "", args[1:]
	if cmd != "ls" {
		name, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin tier "+cmd, stderr)
	if cmd == "add" {
		o, fs = adminFlagsAs("cairn admin tier add", stderr, "server", "server-region")
	}
	var c gateway.TierConfig
	var credFile, passFile string
	if cmd == "escrow" {
		fs.StringVar(&passFile, "passphrase-file", "", "a file holding the passphrase (12 bytes or more) that the master key is wrapped under")
	}
	if cmd == "add" {
		fs.StringVar(&c.Kind, "kind", "", "azure or s3")
		fs.StringVar(&c.AccountURL, "account-url", "", "azure: the account's blob endpoint (https://ACCOUNT.blob.core.windows.net)")
		fs.StringVar(&c.Container, "container", "", "azure: a container that exists")
		fs.StringVar(&c.Endpoint, "endpoint", "", "s3: the service's URL (empty: AWS)")
		fs.StringVar(&c.Bucket, "bucket", "", "s3: a bucket that exists")
		fs.StringVar(&c.Region, "region", "", "s3: the bucket's region (default us-east-1)")
		fs.StringVar(&c.Prefix, "prefix", "", "put before every object name, to share a container or bucket")
		fs.StringVar(&credFile, "credentials", "", credentialsHelp)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if cmd != "ls" && name == "" {
		return errors.New("name the tier: cairn admin tier " + cmd + " NAME")
	}
	switch cmd {
	case "ls":
		body, err := o.call(ctx, http.MethodGet, gateway.AdminTiersPath)
		if err != nil {
			return err
		}
		if o.json {
			_, err = stdout.Write(body)
			return err
		}
		var st []gateway.TierStatus
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("tier ls: %w", err)
		}
		return printTiers(stdout, st)
	case "rm":
		if _, err := o.call(ctx, http.MethodDelete, gateway.AdminTiersPath+"?name="+url.QueryEscape(name)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tier %s removed\n", name)
		return nil
	case "clean":
		body, err := o.call(ctx, http.MethodPost, gateway.AdminTierCleanPath+"?name="+url.QueryEscape(name))
		if err != nil {
			return err
		}
		if o.json {
			_, err = stdout.Write(body)
			return err
		}
		var rep cloudtier.CleanReport
		if err := json.Unmarshal(body, &rep); err != nil {
			return fmt.Errorf("tier clean: %w", err)
		}
		fmt.Fprintf(stdout, "tier %s cleaned: %d dead packs dropped, %d sparse packs repacked into %d (%s rewritten), %d orphans removed (%s); "+
			"the %s of packs dropped go from the tier at the next clean (readers may still use them), %d dropped before went now\n",
			name, rep.Dropped, rep.Repacked, rep.NewPacks, bytesIEC(rep.Rewritten), rep.Orphans, bytesIEC(rep.OrphanSize), bytesIEC(rep.PackBytes), rep.Deleted)
		return nil
	case "rotate-key":
		body, err := o.call(ctx, http.MethodPost, gateway.AdminTierRotatePath+"?name="+url.QueryEscape(name))
		if err != nil {
			return err
		}
		var r struct {
			KeyGen uint32 `json:"key_gen"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("tier rotate-key: %w", err)
		}
		fmt.Fprintf(stdout, "tier %s: new packs are sealed with key generation %d; older packs keep theirs\n", name, r.KeyGen)
		return nil
	case "escrow":
		pass, err := readPassphrase(passFile)
		if err != nil {
			return err
		}
		if _, err := o.send(ctx, http.MethodPost, gateway.AdminTierEscrowPath+"?name="+url.QueryEscape(name), pass); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "master key escrowed in tier %s: with the tier and this passphrase, cairn recover rebuilds what was tiered\n", name)
		return nil
	}
	c.Name = name
	if credFile == "" {
		return errors.New("--credentials FILE is required: " + credentialsHelp)
	}
	b, err := os.ReadFile(credFile)
	if err != nil {
		return fmt.Errorf("--credentials: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Credentials); err != nil {
		return fmt.Errorf("--credentials %s: %v; want %s", credFile, err, credentialsHelp)
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := o.send(ctx, http.MethodPost, gateway.AdminTiersPath, doc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tier %s added: probed (write, read back, delete) and ready\n", name)
	return nil
}

func printTiers(w io.Writer, st []gateway.TierStatus) error {
	if len(st) == 0 {
		_, err := fmt.Fprintln(w, "no tiers: add one with cairn admin tier add")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIER\tKIND\tTARGET\tPACKS\tSTORED\tLIVE\tQUEUED\tCOPIED\tMOVED\tFAILED\tSENT\tLAST ERROR")
	for _, t := range st {
		last := t.LastError
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", t.Name, t.Kind, t.Target, t.Packs,
			bytesIEC(t.PackBytes), bytesIEC(t.LiveBytes), t.Queued, t.Copied, t.Moved, t.Failed, bytesIEC(t.SentBytes), last)
	}
	return tw.Flush()
}

// readPassphrase reads --passphrase-file: the passphrase, without its
// trailing newline.
func readPassphrase(file string) ([]byte, error) {
	if file == "" {
		return nil, errors.New("--passphrase-file FILE is required: a file that holds the passphrase")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("--passphrase-file %s is empty", file)
	}
	return b, nil
}

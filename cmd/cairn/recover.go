package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/gateway"
)

const recoverUsage = `Usage:
  cairn recover --tier-config FILE (--passphrase-file F | --master-key FILE) --data DIR

Rebuilds, on an empty data directory, every bucket and version that was
tiered to the tier FILE describes: a JSON object as tier add takes it, with
its credentials, such as
  {"name": "cold", "kind": "s3", "endpoint": "https://s3.example.com", "bucket": "b",
   "region": "us-east-1", "prefix": "cairn/", "credentials": {"access_key": "...", "secret_key": "..."}}
The master key comes from the tier's escrow (cairn admin tier escrow) and the
passphrase, or from a saved copy of DATA/tier.key. Recovered objects read
through from the tier at once. A recovery cut short is finished by running it
again on the same directory.
`

func recoverCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cairn recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, recoverUsage)
	data := fs.String("data", "", "the new data directory: empty, or a recovery cut short")
	tierFile := fs.String("tier-config", "", "the tier's configuration and credentials (JSON)")
	passFile := fs.String("passphrase-file", "", "the escrow's passphrase")
	keyFile := fs.String("master-key", "", "a copy of the master key file (DATA/tier.key), instead of the escrow")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *data == "":
		return errors.New("--data DIR is required: the empty directory to recover into")
	case *tierFile == "":
		return errors.New("--tier-config FILE is required: the tier's configuration and credentials")
	case (*passFile == "") == (*keyFile == ""):
		return errors.New("give one of --passphrase-file (the escrow's passphrase) and --master-key (a copy of DATA/tier.key)")
	}
	b, err := os.ReadFile(*tierFile)
	if err != nil {
		return fmt.Errorf("--tier-config: %w", err)
	}
	var o gateway.RecoverOptions
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o.Tier); err != nil {
		return fmt.Errorf("--tier-config %s: %w", *tierFile, err)
	}
	if *passFile != "" {
		if o.Passphrase, err = readPassphrase(*passFile); err != nil {
			return err
		}
	} else if o.MasterKey, err = os.ReadFile(*keyFile); err != nil {
		return fmt.Errorf("--master-key: %w", err)
	}
	tty := isTerminal(stderr)
	var last time.Time
	o.Progress = func(p gateway.RecoverProgress) {
		if !tty || time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		switch p.Phase {
		case "catalog":
			fmt.Fprint(stderr, "\r\033[Kreading the catalog")
		case "packs":
			fmt.Fprintf(stderr, "\r\033[Kreading pack indexes: %d", p.Done)
		case "objects":
			fmt.Fprintf(stderr, "\r\033[Krecovering versions: %d of %d, %s", p.Done, p.Total, bytesIEC(p.BytesRecovered))
		}
	}
	start := time.Now()
	rep, err := gateway.Recover(ctx, gateway.DefaultConfig(*data), o)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "recovered %d buckets, %d versions (%s) from %d packs in %s", rep.Buckets, rep.Versions, bytesIEC(rep.Bytes), rep.Packs,
		time.Since(start).Round(time.Millisecond))
	if rep.Kept > 0 {
		fmt.Fprintf(stdout, "; %d versions were recovered before", rep.Kept)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "only what was tiered is in the tier: objects never tiered are not recoverable from it")
	for _, n := range rep.NotTiered {
		fmt.Fprintf(stdout, "  not recoverable: %s\n", n)
	}
	if len(rep.DamagedPacks) > 0 {
		fmt.Fprintf(stdout, "%d damaged packs:\n  %s\n", len(rep.DamagedPacks), strings.Join(rep.DamagedPacks, "\n  "))
	}
	if len(rep.NotRecoverable) > 0 {
		fmt.Fprintf(stdout, "%d versions are not recoverable:\n  %s\n", len(rep.NotRecoverable), strings.Join(rep.NotRecoverable, "\n  "))
		return fmt.Errorf("%d versions could not be recovered (listed above)", len(rep.NotRecoverable))
	}
	return nil
}

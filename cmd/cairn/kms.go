package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/cairn-backup/cairn/gateway"
)

// adminKMS is `cairn admin kms key add NAME | key ls`: the local key ring
// of SSE-KMS (x-amz-server-side-encryption: aws:kms).
func adminKMS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "key" || (args[1] != "add" && args[1] != "ls") {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[1]
	name, rest := "", args[2:]
	if cmd == "add" {
		name, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin kms key "+cmd, stderr)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch cmd {
	case "add":
		if name == "" {
			return errors.New("name the key: cairn admin kms key add NAME")
		}
		body, err := o.call(ctx, http.MethodPost, gateway.AdminKMSKeysPath+"?name="+url.QueryEscape(name))
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		fmt.Fprintf(stdout, "KMS key %s added; objects name it with x-amz-server-side-encryption-aws-kms-key-id: %s (or alias/%s, or an ARN ending key/%s)\n", name, name, name, name)
		return nil
	}
	body, err := o.call(ctx, http.MethodGet, gateway.AdminKMSKeysPath)
	if err != nil || o.json {
		return writeBody(stdout, body, err)
	}
	var keys []gateway.KMSKey
	if err := json.Unmarshal(body, &keys); err != nil {
		return fmt.Errorf("kms key ls: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k.Name, k.Created.Format(time.RFC3339))
	}
	return tw.Flush()
}

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

	"github.com/cairn-backup/cairn/gateway"
)

// adminSeed is `cairn admin seed export BUCKET --to DIR` and `cairn admin
// seed import --from DIR --bucket REPLICA`: DIR is on the server's machine
// (a disk to carry to the other site).
func adminSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd := args[0]
	bucket, rest := "", args[1:]
	if cmd == "export" {
		bucket, rest = leadingArg(rest)
	}
	o, fs := adminFlags("cairn admin seed "+cmd, stderr)
	var dir string
	if cmd == "export" {
		fs.StringVar(&dir, "to", "", "an empty directory on the server's machine (a disk to carry); an export cut short there resumes")
	} else {
		fs.StringVar(&dir, "from", "", "the seed's directory on the server's machine")
		fs.StringVar(&bucket, "bucket", "", "the replica bucket: new, empty, or the replica a --seed replication claimed")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case bucket == "" && cmd == "export":
		return errors.New("name the bucket: cairn admin seed export BUCKET --to DIR")
	case bucket == "":
		return errors.New("name the replica bucket: cairn admin seed import --from DIR --bucket REPLICA")
	case dir == "":
		return fmt.Errorf("give the seed's directory: cairn admin seed %s ... --%s DIR", cmd, map[string]string{"export": "to", "import": "from"}[cmd])
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	path := gateway.AdminSeedExportPath
	if cmd == "import" {
		path = gateway.AdminSeedImportPath
	}
	body, err := callWithProgress(ctx, o, stderr, http.MethodPost, path+"?bucket="+url.QueryEscape(bucket)+"&dir="+url.QueryEscape(abs), func() string { return seedLine(ctx, o) })
	if err != nil || o.json {
		return writeBody(stdout, body, err)
	}
	var res gateway.SeedResult
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("seed %s: %w", cmd, err)
	}
	h, p := res.Header, res.Progress
	if cmd == "export" {
		fmt.Fprintf(stdout, "seed of %s written to %s: %d versions and %d delete markers (%s), %d unique chunks in %s, in %.1fs; carry it to the replica's site and run cairn admin seed import there\n",
			bucket, abs, h.Versions, h.Markers, bytesIEC(h.LogicalBytes), h.Chunks, bytesIEC(h.RecordBytes), res.Seconds)
		return nil
	}
	fmt.Fprintf(stdout, "seed of %s (%s) imported into %s: %d versions (%s; %d there already), %d chunks (%s) checked, in %.1fs\n",
		h.Bucket, h.Source, bucket, p.Versions, bytesIEC(p.LogicalBytes), p.Skipped, p.Chunks, bytesIEC(p.RecordBytes), res.Seconds)
	return nil
}

// seedLine is a seed run's progress line.
func seedLine(ctx context.Context, o *adminOptions) string {
	body, err := o.call(ctx, http.MethodGet, gateway.AdminSeedPath)
	if err != nil {
		return ""
	}
	var st gateway.SeedStatus
	if json.Unmarshal(body, &st) != nil || !st.Running {
		return ""
	}
	p := st.Progress
	return fmt.Sprintf("seed %s of %s: %d versions (%s), %d chunks (%s)", st.Op, st.Bucket, p.Versions, bytesIEC(p.LogicalBytes), p.Chunks, bytesIEC(p.RecordBytes))
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/internal/bench"
)

const benchUsage = `Usage:
  cairn bench gen --out DIR [--seed N] [--size 1GiB] [--generations 5]
      write a deterministic backup-like dataset (tars and trees, generation by generation)
  cairn bench run --endpoint URL --access-key K --secret-key S [flags] WORKLOAD...
      measure any S3 endpoint; workloads: put get small generations (default: put get)
  cairn bench compare A.json B.json
      print two runs side by side with ratios (B/A)
`

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return errUsage
	}
	switch args[0] {
	case "gen":
		return benchGen(ctx, args[1:], stdout, stderr)
	case "run":
		return benchRun(ctx, args[1:], stdout, stderr)
	case "compare":
		if len(args) != 3 {
			fmt.Fprint(stderr, benchUsage)
			return errUsage
		}
		a, err := bench.LoadReport(args[1])
		if err != nil {
			return err
		}
		b, err := bench.LoadReport(args[2])
		if err != nil {
			return err
		}
		return bench.Compare(a, b, stdout)
	}
	fmt.Fprintf(stderr, "cairn bench: unknown command %q\n\n%s", args[0], benchUsage)
	return errUsage
}

// sizeFlag is a flag.Value taking sizes like 64MiB or 1GiB.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	return fmt.Sprint(*f.n)
}

func (f sizeFlag) Set(s string) error {
	v, err := bench.ParseSize(s)
	if err == nil {
		*f.n = v
	}
	return err
}

func benchGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o bench.GenOptions
	fs := flag.NewFlagSet("cairn bench gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", "", "dataset directory (created; must be empty)")
	fs.Int64Var(&o.Seed, "seed", 1, "same seed, same bytes")
	o.Size = 1 << 30
	fs.Var(sizeFlag{&o.Size}, "size", "bytes of generation 1 (e.g. 1GiB)")
	fs.IntVar(&o.Generations, "generations", 5, "number of generations")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Out == "" {
		fmt.Fprintln(stderr, "cairn bench gen: --out DIR is required")
		return errUsage
	}
	o.Progress = stderr
	rep, err := bench.Gen(ctx, o)
	if err != nil {
		return err
	}
	for _, g := range rep.Generations {
		fmt.Fprintf(stdout, "generation %d: %s, %d bytes\n", g.Generation, g.Tar, g.TarBytes)
	}
	fmt.Fprintf(stdout, "dataset in %s (seed %d) written in %.1fs\n", rep.Dir, rep.Seed, rep.Seconds)
	return nil
}

func benchRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o bench.RunOptions
	fs := flag.NewFlagSet("cairn bench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Endpoint, "endpoint", env("CAIRN_ENDPOINT", ""), "S3 endpoint URL (CAIRN_ENDPOINT)")
	fs.StringVar(&o.AccessKey, "access-key", env("AWS_ACCESS_KEY_ID", ""), "access key (AWS_ACCESS_KEY_ID)")
	fs.StringVar(&o.SecretKey, "secret-key", env("AWS_SECRET_ACCESS_KEY", ""), "secret key (AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&o.Region, "region", env("AWS_DEFAULT_REGION", "us-east-1"), "signing region")
	fs.StringVar(&o.Bucket, "bucket", "", "bucket to use (default: a new cairn-bench-… bucket)")
	fs.IntVar(&o.Streams, "streams", 4, "concurrent streams")
	o.ObjectSize = 64 << 20
	fs.Var(sizeFlag{&o.ObjectSize}, "object-size", "put's object size")
	fs.DurationVar(&o.Duration, "duration", 0, "how long put runs (default 30s unless --bytes)")
	fs.Var(sizeFlag{&o.Bytes}, "bytes", "how much put writes")
	o.MultipartThreshold, o.PartSize = 8<<20, 8<<20
	fs.Var(sizeFlag{&o.MultipartThreshold}, "multipart-threshold", "objects this large or larger go in parts")
	fs.Var(sizeFlag{&o.PartSize}, "part-size", "multipart part size (at least 5MiB)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated data")
	fs.IntVar(&o.RangeReads, "range-reads", 64, "get's random range reads")
	fs.StringVar(&o.Dataset, "dataset", "", "dataset directory from 'cairn bench gen', for generations")
	fs.IntVar(&o.SmallObjects, "small-objects", 10000, "small's object count (listed by LIST)")
	o.SmallSize = 4 << 10
	fs.Var(sizeFlag{&o.SmallSize}, "small-size", "small's object size")
	fs.StringVar(&o.StatsDir, "stats-dir", "", "the server's data directory, to report stored bytes when it has no Cairn admin API")
	fs.StringVar(&o.JSON, "json", "", "also write every figure to this JSON file")
	fs.BoolVar(&o.Keep, "keep", false, "keep what the run wrote")
	// Flags may come before, between and after the workload names, as in
	// "run put --bytes 1GiB get".
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		rest := fs.Args()
		i := 0
		for i < len(rest) && !strings.HasPrefix(rest[i], "-") {
			i++
		}
		o.Workloads = append(o.Workloads, rest[:i]...)
		if i == len(rest) {
			break
		}
		args = rest[i:]
	}
	for _, w := range o.Workloads {
		if !strings.Contains(" "+strings.Join(bench.Workloads(), " ")+" ", " "+w+" ") {
			fmt.Fprintf(stderr, "cairn bench run: unknown workload %q; want some of %s\n", w, strings.Join(bench.Workloads(), ", "))
			return errUsage
		}
	}
	if o.Endpoint == "" || o.AccessKey == "" || o.SecretKey == "" {
		fmt.Fprintln(stderr, "cairn bench run: --endpoint, --access-key and --secret-key are required (or CAIRN_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
		return errUsage
	}
	o.Progress = stderr
	start := time.Now()
	rep, err := bench.Run(ctx, o)
	if rep != nil {
		if werr := rep.WriteTable(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return fmt.Errorf("bench run (%s): %w", time.Since(start).Round(time.Second), err)
	}
	return nil
}

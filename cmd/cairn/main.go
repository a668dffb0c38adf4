// Command cairn is Cairn's one binary: the S3 gateway server and its admin
// client.
//
//	cairn serve [flags]          run the gateway
//	cairn admin stats [flags]    print storage group and bucket figures
//	cairn admin clean [flags]    run the cleaner on every storage group
//	cairn connect [flags]        secure connect client: a local S3 port tunnelled to a server
//	cairn bench gen|run|compare  measure any S3 endpoint on backup workloads
//	cairn version                print the version
//
// Every flag has an environment variable (CAIRN_DATA for --data, ...); a
// flag given on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `cairn: an S3-compatible deduplicating object gateway for backup data

Usage:
  cairn serve [flags]         run the gateway (cairn serve -h lists the flags)
  cairn admin stats [flags]   print storage group and bucket figures
  cairn admin clean [flags]   run the cleaner on every storage group
  cairn admin scrub [flags]   verify every chunk and the index, offline (--repair rebuilds it)
  cairn recover [flags]       rebuild, on an empty data directory, what a tier holds (disaster recovery)
  cairn connect [flags]       secure connect client: a local S3 port tunnelled over TLS to a server
  cairn admin secure-connect issue|revoke NAME   manage secure connect client credentials
  cairn bench gen|run|compare measure any S3 endpoint on backup workloads (cairn bench lists them)
  cairn version               print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// versionString is the version set at build time, else the module's
// version and the VCS revision Go recorded in the binary.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	var rev, dirty, when string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+modified"
			}
		case "vcs.time":
			when = s.Value
		}
	}
	if rev != "" {
		v += " (" + rev[:min(12, len(rev))] + dirty
		if when != "" {
			v += ", " + when
		}
		v += ")"
	}
	return v + " " + bi.GoVersion
}

// errUsage marks errors whose message (flag's own) was already printed.
var errUsage = errors.New("usage")

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "admin":
		err = admin(ctx, args[1:], stdout, stderr)
	case "connect":
		err = connect(ctx, args[1:], stdout, stderr)
	case "recover":
		err = recoverCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		err = benchCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "cairn", versionString())
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] != "help" {
			// cairn help serve is cairn serve --help.
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "cairn: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "cairn:", err)
	return 1
}

// env returns the environment variable key, or def when it is unset or empty.
func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// applyEnv gives every flag of fs an environment variable: prefix and
// the flag's name in upper case with '-' as '_' (--secure-keepalive of
// serve is CAIRN_SECURE_KEEPALIVE). Set ones become the flags' values
// before the command line is parsed, so the command line wins.
func applyEnv(fs *flag.FlagSet, prefix string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := os.Getenv(name); v != "" && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}

// usageHeaders are the texts commands print above their flags.
var usageHeaders sync.Map // *flag.FlagSet -> string

// setUsage gives fs a text to print above its flags in its help.
func setUsage(fs *flag.FlagSet, header string) { usageHeaders.Store(fs, header) }

// printFlags lists fs's flags as the README writes them, --name.
func printFlags(fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		fmt.Fprint(w, "    \t", strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0" || f.DefValue == "[]":
		case name == "string":
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parseFlags parses args, mapping flag's errors to errUsage (flag printed them).
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.Usage = func() {
		if h, ok := usageHeaders.Load(fs); ok {
			fmt.Fprint(fs.Output(), h.(string))
		} else {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		}
		printFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}

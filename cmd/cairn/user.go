package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cairn-backup/cairn/gateway"
)

const userUsage = `Usage:
  cairn admin user add NAME [--policy readwrite|readonly|writeonly|POLICY.json]
  cairn admin user ls
  cairn admin user rm NAME | disable NAME | enable NAME
  cairn admin user key add NAME | key rm NAME ACCESS-KEY
  cairn admin user policy set NAME readwrite|readonly|writeonly|POLICY.json

A user's key has rights to the user's own buckets (those it creates), as its
policy allows; to another's only where that bucket's policy grants them.
writeonly keys upload, list and read back, but never delete nor overwrite.
`

// adminUser is `cairn admin user ...`.
func adminUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"add", "ls", "rm", "disable", "enable", "key", "policy"}, args[0]) {
		fmt.Fprint(stderr, userUsage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if cmd == "key" || cmd == "policy" {
		sub, rest = leadingArg(rest)
		if (cmd == "key" && sub != "add" && sub != "rm") || (cmd == "policy" && sub != "set") {
			fmt.Fprint(stderr, userUsage)
			return errUsage
		}
	}
	var name, arg string
	if cmd != "ls" {
		name, rest = leadingArg(rest)
	}
	if (cmd == "key" && sub == "rm") || cmd == "policy" {
		arg, rest = leadingArg(rest)
	}
	o, fs := adminFlags(strings.TrimSpace("cairn admin user "+cmd+" "+sub), stderr)
	var policy string
	if cmd == "add" {
		fs.StringVar(&policy, "policy", "readwrite", "readwrite, readonly, writeonly, or a file holding an IAM-style policy document")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if cmd != "ls" && name == "" {
		return fmt.Errorf("name the user: cairn admin user %s NAME", strings.TrimSpace(cmd+" "+sub))
	}
	q := "?name=" + url.QueryEscape(name)
	switch {
	case cmd == "ls":
		body, err := o.call(ctx, http.MethodGet, gateway.AdminUsersPath)
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		var us []gateway.UserInfo
		if err := json.Unmarshal(body, &us); err != nil {
			return fmt.Errorf("user ls: %w", err)
		}
		return printUsers(stdout, us)
	case cmd == "rm":
		return callAndSay(ctx, o, stdout, http.MethodDelete, gateway.AdminUsersPath+q)
	case cmd == "disable":
		return callAndSay(ctx, o, stdout, http.MethodPost, gateway.AdminUserDisablePath+q)
	case cmd == "enable":
		return callAndSay(ctx, o, stdout, http.MethodPost, gateway.AdminUserEnablePath+q)
	case cmd == "key" && sub == "rm":
		if arg == "" {
			return errors.New("name the key: cairn admin user key rm NAME ACCESS-KEY")
		}
		return callAndSay(ctx, o, stdout, http.MethodDelete, gateway.AdminUserKeysPath+q+"&key="+url.QueryEscape(arg))
	case cmd == "key":
		body, err := o.call(ctx, http.MethodPost, gateway.AdminUserKeysPath+q)
		if err != nil || o.json {
			return writeBody(stdout, body, err)
		}
		return printUserKey(stdout, o, body)
	case cmd == "policy":
		doc, err := readPolicyArg(arg)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(gateway.UserSpec{Name: name, Policy: doc})
		body, err := o.send(ctx, http.MethodPut, gateway.AdminUserPolicyPath+q, b)
		if err != nil {
			return err
		}
		return sayResult(stdout, body)
	}
	doc, err := readPolicyArg(policy)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(gateway.UserSpec{Name: name, Policy: doc})
	body, err := o.send(ctx, http.MethodPost, gateway.AdminUsersPath, b)
	if err != nil || o.json {
		return writeBody(stdout, body, err)
	}
	return printUserKey(stdout, o, body)
}

// readPolicyArg is a built-in policy's name as it is, or the document in
// the file it names.
func readPolicyArg(p string) (string, error) {
	switch p {
	case "":
		return "", errors.New("give the policy: readwrite, readonly, writeonly or a POLICY.json file")
	case "readwrite", "readonly", "writeonly":
		return p, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("policy %q is not readwrite, readonly or writeonly, nor a file: %w", p, err)
	}
	return string(b), nil
}

// printUserKey shows a new key once, with what to paste to use it.
func printUserKey(w io.Writer, o *adminOptions, body []byte) error {
	var k gateway.UserKey
	if err := json.Unmarshal(body, &k); err != nil {
		return err
	}
	fmt.Fprintf(w, `New access key for user %s. The secret is shown only now; Cairn keeps it sealed.

  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s
  aws --endpoint-url %s s3 ls

`, k.User, k.AccessKey, k.SecretKey, o.region, o.serverURL())
	return nil
}

func printUsers(w io.Writer, us []gateway.UserInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSTATUS\tPOLICY\tACCESS KEYS\tCANONICAL ID")
	for _, u := range us {
		status := "enabled"
		if u.Disabled {
			status = "disabled"
		}
		pol := u.Policy
		if strings.HasPrefix(strings.TrimSpace(pol), "{") {
			pol = "(document)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, status, pol, strings.Join(u.AccessKeys, ","), u.CanonicalID)
	}
	return tw.Flush()
}

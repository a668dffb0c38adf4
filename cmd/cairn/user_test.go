package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

var exportLine = regexp.MustCompile(`export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_DEFAULT_REGION=us-east-1`)

// userClient reads the key `cairn admin user add|key add` printed.
func userClient(t *testing.T, s *server, out string) (*s3.Client, string) {
	t.Helper()
	m := exportLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "aws --endpoint-url "+s.url()+" s3 ls") {
		t.Fatalf("no ready-to-paste snippet in:\n%s", out)
	}
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.url()),
		UsePathStyle:     true,
		Credentials:      awscreds.NewStaticCredentialsProvider(m[1], m[2], ""),
		RetryMaxAttempts: 1,
	}), m[1]
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// The admin's user commands end to end: add with a built-in policy and
// with a policy file, ls, a second key and the first removed (rotation),
// disable and enable, policy set, rm; what each key can do follows.
func TestUserCommands(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	env := []string{"CAIRN_DATA=" + dir}
	ctx := context.Background()

	out, errs, rc := cairn(t, env, "admin", "user", "add", "veeam", "--policy", "writeonly")
	if rc != 0 || !strings.Contains(out, "New access key for user veeam") {
		t.Fatalf("user add: exit %d\n%s%s", rc, out, errs)
	}
	veeam, key1 := userClient(t, s, out)
	if _, err := veeam.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("veeam-repo")}); err != nil {
		t.Fatal(err)
	}
	put := func(c *s3.Client, key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("veeam-repo"), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}
	if err := put(veeam, "a.vbk"); err != nil {
		t.Fatal(err)
	}
	if c := code(put(veeam, "a.vbk")); c != "AccessDenied" {
		t.Fatalf("writeonly overwrite: %s", c)
	}

	pol := filepath.Join(t.TempDir(), "list-only.json")
	os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:CreateBucket","s3:ListBucket"],"Resource":"*"}]}`), 0o644)
	out, errs, rc = cairn(t, env, "admin", "user", "add", "lister", "--policy", pol)
	if rc != 0 {
		t.Fatalf("user add with a policy file: exit %d\n%s%s", rc, out, errs)
	}
	lister, _ := userClient(t, s, out)
	if _, err := lister.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lister-b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lister.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lister-b"), Key: aws.String("k"), Body: strings.NewReader("x")}); code(err) != "AccessDenied" {
		t.Fatalf("a list-only user put: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"Statement":[{"Effect":"Allow","Action":"s3:Fly","Resource":"*"}]}`), 0o644)
	if out, errs, rc := cairn(t, env, "admin", "user", "add", "flyer", "--policy", bad); rc == 0 || !strings.Contains(errs, "Policy has invalid action") {
		t.Fatalf("a bad policy: exit %d\n%s%s", rc, out, errs)
	}
	if out, errs, rc := cairn(t, env, "admin", "user", "add", "veeam"); rc == 0 || !strings.Contains(errs, "exists already") {
		t.Fatalf("a second veeam: exit %d\n%s%s", rc, out, errs)
	}

	out, errs, rc = cairn(t, env, "admin", "user", "ls")
	if rc != 0 || !regexp.MustCompile(`veeam\s+enabled\s+writeonly\s+`+key1).MatchString(out) || !strings.Contains(out, "lister") || !strings.Contains(out, "(document)") {
		t.Fatalf("user ls: exit %d\n%s%s", rc, out, errs)
	}
	if strings.Contains(out, "SECRET") {
		t.Fatalf("user ls shows secrets:\n%s", out)
	}

	// Rotation: a second key, then the first removed.
	out, errs, rc = cairn(t, env, "admin", "user", "key", "add", "veeam")
	if rc != 0 {
		t.Fatalf("key add: exit %d\n%s%s", rc, out, errs)
	}
	veeam2, _ := userClient(t, s, out)
	if err := put(veeam2, "b.vbk"); err != nil {
		t.Fatalf("second key: %v", err)
	}
	if out, errs, rc := cairn(t, env, "admin", "user", "key", "rm", "veeam", key1); rc != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("key rm: exit %d\n%s%s", rc, out, errs)
	}
	if c := code(put(veeam, "c.vbk")); c != "InvalidAccessKeyId" {
		t.Fatalf("removed key: %s", c)
	}
	if out, errs, rc := cairn(t, env, "admin", "user", "disable", "veeam"); rc != 0 || !strings.Contains(out, "user veeam disabled") {
		t.Fatalf("disable: exit %d\n%s%s", rc, out, errs)
	}
	if c := code(put(veeam2, "c.vbk")); c != "InvalidAccessKeyId" {
		t.Fatalf("disabled user: %s", c)
	}
	cairn(t, env, "admin", "user", "enable", "veeam")
	if err := put(veeam2, "c.vbk"); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	if out, errs, rc := cairn(t, env, "admin", "user", "policy", "set", "veeam", "readwrite"); rc != 0 {
		t.Fatalf("policy set: exit %d\n%s%s", rc, out, errs)
	}
	if err := put(veeam2, "c.vbk"); err != nil {
		t.Fatalf("readwrite overwrites: %v", err)
	}
	if out, errs, rc := cairn(t, env, "admin", "user", "rm", "veeam"); rc != 0 || !strings.Contains(out, "user veeam removed") {
		t.Fatalf("rm: exit %d\n%s%s", rc, out, errs)
	}
	if c := code(put(veeam2, "d.vbk")); c != "InvalidAccessKeyId" {
		t.Fatalf("removed user: %s", c)
	}
	if out, errs, rc := cairn(t, env, "admin", "user", "rm", "veeam"); rc == 0 || !strings.Contains(errs, "no user is named veeam") {
		t.Fatalf("rm of a missing user: exit %d\n%s%s", rc, out, errs)
	}
	// The root key still does everything, and the data directory keeps no
	// secret in the clear.
	if _, err := client(t, s, dir).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("veeam-repo"), Key: aws.String("c.vbk")}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "users.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users.key: %v %v", fi, err)
	}
}

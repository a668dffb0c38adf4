package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSSEEndToEnd: an admin adds a KMS key with the CLI; objects written
// with SSE-KMS, SSE-S3 (a bucket default) and SSE-C read back after the
// server is killed (SIGKILL) and started again on the same directory.
func TestSSEEndToEnd(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	s := startServe(t, dir)
	env := []string{"CAIRN_DATA=" + dir}
	out, errs, code := cairn(t, env, "admin", "kms", "key", "add", "backups")
	if code != 0 || !strings.Contains(out, "KMS key backups added") {
		t.Fatalf("kms key add: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, env, "admin", "kms", "key", "add", "backups")
	if code == 0 || !strings.Contains(errs, "exists already") {
		t.Fatalf("kms key add twice: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cairn(t, env, "admin", "kms", "key", "ls")
	if code != 0 || !strings.Contains(out, "backups") {
		t.Fatalf("kms key ls: exit %d\n%s%s", code, out, errs)
	}
	ctx := context.Background()
	c := client(t, s, dir)
	b := aws.String("vault")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{9}, 32)
	sum := md5.Sum(key)
	ck, ckMD5 := base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(sum[:])
	data := random(1, 3<<20)
	puts := map[string]*s3.PutObjectInput{
		"kms":     {ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/backups")},
		"default": {},
		"c":       {SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(ck), SSECustomerKeyMD5: aws.String(ckMD5)},
	}
	for name, in := range puts {
		in.Bucket, in.Key, in.Body = b, aws.String(name), bytes.NewReader(data)
		if _, err := c.PutObject(ctx, in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	s.stop(syscall.SIGKILL)
	s = startServe(t, dir)
	c = client(t, s, dir)
	for name, want := range map[string]types.ServerSideEncryption{"kms": types.ServerSideEncryptionAwsKms, "default": types.ServerSideEncryptionAes256, "c": ""} {
		in := &s3.GetObjectInput{Bucket: b, Key: aws.String(name)}
		if name == "c" {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(ck), aws.String(ckMD5)
		}
		o, err := c.GetObject(ctx, in)
		if err != nil {
			t.Fatalf("%s after a restart: %v", name, err)
		}
		got, err := io.ReadAll(o.Body)
		o.Body.Close()
		if err != nil || !bytes.Equal(got, data) || o.ServerSideEncryption != want {
			t.Fatalf("%s after a restart: %v, equal %v, SSE %q", name, err, bytes.Equal(got, data), o.ServerSideEncryption)
		}
	}
}

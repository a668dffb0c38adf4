package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// userKey is what `cairn admin user add --json` answers.
type userKey struct {
	User      string `json:"user"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// addCairnUser makes a user on the Cairn under test. Names are unique per
// run; the server's data directory goes with the run.
func addCairnUser(t *testing.T, name, policy string) userKey {
	t.Helper()
	out := cairnAdmin(t, "user", "add", name, "--policy", policy, "--json")
	var k userKey
	if err := json.Unmarshal(out, &k); err != nil || k.AccessKey == "" || k.SecretKey == "" {
		t.Fatalf("cairn admin user add: %v\n%s", err, out)
	}
	return k
}

// TestWriteOnlyRclone: a backup client's writeonly key uploads a tree with
// rclone and reads it back, but can neither delete nor overwrite what it
// wrote (rclone delete, a sync that would delete, a copy of a changed file
// all fail), and the data stays as it was.
func TestWriteOnlyRclone(t *testing.T) {
	skipShort(t)
	requireCairn(t, "cairn admin user makes the writeonly key")
	scenarioTimer(t)
	rc := newRclone(t)
	k := addCairnUser(t, fmt.Sprintf("rclone-wo-%d", time.Now().UnixNano()%1e9), "writeonly")
	rc.env = append(rc.env, "RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID="+k.AccessKey, "RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY="+k.SecretKey)
	sdk := newClient(t) // root
	b := bucketName(t)
	cleanupBucket(t, sdk, b)
	remote := "cairn:" + b
	work := t.TempDir()

	done := step(t, "writeonly: mkdir, copy up, check, copy back")
	rc.run(time.Minute, "mkdir", remote)
	src := filepath.Join(work, "tree")
	files := makeTree(t, src, 700, 40)
	rc.run(5*time.Minute, "copy", src, remote+"/tree")
	out := rc.run(5*time.Minute, "check", src, remote+"/tree")
	if !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check found differences:\n%s", tail(out, 4096))
	}
	back := filepath.Join(work, "back")
	rc.run(5*time.Minute, "copy", remote+"/tree", back)
	compareTrees(t, "writeonly round trip", src, back)
	// A second copy of the same tree uploads nothing and succeeds.
	rc.run(5*time.Minute, "copy", src, remote+"/tree")
	done()

	victim := filepath.ToSlash(files[3])
	key := "tree/" + victim
	want, _ := getSHA256(t, sdk, &s3.GetObjectInput{Bucket: &b, Key: aws.String(key)})

	done = step(t, "writeonly: delete, sync-delete and overwrite refused")
	if out, err := rc.try(time.Minute, "deletefile", remote+"/"+key); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Errorf("rclone deletefile with a writeonly key: %v\n%s", err, tail(out, 2048))
	}
	os.Remove(filepath.Join(src, files[4]))
	if out, err := rc.try(5*time.Minute, "sync", src, remote+"/tree"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Errorf("rclone sync deleting a file with a writeonly key: %v\n%s", err, tail(out, 2048))
	}
	writeSeededFile(t, filepath.Join(src, files[3]), 9999, 4096)
	if out, err := rc.try(5*time.Minute, "copy", src, remote+"/tree"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Errorf("rclone copy overwriting a file with a writeonly key: %v\n%s", err, tail(out, 2048))
	}
	if got, _ := getSHA256(t, sdk, &s3.GetObjectInput{Bucket: &b, Key: aws.String(key)}); got != want {
		t.Errorf("%s changed under a writeonly key: sha256 %s, want %s", key, got, want)
	}
	if _, err := sdk.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("tree/" + filepath.ToSlash(files[4]))}); err != nil {
		t.Errorf("a file the writeonly key tried to delete is gone: %v", err)
	}
	done()
}

// resticLocksPolicy is the bucket policy README documents: a restic key
// that is writeonly may also delete its lock files, and nothing else.
func resticLocksPolicy(bucket, user string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "ResticMayRemoveItsLocks",
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::000000000000:user/%s"]},
    "Action": ["s3:DeleteObject"],
    "Resource": ["arn:aws:s3:::%s/locks/*"]
  }]
}`, user, bucket)
}

// TestResticWriteOnlyLocksPolicy: restic with a writeonly key and the
// documented locks/ policy backs up, checks and restores, removes its own
// locks, and cannot prune (delete) what it backed up.
func TestResticWriteOnlyLocksPolicy(t *testing.T) {
	skipShort(t)
	requireCairn(t, "cairn admin user makes the writeonly key")
	scenarioTimer(t)
	requireTool(t, resticBin, "restic")
	user := fmt.Sprintf("restic-wo-%d", time.Now().UnixNano()%1e9)
	k := addCairnUser(t, user, "writeonly")
	sdk := newClient(t) // root
	b := bucketName(t)
	cleanupBucket(t, sdk, b)
	home := t.TempDir()
	work := t.TempDir()
	rs := &toolRunner{t: t, bin: resticBin, env: append(cleanEnv(home),
		"RESTIC_REPOSITORY=s3:"+tgt.endpoint+"/"+b,
		"RESTIC_PASSWORD=conformance-restic-password",
		"RESTIC_CACHE_DIR="+filepath.Join(home, "cache"),
		"AWS_ACCESS_KEY_ID="+k.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+k.SecretKey,
		"AWS_DEFAULT_REGION="+tgt.region,
	)}

	done := step(t, "init with the writeonly key, then root sets the locks/ policy")
	rs.run(2*time.Minute, "init")
	if _, err := sdk.PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{Bucket: &b, Policy: aws.String(resticLocksPolicy(b, user))}); err != nil {
		t.Fatalf("PutBucketPolicy: %v", err)
	}
	done()

	src := filepath.Join(work, "src")
	for i := range 12 {
		writeSeededFile(t, filepath.Join(src, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%02d.dat", i)), 1200+uint64(i), int64(30_000+i*5_000))
	}
	os.WriteFile(filepath.Join(src, "marker.txt"), []byte("restic conformance tree\n"), 0o644)
	locks := func() int {
		out, err := sdk.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String("locks/")})
		must(t, err, "list locks")
		return len(out.Contents)
	}
	for i := range 2 {
		done = step(t, fmt.Sprintf("backup %d", i+1))
		if out, err := rs.tryIn(src, 5*time.Minute, "backup", "."); err != nil {
			t.Fatalf("restic backup: %v\n%s", err, tail(out, 8192))
		}
		if n := locks(); n != 0 {
			t.Errorf("restic left %d lock files: the policy should let it remove them", n)
		}
		if i == 0 {
			writeSeededFile(t, filepath.Join(src, "d0", "f00.dat"), 5000, 40_000)
		}
		done()
	}
	done = step(t, "check --read-data and restore")
	rs.run(5*time.Minute, "check", "--read-data")
	target := filepath.Join(work, "restore")
	rs.run(5*time.Minute, "restore", "latest", "--target", target)
	compareTrees(t, "restic restore with a writeonly key", src, findMarker(t, target))
	done()

	done = step(t, "forget --prune is refused; both snapshots stay")
	if out, err := rs.try(5*time.Minute, "forget", "--keep-last", "1", "--prune"); err == nil {
		t.Errorf("restic forget --prune succeeded with a writeonly key:\n%s", tail(out, 4096))
	}
	snaps, err := sdk.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String("snapshots/")})
	must(t, err, "list snapshots")
	if len(snaps.Contents) != 2 {
		t.Errorf("%d snapshot files after a refused prune, want 2", len(snaps.Contents))
	}
	// What a failed prune may leave is a lock: removable by the key.
	rs.run(time.Minute, "unlock")
	rs.run(5*time.Minute, "check")
	done()
}

// TestBucketPolicy: Put/Get/Delete/GetBucketPolicyStatus, MalformedPolicy
// with S3's messages, and what a policy grants: an anonymous read of one
// prefix, and a Deny that stops even the bucket's owner.
func TestBucketPolicy(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	ctx := t.Context()
	put(t, c, b, "pub/a", []byte("public"))
	put(t, c, b, "keep/a", []byte("kept"))
	_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchBucketPolicy", "GetBucketPolicy before one is set")
	for _, tc := range []struct{ doc, msg string }{
		{`[]`, "Policies must be valid JSON and the first byte must be '{'"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + b + `-other/*"}]}`, "Policy has invalid resource"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:NoSuchAction","Resource":"arn:aws:s3:::` + b + `/*"}]}`, "Policy has invalid action"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + b + `"}]}`, "Action does not apply to any resource(s) in statement"},
	} {
		_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &b, Policy: aws.String(tc.doc)})
		wantErr(t, err, 400, "MalformedPolicy", tc.msg)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("MalformedPolicy message: %v, want %q", err, tc.msg)
		}
	}
	doc := `{"Version":"2012-10-17","Statement":[
{"Sid":"PublicPrefix","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + b + `/pub/*"},
{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::` + b + `/keep/*"}]}`
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &b, Policy: aws.String(doc)})
	must(t, err, "PutBucketPolicy")
	got, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b})
	must(t, err, "GetBucketPolicy")
	if !strings.Contains(aws.ToString(got.Policy), "PublicPrefix") {
		t.Errorf("GetBucketPolicy = %s", aws.ToString(got.Policy))
	}
	st, err := c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: &b})
	must(t, err, "GetBucketPolicyStatus")
	if !aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Errorf("a policy granting Principal * is not public")
	}
	if tgt.cairn {
		// Against AWS the account's Block Public Access would refuse the
		// public read; Cairn has no account-wide block.
		anon := newClient(t, func(o *s3.Options) { o.Credentials = aws.AnonymousCredentials{} })
		if data, _ := getBytes(t, anon, &s3.GetObjectInput{Bucket: &b, Key: aws.String("pub/a")}); string(data) != "public" {
			t.Errorf("anonymous read under the public prefix: %q", data)
		}
		_, err = anon.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("keep/a")})
		wantErr(t, err, 403, "AccessDenied", "anonymous read outside the public prefix")
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("keep/a")})
	wantErr(t, err, 403, "AccessDenied", "the owner's delete under an explicit Deny")
	_, err = c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &b})
	must(t, err, "DeleteBucketPolicy")
	_, err = c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchBucketPolicy", "GetBucketPolicy after DeleteBucketPolicy")
}

// TestUsersSeeTheirOwnBuckets: two users made with cairn admin user add
// each see and use their own buckets only; root sees both.
func TestUsersSeeTheirOwnBuckets(t *testing.T) {
	requireCairn(t, "cairn admin user makes the users")
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	ka := addCairnUser(t, "conf-a-"+suffix, "readwrite")
	kb := addCairnUser(t, "conf-b-"+suffix, "readwrite")
	root := newClient(t)
	a := newClient(t, withCreds(ka.AccessKey, ka.SecretKey))
	bc := newClient(t, withCreds(kb.AccessKey, kb.SecretKey))
	ctx := t.Context()
	ba := bucketName(t)
	_, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &ba})
	must(t, err, "user a creates a bucket")
	cleanupBucket(t, root, ba)
	put(t, a, ba, "k", []byte("a's"))
	_, err = bc.GetObject(ctx, &s3.GetObjectInput{Bucket: &ba, Key: aws.String("k")})
	wantErr(t, err, 403, "AccessDenied", "user b reads user a's object")
	_, err = bc.PutObject(ctx, &s3.PutObjectInput{Bucket: &ba, Key: aws.String("x"), Body: strings.NewReader("x")})
	wantErr(t, err, 403, "AccessDenied", "user b writes into user a's bucket")
	lb, err := bc.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err, "user b lists buckets")
	for _, x := range lb.Buckets {
		if aws.ToString(x.Name) == ba {
			t.Errorf("user b sees user a's bucket")
		}
	}
	if data, _ := getBytes(t, root, &s3.GetObjectInput{Bucket: &ba, Key: aws.String("k")}); string(data) != "a's" {
		t.Errorf("root reads user a's object: %q", data)
	}
}

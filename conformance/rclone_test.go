package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const rcloneBin = "/usr/bin/rclone"

func newRclone(t *testing.T) *toolRunner {
	requireTool(t, rcloneBin, "rclone")
	home := t.TempDir()
	conf := filepath.Join(home, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(cleanEnv(home),
		"RCLONE_CONFIG="+conf,
		"RCLONE_CONFIG_CAIRN_TYPE=s3",
		"RCLONE_CONFIG_CAIRN_PROVIDER=Other",
		"RCLONE_CONFIG_CAIRN_ENDPOINT="+tgt.endpoint,
		"RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID="+tgt.accessKey,
		"RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY="+tgt.secretKey,
		"RCLONE_CONFIG_CAIRN_REGION="+tgt.region,
		"RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE=true",
	)
	// No retries: a failure shows as it happened.
	return &toolRunner{t: t, bin: rcloneBin, env: env, args: []string{"--retries", "1", "--low-level-retries", "1", "--cache-dir", filepath.Join(home, "cache")}}
}

// TestRclone drives rclone 1.60's S3 backend: sync and check, a multipart
// upload, server-side copy and move, and a modtime update done with a
// server-side copy instead of a re-upload.
func TestRclone(t *testing.T) {
	t.Parallel()
	skipShort(t)
	scenarioTimer(t)
	rc := newRclone(t)
	sdk := newClient(t)
	work := t.TempDir()
	b := bucketName(t)
	cleanupBucket(t, sdk, b)
	remote := "cairn:" + b

	done := step(t, "mkdir, sync up, check, sync down")
	rc.run(time.Minute, "mkdir", remote)
	src := filepath.Join(work, "tree")
	files := makeTree(t, src, 300, 200)
	rc.run(5*time.Minute, "sync", src, remote+"/tree")
	out := rc.run(5*time.Minute, "check", src, remote+"/tree")
	if !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check found differences:\n%s", tail(out, 4096))
	}
	if strings.Contains(out, "hashes could not be checked") || strings.Contains(out, "No common hash") {
		t.Errorf("rclone check could not compare hashes:\n%s", tail(out, 4096))
	}
	dst := filepath.Join(work, "tree.back")
	rc.run(5*time.Minute, "sync", remote+"/tree", dst)
	compareTrees(t, "rclone sync up and back", src, dst)
	done()

	done = step(t, "20 MiB above --s3-upload-cutoff 5M")
	big := filepath.Join(work, "big.bin")
	bigSum := writeSeededFile(t, big, 301, 20*mib)
	rc.run(5*time.Minute, "copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", big, remote+"/big.bin")
	h, err := sdk.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("big.bin")})
	must(t, err, "HeadObject big.bin")
	if !strings.HasSuffix(unquote(h.ETag), "-4") {
		t.Errorf("big.bin ETag %s; want a 4-part multipart ETag", unquote(h.ETag))
	}
	out = rc.run(5*time.Minute, "check", "--one-way", "--include", "big.bin", work, remote)
	if !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check of the multipart upload:\n%s", tail(out, 4096))
	}
	back := filepath.Join(work, "big.back")
	rc.run(5*time.Minute, "copyto", remote+"/big.bin", back)
	if got := fileSHA256(t, back); got != bigSum {
		t.Fatalf("rclone 20 MiB round trip: sha256 %s; want %s", got, bigSum)
	}
	done()

	done = step(t, "server-side copyto and moveto")
	out = rc.run(5*time.Minute, "copyto", "-vv", remote+"/big.bin", remote+"/copy.bin")
	if !strings.Contains(out, "server-side copy") {
		t.Errorf("rclone copyto within the remote was not a server-side copy:\n%s", tail(out, 4096))
	}
	// Above --s3-copy-cutoff rclone copies in parts (UploadPartCopy).
	out = rc.run(5*time.Minute, "copyto", "-vv", "--s3-copy-cutoff", "5M", remote+"/big.bin", remote+"/copy-parts.bin")
	if !strings.Contains(out, "server-side copy") {
		t.Errorf("rclone multipart copyto was not a server-side copy:\n%s", tail(out, 4096))
	}
	for _, k := range []string{"copy.bin", "copy-parts.bin"} {
		if got, n := getSHA256(t, sdk, &s3.GetObjectInput{Bucket: &b, Key: aws.String(k)}); got != bigSum {
			t.Errorf("%s after server-side copy: %d bytes, sha256 %s; want %s", k, n, got, bigSum)
		}
	}
	out = rc.run(5*time.Minute, "moveto", "-vv", remote+"/copy.bin", remote+"/moved.bin")
	if !strings.Contains(out, "server-side") {
		t.Errorf("rclone moveto within the remote was not server-side:\n%s", tail(out, 4096))
	}
	if _, err := sdk.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("copy.bin")}); httpStatus(err) != 404 {
		t.Errorf("rclone moveto left its source: HeadObject copy.bin: %v", err)
	}
	if got, _ := getSHA256(t, sdk, &s3.GetObjectInput{Bucket: &b, Key: aws.String("moved.bin")}); got != bigSum {
		t.Errorf("moved.bin differs from what was moved")
	}
	done()

	done = step(t, "modtime change by server-side copy")
	f := files[5]
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, f), when, when); err != nil {
		t.Fatal(err)
	}
	out = rc.run(5*time.Minute, "sync", "-vv", src, remote+"/tree")
	slash := filepath.ToSlash(f)
	if !strings.Contains(out, slash+": Updated modification time in destination") {
		t.Errorf("rclone sync after a modtime change did not update the modtime in place:\n%s", tail(out, 8192))
	}
	if strings.Contains(out, slash+": Copied") {
		t.Errorf("rclone sync re-uploaded %s for a modtime change:\n%s", slash, tail(out, 8192))
	}
	var entries []struct {
		Path    string
		ModTime time.Time
	}
	lj := rc.run(time.Minute, "lsjson", remote+"/tree/"+slash)
	if err := json.Unmarshal([]byte(lj), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("rclone lsjson: %v\n%s", err, lj)
	}
	if !entries[0].ModTime.Equal(when) {
		t.Errorf("modtime on the remote %v; want %v", entries[0].ModTime, when)
	}
	out = rc.run(5*time.Minute, "check", src, remote+"/tree")
	if !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check after the modtime update:\n%s", tail(out, 4096))
	}
	done()

	done = step(t, "purge")
	rc.run(5*time.Minute, "purge", remote)
	if _, err := sdk.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: &b}); httpStatus(err) != 404 {
		t.Errorf("HeadBucket after rclone purge: %v; want 404", err)
	}
	done()
}

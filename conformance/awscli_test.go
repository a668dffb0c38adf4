package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// awsCLI is Debian's awscli (v2). A pyenv `aws` earlier on PATH may be v1,
// so the scenario always runs /usr/bin/aws.
const awsCLI = "/usr/bin/aws"

func newAWSCLI(t *testing.T) *toolRunner {
	requireTool(t, awsCLI, "awscli")
	home := t.TempDir()
	cfg := filepath.Join(home, "aws-config")
	if err := os.WriteFile(cfg, []byte("[default]\ns3 =\n    addressing_style = path\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(cleanEnv(home),
		"AWS_ACCESS_KEY_ID="+tgt.accessKey,
		"AWS_SECRET_ACCESS_KEY="+tgt.secretKey,
		"AWS_DEFAULT_REGION="+tgt.region,
		"AWS_CONFIG_FILE="+cfg,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "no-credentials"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
	)
	return &toolRunner{t: t, bin: awsCLI, env: env, args: []string{"--endpoint-url", tgt.endpoint, "--no-cli-pager"}}
}

// jsonOut runs an `aws s3api` command and decodes its JSON output into v.
func jsonOut(t *testing.T, r *toolRunner, v any, args ...string) {
	t.Helper()
	out := r.run(2*time.Minute, append(args, "--output", "json")...)
	if strings.TrimSpace(out) == "" {
		return // the CLI prints nothing for an empty, paginated result
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, tail(out, 4096))
	}
}

// TestAWSCLI drives the aws CLI v2 through the s3 and s3api commands a user
// runs, failing on the first step that does not do what it says.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	skipShort(t)
	scenarioTimer(t)
	cli := newAWSCLI(t)
	sdk := newClient(t)
	work := t.TempDir()
	b := bucketName(t)
	cleanupBucket(t, sdk, b)
	u := "s3://" + b

	done := step(t, "s3 mb")
	out := cli.run(time.Minute, "s3", "mb", u)
	if !strings.Contains(out, "make_bucket: "+b) {
		t.Fatalf("aws s3 mb said %q", out)
	}
	out = cli.run(time.Minute, "s3", "ls")
	if !strings.Contains(out, " "+b+"\n") && !strings.HasSuffix(strings.TrimSpace(out), " "+b) {
		t.Fatalf("aws s3 ls does not list %s:\n%s", b, out)
	}
	done()

	// 200 MiB: above the CLI's 8 MiB multipart threshold.
	done = step(t, "s3 cp 200 MiB up and down")
	big := filepath.Join(work, "big.bin")
	const bigSize = 200 * mib
	bigSum := writeSeededFile(t, big, 200, bigSize)
	cli.run(5*time.Minute, "s3", "cp", "--only-show-errors", big, u+"/big/big.bin")
	var head struct {
		ContentLength int64
		ETag          string
	}
	jsonOut(t, cli, &head, "s3api", "head-object", "--bucket", b, "--key", "big/big.bin")
	if head.ContentLength != bigSize || !strings.Contains(head.ETag, "-") {
		t.Errorf("head-object of the 200 MiB upload: ContentLength %d ETag %s; want %d and a multipart ETag", head.ContentLength, head.ETag, bigSize)
	}
	back := filepath.Join(work, "big.back")
	cli.run(5*time.Minute, "s3", "cp", "--only-show-errors", u+"/big/big.bin", back)
	if got := fileSHA256(t, back); got != bigSum {
		t.Fatalf("200 MiB round trip: sha256 %s; want %s", got, bigSum)
	}
	os.Remove(back)
	out = cli.run(time.Minute, "s3", "ls", u+"/big/")
	if !strings.Contains(out, fmt.Sprint(bigSize)) || !strings.Contains(out, "big.bin") {
		t.Errorf("aws s3 ls %s/big/ does not show big.bin with its size:\n%s", u, out)
	}
	done()

	done = step(t, "s3 sync up, again, down")
	src := filepath.Join(work, "tree")
	files := makeTree(t, src, 201, 300)
	out = cli.run(5*time.Minute, "s3", "sync", "--no-progress", src, u+"/tree")
	if n := strings.Count(out, "upload: "); n != len(files) {
		t.Errorf("aws s3 sync uploaded %d files; want %d", n, len(files))
	}
	out = cli.run(5*time.Minute, "s3", "sync", "--no-progress", src, u+"/tree")
	if strings.Contains(out, "upload: ") {
		t.Errorf("a second aws s3 sync of an unchanged tree uploaded again:\n%s", tail(out, 2048))
	}
	dst := filepath.Join(work, "tree.back")
	cli.run(5*time.Minute, "s3", "sync", "--no-progress", u+"/tree", dst)
	compareTrees(t, "aws s3 sync up and back", src, dst)
	done()

	done = step(t, "s3 mv, s3 rm --recursive")
	moved := filepath.ToSlash(files[0])
	cli.run(time.Minute, "s3", "mv", u+"/tree/"+moved, u+"/moved/"+moved)
	if _, err := cli.try(time.Minute, "s3api", "head-object", "--bucket", b, "--key", "tree/"+moved); err == nil {
		t.Errorf("aws s3 mv left the source tree/%s", moved)
	}
	jsonOut(t, cli, &head, "s3api", "head-object", "--bucket", b, "--key", "moved/"+moved)
	if st, _ := os.Stat(filepath.Join(src, files[0])); head.ContentLength != st.Size() {
		t.Errorf("moved object has %d bytes; want %d", head.ContentLength, st.Size())
	}
	cli.run(5*time.Minute, "s3", "rm", "--recursive", "--only-show-errors", u+"/tree/")
	var list struct {
		KeyCount int
		Contents []struct{ Key string }
	}
	jsonOut(t, cli, &list, "s3api", "list-objects-v2", "--bucket", b, "--prefix", "tree/")
	if list.KeyCount != 0 || len(list.Contents) != 0 {
		t.Errorf("after aws s3 rm --recursive, tree/ still holds %d objects", len(list.Contents))
	}
	done()

	done = step(t, "s3api object commands")
	small := filepath.Join(work, "small.txt")
	os.WriteFile(small, []byte("hello from the aws cli\n"), 0o644)
	var po struct{ ETag string }
	jsonOut(t, cli, &po, "s3api", "put-object", "--bucket", b, "--key", "api/small.txt", "--body", small,
		"--content-type", "text/plain", "--metadata", "origin=awscli,step=put")
	if strings.Trim(po.ETag, `"`) != md5hex([]byte("hello from the aws cli\n")) {
		t.Errorf("s3api put-object ETag %s", po.ETag)
	}
	got := filepath.Join(work, "small.got")
	var g struct {
		ContentLength int64
		ContentType   string
		Metadata      map[string]string
	}
	jsonOut(t, cli, &g, "s3api", "get-object", "--bucket", b, "--key", "api/small.txt", got)
	if b2, _ := os.ReadFile(got); string(b2) != "hello from the aws cli\n" || g.ContentType != "text/plain" || g.Metadata["origin"] != "awscli" {
		t.Errorf("s3api get-object: body %q Content-Type %q metadata %v", b2, g.ContentType, g.Metadata)
	}
	var h struct{ Metadata map[string]string }
	jsonOut(t, cli, &h, "s3api", "head-object", "--bucket", b, "--key", "api/small.txt")
	if h.Metadata["step"] != "put" {
		t.Errorf("s3api head-object metadata %v; want step=put", h.Metadata)
	}
	jsonOut(t, cli, &list, "s3api", "list-objects-v2", "--bucket", b, "--prefix", "api/")
	if len(list.Contents) != 1 || list.Contents[0].Key != "api/small.txt" {
		t.Errorf("s3api list-objects-v2 --prefix api/: %+v", list.Contents)
	}
	done()

	done = step(t, "s3api multipart")
	var cu struct{ UploadId string }
	jsonOut(t, cli, &cu, "s3api", "create-multipart-upload", "--bucket", b, "--key", "api/mp.bin")
	p1, p2 := filepath.Join(work, "p1"), filepath.Join(work, "p2")
	writeSeededFile(t, p1, 202, 5*mib)
	writeSeededFile(t, p2, 203, 777_777)
	type part struct {
		ETag       string
		PartNumber int
	}
	var parts []part
	for i, p := range []string{p1, p2} {
		var up struct{ ETag string }
		jsonOut(t, cli, &up, "s3api", "upload-part", "--bucket", b, "--key", "api/mp.bin", "--upload-id", cu.UploadId, "--part-number", fmt.Sprint(i+1), "--body", p)
		parts = append(parts, part{up.ETag, i + 1})
	}
	pj, _ := json.Marshal(map[string]any{"Parts": parts})
	pf := filepath.Join(work, "parts.json")
	os.WriteFile(pf, pj, 0o644)
	var cm struct{ ETag string }
	jsonOut(t, cli, &cm, "s3api", "complete-multipart-upload", "--bucket", b, "--key", "api/mp.bin", "--upload-id", cu.UploadId, "--multipart-upload", "file://"+pf)
	p1b, _ := os.ReadFile(p1)
	p2b, _ := os.ReadFile(p2)
	if want := multipartETag(p1b, p2b); strings.Trim(cm.ETag, `"`) != want {
		t.Errorf("complete-multipart-upload ETag %s; want %s", cm.ETag, want)
	}
	mpBack := filepath.Join(work, "mp.back")
	cli.run(2*time.Minute, "s3api", "get-object", "--bucket", b, "--key", "api/mp.bin", mpBack)
	if got, want := fileSHA256(t, mpBack), sha256hex(append(p1b, p2b...)); got != want {
		t.Errorf("object from s3api multipart: sha256 %s; want %s", got, want)
	}
	done()

	done = step(t, "s3api versioning")
	vb := bucketName(t)
	cleanupBucket(t, sdk, vb)
	cli.run(time.Minute, "s3api", "create-bucket", "--bucket", vb)
	cli.run(time.Minute, "s3api", "put-bucket-versioning", "--bucket", vb, "--versioning-configuration", "Status=Enabled")
	var gv struct{ Status string }
	jsonOut(t, cli, &gv, "s3api", "get-bucket-versioning", "--bucket", vb)
	if gv.Status != "Enabled" {
		t.Errorf("get-bucket-versioning Status %q after enabling", gv.Status)
	}
	var ids []string
	for i := range 2 {
		os.WriteFile(small, []byte(fmt.Sprint("version ", i)), 0o644)
		var pv struct{ VersionId string }
		jsonOut(t, cli, &pv, "s3api", "put-object", "--bucket", vb, "--key", "v", "--body", small)
		ids = append(ids, pv.VersionId)
	}
	var lv struct {
		Versions []struct {
			Key, VersionId string
			IsLatest       bool
		}
	}
	jsonOut(t, cli, &lv, "s3api", "list-object-versions", "--bucket", vb)
	if len(lv.Versions) != 2 || lv.Versions[0].VersionId != ids[1] || !lv.Versions[0].IsLatest || lv.Versions[1].VersionId != ids[0] {
		t.Errorf("list-object-versions %+v; want %v newest first", lv.Versions, ids)
	}
	cli.run(time.Minute, "s3api", "get-object", "--bucket", vb, "--key", "v", "--version-id", ids[0], got)
	if b2, _ := os.ReadFile(got); string(b2) != "version 0" {
		t.Errorf("get-object --version-id of the first version = %q", b2)
	}
	done()

	done = step(t, "s3 presign + curl")
	url := strings.TrimSpace(cli.run(time.Minute, "s3", "presign", u+"/api/small.txt", "--expires-in", "300"))
	fetched := filepath.Join(work, "presigned.got")
	if curl, err := exec.LookPath("curl"); err == nil {
		curlRun := &toolRunner{t: t, bin: curl, env: cleanEnv(work)}
		curlRun.run(time.Minute, "-sS", "--fail", "-o", fetched, url)
	} else {
		resp, err := http.Get(url)
		must(t, err, "GET presigned URL")
		defer resp.Body.Close()
		f, _ := os.Create(fetched)
		f.ReadFrom(resp.Body)
		f.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET of the aws s3 presign URL: HTTP %d", resp.StatusCode)
		}
	}
	if b2, _ := os.ReadFile(fetched); string(b2) != "hello from the aws cli\n" {
		t.Errorf("object fetched through aws s3 presign = %q", b2)
	}
	done()

	done = step(t, "s3 rb --force")
	cli.run(5*time.Minute, "s3", "rb", "--force", u)
	if _, err := sdk.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(b)}); httpStatus(err) != 404 {
		t.Errorf("HeadBucket after aws s3 rb --force: %v; want 404", err)
	}
	done()
}

package gateway

// End-to-end tests of how the users/authorization work was wired into
// object lock and POST Object: x-amz-bypass-governance-retention needs
// s3:BypassGovernanceRetention (DeleteObject with a version ID,
// DeleteObjects, PutObjectRetention), and a browser form upload is
// authorized as s3:PutObject on its key, with its canned ACL, while the
// form fields of grants, encryption and lock are refused. Every request
// goes through a listening gateway, from the aws-sdk-go-v2 client or, for
// forms, a multipart/form-data body built as a browser sends it.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// The two refusals a locked version's delete can get, told apart by their
// message: the authorizer's (the action itself is not allowed) and the
// lock's (the action is allowed, the bypass is not, so the lock holds).
const (
	deniedByAuthz = "Access Denied."
	deniedByLock  = "Access Denied because object protected by object lock."
)

// wantDenied fails unless err is 403 AccessDenied with that message.
func wantDenied(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || ae.ErrorMessage() != msg {
		t.Fatalf("%s: %v, want AccessDenied %q", what, err, msg)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Fatalf("%s: %v, want status 403", what, err)
	}
}

// setRetention is PutObjectRetention of one version to GOVERNANCE until.
func setRetention(t *testing.T, c *s3.Client, bucket, key, vid string, until time.Time, bypass bool) error {
	t.Helper()
	in := &s3.PutObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(vid),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until)}}
	if bypass {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	_, err := c.PutObjectRetention(t.Context(), in)
	return err
}

// retainedUntil is the version's retain-until date, read by c.
func retainedUntil(t *testing.T, c *s3.Client, bucket, key, vid string) time.Time {
	t.Helper()
	out, err := c.GetObjectRetention(t.Context(), &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(vid)})
	mustOK(t, "GetObjectRetention", err)
	return aws.ToTime(out.Retention.RetainUntilDate)
}

// deleteBatch is DeleteObjects of versions (key → version ID) with bypass:
// the keys deleted, and the message of each refused key.
func deleteBatch(t *testing.T, c *s3.Client, bucket string, bypass bool, versions map[string]string) (deleted []string, refused map[string]string) {
	t.Helper()
	var objs []types.ObjectIdentifier
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range versions {
			if !yield(k) {
				return
			}
		}
	}) {
		objs = append(objs, types.ObjectIdentifier{Key: aws.String(k), VersionId: aws.String(versions[k])})
	}
	in := &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: objs}}
	if bypass {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	out, err := c.DeleteObjects(t.Context(), in)
	mustOK(t, "DeleteObjects", err)
	refused = map[string]string{}
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	for _, e := range out.Errors {
		if aws.ToString(e.Code) != "AccessDenied" {
			t.Fatalf("DeleteObjects %s: %s %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		refused[aws.ToString(e.Key)] = aws.ToString(e.Message)
	}
	slices.Sort(deleted)
	return deleted, refused
}

// allRefused fails unless every key of keys was refused with msg.
func allRefused(t *testing.T, what string, deleted []string, refused map[string]string, msg string, keys ...string) {
	t.Helper()
	if len(deleted) != 0 || len(refused) != len(keys) {
		t.Fatalf("%s: deleted %q, refused %v; want %q refused", what, deleted, refused, keys)
	}
	for _, k := range keys {
		if refused[k] != msg {
			t.Fatalf("%s: %s refused with %q, want %q", what, k, refused[k], msg)
		}
	}
}

// stillThere fails unless the version reads back as data (by root).
func stillThere(t *testing.T, root *s3.Client, bucket, key, vid, data string) {
	t.Helper()
	if got := readVersion(t, root, bucket, key, vid); string(got) != data {
		t.Fatalf("%s/%s %s: %q, want %q", bucket, key, vid, got, data)
	}
}

func bucketPolicy(t *testing.T, root *s3.Client, bucket, doc string) {
	t.Helper()
	_, err := root.PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)})
	mustOK(t, "PutBucketPolicy "+bucket, err)
}

// TestWiringBypassWriteOnly: a writeonly user in its own lock bucket can
// never get through GOVERNANCE retention: not by DeleteObject (it has no
// s3:DeleteObjectVersion), not by shortening the retention (it has
// s3:PutObjectRetention, but not s3:BypassGovernanceRetention). Granted
// s3:DeleteObjectVersion by the bucket policy, its deletes reach the lock
// and the lock holds, single or in a batch; granted
// s3:BypassGovernanceRetention too, the bypass works. Root bypasses in the
// user's bucket without any grant.
func TestWiringBypassWriteOnly(t *testing.T) {
	g, url, root := authzServer(t)
	w := addUser(t, g, url, "backup1", "writeonly")
	lockBucket(t, w, "wo-lock")
	until := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	vids := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		vids[k] = putLocked(t, w, "wo-lock", k, []byte("data "+k), types.ObjectLockModeGovernance, until, false)
	}

	// writeonly alone: the delete is not allowed at all; the retention
	// change is, but not its bypass.
	wantDenied(t, "writeonly deletes a version with bypass", deleteVersion(w, t, "wo-lock", "a", vids["a"], true), deniedByAuthz)
	deleted, refused := deleteBatch(t, w, "wo-lock", true, map[string]string{"a": vids["a"], "b": vids["b"]})
	allRefused(t, "writeonly DeleteObjects with bypass", deleted, refused, deniedByAuthz, "a", "b")
	wantDenied(t, "writeonly shortens GOVERNANCE with bypass", setRetention(t, w, "wo-lock", "a", vids["a"], until.Add(-time.Hour), true), deniedByLock)
	mustOK(t, "writeonly extends GOVERNANCE", setRetention(t, w, "wo-lock", "a", vids["a"], until.Add(time.Hour), false))
	if got := retainedUntil(t, w, "wo-lock", "a", vids["a"]); !got.Equal(until.Add(time.Hour)) {
		t.Fatalf("retention after the extension: %v", got)
	}

	// The bucket policy lets it delete versions: now the lock is what
	// refuses, with bypass asked or not.
	bucketPolicy(t, root, "wo-lock", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"backup1"},"Action":"s3:DeleteObjectVersion","Resource":"arn:aws:s3:::wo-lock/*"}]}`)
	wantDenied(t, "delete version with bypass, no BypassGovernanceRetention", deleteVersion(w, t, "wo-lock", "a", vids["a"], true), deniedByLock)
	wantDenied(t, "delete version without bypass", deleteVersion(w, t, "wo-lock", "a", vids["a"], false), deniedByLock)
	deleted, refused = deleteBatch(t, w, "wo-lock", true, map[string]string{"a": vids["a"], "b": vids["b"]})
	allRefused(t, "DeleteObjects with bypass, no BypassGovernanceRetention", deleted, refused, deniedByLock, "a", "b")
	wantDenied(t, "shorten with bypass, no BypassGovernanceRetention", setRetention(t, w, "wo-lock", "a", vids["a"], until, true), deniedByLock)
	for _, k := range []string{"a", "b", "c"} {
		stillThere(t, root, "wo-lock", k, vids[k], "data "+k)
	}

	// Root has the permission without any grant, in a user's bucket too.
	shorter := time.Now().Add(time.Hour).Truncate(time.Second)
	wantDenied(t, "root shortens without bypass", setRetention(t, root, "wo-lock", "c", vids["c"], shorter, false), deniedByLock)
	mustOK(t, "root shortens with bypass", setRetention(t, root, "wo-lock", "c", vids["c"], shorter, true))
	if got := retainedUntil(t, root, "wo-lock", "c", vids["c"]); !got.Equal(shorter) {
		t.Fatalf("retention root shortened: %v, want %v", got, shorter)
	}
	mustOK(t, "root deletes with bypass", deleteVersion(root, t, "wo-lock", "c", vids["c"], true))

	// Granted s3:BypassGovernanceRetention as well, the user bypasses.
	bucketPolicy(t, root, "wo-lock", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"backup1"},"Action":["s3:DeleteObjectVersion","s3:BypassGovernanceRetention"],"Resource":"arn:aws:s3:::wo-lock/*"}]}`)
	wantDenied(t, "delete without asking for bypass", deleteVersion(w, t, "wo-lock", "a", vids["a"], false), deniedByLock)
	mustOK(t, "shorten with bypass, granted", setRetention(t, w, "wo-lock", "a", vids["a"], shorter, true))
	if got := retainedUntil(t, w, "wo-lock", "a", vids["a"]); !got.Equal(shorter) {
		t.Fatalf("retention the user shortened: %v, want %v", got, shorter)
	}
	mustOK(t, "delete with bypass, granted", deleteVersion(w, t, "wo-lock", "a", vids["a"], true))
	deleted, refused = deleteBatch(t, w, "wo-lock", true, map[string]string{"b": vids["b"]})
	if strings.Join(deleted, ",") != "b" || len(refused) != 0 {
		t.Fatalf("DeleteObjects with bypass, granted: deleted %q, refused %v", deleted, refused)
	}
	vs, err := root.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String("wo-lock")})
	mustOK(t, "list versions", err)
	if len(vs.Versions) != 0 {
		t.Fatalf("%d versions left, want none", len(vs.Versions))
	}
}

// TestWiringBypassUserPolicy: a user whose own policy document grants
// s3:BypassGovernanceRetention bypasses in its bucket (single delete,
// batch, shortened retention); one whose document is the same less that
// action cannot, on all three paths.
func TestWiringBypassUserPolicy(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	actions := []string{"s3:CreateBucket", "s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject",
		"s3:PutObjectRetention", "s3:GetObjectRetention", "s3:DeleteObjectVersion"}
	doc := func(actions []string) string {
		b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Effect": "Allow", "Action": actions, "Resource": []string{"arn:aws:s3:::*"}}}})
		mustOK(t, "policy document", err)
		return string(b)
	}
	users := map[string]*s3.Client{
		"admin":  addUser(t, g, url, "admin", doc(append(slices.Clone(actions), "s3:BypassGovernanceRetention"))),
		"keeper": addUser(t, g, url, "keeper", doc(actions)),
	}
	until := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	shorter := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, name := range []string{"admin", "keeper"} {
		c, bucket := users[name], name+"-lock"
		lockBucket(t, c, bucket)
		vids := map[string]string{}
		for _, k := range []string{"one", "two", "three"} {
			vids[k] = putLocked(t, c, bucket, k, []byte(k), types.ObjectLockModeGovernance, until, false)
		}
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		wantCode(t, name+": the document is the user's whole policy", err, "AccessDenied")
		if name == "keeper" {
			wantDenied(t, "keeper deletes with bypass", deleteVersion(c, t, bucket, "one", vids["one"], true), deniedByLock)
			deleted, refused := deleteBatch(t, c, bucket, true, map[string]string{"two": vids["two"]})
			allRefused(t, "keeper DeleteObjects with bypass", deleted, refused, deniedByLock, "two")
			wantDenied(t, "keeper shortens with bypass", setRetention(t, c, bucket, "three", vids["three"], shorter, true), deniedByLock)
			for _, k := range []string{"one", "two", "three"} {
				stillThere(t, root, bucket, k, vids[k], k)
			}
			if got := retainedUntil(t, root, bucket, "three", vids["three"]); !got.Equal(until) {
				t.Fatalf("keeper's retention changed to %v", got)
			}
			continue
		}
		wantDenied(t, "admin deletes without bypass", deleteVersion(c, t, bucket, "one", vids["one"], false), deniedByLock)
		mustOK(t, "admin deletes with bypass", deleteVersion(c, t, bucket, "one", vids["one"], true))
		deleted, refused := deleteBatch(t, c, bucket, true, map[string]string{"two": vids["two"]})
		if strings.Join(deleted, ",") != "two" || len(refused) != 0 {
			t.Fatalf("admin DeleteObjects with bypass: deleted %q, refused %v", deleted, refused)
		}
		mustOK(t, "admin shortens with bypass", setRetention(t, c, bucket, "three", vids["three"], shorter, true))
		if got := retainedUntil(t, root, bucket, "three", vids["three"]); !got.Equal(shorter) {
			t.Fatalf("admin's shortened retention: %v, want %v", got, shorter)
		}
	}
}

// TestWiringBypassExplicitDeny: a bucket policy that explicitly denies
// s3:BypassGovernanceRetention stops a readwrite owner and root, on every
// path; the delete itself is still allowed (an unlocked version goes),
// and before the Deny the readwrite owner could bypass. A Deny on a prefix
// holds in a DeleteObjects batch too, key by key.
func TestWiringBypassExplicitDeny(t *testing.T) {
	g, url, root := authzServer(t)
	ops := addUser(t, g, url, "ops", "readwrite")
	until := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	shorter := time.Now().Add(time.Hour).Truncate(time.Second)

	lockBucket(t, ops, "ops-lock")
	vids := map[string]string{}
	for _, k := range []string{"before", "one", "two", "three"} {
		vids[k] = putLocked(t, ops, "ops-lock", k, []byte(k), types.ObjectLockModeGovernance, until, false)
	}
	free := putLocked(t, ops, "ops-lock", "free", []byte("free"), "", time.Time{}, false)
	mustOK(t, "readwrite owner bypasses before the Deny", deleteVersion(ops, t, "ops-lock", "before", vids["before"], true))

	lockBucket(t, root, "root-lock")
	rvids := map[string]string{}
	for _, k := range []string{"one", "two", "three", "keep/x", "tmp/x"} {
		rvids[k] = putLocked(t, root, "root-lock", k, []byte(k), types.ObjectLockModeGovernance, until, false)
	}

	deny := func(bucket, resource string) string {
		return `{"Version":"2012-10-17","Statement":[
			{"Effect":"Deny","Principal":"*","Action":"s3:BypassGovernanceRetention","Resource":"arn:aws:s3:::` + bucket + `/` + resource + `"}]}`
	}
	bucketPolicy(t, root, "ops-lock", deny("ops-lock", "*"))
	bucketPolicy(t, root, "root-lock", deny("root-lock", "*"))
	for _, tc := range []struct {
		who    string
		c      *s3.Client
		bucket string
		vids   map[string]string
	}{{"readwrite owner", ops, "ops-lock", vids}, {"root", root, "root-lock", rvids}} {
		wantDenied(t, tc.who+" deletes with bypass under a Deny", deleteVersion(tc.c, t, tc.bucket, "one", tc.vids["one"], true), deniedByLock)
		deleted, refused := deleteBatch(t, tc.c, tc.bucket, true, map[string]string{"two": tc.vids["two"]})
		allRefused(t, tc.who+" DeleteObjects with bypass under a Deny", deleted, refused, deniedByLock, "two")
		wantDenied(t, tc.who+" shortens with bypass under a Deny", setRetention(t, tc.c, tc.bucket, "three", tc.vids["three"], shorter, true), deniedByLock)
		for _, k := range []string{"one", "two", "three"} {
			stillThere(t, root, tc.bucket, k, tc.vids[k], k)
		}
		if got := retainedUntil(t, root, tc.bucket, "three", tc.vids["three"]); !got.Equal(until) {
			t.Fatalf("%s: retention changed to %v under a Deny", tc.who, got)
		}
	}
	// What is denied is the bypass, not the delete.
	mustOK(t, "readwrite owner deletes an unlocked version under the Deny", deleteVersion(ops, t, "ops-lock", "free", free, true))

	// A Deny on a prefix: the batch is judged key by key, as single
	// deletes are, not for the bucket as a whole.
	bucketPolicy(t, root, "root-lock", deny("root-lock", "keep/*"))
	wantDenied(t, "root deletes under the denied prefix", deleteVersion(root, t, "root-lock", "keep/x", rvids["keep/x"], true), deniedByLock)
	deleted, refused := deleteBatch(t, root, "root-lock", true, map[string]string{"keep/x": rvids["keep/x"], "tmp/x": rvids["tmp/x"]})
	if strings.Join(deleted, ",") != "tmp/x" || len(refused) != 1 || refused["keep/x"] != deniedByLock {
		t.Fatalf("DeleteObjects across a prefix Deny: deleted %q, refused %v; want tmp/x deleted, keep/x refused", deleted, refused)
	}
	stillThere(t, root, "root-lock", "keep/x", rvids["keep/x"], "keep/x")
}

// A browser form, signed as the page that hands out upload forms signs it.

func formHMAC(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// formCred is who signs a form: nobody when key is "".
type formCred struct{ key, secret string }

// postFormTo POSTs a multipart/form-data form to the bucket as a browser
// does: the fields in order, the file last. A signed form gets a policy
// that names every field with an exact condition (and the bucket), and
// the SigV4 fields; an unsigned one carries neither policy nor signature.
func postFormTo(t *testing.T, url, bucket string, cred formCred, fields [][2]string, content string) (int, string) {
	t.Helper()
	fields = slices.Clone(fields)
	if cred.key != "" {
		now := time.Now().UTC()
		date := now.Format("20060102")
		fields = append(fields,
			[2]string{"x-amz-algorithm", "AWS4-HMAC-SHA256"},
			[2]string{"x-amz-credential", cred.key + "/" + date + "/us-east-1/s3/aws4_request"},
			[2]string{"x-amz-date", now.Format("20060102T150405Z")})
		conds := []any{map[string]string{"bucket": bucket}}
		for _, f := range fields {
			conds = append(conds, map[string]string{f[0]: f[1]})
		}
		doc, err := json.Marshal(map[string]any{"expiration": now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
		mustOK(t, "form policy", err)
		policy := base64.StdEncoding.EncodeToString(doc)
		key := formHMAC([]byte("AWS4"+cred.secret), date)
		for _, s := range []string{"us-east-1", "s3", "aws4_request"} {
			key = formHMAC(key, s)
		}
		fields = append(fields, [2]string{"policy", policy}, [2]string{"x-amz-signature", hex.EncodeToString(formHMAC(key, policy))})
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mustOK(t, "form field", mw.WriteField(f[0], f[1]))
	}
	fw, err := mw.CreateFormFile("file", "upload.txt")
	mustOK(t, "form file", err)
	io.WriteString(fw, content)
	mustOK(t, "form", mw.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/"+bucket, &buf)
	mustOK(t, "request", err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	mustOK(t, "POST", err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantForm fails unless the form's answer has that status (and, for an
// error, that code).
func wantForm(t *testing.T, what string, status int, body string, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || (code != "" && !strings.Contains(body, "<Code>"+code+"</Code>")) {
		t.Fatalf("%s: %d %s, want %d %s", what, status, body, wantStatus, code)
	}
}

// absent fails unless root finds no object at bucket/key.
func absent(t *testing.T, root *s3.Client, bucket, key string) {
	t.Helper()
	_, err := root.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
		t.Fatalf("%s/%s: HEAD %v, want 404 (nothing stored)", bucket, key, err)
	}
}

func newUserKey(t *testing.T, g *Gateway, name, policy string) formCred {
	t.Helper()
	k, err := g.AddUser(t.Context(), name, policy)
	mustOK(t, "add user "+name, err)
	return formCred{k.AccessKey, k.SecretKey}
}

// TestWiringPostObjectUsers: a signed form is authorized as s3:PutObject
// for its signer. In root's bucket, whose policy grants s3:PutObject to
// three users, the readonly user's form is refused (its own policy has no
// s3:PutObject) and stores nothing; the writeonly and readwrite users'
// forms store their objects; the writeonly user's second form onto its key
// is refused (no overwrite holds for forms too); a user the bucket policy
// does not name is refused.
func TestWiringPostObjectUsers(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	ro := newUserKey(t, g, "viewer", "readonly")
	wo := newUserKey(t, g, "uploader", "writeonly")
	rw := newUserKey(t, g, "editor", "readwrite")
	other := newUserKey(t, g, "stranger", "readwrite")
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("forms")})
	mustOK(t, "create", err)
	bucketPolicy(t, root, "forms", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["viewer","uploader","editor"]},"Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::forms/*"}]}`)

	status, body := postFormTo(t, url, "forms", ro, [][2]string{{"key", "ro.txt"}}, "from the readonly user")
	wantForm(t, "readonly user's form", status, body, http.StatusForbidden, "AccessDenied")
	absent(t, root, "forms", "ro.txt")
	status, body = postFormTo(t, url, "forms", other, [][2]string{{"key", "other.txt"}}, "from a user the bucket policy does not name")
	wantForm(t, "unnamed user's form", status, body, http.StatusForbidden, "AccessDenied")
	absent(t, root, "forms", "other.txt")

	status, body = postFormTo(t, url, "forms", wo, [][2]string{{"key", "wo.txt"}}, "from the writeonly user")
	wantForm(t, "writeonly user's form", status, body, http.StatusNoContent, "")
	status, body = postFormTo(t, url, "forms", rw, [][2]string{{"key", "rw.txt"}, {"success_action_status", "201"}}, "from the readwrite user")
	wantForm(t, "readwrite user's form", status, body, http.StatusCreated, "")
	for key, want := range map[string]string{"wo.txt": "from the writeonly user", "rw.txt": "from the readwrite user"} {
		if got, err := getBody(ctx, root, "forms", key); err != nil || got != want {
			t.Fatalf("%s: %q %v", key, got, err)
		}
	}
	status, body = postFormTo(t, url, "forms", wo, [][2]string{{"key", "wo.txt"}}, "ransom")
	wantForm(t, "writeonly user's form over its object", status, body, http.StatusForbidden, "AccessDenied")
	status, body = postFormTo(t, url, "forms", rw, [][2]string{{"key", "wo.txt"}}, "replaced")
	wantForm(t, "readwrite user's form over an object", status, body, http.StatusNoContent, "")
	if got, err := getBody(ctx, root, "forms", "wo.txt"); err != nil || got != "replaced" {
		t.Fatalf("after the overwrites: %q %v", got, err)
	}
}

// TestWiringPostObjectAnonymous: an unsigned form (no policy, no
// signature) is the anonymous principal: refused without a bucket policy
// that grants it, stored once a policy grants s3:PutObject to "*" (on the
// granted prefix only).
func TestWiringPostObjectAnonymous(t *testing.T) {
	_, url, root := authzServer(t)
	ctx := t.Context()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dropbox")})
	mustOK(t, "create", err)
	anon := formCred{}

	status, body := postFormTo(t, url, "dropbox", anon, [][2]string{{"key", "in/a.txt"}}, "unsigned")
	wantForm(t, "unsigned form, no policy", status, body, http.StatusForbidden, "AccessDenied")
	absent(t, root, "dropbox", "in/a.txt")

	bucketPolicy(t, root, "dropbox", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::dropbox/in/*"}]}`)
	status, body = postFormTo(t, url, "dropbox", anon, [][2]string{{"key", "in/a.txt"}}, "unsigned")
	wantForm(t, "unsigned form, public PutObject", status, body, http.StatusNoContent, "")
	if got, err := getBody(ctx, root, "dropbox", "in/a.txt"); err != nil || got != "unsigned" {
		t.Fatalf("the unsigned upload: %q %v", got, err)
	}
	// An unsigned form may carry a policy: then it holds.
	expired, err := json.Marshal(map[string]any{"expiration": time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": []any{}})
	mustOK(t, "policy", err)
	status, body = postFormTo(t, url, "dropbox", anon, [][2]string{{"key", "in/b.txt"}, {"policy", base64.StdEncoding.EncodeToString(expired)}}, "unsigned")
	wantForm(t, "unsigned form with an expired policy", status, body, http.StatusForbidden, "AccessDenied")
	absent(t, root, "dropbox", "in/b.txt")
	status, body = postFormTo(t, url, "dropbox", anon, [][2]string{{"key", "out/a.txt"}}, "unsigned")
	wantForm(t, "unsigned form outside the granted prefix", status, body, http.StatusForbidden, "AccessDenied")
	absent(t, root, "dropbox", "out/a.txt")
	// Writing is all the policy grants: the anonymous cannot read back.
	if code, _ := anonymousGet(t, url+"/dropbox/in/a.txt"); code != http.StatusForbidden {
		t.Fatalf("anonymous GET of the upload: %d, want 403", code)
	}
}

// TestWiringPostObjectACLAndRefusedFields: a form's canned acl=public-read
// makes the object readable without a signature (ACLs on), one without
// stays private, and BucketOwnerEnforced refuses the public ACL; form
// fields for encryption, lock and grants are refused with 501 and store
// nothing.
func TestWiringPostObjectACLAndRefusedFields(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	ed := newUserKey(t, g, "editor", "readwrite")
	edc := clientAs(url, ed.key, ed.secret)
	lockBucket(t, edc, "pub")

	status, body := postFormTo(t, url, "pub", ed, [][2]string{{"key", "public.txt"}, {"acl", "public-read"}}, "for everyone")
	wantForm(t, "form with acl=public-read", status, body, http.StatusNoContent, "")
	if code, body := anonymousGet(t, url+"/pub/public.txt"); code != http.StatusOK || body != "for everyone" {
		t.Fatalf("anonymous GET of the public-read upload: %d %q", code, body)
	}
	acl, err := edc.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("public.txt")})
	mustOK(t, "GetObjectAcl", err)
	public := false
	for _, gr := range acl.Grants {
		if gr.Grantee != nil && aws.ToString(gr.Grantee.URI) == "http://acs.amazonaws.com/groups/global/AllUsers" && gr.Permission == types.PermissionRead {
			public = true
		}
	}
	if !public {
		t.Fatalf("the upload's ACL has no AllUsers READ: %+v", acl.Grants)
	}
	status, body = postFormTo(t, url, "pub", ed, [][2]string{{"key", "private.txt"}}, "mine")
	wantForm(t, "form without acl", status, body, http.StatusNoContent, "")
	if code, _ := anonymousGet(t, url+"/pub/private.txt"); code != http.StatusForbidden {
		t.Fatalf("anonymous GET of the private upload: %d, want 403", code)
	}

	for _, tc := range []struct {
		name   string
		fields [][2]string
	}{
		{"x-amz-server-side-encryption", [][2]string{{"x-amz-server-side-encryption", "AES256"}}},
		{"x-amz-server-side-encryption-customer-algorithm", [][2]string{{"x-amz-server-side-encryption-customer-algorithm", "AES256"}}},
		{"x-amz-object-lock-mode", [][2]string{{"x-amz-object-lock-mode", "GOVERNANCE"},
			{"x-amz-object-lock-retain-until-date", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}},
		{"x-amz-object-lock-legal-hold", [][2]string{{"x-amz-object-lock-legal-hold", "ON"}}},
		{"x-amz-grant-read", [][2]string{{"x-amz-grant-read", `uri="http://acs.amazonaws.com/groups/global/AllUsers"`}}},
	} {
		key := "refused/" + tc.name
		status, body := postFormTo(t, url, "pub", ed, append([][2]string{{"key", key}}, tc.fields...), "must not be stored")
		wantForm(t, "form field "+tc.name, status, body, http.StatusNotImplemented, "NotImplemented")
		if !slices.ContainsFunc(tc.fields, func(f [2]string) bool { return strings.Contains(body, "The form field "+f[0]+" is not supported") }) {
			t.Fatalf("form field %s: the refusal names none of the form's refused fields: %s", tc.name, body)
		}
		absent(t, root, "pub", key)
	}
	vs, err := root.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("pub"), Prefix: aws.String("refused/")})
	mustOK(t, "list versions", err)
	if len(vs.Versions) != 0 || len(vs.DeleteMarkers) != 0 {
		t.Fatalf("refused forms left %d versions", len(vs.Versions))
	}

	// ACLs off: the public form ACL is refused, as on PutObject.
	_, err = edc.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("pub"), OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	mustOK(t, "BucketOwnerEnforced", err)
	status, body = postFormTo(t, url, "pub", ed, [][2]string{{"key", "public2.txt"}, {"acl", "public-read"}}, "for everyone")
	wantForm(t, "form with acl=public-read, ACLs off", status, body, http.StatusBadRequest, "AccessControlListNotSupported")
	absent(t, root, "pub", "public2.txt")
}

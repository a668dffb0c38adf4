package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cairn-backup/cairn/s3api"
)

const (
	authzRootKey    = "CAROOTKEY"
	authzRootSecret = "rootsecret-rootsecret"
)

// authzServer serves a gateway whose keys are the root key and its users'
// (Secret), as cairn serve does, and answers the gateway, the server's URL
// and a root client.
func authzServer(t *testing.T) (*Gateway, string, *s3.Client) {
	t.Helper()
	g := open(t, testConfig(t))
	g.SetRoot(authzRootKey, authzRootSecret)
	h, err := s3api.NewHandler(s3api.Config{
		Region: "us-east-1",
		Secret: g.Secret,
		Admin:  g.AdminHandler(authzRootKey),
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	}, g)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return g, srv.URL, clientAs(srv.URL, authzRootKey, authzRootSecret)
}

func clientAs(url, key, secret string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		// Retries would hide which request failed how.
		RetryMaxAttempts: 1,
	})
}

func addUser(t *testing.T, g *Gateway, url, name, policy string) *s3.Client {
	t.Helper()
	k, err := g.AddUser(t.Context(), name, policy)
	if err != nil {
		t.Fatal(err)
	}
	return clientAs(url, k.AccessKey, k.SecretKey)
}

// wantCode fails unless err is an S3 error with that code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: err = %v, want %s", what, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("%s: code %s (%s), want %s", what, ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func putBody(ctx context.Context, c *s3.Client, bucket, key, body string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	return err
}

func getBody(ctx context.Context, c *s3.Client, bucket, key string) (string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

func TestUsersOwnTheirBuckets(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	alice := addUser(t, g, url, "alice", "readwrite")
	bob := addUser(t, g, url, "bob", "readwrite")

	_, err := alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-b")})
	mustOK(t, "alice creates", err)
	mustOK(t, "alice puts", putBody(ctx, alice, "alice-b", "k", "alice's"))
	got, err := getBody(ctx, alice, "alice-b", "k")
	if err != nil || got != "alice's" {
		t.Fatalf("alice gets %q, %v", got, err)
	}
	_, err = root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("root-b")})
	mustOK(t, "root creates", err)

	// Bob has readwrite, but on his own buckets only.
	_, err = getBody(ctx, bob, "alice-b", "k")
	wantCode(t, "bob gets alice's", err, "AccessDenied")
	wantCode(t, "bob puts into alice's", putBody(ctx, bob, "alice-b", "x", "bob's"), "AccessDenied")
	_, err = bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("alice-b")})
	wantCode(t, "bob lists alice's", err, "AccessDenied")
	_, err = bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alice-b"), Key: aws.String("k")})
	wantCode(t, "bob deletes alice's", err, "AccessDenied")
	_, err = bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alice-b")})
	wantCode(t, "bob deletes alice's bucket", err, "AccessDenied")
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("root-b"), Key: aws.String("nope")})
	wantCode(t, "bob reads root's", err, "AccessDenied")
	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-b")})
	wantCode(t, "bob creates alice's name", err, "BucketAlreadyExists")
	_, err = alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-b")})
	mustOK(t, "alice creates hers again (us-east-1 answers 200)", err)

	// Each sees its own buckets; root sees all, and may do all.
	names := func(c *s3.Client) string {
		out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		mustOK(t, "list buckets", err)
		var n []string
		for _, b := range out.Buckets {
			n = append(n, *b.Name)
		}
		return strings.Join(n, ",")
	}
	if a, b, r := names(alice), names(bob), names(root); a != "alice-b" || b != "" || r != "alice-b,root-b" {
		t.Fatalf("ListBuckets: alice %q bob %q root %q", a, b, r)
	}
	if got, err := getBody(ctx, root, "alice-b", "k"); err != nil || got != "alice's" {
		t.Fatalf("root reads alice's: %q %v", got, err)
	}
	// The owner listed is the user's canonical ID.
	lo, err := alice.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("alice-b")})
	mustOK(t, "alice lists", err)
	if id := g.userNamed("alice").canonicalID; len(lo.Contents) != 1 || lo.Contents[0].Owner == nil || *lo.Contents[0].Owner.ID != id || len(id) != 64 {
		t.Fatalf("owner %+v, want alice's canonical ID %s", lo.Contents[0].Owner, id)
	}
}

func TestReadOnlyUser(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	ro := addUser(t, g, url, "auditor", "readonly")
	_, err := ro.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ro-b")})
	wantCode(t, "readonly creates", err, "AccessDenied")
	// A bucket policy gives the auditor root's bucket; readonly still
	// forbids writes there.
	_, err = root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("audit")})
	mustOK(t, "root creates", err)
	mustOK(t, "root puts", putBody(ctx, root, "audit", "log", "entry"))
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("audit"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/auditor"},"Action":"s3:*","Resource":["arn:aws:s3:::audit","arn:aws:s3:::audit/*"]}]}`)})
	mustOK(t, "policy", err)
	if got, err := getBody(ctx, ro, "audit", "log"); err != nil || got != "entry" {
		t.Fatalf("auditor reads: %q %v", got, err)
	}
	_, err = ro.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("audit")})
	wantCode(t, "a bucket's policy is its owner's alone, s3:* granted or not", err, "AccessDenied")
	wantCode(t, "auditor writes", putBody(ctx, ro, "audit", "log", "forged"), "AccessDenied")
	_, err = ro.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: aws.String("log")})
	wantCode(t, "auditor deletes", err, "AccessDenied")
}

func TestWriteOnlyUser(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	w := addUser(t, g, url, "backup1", "writeonly")
	_, err := w.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("wob")})
	mustOK(t, "writeonly creates its bucket", err)
	mustOK(t, "first put", putBody(ctx, w, "wob", "full.vbk", "monday"))
	if got, err := getBody(ctx, w, "wob", "full.vbk"); err != nil || got != "monday" {
		t.Fatalf("read back: %q %v", got, err)
	}
	wantCode(t, "overwrite", putBody(ctx, w, "wob", "full.vbk", "ransom"), "AccessDenied")
	_, err = w.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk")})
	wantCode(t, "delete", err, "AccessDenied")
	del, err := w.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("wob"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("full.vbk")}}}})
	mustOK(t, "delete objects answers per key", err)
	if len(del.Errors) != 1 || *del.Errors[0].Code != "AccessDenied" || len(del.Deleted) != 0 {
		t.Fatalf("DeleteObjects: %+v", del)
	}
	_, err = w.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk"), CopySource: aws.String("wob/full.vbk"),
		MetadataDirective: types.MetadataDirectiveReplace})
	wantCode(t, "copy onto itself", err, "AccessDenied")
	mustOK(t, "second put", putBody(ctx, w, "wob", "other.vbk", "tuesday"))
	_, err = w.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk"), CopySource: aws.String("wob/other.vbk")})
	wantCode(t, "copy over", err, "AccessDenied")
	_, err = w.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("wob"), Key: aws.String("copy.vbk"), CopySource: aws.String("wob/other.vbk")})
	mustOK(t, "copy to a new key", err)
	// Multipart onto an existing key: refused at Complete.
	up, err := w.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk")})
	mustOK(t, "create upload", err)
	part, err := w.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("evil")})
	mustOK(t, "upload part", err)
	_, err = w.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	wantCode(t, "complete over", err, "AccessDenied")
	_, err = w.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk"), UploadId: up.UploadId})
	mustOK(t, "abort its own upload", err)
	for _, c := range []struct {
		what string
		err  error
	}{
		{"policy", func() error {
			_, err := w.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("wob"), Policy: aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::wo/*"}]}`)})
			return err
		}()},
		{"lifecycle", func() error {
			_, err := w.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String("wob")})
			return err
		}()},
		{"delete bucket", func() error {
			_, err := w.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("wob")})
			return err
		}()},
	} {
		wantCode(t, c.what, c.err, "AccessDenied")
	}
	if got, err := getBody(ctx, root, "wob", "full.vbk"); err != nil || got != "monday" {
		t.Fatalf("after every attempt: %q %v", got, err)
	}

	// In a bucket with versioning Enabled a new version replaces nothing:
	// the writeonly key writes it; deletes (markers or versions) it may not.
	_, err = root.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("wob"), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	mustOK(t, "root enables versioning", err)
	mustOK(t, "new version", putBody(ctx, w, "wob", "full.vbk", "wednesday"))
	vs, err := root.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("wob"), Prefix: aws.String("full.vbk")})
	mustOK(t, "versions", err)
	if len(vs.Versions) != 2 {
		t.Fatalf("%d versions, want 2", len(vs.Versions))
	}
	_, err = w.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk")})
	wantCode(t, "delete marker", err, "AccessDenied")
	_, err = w.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("wob"), Key: aws.String("full.vbk"), VersionId: vs.Versions[1].VersionId})
	wantCode(t, "delete version", err, "AccessDenied")
	// Suspended: the next write would replace the null version (monday's).
	_, err = root.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("wob"), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	mustOK(t, "root suspends versioning", err)
	wantCode(t, "overwrite of the null version", putBody(ctx, w, "wob", "full.vbk", "thursday"), "AccessDenied")
	// Root is not writeonly.
	mustOK(t, "root overwrites", putBody(ctx, root, "wob", "full.vbk", "root's"))
}

func TestMissingKeyHiddenWithoutListBucket(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	reader := addUser(t, g, url, "reader", "readwrite")
	lister := addUser(t, g, url, "lister", "readwrite")
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("docs")})
	mustOK(t, "create", err)
	mustOK(t, "put", putBody(ctx, root, "docs", "there", "x"))
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("docs"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["reader","lister"]},"Action":["s3:GetObject","s3:GetObjectTagging","s3:GetObjectAttributes"],"Resource":"arn:aws:s3:::docs/*"},
		{"Effect":"Allow","Principal":{"AWS":"lister"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::docs"}]}`)})
	mustOK(t, "policy", err)
	if got, err := getBody(ctx, reader, "docs", "there"); err != nil || got != "x" {
		t.Fatalf("reader gets: %q %v", got, err)
	}
	_, err = getBody(ctx, reader, "docs", "missing")
	wantCode(t, "reader, missing key", err, "AccessDenied")
	_, err = reader.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("docs"), Key: aws.String("missing")})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Fatalf("reader HEAD missing: %v, want 403", err)
	}
	_, err = getBody(ctx, lister, "docs", "missing")
	wantCode(t, "lister, missing key", err, "NoSuchKey")
	// What is kept about an object is hidden alike.
	_, err = reader.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("docs"), Key: aws.String("missing")})
	wantCode(t, "reader, tagging of a missing key", err, "AccessDenied")
	_, err = reader.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("docs"), Key: aws.String("missing"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
	wantCode(t, "reader, attributes of a missing key", err, "AccessDenied")
	_, err = lister.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("docs"), Key: aws.String("missing")})
	wantCode(t, "lister, tagging of a missing key", err, "NoSuchKey")
}

func TestBucketPolicyAPI(t *testing.T) {
	_, _, root := authzServer(t)
	ctx := t.Context()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pol")})
	mustOK(t, "create", err)
	_, err = root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	wantCode(t, "no policy yet", err, "NoSuchBucketPolicy")
	_, err = root.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pol")})
	wantCode(t, "no policy status yet", err, "NoSuchBucketPolicy")
	for _, tc := range []struct{ doc, msg string }{
		{`nope`, "Policies must be valid JSON and the first byte must be '{'"},
		{`{"Statement":[]}`, "Could not parse the policy: Statement is empty!"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`, "Policy has invalid resource"},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"ghost"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}]}`, "Invalid principal in policy"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Teleport","Resource":"arn:aws:s3:::pol/*"}]}`, "Policy has invalid action"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::pol"}]}`, "Action does not apply to any resource(s) in statement"},
	} {
		_, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pol"), Policy: aws.String(tc.doc)})
		wantCode(t, tc.doc, err, "MalformedPolicy")
		var ae smithy.APIError
		errors.As(err, &ae)
		if ae.ErrorMessage() != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.doc, ae.ErrorMessage(), tc.msg)
		}
	}
	_, err = root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	wantCode(t, "a malformed policy changes nothing", err, "NoSuchBucketPolicy")

	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"pub","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/pub/*"}]}`
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pol"), Policy: aws.String(doc)})
	mustOK(t, "put policy", err)
	got, err := root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	mustOK(t, "get policy", err)
	if *got.Policy != doc {
		t.Fatalf("policy %q, want %q", *got.Policy, doc)
	}
	st, err := root.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pol")})
	mustOK(t, "status", err)
	if !*st.PolicyStatus.IsPublic {
		t.Fatal("a Principal * policy is public")
	}
	_, err = root.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("pol")})
	mustOK(t, "delete policy", err)
	_, err = root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	wantCode(t, "deleted", err, "NoSuchBucketPolicy")
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("nosuch"), Policy: aws.String(doc)})
	wantCode(t, "no bucket", err, "NoSuchBucket")
}

// anonymousGet GETs a URL without signing.
func anonymousGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAnonymousAndPublicAccessBlock(t *testing.T) {
	_, url, root := authzServer(t)
	ctx := t.Context()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("site")})
	mustOK(t, "create", err)
	mustOK(t, "put pub", putBody(ctx, root, "site", "pub/index.html", "hello"))
	mustOK(t, "put private", putBody(ctx, root, "site", "private/key", "secret"))
	if code, _ := anonymousGet(t, url+"/site/pub/index.html"); code != http.StatusForbidden {
		t.Fatalf("anonymous before any policy: %d", code)
	}
	pub := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/pub/*"}]}`
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(pub)})
	mustOK(t, "public policy", err)
	if code, body := anonymousGet(t, url+"/site/pub/index.html"); code != http.StatusOK || body != "hello" {
		t.Fatalf("anonymous public read: %d %q", code, body)
	}
	if code, body := anonymousGet(t, url+"/site/private/key"); code != http.StatusForbidden || !strings.Contains(body, "AccessDenied") {
		t.Fatalf("anonymous private read: %d %q", code, body)
	}
	if code, _ := anonymousGet(t, url+"/site"); code != http.StatusForbidden {
		t.Fatalf("anonymous list: %d", code)
	}
	if code, _ := anonymousGet(t, url+"/_cairn/admin/stats"); code != http.StatusForbidden {
		t.Fatalf("anonymous admin: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPut, url+"/site/pub/evil", strings.NewReader("x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous put: %v %v", resp, err)
	}

	// RestrictPublicBuckets: the public policy grants nothing any more.
	_, err = root.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("site")})
	wantCode(t, "no block yet", err, "NoSuchPublicAccessBlockConfiguration")
	_, err = root.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("site"), PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		RestrictPublicBuckets: aws.Bool(true), BlockPublicPolicy: aws.Bool(true)}})
	mustOK(t, "put block", err)
	pab, err := root.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("site")})
	mustOK(t, "get block", err)
	if c := pab.PublicAccessBlockConfiguration; !*c.RestrictPublicBuckets || !*c.BlockPublicPolicy || *c.BlockPublicAcls || *c.IgnorePublicAcls {
		t.Fatalf("block %+v", c)
	}
	if code, _ := anonymousGet(t, url+"/site/pub/index.html"); code != http.StatusForbidden {
		t.Fatalf("anonymous read under RestrictPublicBuckets: %d", code)
	}
	// BlockPublicPolicy: a public policy cannot be set again.
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(pub)})
	wantCode(t, "public policy under BlockPublicPolicy", err, "AccessDenied")
	_, err = root.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String("site")})
	mustOK(t, "delete block", err)
	if code, _ := anonymousGet(t, url+"/site/pub/index.html"); code != http.StatusOK {
		t.Fatalf("anonymous read after the block went: %d", code)
	}
}

func TestOwnershipControls(t *testing.T) {
	_, _, root := authzServer(t)
	ctx := t.Context()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("own")})
	mustOK(t, "create", err)
	_, err = root.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	wantCode(t, "none yet", err, "OwnershipControlsNotFoundError")
	_, err = root.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("own"), OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	mustOK(t, "put", err)
	oc, err := root.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	mustOK(t, "get", err)
	if len(oc.OwnershipControls.Rules) != 1 || oc.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Fatalf("controls %+v", oc.OwnershipControls)
	}
	_, err = root.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("own"), OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: "Everyone"}}}})
	wantCode(t, "bad value", err, "MalformedXML")
	_, err = root.DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("own")})
	mustOK(t, "delete", err)
	_, err = root.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("own")})
	wantCode(t, "deleted", err, "OwnershipControlsNotFoundError")
}

func TestExplicitDenyStopsRoot(t *testing.T) {
	_, _, root := authzServer(t)
	ctx := t.Context()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vault")})
	mustOK(t, "create", err)
	mustOK(t, "put", putBody(ctx, root, "vault", "keep/a", "x"))
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("vault"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:DeleteObjectVersion"],"Resource":"arn:aws:s3:::vault/keep/*"}]}`)})
	mustOK(t, "policy", err)
	_, err = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vault"), Key: aws.String("keep/a")})
	wantCode(t, "root delete under an explicit deny", err, "AccessDenied")
	mustOK(t, "root puts elsewhere", putBody(ctx, root, "vault", "tmp/a", "x"))
	_, err = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vault"), Key: aws.String("tmp/a")})
	mustOK(t, "root deletes elsewhere", err)
}

func TestConditionKeysFromRequests(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	u := addUser(t, g, url, "carol", "readonly")
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cond")})
	mustOK(t, "create", err)
	mustOK(t, "put", putBody(ctx, root, "cond", "home/carol/a", "x"))
	mustOK(t, "put", putBody(ctx, root, "cond", "home/dave/a", "x"))
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("cond"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"carol"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::cond",
		 "Condition":{"StringLike":{"s3:prefix":"home/carol/*"},"NumericLessThanEquals":{"s3:max-keys":"100"}}},
		{"Effect":"Allow","Principal":{"AWS":"carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::cond/*",
		 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"Bool":{"aws:SecureTransport":"false"}}},
		{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cond/*",
		 "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2100-01-01T00:00:00Z"}}}]}`)})
	mustOK(t, "policy", err)
	_, err = u.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cond"), Prefix: aws.String("home/carol/"), MaxKeys: aws.Int32(50)})
	mustOK(t, "own prefix", err)
	_, err = u.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cond"), Prefix: aws.String("home/dave/"), MaxKeys: aws.Int32(50)})
	wantCode(t, "other prefix", err, "AccessDenied")
	_, err = u.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cond"), Prefix: aws.String("home/carol/"), MaxKeys: aws.Int32(500)})
	wantCode(t, "too many keys", err, "AccessDenied")
	if got, err := getBody(ctx, u, "cond", "home/dave/a"); err != nil || got != "x" {
		t.Fatalf("get from loopback: %q %v", got, err)
	}
	// Only from 10/8: the loopback client is refused.
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("cond"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::cond/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)})
	mustOK(t, "policy", err)
	_, err = getBody(ctx, u, "cond", "home/dave/a")
	wantCode(t, "get from outside the range", err, "AccessDenied")
}

func TestUserKeysLifecycle(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	k1, err := g.AddUser(ctx, "erin", "readwrite")
	mustOK(t, "add", err)
	c1 := clientAs(url, k1.AccessKey, k1.SecretKey)
	_, err = c1.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("erin-b")})
	mustOK(t, "create", err)
	k2, err := g.AddUserKey(ctx, "erin")
	mustOK(t, "second key", err)
	c2 := clientAs(url, k2.AccessKey, k2.SecretKey)
	mustOK(t, "second key writes to the same user's bucket", putBody(ctx, c2, "erin-b", "k", "v"))
	mustOK(t, "remove first key", g.RemoveUserKey(ctx, "erin", k1.AccessKey))
	wantCode(t, "removed key", putBody(ctx, c1, "erin-b", "k", "v"), "InvalidAccessKeyId")
	mustOK(t, "disable", g.SetUserDisabled(ctx, "erin", true))
	wantCode(t, "disabled user", putBody(ctx, c2, "erin-b", "k", "v"), "InvalidAccessKeyId")
	mustOK(t, "enable", g.SetUserDisabled(ctx, "erin", false))
	mustOK(t, "enabled again", putBody(ctx, c2, "erin-b", "k2", "v"))
	mustOK(t, "policy readonly", g.SetUserPolicy(ctx, "erin", "readonly"))
	wantCode(t, "readonly now", putBody(ctx, c2, "erin-b", "k3", "v"), "AccessDenied")
	if err := g.SetUserPolicy(ctx, "erin", "superuser"); err == nil {
		t.Fatal("an unknown built-in policy was accepted")
	}
	if _, err := g.AddUser(ctx, "erin", "readwrite"); err == nil {
		t.Fatal("a second erin was added")
	}
	if _, err := g.AddUser(ctx, "bad name", "readwrite"); err == nil {
		t.Fatal("a bad name was accepted")
	}
	// A user key cannot use the admin API.
	if code := signedAdminGet(t, url+AdminStatsPath, k2.AccessKey, k2.SecretKey); code != http.StatusForbidden {
		t.Fatalf("user key on the admin API: %d", code)
	}
	if code := signedAdminGet(t, url+AdminStatsPath, authzRootKey, authzRootSecret); code != http.StatusOK {
		t.Fatalf("root key on the admin API: %d", code)
	}
	mustOK(t, "remove user", g.RemoveUser(ctx, "erin"))
	wantCode(t, "removed user", putBody(ctx, c2, "erin-b", "k", "v"), "InvalidAccessKeyId")
	// Its bucket stays, root's to manage.
	if got, err := getBody(ctx, root, "erin-b", "k"); err != nil || got != "v" {
		t.Fatalf("root reads a removed user's bucket: %q %v", got, err)
	}
}

func TestUserSecretsSealedAndSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	g := open(t, cfg)
	k, err := g.AddUser(t.Context(), "frank", "writeonly")
	mustOK(t, "add", err)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join(cfg.DataDir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(meta, []byte(k.SecretKey)) {
		t.Fatal("meta.db holds a secret in the clear")
	}
	fi, err := os.Stat(filepath.Join(cfg.DataDir, usersKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s mode %v, want 0600", usersKeyFile, fi.Mode().Perm())
	}
	g2 := open(t, cfg)
	if s, ok := g2.Secret(k.AccessKey); !ok || s != k.SecretKey {
		t.Fatalf("after a restart: secret %v", ok)
	}
	if id := g2.userNamed("frank"); id == nil || !id.noOverwrite {
		t.Fatalf("frank after a restart: %+v", id)
	}
}

// signedAdminGet GETs an admin path signed with key and answers the status.
func signedAdminGet(t *testing.T, url, key, secret string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", empty)
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req, empty, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestExistingObjectTagCondition(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	bob := addUser(t, g, url, "bob", "readonly")
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tagged")})
	mustOK(t, "create", err)
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagged"), Key: aws.String("shared"), Body: strings.NewReader("s"), Tagging: aws.String("share=yes")})
	mustOK(t, "put shared", err)
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagged"), Key: aws.String("mine"), Body: strings.NewReader("m"), Tagging: aws.String("share=no")})
	mustOK(t, "put mine", err)
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("tagged"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::tagged/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/share":"yes"}}}]}`)})
	mustOK(t, "policy", err)
	if got, err := getBody(ctx, bob, "tagged", "shared"); err != nil || got != "s" {
		t.Fatalf("bob reads the shared object: %q %v", got, err)
	}
	_, err = getBody(ctx, bob, "tagged", "mine")
	wantCode(t, "bob reads an object tagged otherwise", err, "AccessDenied")
}

// BenchmarkAuthorize is the cost every request pays: a user's key, a
// bucket with a policy, one action.
func BenchmarkAuthorize(b *testing.B) {
	g := open(b, testConfig(b))
	g.SetRoot(authzRootKey, authzRootSecret)
	k, err := g.AddUser(b.Context(), "bench", "writeonly")
	if err != nil {
		b.Fatal(err)
	}
	newBucket(b, g, "bench-b", s3api.VersioningUnset)
	if err := g.PutBucketPolicy(b.Context(), "bench-b", []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"bench"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bench-b/locks/*"},
		{"Effect":"Allow","Principal":{"AWS":"bench"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::bench-b/*"},
		{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bench-b/*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`)); err != nil {
		b.Fatal(err)
	}
	req := s3api.AuthRequest{AccessKey: k.AccessKey, Action: "s3:PutObject", Bucket: "bench-b", Key: "data/0123456789abcdef",
		Conditions: []s3api.Condition{{Key: "aws:sourceip", Values: []string{"127.0.0.1"}}, {Key: "aws:securetransport", Values: []string{"false"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Authorize(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// The no-overwrite check is in the commit's transaction: of writeonly
// PUTs of one new key racing each other, exactly one wins; every other is
// refused, none replaces it.
func TestWriteOnlyRaceOneWins(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	w := addUser(t, g, url, "racer", "writeonly")
	_, err := w.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("race-b")})
	mustOK(t, "create", err)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- putBody(ctx, w, "race-b", "same-key", strings.Repeat(string(rune('a'+i)), 1000)) }()
	}
	ok, denied := 0, 0
	var winner string
	for range n {
		err := <-errs
		switch {
		case err == nil:
			ok++
		default:
			wantCode(t, "a losing racer", err, "AccessDenied")
			denied++
		}
	}
	if ok != 1 || denied != n-1 {
		t.Fatalf("%d won, %d refused; want 1 and %d", ok, denied, n-1)
	}
	winner, err = getBody(ctx, root, "race-b", "same-key")
	mustOK(t, "read the winner", err)
	vs, err := root.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("race-b")})
	mustOK(t, "versions", err)
	if len(vs.Versions) != 1 || len(winner) != 1000 {
		t.Fatalf("%d versions, winner %d bytes", len(vs.Versions), len(winner))
	}
}

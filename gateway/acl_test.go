package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCannedACLs(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	bob := addUser(t, g, url, "bob", "readwrite")

	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pub-b"), ACL: types.BucketCannedACLPublicRead})
	mustOK(t, "create public-read", err)
	if code, body := anonymousGet(t, url+"/pub-b"); code != http.StatusOK || !strings.Contains(body, "ListBucketResult") {
		t.Fatalf("anonymous list of a public-read bucket: %d %s", code, body)
	}
	acl, err := root.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("pub-b")})
	mustOK(t, "get bucket acl", err)
	if !hasGrant(acl.Grants, "", "http://acs.amazonaws.com/groups/global/AllUsers", "READ") || !hasGrant(acl.Grants, authzRootKey, "", "FULL_CONTROL") {
		t.Fatalf("bucket ACL %s", grantsString(acl.Grants))
	}

	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("open"), Body: strings.NewReader("o"), ACL: types.ObjectCannedACLPublicRead})
	mustOK(t, "put public-read", err)
	mustOK(t, "put private", putBody(ctx, root, "pub-b", "closed", "c"))
	if code, body := anonymousGet(t, url+"/pub-b/open"); code != http.StatusOK || body != "o" {
		t.Fatalf("anonymous read of a public-read object: %d %q", code, body)
	}
	if code, _ := anonymousGet(t, url+"/pub-b/closed"); code != http.StatusForbidden {
		t.Fatalf("anonymous read of a private object: %d", code)
	}
	// A missing key has no ACL to grant a read: 403, as on S3.
	if code, _ := anonymousGet(t, url+"/pub-b/missing"); code != http.StatusForbidden {
		t.Fatalf("anonymous read of a missing key: %d", code)
	}
	// authenticated-read: any user, not anonymous.
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("members"), Body: strings.NewReader("m"), ACL: types.ObjectCannedACLAuthenticatedRead})
	mustOK(t, "put authenticated-read", err)
	if got, err := getBody(ctx, bob, "pub-b", "members"); err != nil || got != "m" {
		t.Fatalf("bob reads authenticated-read: %q %v", got, err)
	}
	if code, _ := anonymousGet(t, url+"/pub-b/members"); code != http.StatusForbidden {
		t.Fatalf("anonymous read of authenticated-read: %d", code)
	}
	// A copy gets the request's ACL, not the source's.
	_, err = root.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("open-copy"), CopySource: aws.String("pub-b/open")})
	mustOK(t, "copy", err)
	if code, _ := anonymousGet(t, url+"/pub-b/open-copy"); code != http.StatusForbidden {
		t.Fatalf("a private copy of a public object is readable: %d", code)
	}
	_, err = root.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("closed-copy"), CopySource: aws.String("pub-b/closed"), ACL: types.ObjectCannedACLPublicRead})
	mustOK(t, "copy public-read", err)
	if code, _ := anonymousGet(t, url+"/pub-b/closed-copy"); code != http.StatusOK {
		t.Fatalf("a public-read copy is not readable: %d", code)
	}
	// A multipart upload's ACL is set at its creation, for the object its
	// completion makes.
	up, err := root.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("pub-b"), Key: aws.String("mp"), ACL: types.ObjectCannedACLPublicRead})
	mustOK(t, "multipart with a public ACL", err)
	part, err := root.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("pub-b"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("parts")})
	mustOK(t, "part", err)
	_, err = root.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("pub-b"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	mustOK(t, "complete", err)
	if code, body := anonymousGet(t, url+"/pub-b/mp"); code != http.StatusOK || body != "parts" {
		t.Fatalf("anonymous read of a public-read multipart object: %d %q", code, body)
	}

	// public-read-write: anyone may write, unsigned.
	_, err = root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("drop-box"), ACL: types.BucketCannedACLPublicReadWrite})
	mustOK(t, "create public-read-write", err)
	resp, err := http.DefaultClient.Do(func() *http.Request {
		req, _ := http.NewRequest(http.MethodPut, url+"/drop-box/anon", strings.NewReader("from anyone"))
		return req
	}())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("anonymous PUT into public-read-write: %v %v", resp, err)
	}
	resp.Body.Close()
	if got, err := getBody(ctx, root, "drop-box", "anon"); err != nil || got != "from anyone" {
		t.Fatalf("the anonymous upload: %q %v", got, err)
	}
	_, err = getBody(ctx, bob, "drop-box", "anon")
	wantCode(t, "bucket READ does not read objects", err, "AccessDenied")

	// Bad ACL requests change nothing.
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("bad"), Body: strings.NewReader("x"), ACL: "world-writable"})
	wantCode(t, "unknown canned ACL", err, "InvalidArgument")
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("bad"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPrivate, GrantRead: aws.String(`id="x"`)})
	wantCode(t, "canned and grants", err, "InvalidRequest")
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("bad"), Body: strings.NewReader("x"), GrantRead: aws.String(`id="0000nobody"`)})
	wantCode(t, "unknown canonical ID", err, "InvalidArgument")
	_, err = root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("pub-b"), Key: aws.String("bad")})
	wantCode(t, "bad ACL requests store nothing", err, "NotFound")
}

func TestACLGrants(t *testing.T) {
	g, url, root := authzServer(t)
	ctx := t.Context()
	bob := addUser(t, g, url, "bob", "readwrite")
	carol := addUser(t, g, url, "carol", "readonly")
	bobID := g.userNamed("bob").canonicalID
	carolID := g.userNamed("carol").canonicalID
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")})
	mustOK(t, "create", err)
	mustOK(t, "put", putBody(ctx, root, "shared", "doc", "d"))

	_, err = getBody(ctx, bob, "shared", "doc")
	wantCode(t, "bob before any grant", err, "AccessDenied")
	_, err = root.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("doc"), GrantRead: aws.String(`id="` + bobID + `"`)})
	mustOK(t, "grant bob READ by header", err)
	if got, err := getBody(ctx, bob, "shared", "doc"); err != nil || got != "d" {
		t.Fatalf("bob reads with a grant: %q %v", got, err)
	}
	oacl, err := root.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("doc")})
	mustOK(t, "get object acl", err)
	if !hasGrant(oacl.Grants, bobID, "", "READ") || *oacl.Owner.ID != authzRootKey {
		t.Fatalf("object ACL %s owner %v", grantsString(oacl.Grants), *oacl.Owner.ID)
	}
	_, err = bob.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("doc")})
	wantCode(t, "READ does not give READ_ACP", err, "AccessDenied")

	// A bucket grant by body: WRITE to bob, READ to carol.
	_, err = root.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("shared"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: &types.Owner{ID: aws.String(authzRootKey)},
		Grants: []types.Grant{
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(authzRootKey)}, Permission: types.PermissionFullControl},
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(bobID)}, Permission: types.PermissionWrite},
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(carolID)}, Permission: types.PermissionRead},
		}}})
	mustOK(t, "put bucket acl body", err)
	mustOK(t, "bob writes with WRITE", putBody(ctx, bob, "shared", "from-bob", "b"))
	lo, err := carol.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("shared")})
	mustOK(t, "carol lists with READ", err)
	if len(lo.Contents) == 0 || aws.ToString(lo.Contents[0].Owner.ID) != authzRootKey {
		t.Fatalf("objects in root's bucket listed with owner %v", lo.Contents[0].Owner)
	}
	wantCode(t, "carol's readonly policy still forbids writes", putBody(ctx, carol, "shared", "from-carol", "c"), "AccessDenied")
	_, err = bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")})
	wantCode(t, "bob cannot list with WRITE alone", err, "AccessDenied")
	_, err = root.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("shared"), ACL: types.BucketCannedACLPrivate})
	mustOK(t, "back to private", err)
	wantCode(t, "bob after the grant went", putBody(ctx, bob, "shared", "from-bob2", "b"), "AccessDenied")
	_, err = root.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("shared")})
	wantCode(t, "no ACL at all", err, "MissingRequestBodyError")
}

func TestACLsAndPublicAccessBlockAndOwnership(t *testing.T) {
	_, url, root := authzServer(t)
	ctx := t.Context()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("guarded")})
	mustOK(t, "create", err)
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("guarded"), Key: aws.String("p"), Body: strings.NewReader("p"), ACL: types.ObjectCannedACLPublicRead})
	mustOK(t, "public object", err)
	if code, _ := anonymousGet(t, url+"/guarded/p"); code != http.StatusOK {
		t.Fatalf("before the block: %d", code)
	}
	_, err = root.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("guarded"), PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true)}})
	mustOK(t, "block", err)
	if code, _ := anonymousGet(t, url+"/guarded/p"); code != http.StatusForbidden {
		t.Fatalf("IgnorePublicAcls: anonymous read %d", code)
	}
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("guarded"), Key: aws.String("q"), Body: strings.NewReader("q"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, "BlockPublicAcls: a public object", err, "AccessDenied")
	_, err = root.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("guarded"), ACL: types.BucketCannedACLPublicReadWrite})
	wantCode(t, "BlockPublicAcls: a public bucket", err, "AccessDenied")
	mustOK(t, "private objects still go in", putBody(ctx, root, "guarded", "r", "r"))
	_, err = root.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String("guarded")})
	mustOK(t, "unblock", err)

	_, err = root.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("guarded"), OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	mustOK(t, "enforce", err)
	if code, _ := anonymousGet(t, url+"/guarded/p"); code != http.StatusForbidden {
		t.Fatalf("BucketOwnerEnforced: the old public ACL still grants: %d", code)
	}
	_, err = root.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("guarded"), Key: aws.String("p"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, "BucketOwnerEnforced: set an ACL", err, "AccessControlListNotSupported")
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("guarded"), Key: aws.String("s"), Body: strings.NewReader("s"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
	mustOK(t, "BucketOwnerEnforced: bucket-owner-full-control is fine", err)
}

func hasGrant(gs []types.Grant, id, uri, perm string) bool {
	for _, g := range gs {
		if string(g.Permission) != perm || g.Grantee == nil {
			continue
		}
		if id != "" && g.Grantee.ID != nil && *g.Grantee.ID == id {
			return true
		}
		if uri != "" && g.Grantee.URI != nil && *g.Grantee.URI == uri {
			return true
		}
	}
	return false
}

func grantsString(gs []types.Grant) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(string(g.Permission) + ":" + aws.ToString(g.Grantee.ID) + aws.ToString(g.Grantee.URI) + " ")
	}
	return b.String()
}

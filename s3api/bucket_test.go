package s3api

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestValidBucketName(t *testing.T) {
	for name, want := range map[string]bool{
		"abc": true, "my-bucket.backup-01": true, "a1b": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "ABC": false, "a_b": false, "-ab": false,
		"ab-": false, ".ab": false, "ab.": false, "a..b": false, "192.168.5.4": false,
		"xn--abc": false, "abc-s3alias": false, "abc--ol-s3": false, "sthree-x": false,
		"amzn-s3-demo-x": false, "b.mrap": false, "b--x-s3": false, "b--table-s3": false,
		"1.2.3": true, "1.2.3.4.5": true, "_cairn": false, "a b": false, "abé": false,
	} {
		if got := validBucketName(name); got != want {
			t.Errorf("validBucketName(%q) = %v, want %v", name, got, want)
		}
	}
}

// apiCode returns the S3 error code the SDK parsed from a failed call.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestBuckets(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	ctx := t.Context()
	c := e.client

	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	if apiCode(err) != "InvalidBucketName" {
		t.Fatalf("invalid name: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("fast"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "ssd"},
	}); err != nil {
		t.Fatal(err)
	}
	if e.fake.lastLocation != "ssd" {
		t.Errorf("location %q reached the backend", e.fake.lastLocation)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("nowhere"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-9"},
	})
	if apiCode(err) != "InvalidLocationConstraint" {
		t.Fatalf("unknown location: %v", err)
	}
	e.mustBucket("plain")
	// As AWS: 200 again in us-east-1, 409 BucketAlreadyOwnedByYou with a
	// location (elsewhere).
	if _, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatalf("second create in us-east-1: %v", err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plain"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "ssd"}})
	if apiCode(err) != "BucketAlreadyOwnedByYou" {
		t.Fatalf("second create elsewhere: %v", err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("public"), ACL: types.BucketCannedACLPublicRead})
	if apiCode(err) != "NotImplemented" {
		t.Fatalf("public-read bucket: %v", err)
	}

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Buckets) != 2 || *lb.Buckets[0].Name != "fast" || *lb.Buckets[1].Name != "plain" || lb.Buckets[0].CreationDate == nil {
		t.Fatalf("ListBuckets: %+v", lb.Buckets)
	}
	if lb.Owner == nil || aws.ToString(lb.Owner.ID) != testAccessKey {
		t.Errorf("owner %+v", lb.Owner)
	}
	page, err := c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	if err != nil || len(page.Buckets) != 1 || page.ContinuationToken == nil {
		t.Fatalf("ListBuckets page 1: %v %+v", err, page)
	}
	page, err = c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1), ContinuationToken: page.ContinuationToken})
	if err != nil || len(page.Buckets) != 1 || *page.Buckets[0].Name != "plain" || page.ContinuationToken != nil {
		t.Fatalf("ListBuckets page 2: %v %+v", err, page)
	}

	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadBucket missing: %v", err)
	}

	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("fast")})
	if err != nil || loc.LocationConstraint != "ssd" {
		t.Fatalf("location fast: %v %q", err, loc.LocationConstraint)
	}
	loc, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("plain")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("location plain (us-east-1 is empty): %v %q", err, loc.LocationConstraint)
	}

	// Versioning.
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("plain")})
	if err != nil || v.Status != "" {
		t.Fatalf("versioning unset: %v %q", err, v.Status)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String("plain"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatal(err)
	}
	v, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("plain")})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning: %v %q", err, v.Status)
	}
	for body, code := range map[string]string{
		`<VersioningConfiguration><Status>On</Status></VersioningConfiguration>`: "IllegalVersioningConfigurationException",
		`<VersioningConfiguration></VersioningConfiguration>`:                    "IllegalVersioningConfigurationException",
		`<VersioningConfiguration><Status>Enabled</Status>`:                      "MalformedXML",
		``: "MalformedXML",
	} {
		resp, rb := e.do("PUT", "/plain?versioning", []byte(body), nil)
		wantStatus(t, resp, rb, 400, code)
	}

	// Tagging.
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("plain")})
	if apiCode(err) != "NoSuchTagSet" {
		t.Fatalf("no tags: %v", err)
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("plain"), Tagging: &types.Tagging{TagSet: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("backup")}, {Key: aws.String("env"), Value: aws.String("")},
	}}}); err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("plain")})
	if err != nil || len(tg.TagSet) != 2 || *tg.TagSet[0].Key != "env" || *tg.TagSet[1].Value != "backup" {
		t.Fatalf("tags: %v %+v", err, tg)
	}
	_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("plain"), Tagging: &types.Tagging{TagSet: []types.Tag{
		{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")},
	}}})
	if apiCode(err) != "InvalidTag" {
		t.Fatalf("duplicate tag: %v", err)
	}
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}

	// ACLs: private only.
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("plain")})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl ||
		acl.Grants[0].Grantee.Type != types.TypeCanonicalUser || aws.ToString(acl.Grants[0].Grantee.ID) != testAccessKey {
		t.Fatalf("GetBucketAcl: %v %+v", err, acl)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), ACL: types.BucketCannedACLPublicRead})
	if apiCode(err) != "NotImplemented" {
		t.Fatalf("public-read: %v", err)
	}
	// The policy GetBucketAcl returned can be put back as it is.
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), AccessControlPolicy: &types.AccessControlPolicy{Grants: acl.Grants, Owner: acl.Owner}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), AccessControlPolicy: &types.AccessControlPolicy{Owner: acl.Owner, Grants: []types.Grant{{
		Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead,
	}}}})
	if apiCode(err) != "NotImplemented" {
		t.Fatalf("grant to AllUsers: %v", err)
	}

	// Delete: not empty, then empty.
	e.mustPut("fast", "k", "v")
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("fast")})
	if apiCode(err) != "BucketNotEmpty" {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("fast"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("fast")}); err != nil {
		t.Fatal(err)
	}
}

func TestTagValidation(t *testing.T) {
	long := strings.Repeat("é", 129) // 129 characters, 258 bytes
	for _, tc := range []struct {
		name string
		doc  string
		max  int
		ok   bool
	}{
		{"empty set", `<Tagging><TagSet/></Tagging>`, 50, true},
		{"one", `<Tagging xmlns="` + s3NS + `"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`, 50, true},
		{"no TagSet", `<Tagging></Tagging>`, 50, false},
		{"wrong root", `<Tags><TagSet/></Tags>`, 50, false},
		{"empty key", `<Tagging><TagSet><Tag><Key></Key><Value>b</Value></Tag></TagSet></Tagging>`, 50, false},
		{"key 128 chars", `<Tagging><TagSet><Tag><Key>` + strings.Repeat("é", 128) + `</Key><Value/></Tag></TagSet></Tagging>`, 50, true},
		{"key 129 chars", `<Tagging><TagSet><Tag><Key>` + long + `</Key><Value/></Tag></TagSet></Tagging>`, 50, false},
		{"value 257", `<Tagging><TagSet><Tag><Key>k</Key><Value>` + strings.Repeat("v", 257) + `</Value></Tag></TagSet></Tagging>`, 50, false},
		{"aws prefix", `<Tagging><TagSet><Tag><Key>aws:x</Key><Value/></Tag></TagSet></Tagging>`, 50, false},
		{"too many for an object", tagDoc(11), maxObjectTags, false},
		{"50 for a bucket", tagDoc(50), maxBucketTags, true},
		{"51 for a bucket", tagDoc(51), maxBucketTags, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTagging([]byte(tc.doc), tc.max)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := parseTagHeader("a=1&a=2"); !errors.Is(err, ErrInvalidTag) {
		t.Errorf("duplicate header tag: %v", err)
	}
	if tags, err := parseTagHeader("a=1&b=x%20y&c="); err != nil || tags["b"] != "x y" || tags["c"] != "" {
		t.Errorf("header tags %v %v", tags, err)
	}
}

func tagDoc(n int) string {
	var b strings.Builder
	b.WriteString("<Tagging><TagSet>")
	for i := range n {
		b.WriteString("<Tag><Key>k")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("</Key><Value>v</Value></Tag>")
	}
	b.WriteString("</TagSet></Tagging>")
	return b.String()
}

func TestCreateBucketRegionIsDefaultGroup(t *testing.T) {
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.Region = "eu-central-1" })
	opts := e.client.Options()
	opts.Region = "eu-central-1"
	e.client = s3.New(opts)
	if _, err := e.client.CreateBucket(t.Context(), &s3.CreateBucketInput{
		Bucket:                    aws.String("eu-bucket"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-central-1"},
	}); err != nil {
		t.Fatal(err)
	}
	if e.fake.lastLocation != "" {
		t.Fatalf("the configured region reached the backend as location %q", e.fake.lastLocation)
	}
	loc, err := e.client.GetBucketLocation(t.Context(), &s3.GetBucketLocationInput{Bucket: aws.String("eu-bucket")})
	if err != nil || loc.LocationConstraint != "eu-central-1" {
		t.Fatalf("location: %v %q", err, loc.LocationConstraint)
	}
	resp, body := e.doRegion("HEAD", "/eu-bucket", "eu-central-1")
	if resp.StatusCode != 200 || resp.Header.Get("x-amz-bucket-region") != "eu-central-1" {
		t.Fatalf("HeadBucket: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// doRegion sends an empty signed request scoped to region.
func (e *testEnv) doRegion(method, path, region string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signRegion(e.t, req, region)
	return e.send(req)
}

// TestInvalidBucketNameSaysWhy: InvalidBucketName names the rule broken.
func TestInvalidBucketNameSaysWhy(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	for name, want := range map[string]string{
		"b":           "3 to 63",
		"Backups":     "lowercase letters, digits",
		"-backups":    "start and end",
		"a..b":        "two periods",
		"192.168.1.1": "IP address",
		"xn--abc":     "which S3 reserves",
	} {
		resp, body := e.do("PUT", "/"+name, nil, nil)
		wantStatus(t, resp, body, 400, "InvalidBucketName")
		if !strings.Contains(string(body), want) {
			t.Errorf("CreateBucket %q: %s; want it to say %q", name, body, want)
		}
	}
}

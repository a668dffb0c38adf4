package s3api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/gorilla/mux"
)

// recordingAuthorizer is the fake backend with an Authorizer that records
// what it is asked and refuses what deny names.
type recordingAuthorizer struct {
	*fakeBackend
	mu   sync.Mutex
	reqs []AuthRequest
	deny func(AuthRequest) bool
}

func (a *recordingAuthorizer) Authorize(_ context.Context, req AuthRequest) (AuthResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reqs = append(a.reqs, req)
	if a.deny != nil && a.deny(req) {
		return AuthResult{}, ErrAccessDenied
	}
	return AuthResult{}, nil
}

func (a *recordingAuthorizer) take() []AuthRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reqs
	a.reqs = nil
	return r
}

func actionsOf(reqs []AuthRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Action+" "+r.Bucket+"/"+r.Key)
	}
	return out
}

func condition(req AuthRequest, key string) ([]string, bool) {
	for _, c := range req.Conditions {
		if c.Key == key {
			return c.Values, true
		}
	}
	return nil, false
}

// Every route has its action(s): a route the table forgot would be
// refused to everyone but would pass unnoticed in the route tests.
func TestEveryRouteHasActions(t *testing.T) {
	h := &handler{}
	r := h.routes()
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		name := route.GetName()
		if name == "" {
			return nil
		}
		_, inTable := opActions[name]
		_, ver := versioned[name]
		if !inTable && !ver && name != "CopyObject" && name != "UploadPartCopy" {
			t.Errorf("route %s has no S3 action", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthorizationRequests(t *testing.T) {
	az := &recordingAuthorizer{fakeBackend: newFakeBackend()}
	e := newEnv(t, az)
	ctx := t.Context()
	e.mustBucket("bkt")
	e.mustPut("bkt", "src", "data")
	az.take()

	_, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), CopySource: aws.String("bkt/src?versionId=v1")})
	_ = err // the fake has no version v1; the authorization came first
	if got := actionsOf(az.take()); !slices.Equal(got, []string{"s3:PutObject bkt/dst", "s3:GetObjectVersion bkt/src"}) {
		t.Fatalf("CopyObject asked %v", got)
	}
	_, err = e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("a/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	reqs := az.take()
	if got := actionsOf(reqs); !slices.Equal(got, []string{"s3:ListBucket bkt/"}) {
		t.Fatalf("ListObjectsV2 asked %v", got)
	}
	for k, want := range map[string]string{"s3:prefix": "a/", "s3:delimiter": "/", "s3:max-keys": "7", "aws:securetransport": "false", "aws:sourceip": "127.0.0.1"} {
		if v, ok := condition(reqs[0], k); !ok || v[0] != want {
			t.Errorf("condition %s = %v, want %s", k, v, want)
		}
	}
	if reqs[0].AccessKey != testAccessKey {
		t.Errorf("access key %q", reqs[0].AccessKey)
	}
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPrivate})
	if err != nil {
		t.Fatal(err)
	}
	reqs = az.take()
	if v, ok := condition(reqs[0], "s3:x-amz-acl"); !ok || v[0] != "private" {
		t.Errorf("s3:x-amz-acl = %v", v)
	}

	// DeleteObjects asks for each key, and answers AccessDenied for the
	// refused ones alone.
	az.deny = func(r AuthRequest) bool { return r.Action == "s3:DeleteObject" && r.Key == "src" }
	out, err := e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("src")}, {Key: aws.String("k")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 1 || *out.Errors[0].Key != "src" || *out.Errors[0].Code != "AccessDenied" || len(out.Deleted) != 1 {
		t.Fatalf("DeleteObjects: %+v", out)
	}
	if got := actionsOf(az.take()); !slices.Equal(got, []string{"s3:DeleteObject bkt/src", "s3:DeleteObject bkt/k"}) {
		t.Fatalf("DeleteObjects asked %v", got)
	}

	// Without s3:ListBucket a missing key is AccessDenied, with it NoSuchKey.
	az.deny = func(r AuthRequest) bool { return r.Action == "s3:ListBucket" }
	resp, body := e.do(http.MethodGet, "/bkt/missing", nil, nil)
	wantStatus(t, resp, body, http.StatusForbidden, "AccessDenied")
	az.deny = nil
	resp, body = e.do(http.MethodGet, "/bkt/missing", nil, nil)
	wantStatus(t, resp, body, http.StatusNotFound, "NoSuchKey")

	// Anonymous requests reach the authorizer with no access key.
	az.take()
	resp, err = http.Get(e.srv.URL + "/bkt/src")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs = az.take()
	if len(reqs) == 0 || reqs[0].AccessKey != "" || reqs[0].Action != "s3:GetObject" {
		t.Fatalf("anonymous GET asked %+v", reqs)
	}
	az.deny = func(AuthRequest) bool { return true }
	resp, err = http.Get(e.srv.URL + "/bkt/src")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET refused: %d", resp.StatusCode)
	}
}

// Without an Authorizer an unsigned request is refused before routing, as
// it always was.
func TestAnonymousWithoutAuthorizer(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	resp, err := http.Get(e.srv.URL + "/bkt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous list: %d", resp.StatusCode)
	}
	resp, body := e.do(http.MethodGet, "/bkt?policy", nil, nil)
	wantStatus(t, resp, body, http.StatusNotImplemented, "NotImplemented")
	resp, body = e.do(http.MethodPost, "/bkt?policy", nil, nil)
	wantStatus(t, resp, body, http.StatusNotImplemented, "NotImplemented")
	resp, body = e.do(http.MethodGet, "/bkt/key?policy", nil, nil)
	wantStatus(t, resp, body, http.StatusNotImplemented, "NotImplemented")
}

func TestParseAccessDocuments(t *testing.T) {
	pab, err := parsePublicAccessBlock([]byte(`<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>`))
	if err != nil || pab != (PublicAccessBlock{BlockPublicAcls: true}) {
		t.Fatalf("pab %+v %v", pab, err)
	}
	if _, err := parsePublicAccessBlock([]byte(`<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>`)); err != ErrMalformedXML {
		t.Fatalf("a flag that is not a boolean: %v", err)
	}
	if o, err := parseOwnershipControls([]byte(`<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>`)); err != nil || o != "ObjectWriter" {
		t.Fatalf("ownership %q %v", o, err)
	}
	for _, bad := range []string{`<OwnershipControls></OwnershipControls>`, `<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>`, `junk`} {
		if _, err := parseOwnershipControls([]byte(bad)); err != ErrMalformedXML {
			t.Errorf("%s: %v", bad, err)
		}
	}
	acl, err := headerACL(http.Header{"X-Amz-Grant-Read": {`id="abc", uri="` + AllUsersGroup + `"`}, "X-Amz-Grant-Full-Control": {`id=def`}})
	if err != nil || len(acl.Grants) != 3 {
		t.Fatalf("grant headers %+v %v", acl, err)
	}
	for _, h := range []http.Header{
		{"X-Amz-Acl": {"public-read"}, "X-Amz-Grant-Read": {`id="a"`}},
		{"X-Amz-Acl": {"everyone"}},
		{"X-Amz-Grant-Read": {`uri="http://example.com/group"`}},
		{"X-Amz-Grant-Read": {`colour="red"`}},
		{"X-Amz-Grant-Read": {`emailAddress="a@b.c"`}},
	} {
		if _, err := headerACL(h); err == nil {
			t.Errorf("%v accepted", h)
		}
	}
}

// authorizeForm and authorizeExtra, the entry points for handlers that
// learn an action or a caller inside the operation.
func TestAuthorizeFromHandlers(t *testing.T) {
	az := &recordingAuthorizer{fakeBackend: newFakeBackend()}
	h := &handler{b: az, now: time.Now}
	st := &reqState{bucket: "bkt", key: "k", op: "PostObject", anonymous: true}
	r := httptest.NewRequest(http.MethodPost, "/bkt", nil)
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	// This backend keeps no ACLs: a public form ACL is refused as on PUT.
	if err := h.authorizeForm(r, "AKFORM", "bkt", "uploads/a.txt", "public-read"); err == nil || !strings.Contains(err.Error(), "NotImplemented") {
		t.Fatalf("a public form ACL without ACLs: %v", err)
	}
	st.conds = nil
	az.take()
	if err := h.authorizeForm(r, "AKFORM", "bkt", "uploads/a.txt", "private"); err != nil {
		t.Fatal(err)
	}
	reqs := az.take()
	if len(reqs) != 1 || reqs[0].AccessKey != "AKFORM" || reqs[0].Action != "s3:PutObject" || reqs[0].Key != "uploads/a.txt" {
		t.Fatalf("asked %+v", reqs)
	}
	if v, ok := condition(reqs[0], "s3:x-amz-acl"); !ok || v[0] != "private" {
		t.Fatalf("s3:x-amz-acl %v", v)
	}
	if st.anonymous {
		t.Fatal("a signed form left the request anonymous")
	}
	if k, ok := AccessKey(r.Context()); !ok || k != "AKFORM" {
		t.Fatalf("AccessKey %q %v", k, ok)
	}
	if err := h.authorizeForm(r, "AKFORM", "bkt", "k", "everyone"); err == nil {
		t.Fatal("an unknown canned ACL in a form was accepted")
	}
	az.take()
	az.deny = func(r AuthRequest) bool { return r.Action == "s3:BypassGovernanceRetention" }
	if err := h.authorizeExtra(r, "s3:BypassGovernanceRetention"); err != ErrAccessDenied {
		t.Fatalf("authorizeExtra: %v", err)
	}
	if reqs := az.take(); len(reqs) != 1 || reqs[0].Bucket != "bkt" || reqs[0].Key != "k" {
		t.Fatalf("authorizeExtra asked %+v", reqs)
	}
}

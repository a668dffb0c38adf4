package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func contentMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestRouting sends one raw, signed request per operation and checks that
// it reached the backend method S3 defines for it.
func TestRouting(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "obj", "hello")
	e.mustPut("bkt", "dir/a b", "x")
	upload := func() string {
		resp, body := e.do("POST", "/bkt/mp?uploads", nil, nil)
		wantStatus(t, resp, body, 200, "")
		var doc initiateMultipartUploadResult
		if err := decodeXML(body, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.UploadID
	}
	del := []byte(`<Delete><Object><Key>obj2</Key></Object></Delete>`)
	tagging := []byte(`<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`)
	versioning := []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)
	lifecycle := []byte(`<LifecycleConfiguration><Rule><ID>r</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`)

	for _, tc := range []struct {
		method, path string
		hdr          http.Header
		body         []byte
		wantOp       string
		wantStatus   int
	}{
		{method: "GET", path: "/", wantOp: "ListBuckets", wantStatus: 200},
		{method: "GET", path: "/bkt", wantOp: "ListObjects", wantStatus: 200},
		{method: "GET", path: "/bkt/", wantOp: "ListObjects", wantStatus: 200},
		{method: "GET", path: "/bkt?list-type=2", wantOp: "ListObjects", wantStatus: 200},
		{method: "GET", path: "/bkt?versions", wantOp: "ListObjectVersions", wantStatus: 200},
		{method: "GET", path: "/bkt?uploads", wantOp: "ListMultipartUploads", wantStatus: 200},
		{method: "GET", path: "/bkt?location", wantOp: "HeadBucket", wantStatus: 200},
		{method: "GET", path: "/bkt?versioning", wantOp: "GetBucketVersioning", wantStatus: 200},
		{method: "GET", path: "/bkt?acl", wantOp: "HeadBucket", wantStatus: 200},
		{method: "GET", path: "/bkt?tagging", wantOp: "GetBucketTagging", wantStatus: 404},
		{method: "PUT", path: "/bkt?tagging", body: tagging, wantOp: "PutBucketTagging", wantStatus: 204},
		{method: "DELETE", path: "/bkt?tagging", wantOp: "DeleteBucketTagging", wantStatus: 204},
		{method: "GET", path: "/bkt?lifecycle", wantOp: "GetBucketLifecycle", wantStatus: 404},
		{method: "PUT", path: "/bkt?lifecycle", body: lifecycle, hdr: http.Header{"Content-Md5": {contentMD5(lifecycle)}}, wantOp: "PutBucketLifecycle", wantStatus: 200},
		{method: "DELETE", path: "/bkt?lifecycle", wantOp: "DeleteBucketLifecycle", wantStatus: 204},
		{method: "PUT", path: "/bkt?versioning", body: versioning, wantOp: "PutBucketVersioning", wantStatus: 200},
		{method: "PUT", path: "/bkt?acl", hdr: http.Header{"X-Amz-Acl": {"private"}}, wantOp: "HeadBucket", wantStatus: 200},
		{method: "HEAD", path: "/bkt", wantOp: "HeadBucket", wantStatus: 200},
		{method: "PUT", path: "/bkt2", wantOp: "CreateBucket", wantStatus: 200},
		{method: "DELETE", path: "/bkt2", wantOp: "DeleteBucket", wantStatus: 204},
		{method: "POST", path: "/bkt?delete", body: del, hdr: http.Header{"Content-Md5": {contentMD5(del)}}, wantOp: "DeleteObject", wantStatus: 200},
		{method: "PUT", path: "/bkt/obj2", body: []byte("data"), wantOp: "PutObject", wantStatus: 200},
		{method: "GET", path: "/bkt/obj", wantOp: "GetObject", wantStatus: 200},
		{method: "HEAD", path: "/bkt/obj", wantOp: "HeadObject", wantStatus: 200},
		{method: "PUT", path: "/bkt/obj3", hdr: http.Header{"X-Amz-Copy-Source": {"/bkt/obj"}}, wantOp: "CopyObject", wantStatus: 200},
		{method: "GET", path: "/bkt/obj?tagging", wantOp: "GetObjectTagging", wantStatus: 200},
		{method: "PUT", path: "/bkt/obj?tagging", body: tagging, wantOp: "PutObjectTagging", wantStatus: 200},
		{method: "DELETE", path: "/bkt/obj?tagging", wantOp: "DeleteObjectTagging", wantStatus: 204},
		{method: "GET", path: "/bkt/obj?acl", wantOp: "HeadObject", wantStatus: 200},
		{method: "PUT", path: "/bkt/obj?acl", hdr: http.Header{"X-Amz-Acl": {"private"}}, wantOp: "HeadObject", wantStatus: 200},
		{method: "DELETE", path: "/bkt/obj3", wantOp: "DeleteObject", wantStatus: 204},
		{method: "POST", path: "/bkt/mp?uploads", wantOp: "CreateMultipartUpload", wantStatus: 200},
		{method: "PUT", path: "/bkt/mp?partNumber=1&uploadId=" + upload(), body: []byte("part"), wantOp: "UploadPart", wantStatus: 200},
		{method: "PUT", path: "/bkt/mp?partNumber=1&uploadId=" + upload(), hdr: http.Header{"X-Amz-Copy-Source": {"bkt/obj"}}, wantOp: "UploadPartCopy", wantStatus: 200},
		{method: "GET", path: "/bkt/mp?uploadId=" + upload(), wantOp: "ListParts", wantStatus: 200},
		{method: "DELETE", path: "/bkt/mp?uploadId=" + upload(), wantOp: "AbortMultipartUpload", wantStatus: 204},
		{method: "POST", path: "/bkt/mp?uploadId=nope", body: []byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`), wantOp: "CompleteMultipartUpload", wantStatus: 404},
		// Keys are the decoded path, uncleaned.
		{method: "GET", path: "/bkt/dir/a%20b", wantOp: "GetObject", wantStatus: 200},
		{method: "PUT", path: "/bkt/a//b/../c", body: []byte("x"), wantOp: "PutObject", wantStatus: 200},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := e.do(tc.method, tc.path, tc.body, tc.hdr)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if got := e.fake.lastOp(); got != tc.wantOp {
				t.Fatalf("backend op %q, want %q", got, tc.wantOp)
			}
		})
	}
	if e.fake.lastPut.Key != "a//b/../c" {
		t.Errorf("key %q reached the backend, want a//b/../c", e.fake.lastPut.Key)
	}
}

// TestUnsupported checks that subresources Cairn lacks are 501 (never a
// 200 from the operation they would otherwise fall through to), and that a
// method a resource lacks is 405.
func TestUnsupported(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "obj", "x")
	for _, sub := range []string{"policy", "website", "encryption",
		"object-lock", "notification", "logging", "accelerate", "requestPayment", "ownershipControls",
		"publicAccessBlock", "retention", "legal-hold", "torrent", "select", "restore"} {
		for _, path := range []string{"/bkt?" + sub, "/bkt/obj?" + sub} {
			for _, m := range []string{"GET", "PUT"} {
				resp, body := e.do(m, path, nil, nil)
				wantStatus(t, resp, body, 501, "NotImplemented")
			}
		}
	}
	resp, body := e.do("GET", "/bkt/obj?lifecycle", nil, nil)
	wantStatus(t, resp, body, 501, "NotImplemented")
	// attributes exists for GET of an object only (GetObjectAttributes);
	for _, tc := range []struct{ method, path string }{{"GET", "/bkt?attributes"}, {"PUT", "/bkt?attributes"}, {"PUT", "/bkt/obj?attributes"},
		// cors exists for GET, PUT and DELETE of a bucket only.
		{"GET", "/bkt/obj?cors"}, {"PUT", "/bkt/obj?cors"}, {"POST", "/bkt?cors"}} {
		resp, body := e.do(tc.method, tc.path, nil, nil)
		wantStatus(t, resp, body, 501, "NotImplemented")
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"PUT", "/", 405, "MethodNotAllowed"},
		{"POST", "/bkt/obj", 501, "NotImplemented"}, // a plain POST to an object
		{"PATCH", "/bkt/obj", 405, "MethodNotAllowed"},
		{"GET", "/bkt?list-type=3", 400, "InvalidArgument"},
	} {
		resp, body := e.do(tc.method, tc.path, nil, nil)
		wantStatus(t, resp, body, tc.status, tc.code)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	for _, tc := range []struct {
		name   string
		mod    func(*http.Request)
		status int
		code   string
	}{
		{"anonymous", func(r *http.Request) {}, 403, "AccessDenied"},
		// SigV2 is accepted (sigv2_test.go); these fail its checks.
		{"sigv2 header without a date", func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAccessKey+":c2lnbmF0dXJl") }, 403, "AccessDenied"},
		{"sigv2 header, wrong signature", func(r *http.Request) {
			r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			r.Header.Set("Authorization", "AWS "+testAccessKey+":c2lnbmF0dXJl")
		}, 403, "SignatureDoesNotMatch"},
		{"sigv2 query expired", func(r *http.Request) {
			r.URL.RawQuery = "AWSAccessKeyId=" + testAccessKey + "&Signature=x&Expires=1"
		}, 403, "AccessDenied"},
		{"sigv4a", func(r *http.Request) { r.Header.Set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x") }, 400, "InvalidRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/bkt", nil)
			tc.mod(req)
			resp, body := e.send(req)
			wantStatus(t, resp, body, tc.status, tc.code)
			if resp.Header.Get("x-amz-request-id") == "" || resp.Header.Get("x-amz-id-2") == "" {
				t.Error("error response without x-amz-request-id / x-amz-id-2")
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// A wrong secret: SignatureDoesNotMatch with S3's diagnostic elements.
	req, _ := http.NewRequest("GET", e.srv.URL+"/bkt", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signWith(t, req, testAccessKey, "wrong")
	resp, body := e.send(req)
	wantStatus(t, resp, body, 403, "SignatureDoesNotMatch")
	if !strings.Contains(string(body), "<StringToSign>") || !strings.Contains(string(body), "<CanonicalRequest>") {
		t.Errorf("SignatureDoesNotMatch without StringToSign/CanonicalRequest: %s", body)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/bkt", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signWith(t, req, "AKIAUNKNOWN", "x")
	resp, body = e.send(req)
	wantStatus(t, resp, body, 403, "InvalidAccessKeyId")
}

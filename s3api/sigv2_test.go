package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api/sigv2"
)

// signV2 signs req with SigV2 in its Authorization header.
func signV2(req *http.Request, ak, secret string) {
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	sts := sigv2.StringToSign(req.Method, req.Header, req.Header.Get("Date"), sigv2.CanonicalResource(req, ""))
	req.Header.Set("Authorization", "AWS "+ak+":"+sigv2.Sign(secret, sts))
}

func TestSigV2Requests(t *testing.T) {
	rec := &keyRecorder{fakeBackend: newFakeBackend()}
	e := newEnv(t, rec)
	e.mustBucket("bkt")
	send := func(method, path string, body []byte, hdr http.Header, secret string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		signV2(req, testAccessKey, secret)
		return e.send(req)
	}
	data := []byte("signed with v2")
	sum := md5.Sum(data)
	md5b64 := base64.StdEncoding.EncodeToString(sum[:])

	resp, body := send("PUT", "/bkt/v2", data, http.Header{"Content-Md5": {md5b64}, "Content-Type": {"text/plain"}, "X-Amz-Meta-Tool": {"s3cmd"}}, testSecret)
	wantStatus(t, resp, body, 200, "")
	if rec.keys[len(rec.keys)-1] != testAccessKey {
		t.Errorf("PutObject ran as %v", rec.keys)
	}
	resp, body = send("GET", "/bkt/v2", nil, nil, testSecret)
	wantStatus(t, resp, body, 200, "")
	if string(body) != string(data) || resp.Header.Get("X-Amz-Meta-Tool") != "s3cmd" {
		t.Errorf("GET: %q %v", body, resp.Header)
	}
	// The digest check is the same as SigV4's: a wrong Content-MD5 (signed,
	// so the client meant it) stores nothing.
	other := md5.Sum([]byte("other"))
	resp, body = send("PUT", "/bkt/bad", data, http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(other[:])}}, testSecret)
	wantStatus(t, resp, body, 400, "BadDigest")
	resp, body = send("PUT", "/bkt/bad", data, http.Header{"Content-Md5": {""}}, testSecret)
	wantStatus(t, resp, body, 400, "InvalidDigest")
	resp, body = send("GET", "/bkt/bad", nil, nil, testSecret)
	wantStatus(t, resp, body, 404, "NoSuchKey")
	// Subresources are signed: ?acl reaches GetObjectAcl.
	resp, body = send("GET", "/bkt/v2?acl", nil, nil, testSecret)
	wantStatus(t, resp, body, 200, "")
	// A wrong secret, and a skewed clock.
	resp, body = send("GET", "/bkt/v2", nil, nil, "wrong")
	wantStatus(t, resp, body, 403, "SignatureDoesNotMatch")
	if !contains(body, "<StringToSign>GET") {
		t.Errorf("SignatureDoesNotMatch without StringToSign: %s", body)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/bkt/v2", nil)
	req.Header.Set("Date", time.Now().Add(-20*time.Minute).UTC().Format(http.TimeFormat))
	req.Header.Set("Authorization", "AWS "+testAccessKey+":"+sigv2.Sign(testSecret, sigv2.StringToSign("GET", req.Header, req.Header.Get("Date"), "/bkt/v2")))
	resp, body = e.send(req)
	wantStatus(t, resp, body, 403, "RequestTimeTooSkewed")

	// Presigned GET.
	exp := strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)
	sig := sigv2.Sign(testSecret, "GET\n\n\n"+exp+"\n/bkt/v2")
	resp, body = e.send(mustRequest(t, "GET", e.srv.URL+"/bkt/v2?AWSAccessKeyId="+testAccessKey+"&Expires="+exp+"&Signature="+url.QueryEscape(sig)))
	wantStatus(t, resp, body, 200, "")
	if string(body) != string(data) {
		t.Errorf("presigned GET %q", body)
	}
	exp = strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	sig = sigv2.Sign(testSecret, "GET\n\n\n"+exp+"\n/bkt/v2")
	resp, body = e.send(mustRequest(t, "GET", e.srv.URL+"/bkt/v2?AWSAccessKeyId="+testAccessKey+"&Expires="+exp+"&Signature="+url.QueryEscape(sig)))
	wantStatus(t, resp, body, 403, "AccessDenied")
}

func mustRequest(t testing.TB, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

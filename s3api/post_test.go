package s3api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/s3api/sigv2"
)

// keyRecorder is the fake backend noting the identity each PutObject
// carried, so a test can see that a form's signer became the request's.
type keyRecorder struct {
	*fakeBackend
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) PutObject(ctx context.Context, in PutObjectInput) (ObjectInfo, error) {
	ak, _ := AccessKey(ctx)
	k.mu.Lock()
	k.keys = append(k.keys, ak)
	k.mu.Unlock()
	return k.fakeBackend.PutObject(ctx, in)
}

// postPolicyDoc is a policy document expiring at exp with conditions.
func postPolicyDoc(exp time.Time, conditions ...any) string {
	if conditions == nil {
		conditions = []any{}
	}
	doc, _ := json.Marshal(map[string]any{"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conditions})
	return base64.StdEncoding.EncodeToString(doc)
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signV4Form adds the SigV4 fields to a form whose policy is policy, as a
// page that hands out upload forms computes them.
func signV4Form(fields [][2]string, policy, ak, secret string, now time.Time) [][2]string {
	date := now.UTC().Format("20060102")
	cred := ak + "/" + date + "/" + testRegion + "/s3/aws4_request"
	key := hmacSHA256([]byte("AWS4"+secret), date)
	for _, s := range []string{testRegion, "s3", "aws4_request"} {
		key = hmacSHA256(key, s)
	}
	return append(fields,
		[2]string{"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		[2]string{"x-amz-credential", cred},
		[2]string{"x-amz-date", now.UTC().Format("20060102T150405Z")},
		[2]string{"policy", policy},
		[2]string{"x-amz-signature", hex.EncodeToString(hmacSHA256(key, policy))})
}

// v4Conditions are the conditions a SigV4 form's own fields need.
func v4Conditions(now time.Time) []any {
	return []any{
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": testAccessKey + "/" + now.UTC().Format("20060102") + "/" + testRegion + "/s3/aws4_request"},
		map[string]string{"x-amz-date": now.UTC().Format("20060102T150405Z")},
	}
}

// postFormRequest builds a browser's multipart/form-data POST: the fields
// in order, then the file.
func postFormRequest(t testing.TB, url string, fields [][2]string, filename string, content []byte) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, url, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func TestPostObject(t *testing.T) {
	rec := &keyRecorder{fakeBackend: newFakeBackend()}
	var opsMu sync.Mutex
	var ops []string
	e := newEnv(t, rec, func(c *Config) {
		c.Observe = func(s RequestStats) {
			opsMu.Lock()
			ops = append(ops, s.Operation)
			opsMu.Unlock()
		}
	})
	e.mustBucket("bkt")
	now := time.Now()
	exp := now.Add(time.Hour)
	post := func(fields [][2]string, filename string, content []byte) (*http.Response, []byte) {
		t.Helper()
		return e.send(postFormRequest(t, e.srv.URL+"/bkt", fields, filename, content))
	}
	get := func(key string) string {
		t.Helper()
		resp, body := e.do("GET", "/bkt/"+key, nil, nil)
		if resp.StatusCode != 200 {
			return ""
		}
		return string(body)
	}

	// A browser upload: key with ${filename}, metadata, the default 204.
	conds := append(v4Conditions(now),
		map[string]string{"bucket": "bkt"},
		[]any{"starts-with", "$key", "uploads/"},
		[]any{"starts-with", "$Content-Type", "text/"},
		map[string]string{"x-amz-meta-owner": "alice"},
		[]any{"content-length-range", 1, 100})
	policy := postPolicyDoc(exp, conds...)
	fields := signV4Form([][2]string{{"key", "uploads/${filename}"}, {"Content-Type", "text/plain"}, {"x-amz-meta-owner", "alice"}}, policy, testAccessKey, testSecret, now)
	resp, body := post(fields, `C:\Users\me\hello.txt`, []byte("hello form"))
	wantStatus(t, resp, body, 204, "")
	if resp.Header.Get("ETag") == "" || !strings.HasSuffix(resp.Header.Get("Location"), "/bkt/uploads/hello.txt") {
		t.Errorf("headers %v", resp.Header)
	}
	if got := get("uploads/hello.txt"); got != "hello form" {
		t.Fatalf("stored %q", got)
	}
	if rec.fakeBackend.lastPut.Meta.ContentType != "text/plain" || rec.fakeBackend.lastPut.Meta.User["owner"] != "alice" {
		t.Errorf("metadata %+v", rec.fakeBackend.lastPut.Meta)
	}
	if rec.keys[len(rec.keys)-1] != testAccessKey {
		t.Errorf("PutObject ran as %q, want the form's signer", rec.keys)
	}
	post([][2]string{{"key", "anon"}}, "f", []byte("x")) // refused: still a PostObject

	// 201 answers a PostResponse document; 200 an empty body.
	policy = postPolicyDoc(exp, append(v4Conditions(now), []any{"starts-with", "$key", ""}, []any{"starts-with", "$success_action_status", ""})...)
	resp, body = post(signV4Form([][2]string{{"key", "k201"}, {"success_action_status", "201"}}, policy, testAccessKey, testSecret, now), "f", []byte("x"))
	wantStatus(t, resp, body, 201, "")
	if !contains(body, "<PostResponse>") || !contains(body, "<Key>k201</Key>") || !contains(body, "<Bucket>bkt</Bucket>") || !contains(body, "<ETag>&#34;") {
		t.Errorf("201 body %s", body)
	}
	resp, body = post(signV4Form([][2]string{{"key", "k200"}, {"success_action_status", "200"}}, policy, testAccessKey, testSecret, now), "f", []byte("x"))
	wantStatus(t, resp, body, 200, "")
	if len(body) != 0 {
		t.Errorf("200 body %q", body)
	}

	// success_action_redirect: 303 to it, with bucket, key and etag.
	policy = postPolicyDoc(exp, append(v4Conditions(now), []any{"starts-with", "$key", ""}, map[string]string{"success_action_redirect": "https://app.example.com/done?x=1"})...)
	req := postFormRequest(t, e.srv.URL+"/bkt", signV4Form([][2]string{{"key", "redir"}, {"success_action_redirect", "https://app.example.com/done?x=1"}}, policy, testAccessKey, testSecret, now), "f", []byte("x"))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	loc, _ := url.Parse(r2.Header.Get("Location"))
	if r2.StatusCode != 303 || loc == nil || loc.Host != "app.example.com" || loc.Query().Get("key") != "redir" || loc.Query().Get("bucket") != "bkt" || loc.Query().Get("x") != "1" || !strings.HasPrefix(loc.Query().Get("etag"), `"`) {
		t.Errorf("redirect: %d %s", r2.StatusCode, r2.Header.Get("Location"))
	}

	// SigV2 form.
	policy = postPolicyDoc(exp, []any{"starts-with", "$key", "v2/"})
	resp, body = post([][2]string{{"key", "v2/obj"}, {"AWSAccessKeyId", testAccessKey}, {"policy", policy}, {"signature", sigv2.Sign(testSecret, policy)}}, "f", []byte("signed v2"))
	wantStatus(t, resp, body, 204, "")
	if got := get("v2/obj"); got != "signed v2" {
		t.Errorf("v2 form stored %q", got)
	}

	// Canned ACL private is accepted.
	policy = postPolicyDoc(exp, append(v4Conditions(now), []any{"starts-with", "$key", ""}, []any{"starts-with", "$acl", ""})...)
	resp, body = post(signV4Form([][2]string{{"key", "acl-private"}, {"acl", "private"}}, policy, testAccessKey, testSecret, now), "f", []byte("x"))
	wantStatus(t, resp, body, 204, "")

	// Every form, accepted or refused, is reported as PostObject. Close
	// waits for the requests in flight, so every Observe has run.
	e.srv.Close()
	opsMu.Lock()
	defer opsMu.Unlock()
	n := 0
	for _, op := range ops {
		switch op {
		case "PostObject":
			n++
		case OpUnknown:
			t.Errorf("a request was reported as %s: %v", op, ops)
		}
	}
	if n != 7 {
		t.Errorf("%d requests reported as PostObject, want the 7 forms sent: %v", n, ops)
	}
}

func TestPostObjectRefusals(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	now := time.Now()
	exp := now.Add(time.Hour)
	open := append(v4Conditions(now), []any{"starts-with", "$key", ""})
	signed := func(extra [][2]string, conds ...any) [][2]string {
		fields := append([][2]string{{"key", "k"}}, extra...)
		return signV4Form(fields, postPolicyDoc(exp, append(append([]any{}, open...), conds...)...), testAccessKey, testSecret, now)
	}
	for _, tc := range []struct {
		name    string
		fields  [][2]string
		content []byte
		status  int
		code    string
		msg     string
	}{
		{"anonymous", [][2]string{{"key", "k"}}, []byte("x"), 403, "AccessDenied", ""},
		{"wrong secret", signV4Form([][2]string{{"key", "k"}}, postPolicyDoc(exp, open...), testAccessKey, "wrong", now), []byte("x"), 403, "SignatureDoesNotMatch", ""},
		{"unknown key", signV4Form([][2]string{{"key", "k"}}, postPolicyDoc(exp, open...), "NOBODY", testSecret, now), []byte("x"), 403, "InvalidAccessKeyId", ""},
		{"v2 wrong secret", [][2]string{{"key", "k"}, {"AWSAccessKeyId", testAccessKey}, {"policy", postPolicyDoc(exp)}, {"signature", sigv2.Sign("wrong", postPolicyDoc(exp))}}, []byte("x"), 403, "SignatureDoesNotMatch", ""},
		{"expired", signV4Form([][2]string{{"key", "k"}}, postPolicyDoc(now.Add(-time.Minute), open...), testAccessKey, testSecret, now), []byte("x"), 403, "AccessDenied", "Invalid according to Policy: Policy expired."},
		{"condition fails", signed(nil, map[string]string{"bucket": "other"}), []byte("x"), 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: {"bucket":"other"}`},
		{"key prefix", signV4Form([][2]string{{"key", "k"}}, postPolicyDoc(exp, append(v4Conditions(now), []any{"starts-with", "$key", "user/"})...), testAccessKey, testSecret, now), []byte("x"), 403, "AccessDenied", ""},
		{"extra field", signed([][2]string{{"x-amz-meta-a", "1"}}), []byte("x"), 403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-a"},
		{"x-ignore- needs no condition", signed([][2]string{{"x-ignore-me", "1"}}), []byte("x"), 204, "", ""},
		{"too large", signed(nil, []any{"content-length-range", 0, 3}), []byte("four"), 400, "EntityTooLarge", ""},
		{"too small", signed(nil, []any{"content-length-range", 5, 10}), []byte("four"), 400, "EntityTooSmall", ""},
		{"public acl", signed([][2]string{{"acl", "public-read"}}, map[string]string{"acl": "public-read"}), []byte("x"), 501, "NotImplemented", `Canned ACL "public-read" is not supported; Cairn objects are private to their owner.`},
		{"sse", signed([][2]string{{"x-amz-server-side-encryption", "AES256"}}, map[string]string{"x-amz-server-side-encryption": "AES256"}), []byte("x"), 501, "NotImplemented", ""},
		{"wrong checksum", signed([][2]string{{"x-amz-checksum-crc32", crc32b64([]byte("other"))}}, map[string]string{"x-amz-checksum-crc32": crc32b64([]byte("other"))}), []byte("x"), 400, "BadDigest", ""},
		{"right checksum", signed([][2]string{{"x-amz-checksum-crc32", crc32b64([]byte("x"))}}, map[string]string{"x-amz-checksum-crc32": crc32b64([]byte("x"))}), []byte("x"), 204, "", ""},
		{"no key", signV4Form(nil, postPolicyDoc(exp, open...), testAccessKey, testSecret, now), []byte("x"), 400, "InvalidArgument", ""},
		{"policy not base64", [][2]string{{"key", "k"}, {"AWSAccessKeyId", testAccessKey}, {"policy", "%%%"}, {"signature", sigv2.Sign(testSecret, "%%%")}}, []byte("x"), 400, "InvalidPolicyDocument", ""},
		{"policy not JSON", [][2]string{{"key", "k"}, {"AWSAccessKeyId", testAccessKey}, {"policy", "bm90IGpzb24="}, {"signature", sigv2.Sign(testSecret, "bm90IGpzb24=")}}, []byte("x"), 400, "InvalidPolicyDocument", ""},
		{"bad algorithm", [][2]string{{"key", "k"}, {"x-amz-algorithm", "AWS4-HMAC-SHA1"}}, []byte("x"), 400, "InvalidArgument", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.send(postFormRequest(t, e.srv.URL+"/bkt", tc.fields, "f", tc.content))
			wantStatus(t, resp, body, tc.status, tc.code)
			if tc.msg != "" && !contains(body, "<Message>"+xmlEscape(tc.msg)+"</Message>") {
				t.Errorf("message: %s; want %s", body, tc.msg)
			}
			if tc.status >= 300 {
				if r, _ := e.do("GET", "/bkt/k", nil, nil); r.StatusCode != 404 {
					t.Errorf("a refused POST stored the object")
				}
			}
			e.do("DELETE", "/bkt/k", nil, nil)
		})
	}

	// No file part; a body that is not multipart; a missing bucket.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("key", "k")
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/bkt", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, body := e.send(req)
	wantStatus(t, resp, body, 400, "InvalidArgument")
	req, _ = http.NewRequest("POST", e.srv.URL+"/bkt", strings.NewReader("--nope\r\ngarbage"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
	resp, body = e.send(req)
	wantStatus(t, resp, body, 400, "MalformedPOSTRequest")
	resp, body = e.send(postFormRequest(t, e.srv.URL+"/nobkt", signV4Form([][2]string{{"key", "k"}}, postPolicyDoc(exp, open...), testAccessKey, testSecret, now), "f", []byte("x")))
	wantStatus(t, resp, body, 404, "NoSuchBucket")
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func TestParsePostPolicy(t *testing.T) {
	exp := "2030-01-01T00:00:00.000Z"
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"expiration":"` + exp + `","conditions":[{"bucket":"b"},["starts-with","$key",""],["eq","$Content-Type","text/plain"],["content-length-range",0,10]]}`, true},
		{`{"expiration":"` + exp + `","conditions":[["content-length-range","1","10"]]}`, true},
		{`{"expiration":"` + exp + `","conditions":[]}`, true},
		{`{"conditions":[]}`, false},
		{`{"expiration":"tomorrow","conditions":[]}`, false},
		{`{"expiration":"` + exp + `"}`, false},
		{`{"expiration":"` + exp + `","conditions":[["starts-with","key",""]]}`, false},
		{`{"expiration":"` + exp + `","conditions":[["between","$key","a"]]}`, false},
		{`{"expiration":"` + exp + `","conditions":[["content-length-range",10,1]]}`, false},
		{`{"expiration":"` + exp + `","conditions":[{"a":"1","b":"2"}]}`, false},
		{`{"expiration":"` + exp + `","conditions":[{"a":1}]}`, false},
		{`{"expiration":"` + exp + `","conditions":[]} trailing`, false},
		{`[]`, false},
	} {
		_, err := parsePostPolicy([]byte(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.doc, err)
		}
		if err != nil && apiCodeOf(err) != "InvalidPolicyDocument" {
			t.Errorf("%s: %v is not InvalidPolicyDocument", tc.doc, err)
		}
	}
}

func apiCodeOf(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return ""
}

func FuzzPostPolicy(f *testing.F) {
	f.Add([]byte(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","u/"],["eq","$x-amz-meta-a","1"],["content-length-range",0,10]]}`), "u/k", "1")
	f.Add([]byte(`{"expiration":"2000-01-01T00:00:00Z","conditions":[]}`), "", "")
	f.Fuzz(func(t *testing.T, doc []byte, key, meta string) {
		p, err := parsePostPolicy(doc)
		if err != nil {
			if apiCodeOf(err) != "InvalidPolicyDocument" {
				t.Fatalf("parse error %v", err)
			}
			return
		}
		if p.hasRange && (p.minSize < 0 || p.maxSize < p.minSize) {
			t.Fatalf("range %d-%d", p.minSize, p.maxSize)
		}
		err = p.check(map[string]string{"key": key, "x-amz-meta-a": meta}, "b", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil && apiCodeOf(err) != "AccessDenied" {
			t.Fatalf("check error %v", err)
		}
	})
}

// TestPostObjectFormBounds checks that what precedes the file is bounded:
// a part header or a field too long is refused without being held.
func TestPostObjectFormBounds(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	for _, tc := range []struct {
		name string
		body string
	}{
		{"huge part header", "--b\r\nContent-Disposition: form-data; name=\"key\"\r\nX-Filler: " + strings.Repeat("x", 2<<20) + "\r\n\r\nk\r\n--b--\r\n"},
		{"huge field", "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n" + strings.Repeat("x", 100<<10) + "\r\n--b--\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+"/bkt", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			resp, body := e.send(req)
			wantStatus(t, resp, body, 400, "MaxMessageLengthExceeded")
		})
	}
}

// FuzzPostForm feeds arbitrary form bodies to POST Object: it must never
// panic, and every refusal is a 4xx S3 error.
func FuzzPostForm(f *testing.F) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary("fuzzboundary")
	mw.WriteField("key", "k")
	mw.WriteField("AWSAccessKeyId", testAccessKey)
	mw.WriteField("policy", "e30=")
	mw.WriteField("signature", "x")
	fw, _ := mw.CreateFormFile("file", "f")
	fw.Write([]byte("data"))
	mw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("--fuzzboundary\r\n\r\n--fuzzboundary--"))
	h, err := NewHandler(Config{Secret: testSecrets, Region: testRegion}, newFakeBackend())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/bkt", bytes.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=fuzzboundary")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

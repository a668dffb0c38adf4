package s3api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// fakeLockBackend is the fake backend with an ObjectLockBackend that
// records what reached it, for protocol tests: parsing, digests, routing,
// bypass. The rules that depend on state are gateway's, tested there.
type fakeLockBackend struct {
	*fakeBackend
	mu        sync.Mutex
	cfg       ObjectLockConfig
	ret       ObjectLock
	hold      bool
	calls     []string
	bypass    bool // BypassGovernance of the last delete or retention call
	versioned bool
	lockErr   error // what PutObjectLockConfiguration fails with
}

var _ ObjectLockBackend = (*fakeLockBackend)(nil)

func (f *fakeLockBackend) note(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeLockBackend) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeLockBackend) PutBucketVersioning(ctx context.Context, name string, v Versioning) error {
	f.note("PutBucketVersioning " + string(v))
	return f.fakeBackend.PutBucketVersioning(ctx, name, v)
}

func (f *fakeLockBackend) GetObjectLockConfiguration(ctx context.Context, bucket string) (ObjectLockConfig, error) {
	f.note("GetObjectLockConfiguration")
	if !f.cfg.Enabled {
		return ObjectLockConfig{}, ErrObjectLockConfigurationNotFound
	}
	return f.cfg, nil
}

func (f *fakeLockBackend) PutObjectLockConfiguration(ctx context.Context, bucket string, cfg ObjectLockConfig) error {
	f.note("PutObjectLockConfiguration")
	if f.lockErr != nil {
		return f.lockErr
	}
	f.cfg = cfg
	return nil
}

func (f *fakeLockBackend) GetObjectRetention(ctx context.Context, bucket, key, versionID string) (ObjectLock, error) {
	f.note("GetObjectRetention " + key + " " + versionID)
	if !f.ret.Retained() {
		return ObjectLock{}, ErrNoSuchObjectLockConfiguration
	}
	return f.ret, nil
}

func (f *fakeLockBackend) PutObjectRetention(ctx context.Context, bucket, key, versionID string, ret ObjectLock) (string, error) {
	f.note("PutObjectRetention " + key + " " + versionID)
	f.ret, f.bypass = ret, BypassGovernance(ctx)
	return "v1", nil
}

func (f *fakeLockBackend) GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error) {
	f.note("GetObjectLegalHold " + key + " " + versionID)
	return f.hold, nil
}

func (f *fakeLockBackend) PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) (string, error) {
	f.note("PutObjectLegalHold " + key + " " + versionID)
	f.hold = on
	return "v1", nil
}

func (f *fakeLockBackend) DeleteObject(ctx context.Context, bucket, key, versionID string) (DeleteResult, error) {
	f.note("DeleteObject " + key)
	f.mu.Lock()
	f.bypass = BypassGovernance(ctx)
	f.mu.Unlock()
	return f.fakeBackend.DeleteObject(ctx, bucket, key, versionID)
}

func newLockEnv(t *testing.T) (*testEnv, *fakeLockBackend) {
	f := &fakeLockBackend{fakeBackend: newFakeBackend()}
	e := newEnv(t, f)
	e.mustBucket("bkt")
	return e, f
}

// doUnsigned sends a request whose payload is UNSIGNED-PAYLOAD, so that
// only Content-MD5 or a checksum header can vouch for it.
func (e *testEnv) doUnsigned(method, path string, body []byte, hdr http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signWith(e.t, req, testAccessKey, testSecret)
	return e.send(req)
}

func md5Of(b []byte) http.Header { return http.Header{"Content-Md5": {contentMD5(b)}} }

// TestObjectLockCreateBucket: x-amz-bucket-object-lock-enabled turns
// versioning on and then lock, in that order; without an
// ObjectLockBackend it is refused and no bucket is made.
func TestObjectLockCreateBucket(t *testing.T) {
	e, f := newLockEnv(t)
	resp, body := e.do("PUT", "/locked", nil, http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}})
	wantStatus(t, resp, body, 200, "")
	if got := f.calls; len(got) < 2 || got[len(got)-2] != "PutBucketVersioning Enabled" || got[len(got)-1] != "PutObjectLockConfiguration" || !f.cfg.Enabled {
		t.Fatalf("calls %q, cfg %+v", got, f.cfg)
	}
	// Again, existing: not the us-east-1 owner's 200, since the bucket
	// need not have lock.
	resp, body = e.do("PUT", "/locked", nil, http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}})
	wantStatus(t, resp, body, 409, "BucketAlreadyOwnedByYou")
	// Lock that cannot be turned on leaves no bucket behind: the retry
	// makes it afresh rather than find one without lock.
	f.lockErr = errors.New("disk gone")
	resp, body = e.do("PUT", "/half", nil, http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}})
	wantStatus(t, resp, body, 500, "InternalError")
	resp, body = e.do("HEAD", "/half", nil, nil)
	wantStatus(t, resp, body, 404, "")
	f.lockErr = nil
	resp, body = e.do("PUT", "/half", nil, http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}})
	wantStatus(t, resp, body, 200, "")

	plain := newEnv(t, newFakeBackend())
	resp, body = plain.do("PUT", "/locked", nil, http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}})
	wantStatus(t, resp, body, 501, "NotImplemented")
	resp, body = plain.do("HEAD", "/locked", nil, nil)
	wantStatus(t, resp, body, 404, "")
}

// TestObjectLockConfigurationProtocol: the document is parsed and answered
// in S3's shape; the PUT needs Content-MD5 or a checksum.
func TestObjectLockConfigurationProtocol(t *testing.T) {
	e, f := newLockEnv(t)
	resp, body := e.do("GET", "/bkt?object-lock", nil, nil)
	wantStatus(t, resp, body, 404, "ObjectLockConfigurationNotFoundError")
	doc := []byte(`<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>7</Years></DefaultRetention></Rule></ObjectLockConfiguration>`)
	resp, body = e.doUnsigned("PUT", "/bkt?object-lock", doc, nil)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	if f.cfg.Enabled {
		t.Fatal("a configuration without a digest reached the backend")
	}
	resp, body = e.doUnsigned("PUT", "/bkt?object-lock", doc, http.Header{"Content-Md5": {contentMD5(doc)}})
	wantStatus(t, resp, body, 200, "")
	if f.cfg != (ObjectLockConfig{Enabled: true, DefaultMode: LockCompliance, DefaultYears: 7}) {
		t.Fatalf("backend got %+v", f.cfg)
	}
	resp, body = e.do("GET", "/bkt?object-lock", nil, nil)
	wantStatus(t, resp, body, 200, "")
	want := `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>7</Years></DefaultRetention></Rule></ObjectLockConfiguration>`
	if !contains(body, want) {
		t.Fatalf("GET ?object-lock = %s", body)
	}
}

func TestParseLockConfig(t *testing.T) {
	wrap := func(s string) []byte { return []byte("<ObjectLockConfiguration>" + s + "</ObjectLockConfiguration>") }
	for _, tc := range []struct {
		doc  []byte
		want ObjectLockConfig
		code string
	}{
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled>`), ObjectLockConfig{Enabled: true}, ""},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>30</Days></DefaultRetention></Rule>`), ObjectLockConfig{Enabled: true, DefaultMode: LockGovernance, DefaultDays: 30}, ""},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>36500</Days></DefaultRetention></Rule>`), ObjectLockConfig{Enabled: true, DefaultMode: LockGovernance, DefaultDays: 36500}, ""},
		{wrap(``), ObjectLockConfig{}, "MalformedXML"},
		{wrap(`<ObjectLockEnabled>Disabled</ObjectLockEnabled>`), ObjectLockConfig{}, "MalformedXML"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule></Rule>`), ObjectLockConfig{}, "MalformedXML"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>governance</Mode><Days>1</Days></DefaultRetention></Rule>`), ObjectLockConfig{}, "MalformedXML"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule>`), ObjectLockConfig{}, "MalformedXML"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>x</Days></DefaultRetention></Rule>`), ObjectLockConfig{}, "MalformedXML"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule>`), ObjectLockConfig{}, "InvalidArgument"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>-3</Days></DefaultRetention></Rule>`), ObjectLockConfig{}, "InvalidArgument"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>36501</Days></DefaultRetention></Rule>`), ObjectLockConfig{}, "InvalidArgument"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>101</Years></DefaultRetention></Rule>`), ObjectLockConfig{}, "InvalidArgument"},
		{wrap(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>99999999999999999999</Years></DefaultRetention></Rule>`), ObjectLockConfig{}, "InvalidArgument"},
		{[]byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>`), ObjectLockConfig{}, "MalformedXML"},
	} {
		got, err := parseLockConfig(tc.doc)
		if code := errCode(err); code != tc.code || (err == nil && got != tc.want) {
			t.Errorf("parseLockConfig(%s) = %+v, %v; want %+v, %q", tc.doc, got, err, tc.want, tc.code)
		}
	}
}

// errCode is the S3 code of err, "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "?"
}

// TestObjectLockHeadersProtocol: the lock headers of PutObject reach the
// backend parsed; PutObject with them needs a digest; bad ones are the
// exact S3 errors; GET and HEAD show a version's lock.
func TestObjectLockHeadersProtocol(t *testing.T) {
	e, f := newLockEnv(t)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	lockHdr := http.Header{"X-Amz-Object-Lock-Mode": {"COMPLIANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {until.Format(time.RFC3339Nano)},
		"X-Amz-Object-Lock-Legal-Hold": {"ON"}}
	data := []byte("locked")
	resp, body := e.doUnsigned("PUT", "/bkt/k", data, lockHdr)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	if !contains(body, "Content-MD5 OR x-amz-checksum- HTTP header is required") {
		t.Fatalf("message: %s", body)
	}
	// A signed payload's SHA-256 is not enough, as on S3.
	resp, body = e.do("PUT", "/bkt/k", data, lockHdr)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	for name, hdr := range map[string]http.Header{
		"Content-MD5": {"Content-Md5": {contentMD5(data)}},
		"checksum":    {"X-Amz-Checksum-Crc32": {crc32b64(data)}},
	} {
		h := http.Header{}
		for k, v := range lockHdr {
			h[k] = v
		}
		for k, v := range hdr {
			h[k] = v
		}
		resp, body := e.doUnsigned("PUT", "/bkt/k", data, h)
		wantStatus(t, resp, body, 200, "")
		if got := f.fakeBackend.lastPut.Lock; got.Mode != LockCompliance || !got.RetainUntil.Equal(until) || !got.LegalHold {
			t.Fatalf("%s: backend got lock %+v", name, got)
		}
	}
	for _, tc := range []struct {
		name string
		hdr  http.Header
		msg  string
	}{
		{"mode alone", http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}}, "must both be supplied"},
		{"date alone", http.Header{"X-Amz-Object-Lock-Retain-Until-Date": {until.Format(time.RFC3339)}}, "must both be supplied"},
		{"bad mode", http.Header{"X-Amz-Object-Lock-Mode": {"WORM"}, "X-Amz-Object-Lock-Retain-Until-Date": {until.Format(time.RFC3339)}}, "wormMode"},
		{"bad date", http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"tomorrow"}}, "ISO 8601"},
		{"past date", http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {"2001-01-01T00:00:00Z"}}, "in the future"},
		{"bad hold", http.Header{"X-Amz-Object-Lock-Legal-Hold": {"on please"}}, "Legal Hold"},
		{"unknown lock header", http.Header{"X-Amz-Object-Lock-Token": {"x"}}, "not an Object Lock header"},
	} {
		resp, body := e.do("PUT", "/bkt/bad", data, tc.hdr)
		wantStatus(t, resp, body, 400, "InvalidArgument")
		if !contains(body, tc.msg) {
			t.Fatalf("%s: message %s", tc.name, body)
		}
	}
	resp, body = e.do("GET", "/bkt/bad", nil, nil)
	wantStatus(t, resp, body, 404, "NoSuchKey")

	// A bucket with a default retention: every PutObject and UploadPart
	// needs a digest, lock headers or not.
	resp, body = e.do("PUT", "/bkt/plain", data, nil)
	wantStatus(t, resp, body, 200, "")
	f.cfg = ObjectLockConfig{Enabled: true, DefaultMode: LockGovernance, DefaultDays: 1}
	resp, body = e.do("PUT", "/bkt/plain", data, nil)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	resp, body = e.do("PUT", "/bkt/plain", data, md5Of(data))
	wantStatus(t, resp, body, 200, "")
	resp, body = e.do("POST", "/bkt/mp?uploads", nil, nil)
	wantStatus(t, resp, body, 200, "")
	var up struct{ UploadId string }
	if err := decodeXML(body, &up); err != nil {
		t.Fatal(err)
	}
	resp, body = e.do("PUT", "/bkt/mp?partNumber=1&uploadId="+up.UploadId, data, nil)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	if !contains(body, "Put Part requests") {
		t.Fatalf("message: %s", body)
	}
	resp, body = e.do("PUT", "/bkt/mp?partNumber=1&uploadId="+up.UploadId, data, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(data)}})
	wantStatus(t, resp, body, 200, "")

	// HEAD shows the lock the backend holds.
	h := http.Header{}
	setLockHeaders(h, ObjectLock{Mode: LockGovernance, RetainUntil: until, LegalHold: true})
	if h.Get("x-amz-object-lock-mode") != "GOVERNANCE" || h.Get("x-amz-object-lock-retain-until-date") != until.Format(iso8601) || h.Get("x-amz-object-lock-legal-hold") != "ON" {
		t.Fatalf("lock headers: %v", h)
	}
	h = http.Header{}
	setLockHeaders(h, ObjectLock{})
	if len(h) != 0 {
		t.Fatalf("lock headers of an unlocked version: %v", h)
	}
}

// TestObjectLockRetentionProtocol: ?retention and ?legal-hold route to the
// backend with the version ID, need a digest on PUT, parse as S3 does; the
// bypass header reaches the backend on PutObjectRetention, DeleteObject
// and DeleteObjects; the subresources exist only at their level.
func TestObjectLockRetentionProtocol(t *testing.T) {
	e, f := newLockEnv(t)
	e.mustPut("bkt", "k", "x")
	resp, body := e.do("GET", "/bkt/k?retention&versionId=abc", nil, nil)
	wantStatus(t, resp, body, 404, "NoSuchObjectLockConfiguration")
	if f.lastCall() != "GetObjectRetention k abc" {
		t.Fatalf("call %q", f.lastCall())
	}
	doc := []byte(`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-02T03:04:05.000Z</RetainUntilDate></Retention>`)
	resp, body = e.doUnsigned("PUT", "/bkt/k?retention", doc, nil)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	resp, body = e.doUnsigned("PUT", "/bkt/k?retention", doc, http.Header{"Content-Md5": {contentMD5(doc)}, "X-Amz-Bypass-Governance-Retention": {"true"}})
	wantStatus(t, resp, body, 200, "")
	if f.ret.Mode != LockGovernance || !f.ret.RetainUntil.Equal(time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)) || !f.bypass || resp.Header.Get("x-amz-version-id") != "v1" {
		t.Fatalf("backend got %+v bypass %v", f.ret, f.bypass)
	}
	resp, body = e.do("GET", "/bkt/k?retention", nil, nil)
	wantStatus(t, resp, body, 200, "")
	if !contains(body, `<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-02T03:04:05.000Z</RetainUntilDate></Retention>`) {
		t.Fatalf("GET ?retention = %s", body)
	}
	for _, tc := range []struct {
		doc  string
		code string
	}{
		{`<Retention><Mode>GOVERNANCE</Mode></Retention>`, "MalformedXML"},
		{`<Retention><RetainUntilDate>2099-01-02T03:04:05Z</RetainUntilDate></Retention>`, "MalformedXML"},
		{`<Retention><Mode>WORM</Mode><RetainUntilDate>2099-01-02T03:04:05Z</RetainUntilDate></Retention>`, "MalformedXML"},
		{`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>`, "MalformedXML"},
		{`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2001-01-02T03:04:05Z</RetainUntilDate></Retention>`, "InvalidArgument"},
		{`<Retention>`, "MalformedXML"},
	} {
		resp, body := e.do("PUT", "/bkt/k?retention", []byte(tc.doc), md5Of([]byte(tc.doc)))
		wantStatus(t, resp, body, 400, tc.code)
	}
	// An empty Retention removes it (the backend decides whether it may).
	resp, body = e.do("PUT", "/bkt/k?retention", []byte(`<Retention/>`), md5Of([]byte(`<Retention/>`)))
	wantStatus(t, resp, body, 200, "")
	if f.ret.Retained() || f.bypass {
		t.Fatalf("backend got %+v bypass %v", f.ret, f.bypass)
	}

	hold := []byte(`<LegalHold><Status>ON</Status></LegalHold>`)
	resp, body = e.doUnsigned("PUT", "/bkt/k?legal-hold", hold, nil)
	wantStatus(t, resp, body, 400, "InvalidRequest")
	resp, body = e.do("PUT", "/bkt/k?legal-hold&versionId=v9", hold, md5Of(hold))
	wantStatus(t, resp, body, 200, "")
	if !f.hold || f.lastCall() != "PutObjectLegalHold k v9" {
		t.Fatalf("hold %v call %q", f.hold, f.lastCall())
	}
	resp, body = e.do("GET", "/bkt/k?legal-hold", nil, nil)
	wantStatus(t, resp, body, 200, "")
	if !contains(body, `<LegalHold xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>ON</Status></LegalHold>`) {
		t.Fatalf("GET ?legal-hold = %s", body)
	}
	resp, body = e.do("PUT", "/bkt/k?legal-hold", []byte(`<LegalHold><Status>on</Status></LegalHold>`), md5Of([]byte(`<LegalHold><Status>on</Status></LegalHold>`)))
	wantStatus(t, resp, body, 400, "MalformedXML")

	// Bypass reaches DeleteObject and DeleteObjects, and only when sent.
	resp, body = e.do("DELETE", "/bkt/k", nil, http.Header{"X-Amz-Bypass-Governance-Retention": {"true"}})
	wantStatus(t, resp, body, 204, "")
	if !f.bypass {
		t.Fatal("DeleteObject did not get the bypass")
	}
	resp, body = e.do("DELETE", "/bkt/k", nil, nil)
	wantStatus(t, resp, body, 204, "")
	if f.bypass {
		t.Fatal("DeleteObject got a bypass it did not ask for")
	}
	del := []byte(`<Delete><Object><Key>k</Key></Object></Delete>`)
	resp, body = e.do("POST", "/bkt?delete", del, http.Header{"Content-Md5": {contentMD5(del)}, "X-Amz-Bypass-Governance-Retention": {"TRUE"}})
	wantStatus(t, resp, body, 200, "")
	if !f.bypass {
		t.Fatal("DeleteObjects did not get the bypass")
	}

	// Wrong level or method: NotImplemented, never the plain operation.
	for _, tc := range [][2]string{{"GET", "/bkt/k?object-lock"}, {"PUT", "/bkt/k?object-lock"}, {"GET", "/bkt?retention"},
		{"GET", "/bkt?legal-hold"}, {"DELETE", "/bkt?object-lock"}, {"DELETE", "/bkt/k?retention"}, {"POST", "/bkt/k?legal-hold"}} {
		resp, body := e.do(tc[0], tc[1], nil, nil)
		wantStatus(t, resp, body, 501, "NotImplemented")
	}
}

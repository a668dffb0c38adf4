package s3api

import "testing"

// TestRestoreObject: POST ?restore reaches the backend with its Days (202,
// then 200 for a restored version); a version not in a tier is 403
// InvalidObjectState; a document without Days, with bad Days, of type
// SELECT, or a restore subresource at the bucket or with GET, is refused.
func TestRestoreObject(t *testing.T) {
	f := newFakeBackend()
	e := newEnv(t, f)
	e.mustBucket("bkt")
	e.mustPut("bkt", "tiered/a", "x")
	e.mustPut("bkt", "local", "x")
	doc := func(inner string) []byte { return []byte("<RestoreRequest>" + inner + "</RestoreRequest>") }
	resp, body := e.do("POST", "/bkt/tiered/a?restore", doc("<Days>7</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters>"), nil)
	wantStatus(t, resp, body, 202, "")
	if f.lastRestore != 7 {
		t.Fatalf("the backend got %d days", f.lastRestore)
	}
	resp, body = e.do("POST", "/bkt/tiered/a?restore", doc("<Days>9</Days>"), nil)
	wantStatus(t, resp, body, 200, "")
	for _, tc := range []struct {
		path   string
		doc    []byte
		status int
		code   string
	}{
		{"/bkt/local?restore", doc("<Days>1</Days>"), 403, "InvalidObjectState"},
		{"/bkt/tiered/a?restore", doc(""), 400, "MalformedXML"},
		{"/bkt/tiered/a?restore", doc("<Days>0</Days>"), 400, "InvalidArgument"},
		{"/bkt/tiered/a?restore", doc("<Days>x</Days>"), 400, "InvalidArgument"},
		{"/bkt/tiered/a?restore", doc("<Days>1</Days><Tier>Fast</Tier>"), 400, "MalformedXML"},
		{"/bkt/tiered/a?restore", doc("<Type>SELECT</Type>"), 501, "NotImplemented"},
		{"/bkt/tiered/a?restore", []byte("<Nope/>"), 400, "MalformedXML"},
		{"/bkt?restore", doc("<Days>1</Days>"), 501, "NotImplemented"},
		{"/nobkt/tiered/a?restore", doc("<Days>1</Days>"), 404, "NoSuchBucket"},
	} {
		resp, body := e.do("POST", tc.path, tc.doc, nil)
		wantStatus(t, resp, body, tc.status, tc.code)
	}
	resp, body = e.do("GET", "/bkt/tiered/a?restore", nil, nil)
	wantStatus(t, resp, body, 501, "NotImplemented")
}

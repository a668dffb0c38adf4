package conformance

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// formPolicy is a base64 POST policy expiring at exp.
func formPolicy(exp time.Time, conditions ...any) string {
	if conditions == nil {
		conditions = []any{}
	}
	doc, _ := json.Marshal(map[string]any{"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conditions})
	return base64.StdEncoding.EncodeToString(doc)
}

func hmac256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// v4FormFields are the SigV4 fields of a form signed at now, and the
// conditions its policy needs for them.
func v4FormFields(now time.Time) ([][2]string, []any) {
	cred := tgt.accessKey + "/" + now.UTC().Format("20060102") + "/" + tgt.region + "/s3/aws4_request"
	date := now.UTC().Format("20060102T150405Z")
	return [][2]string{{"x-amz-algorithm", "AWS4-HMAC-SHA256"}, {"x-amz-credential", cred}, {"x-amz-date", date}},
		[]any{map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": date}}
}

// v4FormSignature signs a policy as a page handing out upload forms does.
func v4FormSignature(policy, secret string, now time.Time) string {
	key := hmac256([]byte("AWS4"+secret), now.UTC().Format("20060102"))
	for _, s := range []string{tgt.region, "s3", "aws4_request"} {
		key = hmac256(key, s)
	}
	return hex.EncodeToString(hmac256(key, policy))
}

// postForm sends a form the way a browser does: multipart/form-data, the
// fields in order, the file last.
func postForm(t *testing.T, bucket string, fields [][2]string, filename string, content []byte) (*http.Response, []byte) {
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
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tgt.endpoint+"/"+bucket, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestPostObject checks browser form uploads signed with SigV4 and with
// SigV2: ${filename}, metadata, success_action_status 201 and 204,
// success_action_redirect, and the policy's refusals (a failed condition,
// an extra field, content-length-range, expiry, a wrong signature), none
// of which stores anything.
func TestPostObject(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	now := time.Now()
	exp := now.Add(time.Hour)
	sigFields, sigConds := v4FormFields(now)
	v4 := func(fields [][2]string, conds ...any) [][2]string {
		policy := formPolicy(exp, append(append([]any{map[string]string{"bucket": b}}, sigConds...), conds...)...)
		out := append(append([][2]string{}, fields...), sigFields...)
		return append(out, [2]string{"policy", policy}, [2]string{"x-amz-signature", v4FormSignature(policy, tgt.secretKey, now)})
	}

	resp, body := postForm(t, b, v4([][2]string{{"key", "uploads/${filename}"}, {"Content-Type", "text/plain"}, {"x-amz-meta-owner", "alice"}, {"success_action_status", "201"}},
		[]any{"starts-with", "$key", "uploads/"}, []any{"starts-with", "$Content-Type", "text/"}, map[string]string{"x-amz-meta-owner": "alice"},
		map[string]string{"success_action_status": "201"}, []any{"content-length-range", 1, 1024}), "notes.txt", []byte("from a browser form"))
	if resp.StatusCode != 201 || !bytes.Contains(body, []byte("<Key>uploads/notes.txt</Key>")) || !bytes.Contains(body, []byte("<Bucket>"+b+"</Bucket>")) {
		t.Fatalf("SigV4 form, 201: %d %s", resp.StatusCode, body)
	}
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("uploads/notes.txt")})
	must(t, err, "HeadObject of the form upload")
	if aws.ToString(head.ContentType) != "text/plain" || head.Metadata["owner"] != "alice" || aws.ToString(head.ETag) != resp.Header.Get("ETag") {
		t.Errorf("form upload stored %+v (ETag header %s)", head, resp.Header.Get("ETag"))
	}

	resp, body = postForm(t, b, v4([][2]string{{"key", "plain"}}, []any{"eq", "$key", "plain"}), "f", []byte("204"))
	if resp.StatusCode != 204 || len(body) != 0 || resp.Header.Get("ETag") == "" {
		t.Errorf("SigV4 form, default status: %d %q", resp.StatusCode, body)
	}
	resp, body = postForm(t, b, v4([][2]string{{"key", "redir"}, {"success_action_redirect", "https://app.example.com/done"}},
		[]any{"eq", "$key", "redir"}, map[string]string{"success_action_redirect": "https://app.example.com/done"}), "f", []byte("303"))
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.HasPrefix(loc, "https://app.example.com/done?") || !strings.Contains(loc, "key=redir") {
		t.Errorf("success_action_redirect: %d %s %s", resp.StatusCode, loc, body)
	}

	// SigV2: AWSAccessKeyId, policy, signature.
	policy := formPolicy(exp, map[string]string{"bucket": b}, []any{"starts-with", "$key", "v2/"})
	resp, body = postForm(t, b, [][2]string{{"key", "v2/obj"}, {"AWSAccessKeyId", tgt.accessKey}, {"policy", policy}, {"signature", signV2(tgt.secretKey, policy)}}, "f", []byte("v2 form"))
	if resp.StatusCode != 204 {
		t.Errorf("SigV2 form: %d %s", resp.StatusCode, body)
	}
	if got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("v2/obj")}); string(got) != "v2 form" {
		t.Errorf("SigV2 form stored %q", got)
	}

	for _, tc := range []struct {
		name    string
		fields  [][2]string
		content []byte
		status  int
		code    string
	}{
		{"key outside the prefix", v4([][2]string{{"key", "other/x"}}, []any{"starts-with", "$key", "uploads/"}), []byte("x"), 403, "AccessDenied"},
		{"field the policy does not name", v4([][2]string{{"key", "x"}, {"x-amz-meta-extra", "1"}}, []any{"eq", "$key", "x"}), []byte("x"), 403, "AccessDenied"},
		{"file too large", v4([][2]string{{"key", "x"}}, []any{"eq", "$key", "x"}, []any{"content-length-range", 0, 4}), []byte("too large"), 400, "EntityTooLarge"},
		{"file too small", v4([][2]string{{"key", "x"}}, []any{"eq", "$key", "x"}, []any{"content-length-range", 100, 200}), []byte("small"), 400, "EntityTooSmall"},
		{"encryption field", v4([][2]string{{"key", "x"}, {"x-amz-server-side-encryption", "AES256"}}, []any{"eq", "$key", "x"}, map[string]string{"x-amz-server-side-encryption": "AES256"}), []byte("x"), 501, "NotImplemented"},
		{"wrong signature", append(append([][2]string{{"key", "x"}}, sigFields...), [2]string{"policy", formPolicy(exp)}, [2]string{"x-amz-signature", v4FormSignature(formPolicy(exp), "wrong", now)}), []byte("x"), 403, "SignatureDoesNotMatch"},
		{"expired", [][2]string{{"key", "x"}, {"AWSAccessKeyId", tgt.accessKey}, {"policy", formPolicy(now.Add(-time.Minute))}, {"signature", signV2(tgt.secretKey, formPolicy(now.Add(-time.Minute)))}}, []byte("x"), 403, "AccessDenied"},
		{"anonymous", [][2]string{{"key", "x"}}, []byte("x"), 403, "AccessDenied"},
	} {
		resp, body := postForm(t, b, tc.fields, "f", tc.content)
		wantRawError(t, resp, body, tc.status, tc.code, "POST form: "+tc.name)
	}
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("x")})
	wantErr(t, err, 404, "", "HeadObject after refused form uploads")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("other/x")})
	wantErr(t, err, 404, "", "HeadObject after a form upload outside its prefix")
}

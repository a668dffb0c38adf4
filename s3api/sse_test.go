package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"testing"
)

var testCustomerKey = bytes.Repeat([]byte{1}, 32)

// ssecHeader is the SSE-C headers with key (nil: none) and the key's MD5
// (md5 "" computes it, "-" leaves it out).
func ssecHeader(alg string, key []byte, md5sum string) http.Header {
	h := http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {alg}}
	if key != nil {
		h.Set("X-Amz-Server-Side-Encryption-Customer-Key", base64.StdEncoding.EncodeToString(key))
	}
	switch md5sum {
	case "":
		sum := md5.Sum(key)
		h.Set("X-Amz-Server-Side-Encryption-Customer-Key-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	case "-":
	default:
		h.Set("X-Amz-Server-Side-Encryption-Customer-Key-Md5", md5sum)
	}
	return h
}

// TestSSECNeedsSecureConnection: an SSE-C key over plain HTTP from
// another host is refused (S3's InvalidRequest); over TLS, or from
// loopback (where secure connect delivers), it is taken.
func TestSSECNeedsSecureConnection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remote string
		tls    bool
		ok     bool
	}{
		{"plain from afar", "192.0.2.7:4000", false, false},
		{"plain loopback", "127.0.0.1:4000", false, true},
		{"plain loopback v6", "[::1]:4000", false, true},
		{"tls from afar", "192.0.2.7:4000", true, true},
	} {
		r, _ := http.NewRequest("PUT", "http://h/bkt/o", nil)
		r.Header = ssecHeader("AES256", testCustomerKey, "")
		r.RemoteAddr = tc.remote
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		r2, err := withSSE(r)
		if tc.ok {
			if err != nil || RequestSSE(r2.Context()).Object.Mode != SSEModeCustomer {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != "InvalidRequest" || e.Status != 400 {
			t.Errorf("%s: %v, want InvalidRequest", tc.name, err)
		}
	}
}

// TestKMSKeyName: the key ID forms S3 accepts reduce to the ring's name.
func TestKMSKeyName(t *testing.T) {
	for in, want := range map[string]string{
		"k1":                                 "k1",
		"alias/k1":                           "k1",
		"arn:aws:kms:us-east-1:111:key/k1":   "k1",
		"arn:aws:kms:us-east-1:111:alias/k1": "k1",
		"arn:aws:s3:::bucket":                "",
		"arn:aws:kms:us-east-1:111:other/k1": "",
		"a b":                                "",
		"":                                   "",
		"alias/":                             "",
	} {
		if got := KMSKeyName(in); got != want {
			t.Errorf("KMSKeyName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParseSSEConfig: the ServerSideEncryptionConfiguration documents S3
// takes, and its errors for the rest.
func TestParseSSEConfig(t *testing.T) {
	const head = `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
	for _, tc := range []struct {
		name, doc string
		want      SSE
		code      string
	}{
		{"aes256", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, SSE{Mode: SSEModeS3}, ""},
		{"kms", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`, SSE{Mode: SSEModeKMS, KMSKeyID: "k"}, ""},
		{"kms default key", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, SSE{Mode: SSEModeKMS}, ""},
		{"no rule", head + `</ServerSideEncryptionConfiguration>`, SSE{}, "MalformedXML"},
		{"two rules", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, SSE{}, "MalformedXML"},
		{"no algorithm", head + `<Rule><ApplyServerSideEncryptionByDefault></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, SSE{}, "MalformedXML"},
		{"bad algorithm", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, SSE{}, "MalformedXML"},
		{"kms key with aes", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, SSE{}, "InvalidArgument"},
		{"bad bucket key", head + `<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>maybe</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`, SSE{}, "MalformedXML"},
		{"not xml", `<Server`, SSE{}, "MalformedXML"},
		{"empty", ``, SSE{}, "MalformedXML"},
	} {
		got, err := parseSSEConfig([]byte(tc.doc))
		if tc.code == "" {
			if err != nil || got.Mode != tc.want.Mode || got.KMSKeyID != tc.want.KMSKeyID {
				t.Errorf("%s: %+v, %v", tc.name, got, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

// FuzzSSEConfig: the bucket encryption parser never panics, answers only
// S3 errors, and what it accepts renders to a document it accepts alike.
func FuzzSSEConfig(f *testing.F) {
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`))
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:r:1:key/x</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`))
	f.Add([]byte(`<x/>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := parseSSEConfig(doc)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("not a 400 S3 error: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := xml.NewEncoder(&buf).Encode(renderSSEConfig(s)); err != nil {
			t.Fatal(err)
		}
		again, err := parseSSEConfig(buf.Bytes())
		if err != nil || again.Mode != s.Mode || again.KMSKeyID != s.KMSKeyID {
			t.Fatalf("rendered %s parses as %+v, %v; want %+v", buf.Bytes(), again, err, s)
		}
	})
}

// FuzzSSEHeaders: the encryption header parser never panics and answers
// only 400 or 403 S3 errors.
func FuzzSSEHeaders(f *testing.F) {
	f.Add("AES256", "", "", "", "", "PUT")
	f.Add("aws:kms", "alias/k", "", "", "", "PUT")
	f.Add("", "", "AES256", base64.StdEncoding.EncodeToString(testCustomerKey), "", "GET")
	f.Add("", "", "AES256", "!!", "x", "PUT")
	f.Fuzz(func(t *testing.T, mode, kms, alg, key, keyMD5, method string) {
		if method != "GET" && method != "PUT" && method != "HEAD" {
			method = "PUT"
		}
		r, _ := http.NewRequest(method, "http://h/b/o", nil)
		r.RemoteAddr = "127.0.0.1:1"
		for k, v := range map[string]string{
			"X-Amz-Server-Side-Encryption": mode, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": kms,
			"X-Amz-Server-Side-Encryption-Customer-Algorithm": alg, "X-Amz-Server-Side-Encryption-Customer-Key": key,
			"X-Amz-Server-Side-Encryption-Customer-Key-Md5": keyMD5,
		} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		_, err := withSSE(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 403) {
				t.Fatalf("not a 400/403 S3 error: %v", err)
			}
		}
	})
}

package checksum_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/cairn-backup/cairn/s3api/checksum"
	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// putHandler is how the s3api HTTP layer is meant to combine the two
// packages on a PUT: authenticate, find the checksum, wrap the verified
// body, copy it to storage, and commit only on io.EOF.
func putHandler(v *sigv4.Verifier, stored map[string][]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(code string, status int, err error) {
			w.WriteHeader(status)
			fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, err)
		}
		auth, err := v.Authenticate(r)
		if err != nil {
			fail("AccessDenied", http.StatusForbidden, err)
			return
		}
		alg, value, inTrailer, err := checksum.FromHeaders(r.Header)
		if err != nil {
			fail("InvalidRequest", http.StatusBadRequest, err)
			return
		}
		var trailer func() http.Header
		if inTrailer {
			trailer = auth.Trailer
		}
		cr, err := checksum.NewReader(auth.Body, r.Header.Get("Content-MD5"), alg, value, trailer)
		if err != nil {
			fail("InvalidDigest", http.StatusBadRequest, err)
			return
		}
		var buf bytes.Buffer // the "storage"; committed below only on success
		if _, err := io.Copy(&buf, cr); err != nil {
			var me *checksum.MismatchError
			switch {
			case errors.As(err, &me):
				fail("BadDigest", http.StatusBadRequest, me)
			case errors.Is(err, checksum.ErrBadDigest):
				fail("BadDigest", http.StatusBadRequest, err)
			default:
				fail("InvalidRequest", http.StatusBadRequest, err)
			}
			return
		}
		stored[r.URL.Path] = buf.Bytes()
		if a, v := cr.Checksum(); a != "" {
			w.Header().Set(a.Header(), v)
		}
		w.Header().Set("ETag", `"`+hex.EncodeToString(cr.MD5())+`"`)
	}
}

// TestWithSigV4AndSDK runs PutObject from the real aws-sdk-go-v2 client over
// TLS, where every checksum travels in the aws-chunked trailer, through
// sigv4 and this package.
func TestWithSigV4AndSDK(t *testing.T) {
	stored := map[string][]byte{}
	v := &sigv4.Verifier{Region: "us-east-1", Secret: func(ak string) (string, bool) {
		return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ak == "AKIAIOSFODNN7EXAMPLE"
	}}
	srv := httptest.NewTLSServer(putHandler(v, stored))
	defer srv.Close()
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")),
		config.WithHTTPClient(srv.Client()),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithLogger(logging.Nop{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
	body := make([]byte, 300_000)
	for i := range body {
		body[i] = byte(rand.Uint32())
	}
	md := md5.Sum(body)
	for _, a := range checksum.Algorithms() {
		key := "obj-" + string(a)
		out, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(key),
			Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithm(a), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(md[:]))})
		if err != nil {
			t.Fatalf("PutObject %s: %v", a, err)
		}
		if !bytes.Equal(stored["/b/"+key], body) || aws.ToString(out.ETag) != `"`+hex.EncodeToString(md[:])+`"` {
			t.Fatalf("PutObject %s: stored %d bytes, ETag %s", a, len(stored["/b/"+key]), aws.ToString(out.ETag))
		}
	}

	// A wrong checksum or Content-MD5 is BadDigest, and nothing is stored.
	for name, in := range map[string]*s3.PutObjectInput{
		"wrong crc32": {ChecksumCRC32: aws.String("AAAAAA==")},
		"wrong md5":   {ContentMD5: aws.String(base64.StdEncoding.EncodeToString(make([]byte, 16)))},
	} {
		in.Bucket, in.Key, in.Body = aws.String("b"), aws.String(name), bytes.NewReader(body)
		_, err := client.PutObject(t.Context(), in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "BadDigest" {
			t.Fatalf("%s: %v, want BadDigest", name, err)
		}
		if _, ok := stored["/b/"+name]; ok {
			t.Fatalf("%s: stored", name)
		}
		t.Logf("%s: %s", name, ae.ErrorMessage())
	}
}

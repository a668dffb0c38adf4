package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// newSDKClient is an aws-sdk-go-v2 S3 client aimed at srv, configured as
// config.LoadDefaultConfig configures one (which is what turns on request
// checksums, and with them the aws-chunked trailer), with static
// credentials and no shared config files.
func newSDKClient(t testing.TB, srv *httptest.Server, accessKey, secret, region string) *s3.Client {
	t.Helper()
	// The machine's AWS_CA_BUNDLE would replace the test server's roots.
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secret, "")),
		config.WithHTTPClient(srv.Client()),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithLogger(logging.Nop{}),
	)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

// TestSDKClient drives the echo server with the real aws-sdk-go-v2 S3
// client. Over TLS its default PutObject sends
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer; over plain HTTP
// it signs the body's SHA-256.
func TestSDKClient(t *testing.T) {
	for _, tls := range []bool{true, false} {
		name := map[bool]string{true: "https", false: "http"}[tls]
		t.Run(name, func(t *testing.T) {
			echo := newEchoS3(t, &Verifier{Region: testRegion, Secret: testSecrets})
			var srv *httptest.Server
			if tls {
				srv = httptest.NewTLSServer(echo)
			} else {
				srv = httptest.NewServer(echo)
			}
			defer srv.Close()
			client := newSDKClient(t, srv, testAccessKey, testSecret, testRegion)
			ctx := t.Context()

			for i, key := range awkwardKeys {
				body := randomBytes(uint64(i), 1000+i*7919)
				if _, err := client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(body),
					Metadata: map[string]string{"note": "  spaced  out  ", "unicode": "値 ünï"},
				}); err != nil {
					t.Fatalf("PutObject %q: %v", key, err)
				}
				if got, ok := echo.object("/bucket/" + key); !ok || !bytes.Equal(got, body) {
					t.Fatalf("PutObject %q: server stored %d bytes (found %v), sent %d", key, len(got), ok, len(body))
				}

				out, err := client.GetObject(ctx, &s3.GetObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String(key),
					ResponseContentType:        aws.String("text/plain; charset=utf-8"),
					ResponseContentDisposition: aws.String(`attachment; filename="` + key + `"; x=a+b%20`),
				})
				if err != nil {
					t.Fatalf("GetObject %q: %v", key, err)
				}
				got, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("GetObject %q: %d bytes, %v", key, len(got), err)
				}
			}

			if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
				Bucket: aws.String("bucket"), Prefix: aws.String("ünï dir/a+b%"), Delimiter: aws.String("/"),
				StartAfter: aws.String("~!*'()"), MaxKeys: aws.Int32(7),
			}); err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}

			payloads := echo.payloads()
			want := map[bool]string{true: streamingUnsignedTrailer, false: sha256Hex(randomBytes(0, 1000))}[tls]
			if payloads[0] != want {
				t.Errorf("first PutObject sent x-amz-content-sha256 %q, want %q", payloads[0], want)
			}
			t.Logf("x-amz-content-sha256 values seen: %q", uniq(payloads))
			if f := echo.failures(); len(f) > 0 {
				t.Fatalf("server rejected requests: %v", f)
			}
		})
	}
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if len(s) == 64 {
			s = "<hex sha256>"
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestSDKClientRejected checks that real clients see the right S3 error
// codes: a wrong secret is SignatureDoesNotMatch, an unknown key
// InvalidAccessKeyId, and nothing is stored.
func TestSDKClientRejected(t *testing.T) {
	echo := newEchoS3(t, &Verifier{Region: testRegion, Secret: testSecrets})
	srv := httptest.NewTLSServer(echo)
	defer srv.Close()
	for _, tc := range []struct {
		client *s3.Client
		code   string
	}{
		{newSDKClient(t, srv, testAccessKey, "not-the-secret", testRegion), "SignatureDoesNotMatch"},
		{newSDKClient(t, srv, testAccessKey, testSecret, "eu-west-1"), "AuthorizationHeaderMalformed"},
		{newSDKClient(t, srv, "AKIAUNKNOWN", testSecret, testRegion), "InvalidAccessKeyId"},
	} {
		_, err := tc.client.PutObject(t.Context(), &s3.PutObjectInput{
			Bucket: aws.String("bucket"), Key: aws.String("k"), Body: strings.NewReader("data"),
		})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Fatalf("err = %v, want %s", err, tc.code)
		}
	}
	if _, ok := echo.object("/bucket/k"); ok {
		t.Fatal("a rejected PutObject was stored")
	}
}

func TestSDKPresignClient(t *testing.T) {
	echo := newEchoS3(t, &Verifier{Region: testRegion, Secret: testSecrets})
	srv := httptest.NewTLSServer(echo)
	defer srv.Close()
	client := newSDKClient(t, srv, testAccessKey, testSecret, testRegion)
	presigner := s3.NewPresignClient(client)
	ctx := t.Context()

	for i, key := range awkwardKeys {
		body := randomBytes(uint64(100+i), 5000)
		put, err := presigner.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)},
			s3.WithPresignExpires(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if resp := doPresigned(t, srv, put.Method, put.URL, put.SignedHeader, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("presigned PUT %q: %s", key, resp.Status)
		}
		get, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)},
			s3.WithPresignExpires(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		resp := doPresigned(t, srv, get.Method, get.URL, get.SignedHeader, nil)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("presigned GET %q: %s, %d bytes", key, resp.Status, len(got))
		}
	}

	// Expiry is enforced against the server's clock.
	get, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("plain.txt")},
		s3.WithPresignExpires(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	echo.v = &Verifier{Region: testRegion, Secret: testSecrets, Now: func() time.Time { return time.Now().Add(2 * time.Second) }}
	resp := doPresigned(t, srv, get.Method, get.URL, get.SignedHeader, nil)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(msg, []byte("Request has expired")) {
		t.Fatalf("expired presigned GET: %s %s", resp.Status, msg)
	}
}

func doPresigned(t *testing.T, srv *httptest.Server, method, u string, h http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = v
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

package cloudtier_test

// The Target contract, run on every implementation against a real
// service: S3 against a Cairn in this process (the gateway behind s3api,
// on loopback), Azure against Azurite, with a shared key and with a SAS.
// Faults wrap the real service: a proxy that throttles, an address that
// nothing listens on.
//
//	go test -run TestTarget -v ./cloudtier/
//
// Azurite is found at $AZURITE, as azurite-blob on PATH, or under
// /tmp/azurite (npm install azurite@3 there); without it the Azure cases
// skip.

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-backup/cairn/cloudtier"
	"github.com/cairn-backup/cairn/cloudtier/azuritetest"
	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/s3api"
)

const (
	s3Key    = "tierkey"
	s3Secret = "tiersecret-0123456789abcdef"
	// Azurite's well-known development account.
	azAccount = azuritetest.Account
	azKey     = azuritetest.Key
	// bucketName is the bucket (or container) every case shares, each
	// under its own prefix; missingName is one that does not exist.
	bucketName  = "tier"
	missingName = "no-such-bucket"
)

// env is one service with a bucket, and how to make targets on it.
type env struct {
	// root is the service's scheme://host:port, which a proxy can stand in for.
	root string
	// secret is the credential that must never appear in an error.
	secret string
	// target makes a target on the service at root, in bucket, under prefix.
	target func(t *testing.T, root, bucket, prefix string) cloudtier.Target
	// badCredential is a target at root whose credential the service refuses.
	badCredential func(t *testing.T, root string) cloudtier.Target
	// throttle is what a busy service answers: status and body.
	throttleHeader http.Header
	throttleBody   string
}

func (e *env) on(t *testing.T, prefix string) cloudtier.Target {
	return e.target(t, e.root, bucketName, prefix)
}

func TestTarget(t *testing.T) {
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		runContract(t, startS3(t))
	})
	t.Run("azure", func(t *testing.T) {
		t.Parallel()
		root := startAzurite(t)
		t.Run("key", func(t *testing.T) {
			t.Parallel()
			runContract(t, azureKeyEnv(root))
		})
		t.Run("sas", func(t *testing.T) {
			t.Parallel()
			runContract(t, azureSASEnv(t, root))
		})
	})
}

func runContract(t *testing.T, e *env) {
	t.Run("put-get", func(t *testing.T) {
		tg := e.on(t, "put-get")
		data := random(1, 100_000)
		put(t, tg, "a/b/obj", data)
		for _, c := range []struct {
			name   string
			off, n int64
			want   []byte
		}{
			{"whole", 0, -1, data},
			{"middle", 1000, 5000, data[1000:6000]},
			{"to-end", 90_000, -1, data[90_000:]},
			{"last-byte", int64(len(data) - 1), 1, data[len(data)-1:]},
			{"none", 500, 0, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				if got := get(t, tg, "a/b/obj", c.off, c.n); !bytes.Equal(got, c.want) {
					t.Fatalf("GetRange(%d, %d): %d bytes, want %d (equal prefix %v)", c.off, c.n, len(got), len(c.want), bytes.HasPrefix(c.want, got))
				}
			})
		}
		put(t, tg, "empty", nil)
		if got := get(t, tg, "empty", 0, -1); len(got) != 0 {
			t.Fatalf("empty object: read %d bytes", len(got))
		}
		// A second Put of a name replaces the object.
		data2 := random(2, 777)
		put(t, tg, "a/b/obj", data2)
		if got := get(t, tg, "a/b/obj", 0, -1); !bytes.Equal(got, data2) {
			t.Fatalf("after a second put: %d bytes, not the second object", len(got))
		}
		// Past the end is an error, not an absent object.
		_, err := tg.GetRange(t.Context(), "a/b/obj", 10_000, 10)
		if err == nil || errors.Is(err, cloudtier.ErrNotFound) {
			t.Fatalf("GetRange past the end: %v, want an error other than ErrNotFound", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		one, two := e.on(t, "list/one"), e.on(t, "list/one-two")
		sizes := map[string]int{"x/2": 20, "x/10": 10, "y/1": 1, "x/1": 0, "z": 3}
		for name, size := range sizes {
			put(t, one, name, random(uint64(size), size))
		}
		put(t, two, "x/1", random(9, 9))

		type obj struct {
			name string
			size int64
		}
		list := func(tg cloudtier.Target, prefix string) []obj {
			t.Helper()
			var got []obj
			err := tg.List(t.Context(), prefix, func(name string, size int64) error {
				got = append(got, obj{name, size})
				return nil
			})
			if err != nil {
				t.Fatalf("List(%q): %v", prefix, err)
			}
			return got
		}
		if got, want := list(one, ""), []obj{{"x/1", 0}, {"x/10", 10}, {"x/2", 20}, {"y/1", 1}, {"z", 3}}; !slices.Equal(got, want) {
			t.Errorf("List(\"\") = %v, want %v", got, want)
		}
		if got, want := list(one, "x/1"), []obj{{"x/1", 0}, {"x/10", 10}}; !slices.Equal(got, want) {
			t.Errorf("List(\"x/1\") = %v, want %v", got, want)
		}
		if got := list(one, "nothing/"); len(got) != 0 {
			t.Errorf("List(\"nothing/\") = %v, want none", got)
		}
		// Prefixes are directories: "list/one" does not see "list/one-two".
		if got, want := list(two, ""), []obj{{"x/1", 9}}; !slices.Equal(got, want) {
			t.Errorf("other prefix: List(\"\") = %v, want %v", got, want)
		}
		stop := errors.New("stop")
		calls := 0
		err := one.List(t.Context(), "", func(string, int64) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Errorf("List with fn failing: %v after %d calls; want fn's error after 1", err, calls)
		}
	})

	t.Run("delete", func(t *testing.T) {
		tg := e.on(t, "delete")
		put(t, tg, "gone", random(3, 1000))
		for i := range 2 { // the second time it is absent, which is no error
			if err := tg.Delete(t.Context(), "gone"); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if _, err := tg.GetRange(t.Context(), "gone", 0, -1); !errors.Is(err, cloudtier.ErrNotFound) {
			t.Fatalf("GetRange after Delete: %v, want ErrNotFound", err)
		}
		var names []string
		tg.List(t.Context(), "", func(name string, _ int64) error { names = append(names, name); return nil })
		if len(names) != 0 {
			t.Fatalf("listed after Delete: %v", names)
		}
	})

	t.Run("absent", func(t *testing.T) {
		tg := e.on(t, "absent")
		for _, n := range []int64{-1, 10, 0} {
			_, err := tg.GetRange(t.Context(), "nope", 0, n)
			if !errors.Is(err, cloudtier.ErrNotFound) {
				t.Fatalf("GetRange(0, %d) of an absent object: %v, want ErrNotFound", n, err)
			}
			// What an admin reads: the target, the operation, the name.
			if msg := err.Error(); !strings.HasPrefix(msg, tg.String()+": get \"nope\": 404 ") {
				t.Errorf("error %q: want %q, the operation, the name and the status", msg, tg.String())
			}
		}
	})

	t.Run("bad-md5", func(t *testing.T) {
		tg := e.on(t, "bad-md5")
		data := random(4, 5000)
		wrong := md5.Sum([]byte("something else"))
		err := tg.Put(t.Context(), "obj", bytes.NewReader(data), int64(len(data)), wrong[:])
		if err == nil {
			t.Fatal("Put with the wrong md5 succeeded")
		}
		t.Logf("Put with the wrong md5: %v", err)
		if _, err := tg.GetRange(t.Context(), "obj", 0, -1); !errors.Is(err, cloudtier.ErrNotFound) {
			t.Fatalf("GetRange after a refused Put: %v, want ErrNotFound", err)
		}
	})

	t.Run("probe", func(t *testing.T) {
		tg := e.on(t, "")
		if err := cloudtier.Probe(t.Context(), tg); err != nil {
			t.Fatal(err)
		}
		var left []string
		tg.List(t.Context(), "probe/", func(name string, _ int64) error { left = append(left, name); return nil })
		if len(left) != 0 {
			t.Fatalf("the probe left %v", left)
		}
	})

	t.Run("probe-faults", func(t *testing.T) {
		for _, c := range []struct {
			name string
			// fault answers a read of the test object in place of the
			// service, given what was written; false passes it on.
			fault func(w http.ResponseWriter, r *http.Request, written []byte) bool
			want  string
		}{
			{"ignores-range", func(w http.ResponseWriter, r *http.Request, written []byte) bool {
				if r.Header.Get("Range") == "" && r.Header.Get("X-Ms-Range") == "" {
					return false
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(written)))
				w.Write(written)
				return true
			}, "read bytes 100 to 399 of it: got 1024 bytes, not the 300 written"},
			{"corrupts", func(w http.ResponseWriter, r *http.Request, written []byte) bool {
				b := slices.Clone(written)
				b[len(b)/2] ^= 1
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.Write(b)
				return true
			}, "read back 1024 bytes that differ from what was written"},
		} {
			t.Run(c.name, func(t *testing.T) {
				var written []byte
				proxy := proxyTo(t, e.root, func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.Contains(r.URL.Path, "/probe/") {
						return false // a listing
					}
					switch r.Method {
					case http.MethodPut:
						written, _ = io.ReadAll(r.Body)
						r.Body = io.NopCloser(bytes.NewReader(written))
					case http.MethodGet:
						return written != nil && c.fault(w, r, written)
					}
					return false
				})
				err := cloudtier.Probe(t.Context(), e.target(t, proxy, bucketName, "probe-"+c.name))
				if err == nil || err.Error() != c.want {
					t.Fatalf("Probe: %v, want %q", err, c.want)
				}
			})
		}
	})

	t.Run("missing-bucket", func(t *testing.T) {
		tg := e.target(t, e.root, missingName, "p")
		err := cloudtier.Probe(t.Context(), tg)
		if err == nil || !strings.HasPrefix(err.Error(), "write a test object: ") {
			t.Fatalf("Probe of a missing bucket: %v, want it to fail writing", err)
		}
		t.Logf("Probe of a missing bucket: %v", err)
		noSecret(t, e, err)
		if _, err := tg.GetRange(t.Context(), "x", 0, -1); !errors.Is(err, cloudtier.ErrNotFound) {
			t.Fatalf("GetRange in a missing bucket: %v, want ErrNotFound", err)
		}
		if err := tg.List(t.Context(), "", func(string, int64) error { return nil }); err == nil || errors.Is(err, cloudtier.ErrNotFound) {
			t.Fatalf("List of a missing bucket: %v, want an error other than ErrNotFound", err)
		}
	})

	t.Run("bad-credential", func(t *testing.T) {
		tg := e.badCredential(t, e.root)
		err := cloudtier.Probe(t.Context(), tg)
		if err == nil || !strings.HasPrefix(err.Error(), "write a test object: ") || !strings.Contains(err.Error(), " 403 ") {
			t.Fatalf("Probe with a bad credential: %v, want a 403 writing", err)
		}
		t.Logf("Probe with a bad credential: %v", err)
		noSecret(t, e, err)
	})

	t.Run("string", func(t *testing.T) {
		s := e.on(t, "some/where").String()
		if !strings.HasSuffix(s, "/"+bucketName+"/some/where/") {
			t.Errorf("String() = %q: want the bucket and the prefix last", s)
		}
		if strings.Contains(s, e.secret) || strings.Contains(s, "sig=") {
			t.Errorf("String() = %q holds the credential", s)
		}
	})

	t.Run("throttled", func(t *testing.T) {
		t.Parallel()
		var requests atomic.Int32
		proxy := proxyTo(t, e.root, func(w http.ResponseWriter, r *http.Request) bool {
			if requests.Add(1) > 2 {
				return false
			}
			io.Copy(io.Discard, r.Body)
			for k, v := range e.throttleHeader {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, e.throttleBody)
			return true
		})
		tg := e.target(t, proxy, bucketName, "throttled")
		data := random(5, 10_000)
		put(t, tg, "obj", data)
		if n := requests.Load(); n != 3 {
			t.Errorf("%d requests; want 2 refused and 1 that succeeded", n)
		}
		if got := get(t, tg, "obj", 0, -1); !bytes.Equal(got, data) {
			t.Fatal("read back other bytes")
		}
	})

	t.Run("dead-server", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: it takes the whole retry bound, 10 to 15 s")
		}
		t.Parallel()
		tg := e.target(t, deadRoot(t), bucketName, "dead")
		// Well over the retry bound: the target gives up by itself.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		data := random(6, 100)
		sum := md5.Sum(data)
		err := tg.Put(ctx, "obj", bytes.NewReader(data), int64(len(data)), sum[:])
		switch {
		case err == nil:
			t.Fatal("Put to a dead server succeeded")
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("Put to a dead server retried for 30 s: %v", err)
		}
		t.Logf("Put to a dead server: %v", err)
		noSecret(t, e, err)
	})

	t.Run("canceled", func(t *testing.T) {
		tg := e.target(t, deadRoot(t), bucketName, "canceled")
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err := tg.Delete(ctx, "obj")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("Delete cut short by its context: %v, want it to say it timed out", err)
		}
		noSecret(t, e, err)
	})

	t.Run("bad-arguments", func(t *testing.T) {
		tg := e.on(t, "bad-arguments")
		sum := md5.Sum(nil)
		for _, err := range []error{
			tg.Put(t.Context(), "", bytes.NewReader(nil), 0, sum[:]),
			tg.Put(t.Context(), "/x", bytes.NewReader(nil), 0, sum[:]),
			tg.Put(t.Context(), "x", bytes.NewReader(nil), 0, sum[:8]),
			tg.Put(t.Context(), "x", bytes.NewReader([]byte("abc")), 4, sum[:]),
			errOf(tg.GetRange(t.Context(), "x", -1, 1)),
			tg.Delete(t.Context(), "x/"),
		} {
			if err == nil {
				t.Error("a bad argument passed")
			}
		}
	})
}

func TestNewS3Config(t *testing.T) {
	good := cloudtier.S3Config{Endpoint: "http://127.0.0.1:9000", Bucket: "tier", AccessKey: "k", SecretKey: "s3cr3t", PathStyle: true}
	if _, err := cloudtier.NewS3(good); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for _, c := range []struct {
		name   string
		change func(*cloudtier.S3Config)
		want   string
	}{
		{"endpoint-scheme", func(c *cloudtier.S3Config) { c.Endpoint = "127.0.0.1:9000" }, "Endpoint"},
		{"endpoint-ftp", func(c *cloudtier.S3Config) { c.Endpoint = "ftp://host" }, "Endpoint"},
		{"endpoint-userinfo", func(c *cloudtier.S3Config) { c.Endpoint = "http://k:s3cr3t@host" }, "Endpoint"},
		{"aws-region", func(c *cloudtier.S3Config) { c.Endpoint = "" }, "Region"},
		{"bucket-empty", func(c *cloudtier.S3Config) { c.Bucket = "" }, "Bucket"},
		{"bucket-upper", func(c *cloudtier.S3Config) { c.Bucket = "Tier" }, "Bucket"},
		{"bucket-short", func(c *cloudtier.S3Config) { c.Bucket = "ab" }, "Bucket"},
		{"prefix", func(c *cloudtier.S3Config) { c.Prefix = "/abs" }, "Prefix"},
		{"access-key", func(c *cloudtier.S3Config) { c.AccessKey = "" }, "AccessKey"},
		{"secret-key", func(c *cloudtier.S3Config) { c.SecretKey = "" }, "SecretKey"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.change(&cfg)
			_, err := cloudtier.NewS3(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want one naming %s", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error %q holds the secret", err)
			}
		})
	}
	tg, err := cloudtier.NewS3(cloudtier.S3Config{Region: "eu-west-1", Bucket: "tier", Prefix: "a/b", AccessKey: "k", SecretKey: "s3cr3t"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tg.String(), "s3 aws/tier/a/b/"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestNewAzureConfig(t *testing.T) {
	good := cloudtier.AzureConfig{AccountURL: "https://acct.blob.core.windows.net/", Container: "tier", Prefix: "p", AccountName: "acct", AccountKey: azKey}
	tg, err := cloudtier.NewAzure(good)
	if err != nil {
		t.Fatalf("a good config: %v", err)
	}
	if got, want := tg.String(), "azure https://acct.blob.core.windows.net/tier/p/"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	const sig = "c2lnbmF0dXJl"
	for _, sasForm := range []string{"sv=2024-08-04&sp=rwdl&sig=" + sig, "?sv=2024-08-04&sp=rwdl&sig=" + sig} {
		tg, err := cloudtier.NewAzure(cloudtier.AzureConfig{AccountURL: good.AccountURL, Container: "tier", SAS: sasForm})
		if err != nil {
			t.Fatalf("SAS %q: %v", sasForm, err)
		}
		if strings.Contains(tg.String(), sig) {
			t.Errorf("String() = %q holds the SAS", tg)
		}
	}
	for _, c := range []struct {
		name   string
		change func(*cloudtier.AzureConfig)
		want   string
	}{
		{"url-empty", func(c *cloudtier.AzureConfig) { c.AccountURL = "" }, "AccountURL"},
		{"url-scheme", func(c *cloudtier.AzureConfig) { c.AccountURL = "acct.blob.core.windows.net" }, "AccountURL"},
		{"url-query", func(c *cloudtier.AzureConfig) { c.AccountURL += "?sig=" + sig }, "SAS"},
		{"container-empty", func(c *cloudtier.AzureConfig) { c.Container = "" }, "Container"},
		{"container-upper", func(c *cloudtier.AzureConfig) { c.Container = "Tier" }, "Container"},
		{"container-hyphens", func(c *cloudtier.AzureConfig) { c.Container = "a--b" }, "Container"},
		{"container-long", func(c *cloudtier.AzureConfig) { c.Container = strings.Repeat("a", 64) }, "Container"},
		{"prefix", func(c *cloudtier.AzureConfig) { c.Prefix = "a//b" }, "Prefix"},
		{"no-credential", func(c *cloudtier.AzureConfig) { c.AccountKey = "" }, "credential"},
		{"no-name", func(c *cloudtier.AzureConfig) { c.AccountName = "" }, "AccountName"},
		{"key-not-base64", func(c *cloudtier.AzureConfig) { c.AccountKey = "not base64!" + sig }, "AccountKey"},
		{"key-and-sas", func(c *cloudtier.AzureConfig) { c.SAS = "sig=" + sig }, "SAS"},
		{"sas-no-sig", func(c *cloudtier.AzureConfig) { c.AccountKey, c.SAS = "", "sv=2024-08-04&sp=rwdl" }, "sig"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.change(&cfg)
			_, err := cloudtier.NewAzure(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want one naming %s", err, c.want)
			}
			if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), azKey) {
				t.Fatalf("error %q holds a credential", err)
			}
		})
	}
}

// startS3 runs a Cairn in this process, with the bucket.
func startS3(t *testing.T) *env {
	cfg := gateway.DefaultConfig(t.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	g, err := gateway.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s3api.NewHandler(s3api.Config{
		Region: "us-east-1",
		Secret: func(k string) (string, bool) { return s3Secret, k == s3Key },
		Logger: slog.New(slog.DiscardHandler),
	}, g)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); g.Close() })
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s3Key, s3Secret, ""),
	})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucketName)}); err != nil {
		t.Fatal(err)
	}
	newTarget := func(t *testing.T, root, bucket, prefix, secret string) cloudtier.Target {
		tg, err := cloudtier.NewS3(cloudtier.S3Config{Endpoint: root, Region: "us-east-1", Bucket: bucket, Prefix: prefix,
			AccessKey: s3Key, SecretKey: secret, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	return &env{
		root:   srv.URL,
		secret: s3Secret,
		target: func(t *testing.T, root, bucket, prefix string) cloudtier.Target {
			return newTarget(t, root, bucket, prefix, s3Secret)
		},
		badCredential: func(t *testing.T, root string) cloudtier.Target {
			return newTarget(t, root, bucketName, "", "wrong-"+s3Secret)
		},
		throttleBody: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`,
	}
}

var azThrottle = struct {
	header http.Header
	body   string
}{
	header: http.Header{"X-Ms-Error-Code": {"ServerBusy"}},
	body:   `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>`,
}

func azureKeyEnv(root string) *env {
	newTarget := func(t *testing.T, root, bucket, prefix, key string) cloudtier.Target {
		tg, err := cloudtier.NewAzure(cloudtier.AzureConfig{AccountURL: root + "/" + azAccount, Container: bucket, Prefix: prefix,
			AccountName: azAccount, AccountKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	return &env{
		root:   root,
		secret: azKey,
		target: func(t *testing.T, root, bucket, prefix string) cloudtier.Target {
			return newTarget(t, root, bucket, prefix, azKey)
		},
		badCredential: func(t *testing.T, root string) cloudtier.Target {
			// Another well-formed key: the service, not NewAzure, refuses it.
			return newTarget(t, root, bucketName, "", "A"+azKey[1:])
		},
		throttleHeader: azThrottle.header,
		throttleBody:   azThrottle.body,
	}
}

// azureSASEnv is targets that hold only a SAS of the container (for the
// missing container, a SAS of that one).
func azureSASEnv(t *testing.T, root string) *env {
	sasOf := func(bucket, key string) string {
		c, err := container.NewSharedKeyCredential(azAccount, key)
		if err != nil {
			t.Fatal(err)
		}
		q, err := sas.BlobSignatureValues{
			Protocol:      sas.ProtocolHTTPSandHTTP,
			ExpiryTime:    time.Now().Add(time.Hour).UTC(),
			Permissions:   (&sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true}).String(),
			ContainerName: bucket,
		}.SignWithSharedKey(c)
		if err != nil {
			t.Fatal(err)
		}
		return q.Encode()
	}
	good := sasOf(bucketName, azKey)
	q, _ := url.ParseQuery(good)
	newTarget := func(t *testing.T, root, bucket, prefix, token string) cloudtier.Target {
		tg, err := cloudtier.NewAzure(cloudtier.AzureConfig{AccountURL: root + "/" + azAccount, Container: bucket, Prefix: prefix, SAS: token})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	return &env{
		root:   root,
		secret: q.Get("sig"),
		target: func(t *testing.T, root, bucket, prefix string) cloudtier.Target {
			token := good
			if bucket != bucketName {
				token = sasOf(bucket, azKey)
			}
			// Both forms of a token work; use the one with '?' here.
			return newTarget(t, root, bucket, prefix, "?"+token)
		},
		badCredential: func(t *testing.T, root string) cloudtier.Target {
			return newTarget(t, root, bucketName, "", sasOf(bucketName, "A"+azKey[1:]))
		},
		throttleHeader: azThrottle.header,
		throttleBody:   azThrottle.body,
	}
}

// startAzurite runs Azurite's blob service with the test container, and
// returns its root URL; it skips t without Azurite.
func startAzurite(t *testing.T) string { return azuritetest.Start(t, bucketName) }

// proxyTo is a reverse proxy to root whose intercept answers a request
// itself when it returns true.
func proxyTo(t *testing.T, root string, intercept func(http.ResponseWriter, *http.Request) bool) string {
	u, err := url.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// deadRoot is the URL of a loopback port that nothing listens on.
func deadRoot(t *testing.T) string {
	return "http://127.0.0.1:" + strconv.Itoa(freePort(t))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func noSecret(t *testing.T, e *env, err error) {
	t.Helper()
	if strings.Contains(err.Error(), e.secret) || strings.Contains(err.Error(), "sig=") {
		t.Errorf("error %q holds the credential", err)
	}
}

func put(t *testing.T, tg cloudtier.Target, name string, data []byte) {
	t.Helper()
	sum := md5.Sum(data)
	if err := tg.Put(t.Context(), name, bytes.NewReader(data), int64(len(data)), sum[:]); err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
}

func get(t *testing.T, tg cloudtier.Target, name string, off, n int64) []byte {
	t.Helper()
	r, err := tg.GetRange(t.Context(), name, off, n)
	if err != nil {
		t.Fatalf("GetRange(%s, %d, %d): %v", name, off, n, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("GetRange(%s, %d, %d): read: %v", name, off, n, err)
	}
	return b
}

func errOf(_ io.ReadCloser, err error) error { return err }

// random is n bytes from a seeded generator.
func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

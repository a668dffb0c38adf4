package gateway

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/s3api"
)

// TestSSETieredReadsBack: SSE-S3 and SSE-C versions moved to a tier (their
// local copies given up) read back through the tier with their keys: the
// tier carries the records as stored, sealed, and the reader opens them.
func TestSSETieredReadsBack(t *testing.T) {
	ctx := t.Context()
	g := open(t, testConfig(t))
	addS3Tier(t, g, "cold")
	newBucket(t, g, "sec", s3api.VersioningUnset)
	k := newCustomerKey(3)
	ckey := bytes.Repeat([]byte{3}, 32)
	reqs := map[string]s3api.SSE{
		"s3": {Mode: s3api.SSEModeS3},
		"c":  {Mode: s3api.SSEModeCustomer, CustomerKey: ckey, CustomerKeyMD5: k.md5},
	}
	data := backupLike(8, 1<<20)
	for name, req := range reqs {
		wctx := s3api.WithRequestSSE(ctx, s3api.SSERequest{Object: req})
		if _, err := g.PutObject(wctx, s3api.PutObjectInput{Bucket: "sec", Key: name, Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		moveNowIn(t, g, "sec", name)
		_, r, err := g.GetObject(wctx, "sec", name, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s read through the tier: %v, equal %v", name, err, bytes.Equal(got, data))
		}
	}
}

// TestSSEReplication: an SSE-C version replicates and reads back at the
// replica with the client's key; an SSE-S3 version is refused (the
// replica cannot open data sealed under this site's keys) with an event,
// and shows FAILED.
func TestSSEReplication(t *testing.T) {
	src, dst := newSite(t), newSite(t)
	ctx := t.Context()
	if _, err := src.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: dst.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bkt"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if err := src.g.AddReplication(ctx, ReplicationSpec{Bucket: "bkt", Remote: "dr", ReplicaBucket: "bkt-dr"}); err != nil {
		t.Fatal(err)
	}
	k := newCustomerKey(4)
	data := random(11, 400<<10)
	if _, err := src.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("c"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s3"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.g.RunReplication(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	out, err := dst.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt-dr"), Key: aws.String("c"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if got := readGot(t, out, err); !bytes.Equal(got, data) {
		t.Fatal("the SSE-C replica reads back wrong")
	}
	_, err = dst.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt-dr"), Key: aws.String("c")})
	checkAPIError(t, "the SSE-C replica without the key", err, "InvalidRequest", 400)
	if _, err := dst.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt-dr"), Key: aws.String("s3")}); err == nil {
		t.Error("an SSE-S3 version was replicated")
	}
	head, err := src.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s3")})
	if err != nil || head.ReplicationStatus != types.ReplicationStatusFailed {
		t.Errorf("the refused version's status: %v %q", err, head.ReplicationStatus)
	}
	evs, err := src.g.Events(ctx, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || (e.Kind == events.ReplicationSSERefused && strings.Contains(e.Message, "s3"))
	}
	if !found {
		t.Errorf("no %s event: %+v", events.ReplicationSSERefused, evs)
	}
}

// TestSSERecoverFromTier: a recovery from the tier with its passphrase
// alone (a new data directory, a new SSE master key) opens the SSE-S3
// versions it recovers (the group key travels in the sealed catalog) and
// the SSE-C ones with the client's key.
func TestSSERecoverFromTier(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	cfg.TierCatalogInterval = 20 * time.Millisecond
	g := open(t, cfg)
	addS3Tier(t, g, "cold")
	newBucket(t, g, "sec", s3api.VersioningUnset)
	ckey := bytes.Repeat([]byte{5}, 32)
	reqs := map[string]s3api.SSE{
		"s3": {Mode: s3api.SSEModeS3},
		"c":  {Mode: s3api.SSEModeCustomer, CustomerKey: ckey},
	}
	data := backupLike(12, 1<<20)
	for name, req := range reqs {
		wctx := s3api.WithRequestSSE(ctx, s3api.SSERequest{Object: req})
		if _, err := g.PutObject(wctx, s3api.PutObjectInput{Bucket: "sec", Key: name, Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		moveNowIn(t, g, "sec", name)
	}
	waitForgets(t, g)
	pass := []byte("recovery passphrase sse")
	tc := escrowAndClose(t, g, "cold", pass)
	rcfg := testConfig(t)
	rcfg.DataDir = filepath.Join(t.TempDir(), "new")
	rep, err := Recover(ctx, rcfg, RecoverOptions{Tier: tc, Passphrase: pass})
	if err != nil || rep.Versions != 2 || len(rep.NotRecoverable) != 0 {
		t.Fatalf("recover: %+v, %v", rep, err)
	}
	g2 := open(t, rcfg)
	for name, req := range reqs {
		_, r, err := g2.GetObject(s3api.WithRequestSSE(ctx, s3api.SSERequest{Object: req}), "sec", name, "")
		if err != nil {
			t.Fatalf("%s after recovery: %v", name, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after recovery: %v, equal %v", name, err, bytes.Equal(got, data))
		}
	}
}

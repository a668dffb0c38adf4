package conformance

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestRcloneSSE drives rclone's encryption options: --s3-server-side-encryption
// AES256 and --s3-sse-customer-key, single and multipart uploads, and a
// sync back that must read every byte with the key.
func TestRcloneSSE(t *testing.T) {
	t.Parallel()
	skipShort(t)
	rc := newRclone(t)
	sdk := newClient(t)
	work := t.TempDir()
	b := bucketName(t)
	cleanupBucket(t, sdk, b)
	remote := "cairn:" + b
	rc.run(time.Minute, "mkdir", remote)
	src := filepath.Join(work, "tree")
	makeTree(t, src, 20, 50)
	writeSeededFile(t, filepath.Join(src, "big.bin"), 302, 12*mib)
	// rclone sends SSE-C keys over HTTPS only: through a TLS front, as
	// cairn connect would carry them (Cairn takes them from loopback).
	front := newTLSFront(t)
	rcTLS := *rc
	rcTLS.env = append(append([]string(nil), rc.env...), "RCLONE_CONFIG_CAIRN_ENDPOINT="+front.srv.URL)
	rcTLS.args = append(append([]string(nil), rc.args...), "--no-check-certificate")
	for _, mode := range []struct {
		name  string
		r     *toolRunner
		flags []string
	}{
		{"sse-s3", rc, []string{"--s3-server-side-encryption", "AES256"}},
		{"sse-c", &rcTLS, []string{"--s3-sse-customer-algorithm", "AES256", "--s3-sse-customer-key", "0123456789abcdef0123456789abcdef"}},
	} {
		args := append([]string{"sync", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"}, mode.flags...)
		mode.r.run(5*time.Minute, append(args, src, remote+"/"+mode.name)...)
		back := filepath.Join(work, mode.name+".back")
		mode.r.run(5*time.Minute, append(append([]string{"sync"}, mode.flags...), remote+"/"+mode.name, back)...)
		compareTrees(t, "rclone "+mode.name+" sync up and back", src, back)
		h, err := sdk.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String(mode.name + "/big.bin")})
		if mode.name == "sse-s3" {
			must(t, err, "HeadObject sse-s3/big.bin")
			if h.ServerSideEncryption != types.ServerSideEncryptionAes256 {
				t.Errorf("rclone's SSE-S3 upload is stored %q", h.ServerSideEncryption)
			}
		} else if err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("HEAD of rclone's SSE-C upload without the key: %v", err)
		}
	}
}

package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// seededSHA256 returns the hex SHA-256 of size seeded bytes.
func seededSHA256(seed uint64, size int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(newSeeded(seed, size), size))
	return hex.EncodeToString(h.Sum(nil))
}

// getSHA256 streams an object (or a range of it) into SHA-256.
func getSHA256(t testing.TB, c *s3.Client, in *s3.GetObjectInput) (string, int64) {
	t.Helper()
	out, err := c.GetObject(t.Context(), in)
	must(t, err, "GetObject "+aws.ToString(in.Key))
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	must(t, err, "reading "+aws.ToString(in.Key))
	return hex.EncodeToString(h.Sum(nil)), n
}

// TestLargeObject round-trips 64 MiB streamed from a generator and compares
// SHA-256s; neither side holds the object in memory.
func TestLargeObject(t *testing.T) {
	t.Parallel()
	skipShort(t)
	c := newClient(t)
	b := newBucket(t, c)
	const size = 64 * mib
	start := time.Now()
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("large"), Body: newSeeded(140, size), ContentLength: aws.Int64(size)})
	must(t, err, "PutObject 64 MiB")
	t.Logf("PUT 64 MiB in %s", time.Since(start).Round(time.Millisecond))
	want := seededSHA256(140, size)
	start = time.Now()
	got, n := getSHA256(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("large")})
	t.Logf("GET 64 MiB in %s", time.Since(start).Round(time.Millisecond))
	if n != size || got != want {
		t.Errorf("GET of the 64 MiB object: %d bytes, sha256 %s; want %d, %s", n, got, size, want)
	}
	if out.ETag == nil {
		t.Errorf("PutObject 64 MiB returned no ETag")
	}
	// Ranges deep inside, where chunk boundaries fall somewhere.
	for _, r := range [][2]int64{{33_554_000, 33_555_999}, {size - 100_000, size - 1}, {7_777_777, 17_777_777}} {
		hsum, n := getSHA256(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("large"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1]))})
		want := make([]byte, r[1]-r[0]+1)
		newSeeded(140, size).ReadAt(want, r[0])
		if n != int64(len(want)) || hsum != sha256hex(want) {
			t.Errorf("range %d-%d of the 64 MiB object: %d bytes, differing", r[0], r[1], n)
		}
	}
}

// stats are the storage figures `cairn admin stats --json` reports, summed
// over storage groups.
type stats struct {
	Logical, Unique, Stored int64
	raw                     string
}

// cairnAdmin runs `cairn admin ARGS...` against the server and returns its
// standard output.
func cairnAdmin(t testing.TB, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	full := append([]string{"admin"}, args...)
	full = append(full, adminFlags()...)
	cmd := exec.CommandContext(ctx, tgt.bin, full...)
	cmd.Env = append(cleanEnv(t.TempDir()), adminEnv()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cairn %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(full, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// adminFlags and adminEnv tell `cairn admin` which server to talk to and
// with which (root) credentials.
func adminFlags() []string {
	return []string{"--data", tgt.dataDir, "--endpoint", tgt.endpoint, "--region", tgt.region}
}

func adminEnv() []string {
	return []string{
		"CAIRN_ROOT_ACCESS_KEY=" + tgt.accessKey,
		"CAIRN_ROOT_SECRET_KEY=" + tgt.secretKey,
	}
}

// readStats runs `cairn admin stats --json` and sums the storage groups'
// logical, unique and stored bytes. Field names are matched without regard
// to case or underscores (LogicalBytes, logical_bytes).
func readStats(t testing.TB) stats {
	t.Helper()
	out := cairnAdmin(t, "stats", "--json")
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("cairn admin stats --json: not JSON: %v\n%s", err, out)
	}
	groups, _ := doc["groups"].([]any)
	if len(groups) == 0 {
		t.Fatalf("cairn admin stats --json: no \"groups\" list:\n%s", out)
	}
	s := stats{raw: string(out)}
	for _, g := range groups {
		m, _ := g.(map[string]any)
		s.Logical += numField(t, m, "logicalbytes", out)
		s.Unique += numField(t, m, "uniquebytes", out)
		s.Stored += numField(t, m, "storedbytes", out)
	}
	return s
}

func numField(t testing.TB, m map[string]any, name string, doc []byte) int64 {
	t.Helper()
	for k, v := range m {
		if strings.ReplaceAll(strings.ToLower(k), "_", "") == name {
			if f, ok := v.(float64); ok {
				return int64(f)
			}
		}
	}
	t.Fatalf("cairn admin stats --json: a group has no numeric %s:\n%s", name, doc)
	return 0
}

// TestDedupVisible writes the same 32 MiB under two keys and checks that
// Cairn stores it once, then that deleting both and cleaning frees the space.
// It does not run in parallel: it measures the server's totals.
func TestDedupVisible(t *testing.T) {
	requireCairn(t, "dedup and `cairn admin` are Cairn features")
	skipShort(t)
	c := newClient(t)
	b := newBucket(t, c)
	const size = 32 * mib
	before := readStats(t)
	for _, k := range []string{"first", "second/copy"} {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: newSeeded(150, size), ContentLength: aws.Int64(size)})
		must(t, err, "PutObject "+k)
	}
	after := readStats(t)
	dl, du, ds := after.Logical-before.Logical, after.Unique-before.Unique, after.Stored-before.Stored
	t.Logf("after two identical 32 MiB PUTs: logical +%d, unique +%d, stored +%d", dl, du, ds)
	if dl < 2*size-mib || dl > 2*size+mib {
		t.Errorf("logical bytes grew by %d; want about %d (2 x 32 MiB)\n%s", dl, 2*size, after.raw)
	}
	if du > size+size/10 || du < size-size/10 {
		t.Errorf("unique bytes grew by %d; want about %d (the data once)\n%s", du, size, after.raw)
	}
	if ds > size+size/5 {
		t.Errorf("stored bytes grew by %d for 32 MiB of unique data (written twice): not deduplicated\n%s", ds, after.raw)
	}
	if du > 0 && float64(dl)/float64(du) < 1.8 {
		t.Errorf("logical/unique growth %.2f; want about 2", float64(dl)/float64(du))
	}

	for _, k := range []string{"first", "second/copy"} {
		_, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String(k)})
		must(t, err, "DeleteObject "+k)
	}
	cleanOut := cairnAdmin(t, "clean")
	cleaned := readStats(t)
	t.Logf("cairn admin clean said: %s", strings.TrimSpace(string(cleanOut)))
	t.Logf("after delete and clean: stored %d -> %d", after.Stored, cleaned.Stored)
	if cleaned.Stored >= after.Stored {
		t.Errorf("stored bytes did not go down after deleting and cleaning: %d -> %d\n%s", after.Stored, cleaned.Stored, cleaned.raw)
	} else if freed := after.Stored - cleaned.Stored; freed < size/2 {
		t.Errorf("cleaning freed %d bytes of the %d unique bytes deleted", freed, size)
	}
}

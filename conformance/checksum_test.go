package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// checksums holds the five checksum fields an S3 output struct carries.
type checksums struct{ crc32, crc32c, crc64nvme, sha1, sha256 *string }

func (c checksums) get(alg string) string {
	switch alg {
	case "CRC32":
		return aws.ToString(c.crc32)
	case "CRC32C":
		return aws.ToString(c.crc32c)
	case "CRC64NVME":
		return aws.ToString(c.crc64nvme)
	case "SHA1":
		return aws.ToString(c.sha1)
	case "SHA256":
		return aws.ToString(c.sha256)
	}
	return ""
}

// setPartChecksum fills the CompletedPart field for alg.
func setPartChecksum(p *types.CompletedPart, alg, v string) {
	switch alg {
	case "CRC32":
		p.ChecksumCRC32 = &v
	case "CRC32C":
		p.ChecksumCRC32C = &v
	case "CRC64NVME":
		p.ChecksumCRC64NVME = &v
	case "SHA1":
		p.ChecksumSHA1 = &v
	case "SHA256":
		p.ChecksumSHA256 = &v
	}
}

// TestChecksumDefaultTrailer uploads with the SDK's default settings over
// HTTPS, where it sends a CRC32 as an aws-chunked trailer
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER), and reads the checksum back.
func TestChecksumDefaultTrailer(t *testing.T) {
	t.Parallel()
	f := newTLSFront(t)
	c := f.client()
	b := newBucket(t, c)
	data := seededBytes(80, 3*mib+17)

	// An unseekable body of known length: the SDK streams it.
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("trailer"), Body: io.MultiReader(bytes.NewReader(data)), ContentLength: aws.Int64(int64(len(data)))})
	must(t, err, "PutObject with the SDK's default checksum (trailer)")
	var put http.Header
	for _, h := range f.requests() {
		if h.Get("X-Amz-Trailer") != "" {
			put = h
		}
	}
	if put == nil || put.Get("X-Amz-Content-Sha256") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || !strings.EqualFold(put.Get("X-Amz-Trailer"), "x-amz-checksum-crc32") {
		t.Fatalf("the SDK sent no CRC32 trailer (x-amz-content-sha256 %q, x-amz-trailer %q): this test cannot check what it is for", put.Get("X-Amz-Content-Sha256"), put.Get("X-Amz-Trailer"))
	}
	if dl := put.Get("X-Amz-Decoded-Content-Length"); dl != strconv.Itoa(len(data)) {
		t.Logf("x-amz-decoded-content-length %q", dl)
	}
	want := checksumB64("CRC32", data)
	if got := aws.ToString(out.ChecksumCRC32); got != want {
		t.Errorf("PutObject response x-amz-checksum-crc32 %q; want %q", got, want)
	}
	if unquote(out.ETag) != md5hex(data) {
		t.Errorf("PutObject ETag %s; want the MD5 of the decoded payload %s", unquote(out.ETag), md5hex(data))
	}

	body, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("trailer"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(body, data) {
		t.Errorf("GetObject: %d bytes that differ from the %d put (aws-chunked framing left in?)", len(body), len(data))
	}
	if got := aws.ToString(g.ChecksumCRC32); got != want {
		t.Errorf("GetObject ChecksumMode=ENABLED x-amz-checksum-crc32 %q; want %q", got, want)
	}

	// The same for an upload's parts.
	id := createUpload(t, c, b, "mp")
	p1, p2 := seededBytes(81, 5*mib), seededBytes(82, 1234)
	c1, c2 := uploadPart(t, c, b, "mp", id, 1, p1), uploadPart(t, c, b, "mp", id, 2, p2)
	_, err = complete(c, t, b, "mp", id, c1, c2)
	must(t, err, "CompleteMultipartUpload of parts sent with trailers")
	body, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("mp")})
	if !bytes.Equal(body, slices.Concat(p1, p2)) {
		t.Errorf("multipart object from trailer-checksummed parts differs")
	}

	// An empty body goes without a trailer but still with a checksum header.
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("empty"), Body: bytes.NewReader(nil)})
	must(t, err, "PutObject of 0 bytes with default checksums")
}

// TestChecksumAlgorithms puts an object with each algorithm, once with the
// checksum in a header (plain HTTP: the SDK signs the payload) and once as a
// trailer (HTTPS: unsigned payload), and reads it back.
func TestChecksumAlgorithms(t *testing.T) {
	t.Parallel()
	f := newTLSFront(t)
	clients := map[string]*s3.Client{"header": newClient(t), "trailer": f.client()}
	b := newBucket(t, clients["header"])
	data := seededBytes(90, 300_001)
	for _, alg := range checksumAlgorithms {
		for _, how := range []string{"header", "trailer"} {
			c := clients[how]
			key := alg + "-" + how
			out, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: &key, Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithm(alg)})
			if err != nil {
				t.Errorf("PutObject %s in a %s: %v", alg, how, err)
				continue
			}
			want := checksumB64(alg, data)
			pc := checksums{out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256}
			if got := pc.get(alg); got != want {
				t.Errorf("PutObject %s (%s): response checksum %q; want %q", alg, how, got, want)
			}
			h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Errorf("HeadObject %s: %v", key, err)
				continue
			}
			hc := checksums{h.ChecksumCRC32, h.ChecksumCRC32C, h.ChecksumCRC64NVME, h.ChecksumSHA1, h.ChecksumSHA256}
			if got := hc.get(alg); got != want {
				t.Errorf("HeadObject ChecksumMode=ENABLED of %s: checksum %q; want %q", key, got, want)
			}
			if h.ChecksumType != "" && h.ChecksumType != types.ChecksumTypeFullObject {
				t.Errorf("HeadObject of %s: x-amz-checksum-type %q; want FULL_OBJECT", key, h.ChecksumType)
			}
			// Without ChecksumMode S3 sends no checksum.
			h2, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: &key})
			if err == nil {
				if got := (checksums{h2.ChecksumCRC32, h2.ChecksumCRC32C, h2.ChecksumCRC64NVME, h2.ChecksumSHA1, h2.ChecksumSHA256}).get(alg); got != "" {
					t.Errorf("HeadObject without ChecksumMode of %s returned checksum %q", key, got)
				}
			}
			g, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Errorf("GetObject %s: %v", key, err)
				continue
			}
			body, err := io.ReadAll(g.Body) // the SDK validates the checksum while reading
			g.Body.Close()
			if err != nil || !bytes.Equal(body, data) {
				t.Errorf("GetObject %s: %d bytes, err %v", key, len(body), err)
			}
			gc := checksums{g.ChecksumCRC32, g.ChecksumCRC32C, g.ChecksumCRC64NVME, g.ChecksumSHA1, g.ChecksumSHA256}
			if got := gc.get(alg); got != want {
				t.Errorf("GetObject ChecksumMode=ENABLED of %s: checksum %q; want %q", key, got, want)
			}
		}
	}
}

type multipartChecksumCase struct {
	alg      string
	typ      types.ChecksumType // sent with CreateMultipartUpload; "" for the default
	wantType types.ChecksumType
}

// TestChecksumMultipart uploads with each algorithm (and its default
// checksum type) and checks the part checksums and the object's (COMPOSITE:
// the checksum of the part checksums, -N; FULL_OBJECT: the checksum of all
// the bytes).
func TestChecksumMultipart(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	p1, p2 := seededBytes(100, 5*mib), seededBytes(101, 100_003)
	checkMultipartChecksums(t, c, b, p1, p2, []multipartChecksumCase{
		{"CRC32", "", types.ChecksumTypeComposite},
		{"CRC32C", "", types.ChecksumTypeComposite},
		{"CRC64NVME", "", types.ChecksumTypeFullObject},
		{"SHA1", "", types.ChecksumTypeComposite},
		{"SHA256", "", types.ChecksumTypeComposite},
	})

	// A part checksum in Complete that differs from the uploaded part's is refused.
	key := "wrong-part-checksum"
	cu, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: &key, ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err, "CreateMultipartUpload SHA256")
	n := int32(1)
	up, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: cu.UploadId, PartNumber: &n, Body: bytes.NewReader(p2), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err, "UploadPart SHA256")
	p := types.CompletedPart{PartNumber: &n, ETag: up.ETag, ChecksumSHA256: aws.String(checksumB64("SHA256", p1))}
	_, err = complete(c, t, b, key, aws.ToString(cu.UploadId), p)
	wantErrOneOf(t, err, 400, []string{"InvalidPart", "BadDigest"}, "CompleteMultipartUpload with a wrong part SHA256")
}

// TestChecksumMultipartFullObjectCRC32 asks for FULL_OBJECT CRC32 and CRC32C
// multipart checksums (S3 combines the part CRCs into the whole object's).
func TestChecksumMultipartFullObjectCRC32(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	p1, p2 := seededBytes(102, 5*mib), seededBytes(103, 100_003)
	checkMultipartChecksums(t, c, b, p1, p2, []multipartChecksumCase{
		{"CRC32", types.ChecksumTypeFullObject, types.ChecksumTypeFullObject},
		{"CRC32C", types.ChecksumTypeFullObject, types.ChecksumTypeFullObject},
	})
}

func checkMultipartChecksums(t *testing.T, c *s3.Client, b string, p1, p2 []byte, cases []multipartChecksumCase) {
	for _, tc := range cases {
		key := fmt.Sprintf("%s-%s", tc.alg, tc.wantType)
		cu, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: &key, ChecksumAlgorithm: types.ChecksumAlgorithm(tc.alg), ChecksumType: tc.typ})
		if err != nil {
			t.Errorf("CreateMultipartUpload %s: %v", key, err)
			continue
		}
		if string(cu.ChecksumAlgorithm) != tc.alg {
			t.Errorf("CreateMultipartUpload %s: x-amz-checksum-algorithm %q", key, cu.ChecksumAlgorithm)
		}
		if cu.ChecksumType != "" && cu.ChecksumType != tc.wantType {
			t.Errorf("CreateMultipartUpload %s: x-amz-checksum-type %q; want %q", key, cu.ChecksumType, tc.wantType)
		}
		id := aws.ToString(cu.UploadId)
		var parts []types.CompletedPart
		ok := true
		for i, data := range [][]byte{p1, p2} {
			n := int32(i + 1)
			out, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: &id, PartNumber: &n, Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithm(tc.alg)})
			if err != nil {
				t.Errorf("UploadPart %d of %s: %v", n, key, err)
				ok = false
				break
			}
			want := checksumB64(tc.alg, data)
			got := (checksums{out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256}).get(tc.alg)
			if got != want {
				t.Errorf("UploadPart %d of %s: checksum %q; want %q", n, key, got, want)
			}
			p := types.CompletedPart{PartNumber: &n, ETag: out.ETag}
			setPartChecksum(&p, tc.alg, want)
			parts = append(parts, p)
		}
		if !ok {
			continue
		}
		lp, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: &key, UploadId: &id})
		if err != nil {
			t.Errorf("ListParts %s: %v", key, err)
		} else {
			for i, p := range lp.Parts {
				got := (checksums{p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256}).get(tc.alg)
				if want := checksumB64(tc.alg, [][]byte{p1, p2}[i]); got != want {
					t.Errorf("ListParts %s part %d: checksum %q; want %q", key, i+1, got, want)
				}
			}
		}
		out, err := complete(c, t, b, key, id, parts...)
		if err != nil {
			t.Errorf("CompleteMultipartUpload %s: %v", key, err)
			continue
		}
		want := compositeChecksum(tc.alg, p1, p2)
		if tc.wantType == types.ChecksumTypeFullObject {
			want = checksumB64(tc.alg, slices.Concat(p1, p2))
		}
		if got := (checksums{out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256}).get(tc.alg); got != want {
			t.Errorf("CompleteMultipartUpload %s: checksum %q; want %q", key, got, want)
		}
		if out.ChecksumType != tc.wantType {
			t.Errorf("CompleteMultipartUpload %s: x-amz-checksum-type %q; want %q", key, out.ChecksumType, tc.wantType)
		}
		h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Errorf("HeadObject %s: %v", key, err)
			continue
		}
		if got := (checksums{h.ChecksumCRC32, h.ChecksumCRC32C, h.ChecksumCRC64NVME, h.ChecksumSHA1, h.ChecksumSHA256}).get(tc.alg); got != want {
			t.Errorf("HeadObject ChecksumMode=ENABLED %s: checksum %q; want %q", key, got, want)
		}
		if h.ChecksumType != tc.wantType {
			t.Errorf("HeadObject %s: x-amz-checksum-type %q; want %q", key, h.ChecksumType, tc.wantType)
		}
	}
}

// TestChecksumWrongHeader sends payloads whose x-amz-checksum-* header does
// not match: S3 answers BadDigest and stores nothing.
func TestChecksumWrongHeader(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	body := []byte("the payload the checksum does not describe")
	other := []byte("something else entirely")
	for _, alg := range checksumAlgorithms {
		resp, rb := rawRequest{method: "PUT", path: objectPath(b, "bad-"+alg), body: body, header: map[string]string{
			"x-amz-checksum-" + strings.ToLower(alg): checksumB64(alg, other),
			"x-amz-sdk-checksum-algorithm":           alg,
		}}.do(t)
		wantRawError(t, resp, rb, 400, "BadDigest", "PUT with a wrong x-amz-checksum-"+strings.ToLower(alg))
		_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("bad-" + alg)})
		wantErr(t, err, 404, "", "HeadObject after a BadDigest PUT ("+alg+")")
	}
	// The right one is accepted (the request above was well formed).
	resp, rb := rawRequest{method: "PUT", path: objectPath(b, "good"), body: body, header: map[string]string{"x-amz-checksum-crc32": checksumB64("CRC32", body)}}.do(t)
	if resp.StatusCode != 200 {
		t.Errorf("PUT with a right x-amz-checksum-crc32: HTTP %d %s", resp.StatusCode, truncate(rb, 300))
	}
}

// awsChunkedUnsigned frames body as an aws-chunked payload with the given
// trailer lines, in chunks of chunk bytes.
func awsChunkedUnsigned(body []byte, chunk int, trailers ...string) []byte {
	var w bytes.Buffer
	for len(body) > 0 {
		n := min(chunk, len(body))
		fmt.Fprintf(&w, "%x\r\n", n)
		w.Write(body[:n])
		w.WriteString("\r\n")
		body = body[n:]
	}
	w.WriteString("0\r\n")
	for _, t := range trailers {
		w.WriteString(t + "\r\n")
	}
	w.WriteString("\r\n")
	return w.Bytes()
}

// TestChecksumWrongTrailer sends an aws-chunked body by hand with a right,
// then a wrong, CRC32 trailer.
func TestChecksumWrongTrailer(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	data := seededBytes(110, 200_000)
	send := func(key, crc string) (*http.Response, []byte) {
		return rawRequest{
			method: "PUT", path: objectPath(b, key),
			body:        awsChunkedUnsigned(data, 64<<10, "x-amz-checksum-crc32:"+crc),
			payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
			header: map[string]string{
				"Content-Encoding":             "aws-chunked",
				"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data)),
				"X-Amz-Trailer":                "x-amz-checksum-crc32",
				"X-Amz-Sdk-Checksum-Algorithm": "CRC32",
			},
		}.do(t)
	}
	resp, body := send("good", checksumB64("CRC32", data))
	if resp.StatusCode != 200 {
		t.Fatalf("aws-chunked PUT with a right CRC32 trailer: HTTP %d %s", resp.StatusCode, truncate(body, 300))
	}
	got, g := getBytes(t, c, &s3.GetObjectInput{Bucket: &b, Key: aws.String("good"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data) {
		t.Errorf("object put as aws-chunked: %d bytes that differ from the %d sent", len(got), len(data))
	}
	if aws.ToString(g.ChecksumCRC32) != checksumB64("CRC32", data) {
		t.Errorf("stored CRC32 %q; want %q", aws.ToString(g.ChecksumCRC32), checksumB64("CRC32", data))
	}

	resp, body = send("bad", checksumB64("CRC32", []byte("not it")))
	wantRawError(t, resp, body, 400, "BadDigest", "aws-chunked PUT with a wrong CRC32 trailer")
	_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("bad")})
	wantErr(t, err, 404, "", "HeadObject after a wrong trailer")
}

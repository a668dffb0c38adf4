package sigv4

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// s3Error is the S3 error code and HTTP status the HTTP layer answers each
// sentinel with; the echo server uses it so that real clients get errors
// they understand. It is also the mapping the report recommends.
func s3Error(err error) (code string, status int) {
	switch {
	case errors.Is(err, ErrSignatureDoesNotMatch):
		return "SignatureDoesNotMatch", http.StatusForbidden
	case errors.Is(err, ErrInvalidAccessKeyID):
		return "InvalidAccessKeyId", http.StatusForbidden
	case errors.Is(err, ErrRequestTimeTooSkewed):
		return "RequestTimeTooSkewed", http.StatusForbidden
	case errors.Is(err, ErrAccessDenied):
		return "AccessDenied", http.StatusForbidden
	case errors.Is(err, ErrAuthorizationHeaderMalformed):
		return "AuthorizationHeaderMalformed", http.StatusBadRequest
	case errors.Is(err, ErrAuthorizationQueryParametersError):
		return "AuthorizationQueryParametersError", http.StatusBadRequest
	case errors.Is(err, ErrSignatureVersionNotSupported):
		return "InvalidRequest", http.StatusBadRequest
	case errors.Is(err, ErrXAmzContentSHA256Mismatch):
		return "XAmzContentSHA256Mismatch", http.StatusBadRequest
	case errors.Is(err, ErrIncompleteBody):
		return "IncompleteBody", http.StatusBadRequest
	case errors.Is(err, ErrMalformedChunkedEncoding):
		return "InvalidRequest", http.StatusBadRequest
	case errors.Is(err, ErrMissingContentLength):
		return "MissingContentLength", http.StatusLengthRequired
	case errors.Is(err, ErrInvalidArgument):
		return "InvalidArgument", http.StatusBadRequest
	}
	return "InternalError", http.StatusInternalServerError
}

// echoS3 is just enough of an S3 server for real clients to talk to: it
// authenticates every request with a Verifier, stores decoded bodies in
// memory under their decoded path, and answers PUT, GET, HEAD, list and
// multipart upload. It checks x-amz-checksum-crc32 values, from headers
// or trailers, against the decoded bytes.
type echoS3 struct {
	t testing.TB
	v *Verifier

	mu struct {
		sync.Mutex
		objects  map[string][]byte
		parts    map[string]map[int][]byte
		payloads []string // x-amz-content-sha256 of each authenticated request
		failures []error
	}
}

func newEchoS3(t testing.TB, v *Verifier) *echoS3 {
	s := &echoS3{t: t, v: v}
	s.mu.objects = map[string][]byte{}
	s.mu.parts = map[string]map[int][]byte{}
	return s
}

func (s *echoS3) object(path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.mu.objects[path]
	return b, ok
}

func (s *echoS3) payloads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mu.payloads)
}

func (s *echoS3) failures() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mu.failures)
}

func (s *echoS3) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.mu.Lock()
	s.mu.failures = append(s.mu.failures, err)
	s.mu.Unlock()
	s.t.Logf("%s %s: %v", r.Method, r.RequestURI, err)
	code, status := s3Error(err)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, xmlEscape(err.Error()))
}

func xmlEscape(s string) string {
	var b []byte
	buf := bytesWriter{&b}
	_ = xml.EscapeText(buf, []byte(s))
	return string(b)
}

type bytesWriter struct{ b *[]byte }

func (w bytesWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

func (s *echoS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, err := s.v.Authenticate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.mu.Lock()
	s.mu.payloads = append(s.mu.payloads, r.Header.Get("X-Amz-Content-Sha256"))
	s.mu.Unlock()

	body, err := io.ReadAll(a.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	crc := make([]byte, 4)
	binary.BigEndian.PutUint32(crc, crc32.ChecksumIEEE(body))
	for _, h := range []http.Header{r.Header, a.Trailer()} {
		if want := h.Get("X-Amz-Checksum-Crc32"); want != "" && want != base64.StdEncoding.EncodeToString(crc) {
			s.fail(w, r, fmt.Errorf("x-amz-checksum-crc32 %s does not match the body: %w", want, ErrInvalidArgument))
			return
		}
	}
	sum := md5.Sum(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	q := r.URL.Query()
	path := r.URL.Path

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && q.Has("uploadId"):
		n, _ := strconv.Atoi(q.Get("partNumber"))
		s.mu.parts[q.Get("uploadId")][n] = body
		w.Header().Set("ETag", etag)
	case r.Method == http.MethodPut:
		s.mu.objects[path] = body
		w.Header().Set("ETag", etag)
	case r.Method == http.MethodPost && q.Has("uploads"):
		id := strconv.Itoa(len(s.mu.parts) + 1)
		s.mu.parts[id] = map[int][]byte{}
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`, id)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		parts := s.mu.parts[q.Get("uploadId")]
		var all []byte
		for i := 1; i <= len(parts); i++ {
			all = append(all, parts[i]...)
		}
		s.mu.objects[path] = all
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"x-%d"</ETag></CompleteMultipartUploadResult>`, len(parts))
	case r.Method == http.MethodGet && q.Has("list-type"):
		fmt.Fprintf(w, `<ListBucketResult><Name>b</Name><Prefix>%s</Prefix><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`, xmlEscape(q.Get("prefix")))
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		obj, ok := s.mu.objects[path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<Error><Code>NoSuchKey</Code></Error>")
			return
		}
		osum := md5.Sum(obj)
		w.Header().Set("Content-Length", strconv.Itoa(len(obj)))
		w.Header().Set("ETag", `"`+hex.EncodeToString(osum[:])+`"`)
		if ct := q.Get("response-content-type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if r.Method == http.MethodGet {
			w.Write(obj)
		}
	default:
		w.WriteHeader(http.StatusOK)
	}
}

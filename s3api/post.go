package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/s3api/checksum"
	"github.com/cairn-backup/cairn/s3api/sigv4"
)

// POST Object: a browser uploads a file with an HTML form
// (multipart/form-data) POSTed to the bucket. The request carries no
// Authorization: the form's fields do, a policy document (base64 JSON) and
// its signature (SigV4: x-amz-algorithm, x-amz-credential, x-amz-date,
// x-amz-signature; SigV2: AWSAccessKeyId, signature). The fields come
// before the file, are small, and are read whole (bounded); the file part
// streams into the backend like a PutObject body.

// Bounds on the form fields before the file: S3 documents none but a 20 KB
// policy; these leave room for metadata and refuse a form that would make
// us hold more.
const (
	maxPostField  = 64 << 10
	maxPostFields = 1 << 20
)

var (
	errMalformedPOST = newError("MalformedPOSTRequest", http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data.")
	errPOSTNoFile    = ErrInvalidArgument.WithMessage("POST requires exactly one file upload per request.")
	errPOSTNoKey     = ErrInvalidArgument.WithMessage("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
	errPOSTNoPolicy  = ErrInvalidArgument.WithMessage("Bucket POST must contain a field named 'policy'.  If it is specified, please check the order of the fields.")
	errPOSTAnonymous = ErrAccessDenied.WithMessage("Anonymous POST is not allowed: sign the form's policy (x-amz-signature or signature).")
	errTooSmall      = newError("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed size")
)

// isPostObject tells a browser form upload from the other POSTs to a
// bucket (DeleteObjects, ?delete): a multipart/form-data body.
func isPostObject(r *http.Request, st *reqState) bool {
	if r.Method != http.MethodPost || st.bucket == "" || st.key != "" || hasQuery(r.URL, "delete") {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// postForm is a form read up to its file part.
type postForm struct {
	fields   map[string]string // lower-case names
	file     *multipart.Part
	filename string
}

// readPostForm reads the fields before the file part and stops at the
// file, whose bytes are left to stream.
func readPostForm(r *http.Request) (*postForm, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, errMalformedPOST
	}
	// The part headers are unbounded in multipart.Reader; what comes before
	// the file (headers and fields alike) is held to a bound, and only the
	// file streams unbounded (up to the object size limit).
	head := &formHead{r: r.Body, max: maxPostFields + maxPostField}
	mr := multipart.NewReader(head, params["boundary"])
	f := &postForm{fields: map[string]string{}}
	total := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, errFormTooLarge) {
			return nil, errFormTooLarge
		}
		if errors.Is(err, io.EOF) && len(f.fields) == 0 {
			return nil, errMalformedPOST // not a single part: not a form
		}
		if errors.Is(err, io.EOF) {
			return nil, errPOSTNoFile
		}
		if err != nil {
			return nil, errMalformedPOST
		}
		name := strings.ToLower(part.FormName())
		if name == "" {
			return nil, errMalformedPOST
		}
		if name == "file" {
			head.off = true
			f.file = part
			// Only the base name: a browser may send a path, and
			// ${filename} must not let one climb out of a prefix.
			f.filename = path.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
			if f.filename == "." || f.filename == "/" {
				f.filename = ""
			}
			return f, nil
		}
		b, err := io.ReadAll(io.LimitReader(part, maxPostField+1))
		if errors.Is(err, errFormTooLarge) {
			return nil, errFormTooLarge
		}
		if err != nil {
			return nil, errMalformedPOST
		}
		if len(b) > maxPostField {
			return nil, ErrMaxMessageLengthExceeded.WithMessagef("The form field %q is longer than %d bytes.", name, maxPostField)
		}
		if total += len(name) + len(b); total > maxPostFields {
			return nil, ErrMaxMessageLengthExceeded.WithMessagef("The form fields before the file exceed %d bytes.", maxPostFields)
		}
		if _, dup := f.fields[name]; dup {
			return nil, ErrInvalidArgument.WithMessagef("The form field %q appears more than once.", name)
		}
		f.fields[name] = string(b)
	}
}

var errFormTooLarge = ErrMaxMessageLengthExceeded.WithMessagef("The form fields and part headers before the file exceed %d bytes.", maxPostFields+maxPostField)

// formHead bounds the bytes read from a form's body until off is set, when
// the file part begins.
type formHead struct {
	r   io.Reader
	n   int64
	max int64
	off bool
}

func (h *formHead) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	if !h.off && h.n > h.max {
		return n, errFormTooLarge
	}
	return n, err
}

// authenticatePost verifies the form's signature over its policy and
// answers the access key that signed it.
func (h *handler) authenticatePost(f *postForm) (string, error) {
	fl := f.fields
	switch {
	case fl["x-amz-signature"] != "" || fl["x-amz-algorithm"] != "" || fl["x-amz-credential"] != "":
		if alg := fl["x-amz-algorithm"]; alg != "AWS4-HMAC-SHA256" {
			return "", ErrInvalidArgument.WithMessagef("The x-amz-algorithm %q is not supported: use AWS4-HMAC-SHA256.", alg)
		}
		if fl["policy"] == "" {
			return "", errPOSTNoPolicy
		}
		for _, name := range [...]string{"x-amz-credential", "x-amz-date", "x-amz-signature"} {
			if fl[name] == "" {
				return "", ErrInvalidArgument.WithMessagef("Bucket POST must contain a field named '%s'.  If it is specified, please check the order of the fields.", name)
			}
		}
		return h.auth.VerifyPost(fl["x-amz-credential"], fl["x-amz-date"], fl["policy"], fl["x-amz-signature"])
	case fl["awsaccesskeyid"] != "" || fl["signature"] != "":
		if fl["policy"] == "" {
			return "", errPOSTNoPolicy
		}
		return h.verifyPostV2(fl["awsaccesskeyid"], fl["policy"], fl["signature"])
	}
	if _, ok := h.b.(Authorizer); ok {
		// An unsigned form is the anonymous principal's, as an unsigned
		// request is: only a bucket policy or an ACL can let it write
		// (authorizeForm), and its policy is optional, as on S3.
		return "", nil
	}
	return "", errPOSTAnonymous
}

// postHeader turns the form fields that describe the object into the
// request headers PutObject would have carried, so that the same parsing
// (and the same refusals: a public canned ACL, encryption, Object Lock)
// applies to both.
func postHeader(fields map[string]string) http.Header {
	hdr := http.Header{}
	for name, v := range fields {
		switch {
		case name == "acl":
			hdr.Set("X-Amz-Acl", v)
		case name == "content-type", name == "cache-control", name == "content-disposition",
			name == "content-encoding", name == "content-language", name == "expires":
			hdr.Set(name, v)
		case strings.HasPrefix(name, "x-amz-"):
			switch name {
			case "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature":
			default:
				hdr.Set(name, v)
			}
		}
	}
	return hdr
}

// checkPostFields refuses the form fields of features a form upload does
// not offer here, so that a page never believes it got them: explicit
// grants (a form sets a canned acl), encryption and object lock, which
// PutObject takes as headers.
func checkPostFields(fields map[string]string) error {
	for name := range fields {
		switch {
		case strings.HasPrefix(name, "x-amz-grant-"),
			strings.HasPrefix(name, "x-amz-server-side-encryption"),
			strings.HasPrefix(name, "x-amz-object-lock-"):
			return ErrNotImplemented.WithMessagef("The form field %s is not supported by POST uploads on Cairn; use PutObject with the header.", name)
		}
	}
	return nil
}

// sizeRange holds the file to the policy's content-length-range while it
// streams: too many bytes fail at once, too few at the end.
type sizeRange struct {
	r        io.Reader
	min, max int64
	n        int64
}

func (s *sizeRange) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.n > s.max {
		return n, ErrEntityTooLarge.WithMessage("Your proposed upload exceeds the maximum allowed size")
	}
	if err == io.EOF && s.n < s.min {
		return n, errTooSmall
	}
	return n, err
}

type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string
	Bucket   string
	Key      string
	ETag     string
}

// authenticateForm authenticates a browser form upload in place of header
// authentication: it reads the form's fields up to its file and verifies
// the signature of its policy. From here on the request is like any other:
// the form's signer is its caller (as a SigV4 signer would be), the form's
// key its key, and the router takes it to postObject, where the form waits
// in the request state with its file unread.
func (h *handler) authenticateForm(r *http.Request, st *reqState) (*sigv4.Auth, error) {
	st.op = "PostObject" // named even when refused here, before routing
	f, err := readPostForm(r)
	if err != nil {
		return nil, err
	}
	ak, err := h.authenticatePost(f)
	if err != nil {
		return nil, err
	}
	key := f.fields["key"]
	if key == "" {
		return nil, errPOSTNoKey
	}
	key = strings.ReplaceAll(key, "${filename}", f.filename)
	f.fields["key"] = key
	st.key, st.form = key, f
	st.anonymous = ak == ""
	return &sigv4.Auth{AccessKey: ak, DecodedLength: -1, Trailer: func() http.Header { return nil }}, nil
}

// postObject answers POST Object for a form authenticateForm accepted:
// the policy's expiry and conditions, then the file streamed in as a
// PutObject body.
func (h *handler) postObject(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	f, key := st.form, st.key
	// A signed form always has a policy (authenticatePost); an unsigned
	// one may go without, as on S3.
	hasPolicy := f.fields["policy"] != "" || !st.anonymous
	var policy postPolicy
	var err error
	if hasPolicy {
		doc, derr := base64.StdEncoding.DecodeString(f.fields["policy"])
		if derr != nil || len(f.fields["policy"]) > maxPostPolicy {
			h.writeError(w, r, errInvalidPolicy.WithMessage("Invalid Policy: Invalid Base64 Encoding."))
			return
		}
		if policy, err = parsePostPolicy(doc); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if err := checkKey(key); err != nil {
		h.writeError(w, r, err)
		return
	}
	if hasPolicy {
		if err := policy.check(f.fields, st.bucket, h.now()); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if err := checkPostFields(f.fields); err != nil {
		h.writeError(w, r, err)
		return
	}
	// The form's signer (none for an unsigned form) must be allowed
	// s3:PutObject on the key, with the form's canned ACL (authz.go).
	signer, _ := AccessKey(r.Context())
	if err := h.authorizeForm(r, signer, st.bucket, key, f.fields["acl"]); err != nil {
		h.writeError(w, r, err)
		return
	}

	hdr := postHeader(f.fields)
	in := PutObjectInput{Bucket: st.bucket, Key: key, Size: -1}
	err = checkWriteHeaders(hdr)
	if err == nil {
		in.Meta, err = parseObjectMeta(hdr)
	}
	if t, ok := f.fields["tagging"]; ok && err == nil {
		in.Meta.Tags, err = parseTagging([]byte(t), maxObjectTags)
	}
	var alg checksum.Algorithm
	var value string
	if err == nil {
		alg, value, _, err = checksum.FromHeaders(hdr)
	}
	var body io.Reader = f.file
	if policy.hasRange {
		body = &sizeRange{r: body, min: policy.minSize, max: policy.maxSize}
	}
	var cr *checksum.Reader
	if err == nil {
		cr, err = checksum.NewReader(body, "", alg, value, nil)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	p := &payload{cr: cr, size: -1}
	in.Body, in.Digest = p, p.digest
	info, err := h.b.PutObject(r.Context(), in)
	if err := p.result(err); err != nil {
		h.writeError(w, r, err)
		return
	}

	out := w.Header()
	out.Set("ETag", etag(info.ETag))
	setWrittenVersion(out, info.VersionID)
	location := objectURL(r, st.bucket, key)
	out.Set("Location", location)
	redirect := f.fields["success_action_redirect"]
	if redirect == "" {
		redirect = f.fields["redirect"]
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && u.Scheme != "" && u.Host != "" {
		q := u.Query()
		q.Set("bucket", st.bucket)
		q.Set("key", key)
		q.Set("etag", etag(info.ETag))
		u.RawQuery = q.Encode()
		out.Set("Location", u.String())
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	switch status, _ := strconv.Atoi(f.fields["success_action_status"]); status {
	case http.StatusOK:
		w.WriteHeader(http.StatusOK)
	case http.StatusCreated:
		h.writeXML(w, r, http.StatusCreated, postResponse{Location: location, Bucket: st.bucket, Key: key, ETag: etag(info.ETag)})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

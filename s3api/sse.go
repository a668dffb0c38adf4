package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
)

// Server-side encryption: s3api parses and validates the request headers
// (x-amz-server-side-encryption*, the SSE-C customer key headers and their
// x-amz-copy-source-* variants) with AWS's error codes, and hands the
// result to the backend in the request's context (RequestSSE), beside the
// authenticated identity: it concerns GET, HEAD, PUT, copies, and every
// multipart call alike, and the Backend's signatures stay as they are.
// The backend decides what applies to which object (it knows how each is
// stored) and answers ObjectInfo.SSE, which s3api sets as response headers.

// SSE modes.
const (
	SSEModeS3       = "AES256"  // SSE-S3: keys the server manages
	SSEModeKMS      = "aws:kms" // SSE-KMS: a named key of the key ring
	SSEModeCustomer = "SSE-C"   // SSE-C: the client's key, sent with every request
)

// SSE is one object's server-side encryption: what a request asks, or how
// a version is stored (ObjectInfo.SSE, where CustomerKey is never set).
type SSE struct {
	Mode string // "" (none), SSEModeS3, SSEModeKMS or SSEModeCustomer
	// KMSKeyID names the key ring's key for SSEModeKMS: as the client sent
	// it (a name, alias/NAME or an ARN); "" for the default key.
	KMSKeyID string
	// CustomerKey is SSE-C's 32-byte key, checked against
	// CustomerKeyMD5; only ever in a request.
	CustomerKey []byte
	// CustomerKeyMD5 is the base64 MD5 of the customer key, as S3 echoes it.
	CustomerKeyMD5 string
}

// SSERequest is what one request says about encryption: of the object it
// writes or reads, and of a copy's source (SSE-C only).
type SSERequest struct {
	Object     SSE
	CopySource SSE
}

// EncryptionBackend is an optional interface of a Backend: it serves
// PutBucketEncryption, GetBucketEncryption and DeleteBucketEncryption;
// without it s3api answers ?encryption with NotImplemented.
type EncryptionBackend interface {
	// PutBucketEncryption sets the bucket's default encryption (Mode
	// SSEModeS3 or SSEModeKMS, KMSKeyID optional), applied to writes that
	// ask for none. An unknown KMS key is ErrKMSNotFound.
	PutBucketEncryption(ctx context.Context, bucket string, def SSE) error
	// GetBucketEncryption answers ErrNoSuchEncryptionConfiguration when
	// the bucket has no default.
	GetBucketEncryption(ctx context.Context, bucket string) (SSE, error)
	DeleteBucketEncryption(ctx context.Context, bucket string) error
}

// The encryption errors, with AWS's codes and statuses.
var (
	ErrNoSuchEncryptionConfiguration = newError("ServerSideEncryptionConfigurationNotFoundError", http.StatusNotFound, "The server side encryption configuration was not found.")
	ErrInvalidEncryptionAlgorithm    = newError("InvalidEncryptionAlgorithmError", http.StatusBadRequest, "The encryption request you specified is not valid. The valid value is AES256.")
	// ErrSSECustomerKeyMismatch: the SSE-C key given is not the object's.
	ErrSSECustomerKeyMismatch = newError("AccessDenied", http.StatusForbidden, "The provided SSE-C key does not match the key the object was stored with.")
	// ErrSSECustomerKeyRequired: an SSE-C object read without its key.
	ErrSSECustomerKeyRequired = newError("InvalidRequest", http.StatusBadRequest, "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
	// ErrSSENotApplicable: SSE-C headers for an object not stored with SSE-C.
	ErrSSENotApplicable = newError("InvalidRequest", http.StatusBadRequest, "The encryption parameters are not applicable to this object.")
	// ErrKMSNotFound: the KMS key named is not in the key ring.
	ErrKMSNotFound = newError("KMS.NotFoundException", http.StatusBadRequest, "The KMS key specified does not exist.")
)

type sseKey struct{}

// RequestSSE returns what the request said about encryption (nothing when
// it said nothing).
func RequestSSE(ctx context.Context) SSERequest {
	req, _ := ctx.Value(sseKey{}).(SSERequest)
	return req
}

// WithRequestSSE returns ctx carrying req, for a backend calling itself
// (or a test calling a backend) as s3api would.
func WithRequestSSE(ctx context.Context, req SSERequest) context.Context {
	return context.WithValue(ctx, sseKey{}, req)
}

// sseOp is what an object request does with encryption headers.
type sseOp int

const (
	sseNone  sseOp = iota // the headers do not concern it
	sseRead               // GET, HEAD: SSE-C only
	sseWrite              // PutObject, CopyObject, CreateMultipartUpload: any mode
	ssePart               // UploadPart, UploadPartCopy: SSE-C only
)

func sseOpOf(r *http.Request) (op sseOp, copies bool) {
	q := r.URL.Query()
	for _, sub := range [...]string{"tagging", "acl", "retention", "legal-hold", "attributes", "torrent", "restore", "select"} {
		if q.Has(sub) {
			return sseNone, false
		}
	}
	copies = r.Header.Get("x-amz-copy-source") != ""
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !q.Has("uploadId") {
			return sseRead, false
		}
	case http.MethodPut:
		if q.Has("uploadId") {
			return ssePart, copies
		}
		return sseWrite, copies
	case http.MethodPost:
		if q.Has("uploads") {
			return sseWrite, false
		}
	}
	return sseNone, false
}

// withSSE parses the encryption headers of an object request into its
// context. A malformed header is answered with AWS's 400, never
// NotImplemented.
func withSSE(r *http.Request) (*http.Request, error) {
	op, copies := sseOpOf(r)
	if op == sseNone {
		return r, nil
	}
	var req SSERequest
	var err error
	if req.Object, err = parseSSE(r, op, ""); err != nil {
		return r, err
	}
	if copies {
		if req.CopySource, err = parseSSE(r, sseRead, "x-amz-copy-source-"); err != nil {
			return r, err
		}
	}
	if req.Object.Mode == "" && req.CopySource.Mode == "" {
		return r, nil
	}
	return r.WithContext(WithRequestSSE(r.Context(), req)), nil
}

// parseSSE reads one set of headers: prefix "" for the object's, or
// "x-amz-copy-source-" for a copy's source (SSE-C only).
func parseSSE(r *http.Request, op sseOp, prefix string) (SSE, error) {
	h := r.Header
	var s SSE
	// "x-amz-server-side-encryption-..." or "x-amz-copy-source-server-side-encryption-...".
	name := func(s string) string { return strings.Replace(s, "x-amz-", prefix, 1) }
	if prefix == "" {
		name = func(s string) string { return s }
	}
	mode := h.Get(name("x-amz-server-side-encryption"))
	kmsKey := h.Get(name("x-amz-server-side-encryption-aws-kms-key-id"))
	alg := h.Get(name("x-amz-server-side-encryption-customer-algorithm"))
	key := h.Get(name("x-amz-server-side-encryption-customer-key"))
	keyMD5 := h.Get(name("x-amz-server-side-encryption-customer-key-md5"))
	customer := alg != "" || key != "" || keyMD5 != ""
	if prefix == "" {
		switch {
		case mode != "" && op != sseWrite && op != ssePart:
			return s, ErrInvalidArgument.WithMessage("x-amz-server-side-encryption is not valid on a read: objects stored with SSE-S3 or SSE-KMS are decrypted without it.")
		case mode != "" && customer:
			return s, ErrInvalidArgument.WithMessage("Server Side Encryption with Customer provided key is incompatible with the encryption method specified.")
		case mode == SSEModeS3:
			if kmsKey != "" {
				return s, ErrInvalidArgument.WithMessage("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
			}
			if op == ssePart {
				// UploadPart encrypts as its upload says; S3 ignores it.
				return s, nil
			}
			return SSE{Mode: SSEModeS3}, nil
		case mode == SSEModeKMS:
			if op == ssePart {
				return s, nil
			}
			if err := checkKMSKeyID(kmsKey); err != nil {
				return s, err
			}
			return SSE{Mode: SSEModeKMS, KMSKeyID: kmsKey}, nil
		case mode == "aws:kms:dsse":
			return s, ErrInvalidArgument.WithMessage("Dual-layer server side encryption (aws:kms:dsse) is not offered by Cairn; use AES256 or aws:kms.")
		case mode != "":
			return s, ErrInvalidArgument.WithMessagef("The encryption method specified is not supported: %q.", mode)
		case kmsKey != "":
			return s, ErrInvalidArgument.WithMessage("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
		}
	}
	if !customer {
		return s, nil
	}
	if alg == "" {
		return s, ErrInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
	}
	if alg != "AES256" {
		return s, ErrInvalidEncryptionAlgorithm
	}
	if key == "" {
		return s, ErrInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		if op == sseRead && prefix == "" {
			// AWS answers a read with a key of the wrong size as a key
			// that does not match.
			return s, ErrSSECustomerKeyMismatch
		}
		return s, ErrInvalidArgument.WithMessage("The secret key was invalid for the specified algorithm.")
	}
	sum := md5.Sum(raw)
	want := base64.StdEncoding.EncodeToString(sum[:])
	switch {
	case keyMD5 == "" && op != sseRead:
		return s, ErrInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
	case keyMD5 != "" && keyMD5 != want:
		return s, ErrInvalidArgument.WithMessage("The calculated MD5 hash of the key did not match the hash that was provided.")
	}
	if !secure(r) {
		return s, ErrInvalidRequest.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
	}
	return SSE{Mode: SSEModeCustomer, CustomerKey: raw, CustomerKeyMD5: want}, nil
}

// secure reports whether a request may carry an SSE-C key: over TLS, or
// from the loopback interface, which is where secure connect (tlsproxy)
// delivers what crossed the network in TLS, and where a key never leaves
// the machine. A key sent over plain HTTP from elsewhere has crossed the
// network in the clear: S3 refuses it, and so does Cairn.
func secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkKMSKeyID accepts the forms S3 does: a key ID or name, alias/NAME,
// and the key and alias ARNs (arn:aws:kms:REGION:ACCOUNT:key/ID or
// :alias/NAME). Whether the key exists is the backend's to say.
func checkKMSKeyID(id string) error {
	if id == "" {
		return nil
	}
	if KMSKeyName(id) == "" {
		return ErrKMSNotFound.WithMessagef("Invalid keyId %q.", id)
	}
	return nil
}

// KMSKeyName reduces a KMS key ID as a client sends it to the key ring's
// name: "NAME", "alias/NAME", "arn:aws:kms:R:A:key/NAME" and
// "arn:aws:kms:R:A:alias/NAME" all name NAME. It answers "" for a form that
// is none of these.
func KMSKeyName(id string) string {
	if rest, ok := strings.CutPrefix(id, "arn:"); ok {
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" {
			return ""
		}
		id = parts[4]
		if !strings.HasPrefix(id, "key/") && !strings.HasPrefix(id, "alias/") {
			return ""
		}
	}
	id = strings.TrimPrefix(strings.TrimPrefix(id, "alias/"), "key/")
	if id == "" || len(id) > 256 || strings.ContainsAny(id, " /:\t\r\n") {
		return ""
	}
	return id
}

// setSSEHeaders answers how an object is encrypted, as S3 does on PUT,
// GET, HEAD, copies and multipart calls.
func setSSEHeaders(hdr http.Header, s SSE) {
	switch s.Mode {
	case SSEModeS3:
		hdr.Set("x-amz-server-side-encryption", SSEModeS3)
	case SSEModeKMS:
		hdr.Set("x-amz-server-side-encryption", SSEModeKMS)
		if s.KMSKeyID != "" {
			hdr.Set("x-amz-server-side-encryption-aws-kms-key-id", s.KMSKeyID)
		}
	case SSEModeCustomer:
		hdr.Set("x-amz-server-side-encryption-customer-algorithm", "AES256")
		if s.CustomerKeyMD5 != "" {
			hdr.Set("x-amz-server-side-encryption-customer-key-MD5", s.CustomerKeyMD5)
		}
	}
}

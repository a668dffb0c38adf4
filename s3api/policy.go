package s3api

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
)

// BucketAccessBackend is an optional interface of a Backend: bucket
// policies (PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy,
// GetBucketPolicyStatus), the public access block and the ownership
// controls. Without it s3api answers those subresources with
// NotImplemented.
//
// The policy language is the backend's: it validates a document and
// answers ErrMalformedPolicy with S3's message for the fault. s3api parses
// the XML of the public access block and the ownership controls.
type BucketAccessBackend interface {
	// PutBucketPolicy replaces the bucket's policy with doc (JSON).
	PutBucketPolicy(ctx context.Context, bucket string, doc []byte) error
	// GetBucketPolicy answers the policy as it was set, or
	// ErrNoSuchBucketPolicy.
	GetBucketPolicy(ctx context.Context, bucket string) ([]byte, error)
	// DeleteBucketPolicy removes it; removing none is not an error.
	DeleteBucketPolicy(ctx context.Context, bucket string) error
	// GetBucketPolicyStatus says whether the policy makes the bucket
	// public; ErrNoSuchBucketPolicy when it has none.
	GetBucketPolicyStatus(ctx context.Context, bucket string) (bool, error)
	// GetPublicAccessBlock answers ErrNoSuchPublicAccessBlockConfiguration
	// when the bucket has none.
	GetPublicAccessBlock(ctx context.Context, bucket string) (PublicAccessBlock, error)
	PutPublicAccessBlock(ctx context.Context, bucket string, pab PublicAccessBlock) error
	DeletePublicAccessBlock(ctx context.Context, bucket string) error
	// GetBucketOwnershipControls answers the ObjectOwnership setting
	// (BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter), or
	// ErrOwnershipControlsNotFound.
	GetBucketOwnershipControls(ctx context.Context, bucket string) (string, error)
	PutBucketOwnershipControls(ctx context.Context, bucket, ownership string) error
	DeleteBucketOwnershipControls(ctx context.Context, bucket string) error
}

// PublicAccessBlock is a bucket's PublicAccessBlockConfiguration.
type PublicAccessBlock struct {
	BlockPublicAcls       bool
	IgnorePublicAcls      bool
	BlockPublicPolicy     bool
	RestrictPublicBuckets bool
}

var (
	ErrMalformedPolicy                      = newError("MalformedPolicy", http.StatusBadRequest, "Policies must be valid JSON and the first byte must be '{'")
	ErrNoSuchBucketPolicy                   = newError("NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist")
	ErrNoSuchPublicAccessBlockConfiguration = newError("NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found")
	ErrOwnershipControlsNotFound            = newError("OwnershipControlsNotFoundError", http.StatusNotFound, "The bucket ownership controls were not found")
)

// maxPolicyDoc is S3's limit on a bucket policy, 20 KiB.
const maxPolicyDoc = 20 << 10

// accessRoutes are the subresources BucketAccessBackend serves, by method:
// router.go's routes go to these when the backend has it.
func (h *handler) accessBackend(w http.ResponseWriter, r *http.Request) (BucketAccessBackend, bool) {
	return backendAs[BucketAccessBackend](h, w, r, "Bucket policies, public access blocks and ownership controls are not implemented by this backend.")
}

func (h *handler) putBucketPolicy(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	data, err := h.readSmallBody(r, maxPolicyDoc+1, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(data) > maxPolicyDoc {
		h.writeError(w, r, ErrMalformedPolicy.WithMessage("Policies must not be larger than 20 KB"))
		return
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		h.writeError(w, r, ErrMissingRequestBodyError)
		return
	}
	if err := ab.PutBucketPolicy(r.Context(), state(r).bucket, data); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) getBucketPolicy(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	doc, err := ab.GetBucketPolicy(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

func (h *handler) deleteBucketPolicy(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	if err := ab.DeleteBucketPolicy(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type policyStatus struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ PolicyStatus"`
	IsPublic bool
}

func (h *handler) getBucketPolicyStatus(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	public, err := ab.GetBucketPolicyStatus(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, policyStatus{IsPublic: public})
}

type publicAccessBlockXML struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ PublicAccessBlockConfiguration"`
	BlockPublicAcls       bool
	IgnorePublicAcls      bool
	BlockPublicPolicy     bool
	RestrictPublicBuckets bool
}

// publicAccessBlockRequest matches the element by local name, with or
// without S3's namespace.
type publicAccessBlockRequest struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	BlockPublicAcls       *string
	IgnorePublicAcls      *string
	BlockPublicPolicy     *string
	RestrictPublicBuckets *string
}

// parsePublicAccessBlock reads a PublicAccessBlockConfiguration; an absent
// flag is false, as on S3, and a flag that is not a boolean is MalformedXML.
func parsePublicAccessBlock(data []byte) (PublicAccessBlock, error) {
	var req publicAccessBlockRequest
	if err := decodeXML(data, &req); err != nil {
		return PublicAccessBlock{}, ErrMalformedXML
	}
	var out PublicAccessBlock
	for _, f := range []struct {
		v   *string
		dst *bool
	}{{req.BlockPublicAcls, &out.BlockPublicAcls}, {req.IgnorePublicAcls, &out.IgnorePublicAcls},
		{req.BlockPublicPolicy, &out.BlockPublicPolicy}, {req.RestrictPublicBuckets, &out.RestrictPublicBuckets}} {
		if f.v == nil {
			continue
		}
		switch strings.TrimSpace(*f.v) {
		case "true":
			*f.dst = true
		case "false":
		default:
			return PublicAccessBlock{}, ErrMalformedXML
		}
	}
	return out, nil
}

func (h *handler) putPublicAccessBlock(w http.ResponseWriter, r *http.Request) {
	if ab, ok := h.accessBackend(w, r); ok {
		putDocument(h, w, r, maxConfigXML, parsePublicAccessBlock, ab.PutPublicAccessBlock)
	}
}

func (h *handler) getPublicAccessBlock(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	pab, err := ab.GetPublicAccessBlock(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, publicAccessBlockXML{BlockPublicAcls: pab.BlockPublicAcls, IgnorePublicAcls: pab.IgnorePublicAcls,
		BlockPublicPolicy: pab.BlockPublicPolicy, RestrictPublicBuckets: pab.RestrictPublicBuckets})
}

func (h *handler) deletePublicAccessBlock(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	if err := ab.DeletePublicAccessBlock(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type ownershipControlsXML struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ OwnershipControls"`
	Rules   []ownershipRule `xml:"Rule"`
}

type ownershipRule struct {
	ObjectOwnership string
}

type ownershipControlsRequest struct {
	XMLName xml.Name        `xml:"OwnershipControls"`
	Rules   []ownershipRule `xml:"Rule"`
}

// parseOwnershipControls reads an OwnershipControls document: exactly one
// rule with a known ObjectOwnership.
func parseOwnershipControls(data []byte) (string, error) {
	var req ownershipControlsRequest
	if err := decodeXML(data, &req); err != nil || len(req.Rules) != 1 {
		return "", ErrMalformedXML
	}
	switch o := strings.TrimSpace(req.Rules[0].ObjectOwnership); o {
	case "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter":
		return o, nil
	}
	return "", ErrMalformedXML
}

func (h *handler) putBucketOwnershipControls(w http.ResponseWriter, r *http.Request) {
	if ab, ok := h.accessBackend(w, r); ok {
		putDocument(h, w, r, maxConfigXML, parseOwnershipControls, ab.PutBucketOwnershipControls)
	}
}

func (h *handler) getBucketOwnershipControls(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	o, err := ab.GetBucketOwnershipControls(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, ownershipControlsXML{Rules: []ownershipRule{{ObjectOwnership: o}}})
}

func (h *handler) deleteBucketOwnershipControls(w http.ResponseWriter, r *http.Request) {
	ab, ok := h.accessBackend(w, r)
	if !ok {
		return
	}
	if err := ab.DeleteBucketOwnershipControls(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

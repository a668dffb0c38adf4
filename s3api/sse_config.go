package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// Bucket default encryption: PutBucketEncryption, GetBucketEncryption,
// DeleteBucketEncryption (?encryption on a bucket).

type sseConfigDoc struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ServerSideEncryptionConfiguration"`
	Rules   []sseConfigRule `xml:"Rule"`
}

type sseConfigRule struct {
	Default          *sseConfigDefault `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled *bool             `xml:"BucketKeyEnabled"`
}

type sseConfigDefault struct {
	SSEAlgorithm   string `xml:"SSEAlgorithm"`
	KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
}

// sseConfigIn is what a client sends: matched by local names only.
type sseConfigIn struct {
	XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
	Rules   []struct {
		Default *struct {
			SSEAlgorithm   *string `xml:"SSEAlgorithm"`
			KMSMasterKeyID *string `xml:"KMSMasterKeyID"`
		} `xml:"ApplyServerSideEncryptionByDefault"`
		BucketKeyEnabled *string `xml:"BucketKeyEnabled"`
	} `xml:"Rule"`
}

// parseSSEConfig parses and validates a ServerSideEncryptionConfiguration
// as S3 does: one Rule, an SSEAlgorithm of AES256 or aws:kms, a
// KMSMasterKeyID only with aws:kms. BucketKeyEnabled is accepted and has
// no effect (Cairn's keys are local; there is no KMS request to save).
func parseSSEConfig(data []byte) (SSE, error) {
	var doc sseConfigIn
	if err := decodeXML(data, &doc); err != nil {
		return SSE{}, err
	}
	if len(doc.Rules) != 1 {
		return SSE{}, ErrMalformedXML.WithMessagef("The XML you provided was not well-formed or did not validate against our published schema: a ServerSideEncryptionConfiguration holds exactly one Rule, not %d.", len(doc.Rules))
	}
	rule := doc.Rules[0]
	if b := rule.BucketKeyEnabled; b != nil && *b != "true" && *b != "false" {
		return SSE{}, ErrMalformedXML.WithMessage("The XML you provided was not well-formed or did not validate against our published schema: BucketKeyEnabled must be true or false.")
	}
	if rule.Default == nil || rule.Default.SSEAlgorithm == nil {
		return SSE{}, ErrMalformedXML.WithMessage("The XML you provided was not well-formed or did not validate against our published schema: ApplyServerSideEncryptionByDefault with an SSEAlgorithm is required.")
	}
	alg := strings.TrimSpace(*rule.Default.SSEAlgorithm)
	kms := ""
	if rule.Default.KMSMasterKeyID != nil {
		kms = strings.TrimSpace(*rule.Default.KMSMasterKeyID)
	}
	switch alg {
	case SSEModeS3:
		if rule.Default.KMSMasterKeyID != nil {
			return SSE{}, ErrInvalidArgument.WithMessage("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
		}
		return SSE{Mode: SSEModeS3}, nil
	case SSEModeKMS:
		if err := checkKMSKeyID(kms); err != nil {
			return SSE{}, err
		}
		return SSE{Mode: SSEModeKMS, KMSKeyID: kms}, nil
	case "aws:kms:dsse":
		return SSE{}, ErrInvalidArgument.WithMessage("Dual-layer server side encryption (aws:kms:dsse) is not offered by Cairn; use AES256 or aws:kms.")
	}
	return SSE{}, ErrMalformedXML.WithMessagef("The XML you provided was not well-formed or did not validate against our published schema: SSEAlgorithm %q is not AES256 or aws:kms.", alg)
}

func renderSSEConfig(s SSE) sseConfigDoc {
	f := false
	return sseConfigDoc{Rules: []sseConfigRule{{
		Default:          &sseConfigDefault{SSEAlgorithm: s.Mode, KMSMasterKeyID: s.KMSKeyID},
		BucketKeyEnabled: &f,
	}}}
}

func (h *handler) encryptionBackend(w http.ResponseWriter, r *http.Request) (EncryptionBackend, bool) {
	return backendAs[EncryptionBackend](h, w, r, "The encryption subresource is not implemented by this backend.")
}

// putBucketEncryption requires Content-MD5 or an additional checksum, as
// S3 does for PutBucketEncryption.
func (h *handler) putBucketEncryption(w http.ResponseWriter, r *http.Request) {
	if eb, ok := h.encryptionBackend(w, r); ok {
		putDocument(h, w, r, maxConfigXML, parseSSEConfig, eb.PutBucketEncryption)
	}
}

func (h *handler) getBucketEncryption(w http.ResponseWriter, r *http.Request) {
	eb, ok := h.encryptionBackend(w, r)
	if !ok {
		return
	}
	def, err := eb.GetBucketEncryption(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, renderSSEConfig(def))
}

func (h *handler) deleteBucketEncryption(w http.ResponseWriter, r *http.Request) {
	eb, ok := h.encryptionBackend(w, r)
	if !ok {
		return
	}
	if err := eb.DeleteBucketEncryption(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

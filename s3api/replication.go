package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// ReplicationBackend is an optional interface of a Backend. Implementing it
// serves PutBucketReplication, GetBucketReplication and
// DeleteBucketReplication; without it s3api answers ?replication with
// NotImplemented. It is separate from Backend so that a backend gains
// replication without every Backend having to.
//
// s3api parses and validates the document as S3 does (see
// parseReplication), so the backend receives a well-formed configuration
// with every rule ID set. The backend owns bucket state and checks it:
// ErrNoSuchBucket, and ErrReplicationRequiresVersioning when the bucket's
// versioning is not Enabled, as S3 requires.
type ReplicationBackend interface {
	// PutBucketReplication replaces the bucket's configuration with cfg.
	PutBucketReplication(ctx context.Context, bucket string, cfg ReplicationConfig) error
	// GetBucketReplication answers ErrReplicationConfigurationNotFound when
	// the bucket has none.
	GetBucketReplication(ctx context.Context, bucket string) (ReplicationConfig, error)
	// DeleteBucketReplication removes the configuration; removing none is
	// not an error (S3 answers 204 either way).
	DeleteBucketReplication(ctx context.Context, bucket string) error
}

// ReplicationConfig is a bucket's replication configuration
// (ReplicationConfiguration).
type ReplicationConfig struct {
	// Role is the IAM role S3 would assume; Cairn has no IAM, so it is kept
	// as sent and answered back.
	Role  string
	Rules []ReplicationRule
}

// ReplicationRule is one Rule of a replication configuration. S3 has two
// schemas: V1 rules select objects by a top-level Prefix; V2 rules by a
// Filter, and carry a Priority and DeleteMarkerReplication. A configuration
// uses one schema for all its rules.
type ReplicationRule struct {
	ID       string // 1..255 characters; s3api assigns a random one when the client sent none
	Priority int    // V2 only: unique within the configuration, >= 0
	Status   string // "Enabled" or "Disabled"
	// Prefix selects keys: the V1 top-level Prefix, or the V2 filter's
	// prefix (Filter.Prefix or Filter.And.Prefix); "" for all keys.
	Prefix string
	// Tags selects objects carrying all of these tags (V2 only).
	Tags map[string]string
	// Filter is set for a V2 rule (a Filter element was sent), unset for a
	// V1 rule.
	Filter bool
	// DeleteMarkerReplication says whether delete markers are replicated
	// (V2 only; always false when Tags are set, as S3 requires). V1 rules
	// leave it unset: S3 replicates delete markers of V1 rules regardless.
	DeleteMarkerReplication bool
	// DestinationBucket is Destination.Bucket, the destination bucket's
	// ARN as sent ("arn:aws:s3:::bucket").
	DestinationBucket string
	// DestinationStorageClass is the storage class of replicas; "" to keep
	// the source's.
	DestinationStorageClass string
	// DestinationAccount is Destination.Account, the destination bucket's
	// owner as sent; "" when not sent.
	DestinationAccount string
	// ExistingObjectReplication says whether objects that existed before
	// the rule are replicated too.
	ExistingObjectReplication bool
}

// S3's limits on a replication configuration.
const (
	// maxReplicationXML is the largest configuration S3 accepts (2 MB).
	maxReplicationXML    = 2 << 20
	maxReplicationRules  = 1000
	maxReplicationRuleID = 255
)

// replicationSchemaError is S3's answer to an element of the other schema
// version (V1: top-level Prefix, V2: Filter), or to a V2 element missing.
func replicationSchemaError(element string, required bool) *Error {
	verb := "cannot be used"
	if required {
		verb = "must be specified"
	}
	return ErrInvalidRequest.WithMessagef("%s %s for this version of Cross Region Replication configuration schema. Please refer to S3 Developer Guide for more information.", element, verb)
}

// backendAs is h's backend as the optional interface T, or false after
// answering NotImplemented with msg.
func backendAs[T any](h *handler, w http.ResponseWriter, r *http.Request, msg string) (T, bool) {
	b, ok := h.b.(T)
	if !ok {
		h.writeError(w, r, ErrNotImplemented.WithMessage(msg))
	}
	return b, ok
}

func (h *handler) replicationBackend(w http.ResponseWriter, r *http.Request) (ReplicationBackend, bool) {
	return backendAs[ReplicationBackend](h, w, r, "The replication subresource is not implemented by this backend.")
}

// putBucketReplication requires Content-MD5 or an additional checksum, as
// S3 does for PutBucketReplication.
func (h *handler) putBucketReplication(w http.ResponseWriter, r *http.Request) {
	rb, ok := h.replicationBackend(w, r)
	if !ok {
		return
	}
	data, err := h.readSmallBody(r, maxReplicationXML, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	cfg, err := parseReplication(data)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := assignRuleIDs(cfg.Rules); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := rb.PutBucketReplication(r.Context(), state(r).bucket, cfg); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) getBucketReplication(w http.ResponseWriter, r *http.Request) {
	rb, ok := h.replicationBackend(w, r)
	if !ok {
		return
	}
	cfg, err := rb.GetBucketReplication(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, renderReplication(cfg))
}

func (h *handler) deleteBucketReplication(w http.ResponseWriter, r *http.Request) {
	rb, ok := h.replicationBackend(w, r)
	if !ok {
		return
	}
	if err := rb.DeleteBucketReplication(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// assignRuleIDs gives each rule without an ID a random one, as S3 does, so
// that GetBucketReplication answers every rule with an ID.
func assignRuleIDs(rules []ReplicationRule) error {
	for i := range rules {
		if rules[i].ID != "" {
			continue
		}
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("rule ID: %w", err)
		}
		rules[i].ID = hex.EncodeToString(b[:])
	}
	return nil
}

// The response document, in the element order of S3's schema.
type replicationDoc struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ReplicationConfiguration"`
	Role    string
	Rules   []replicationRuleDoc `xml:"Rule"`
}

type replicationRuleDoc struct {
	ID                        string
	Priority                  *int
	Prefix                    *string
	Filter                    *replicationFilterDoc
	Status                    string
	ExistingObjectReplication *statusDoc
	Destination               replicationDestinationDoc
	DeleteMarkerReplication   *statusDoc
}

type replicationFilterDoc struct {
	Prefix *string
	Tag    *tag
	And    *replicationAndDoc
}

type replicationAndDoc struct {
	Prefix *string
	Tags   []tag `xml:"Tag"`
}

type replicationDestinationDoc struct {
	Bucket       string
	Account      string `xml:",omitempty"`
	StorageClass string `xml:",omitempty"`
}

type statusDoc struct {
	Status string
}

func enabled(b bool) string {
	if b {
		return "Enabled"
	}
	return "Disabled"
}

// renderReplication renders cfg as GetBucketReplication answers it. A V2
// filter is rendered in the simplest form that says the same (a lone
// prefix or tag without And), tags in key order so answers are stable.
func renderReplication(cfg ReplicationConfig) replicationDoc {
	doc := replicationDoc{Role: cfg.Role, Rules: make([]replicationRuleDoc, 0, len(cfg.Rules))}
	for _, rule := range cfg.Rules {
		rd := replicationRuleDoc{
			ID:     rule.ID,
			Status: rule.Status,
			Destination: replicationDestinationDoc{
				Bucket:       rule.DestinationBucket,
				Account:      rule.DestinationAccount,
				StorageClass: rule.DestinationStorageClass,
			},
		}
		if rule.ExistingObjectReplication {
			rd.ExistingObjectReplication = &statusDoc{Status: "Enabled"}
		}
		if !rule.Filter {
			rd.Prefix = &rule.Prefix
			doc.Rules = append(doc.Rules, rd)
			continue
		}
		rd.Priority = &rule.Priority
		rd.DeleteMarkerReplication = &statusDoc{Status: enabled(rule.DeleteMarkerReplication)}
		tags := make([]tag, 0, len(rule.Tags))
		for _, k := range slices.Sorted(maps.Keys(rule.Tags)) {
			tags = append(tags, tag{Key: k, Value: rule.Tags[k]})
		}
		f := &replicationFilterDoc{}
		switch {
		case len(tags) == 0 && rule.Prefix != "":
			f.Prefix = &rule.Prefix
		case len(tags) == 0:
			// An empty Filter: the rule applies to every object.
		case len(tags) == 1 && rule.Prefix == "":
			f.Tag = &tags[0]
		default:
			f.And = &replicationAndDoc{Tags: tags}
			if rule.Prefix != "" {
				f.And.Prefix = &rule.Prefix
			}
		}
		rd.Filter = f
		doc.Rules = append(doc.Rules, rd)
	}
	return doc
}

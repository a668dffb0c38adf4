package s3api

// S3 Object Lock (WORM): a bucket's lock configuration, a version's
// retention (a mode and a retain-until date) and its legal hold.
//
// s3api parses and validates what a request says (XML documents, the
// x-amz-object-lock-* headers, the digest these calls require) and decides
// whether the caller may bypass governance retention (canBypassGovernance);
// the backend owns the state and every rule that depends on it: whether
// the bucket has lock enabled, whether a version is locked, whether a
// retention change shortens a lock. Retention is compared with the
// server's clock (the backend's), never the client's.

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/s3api/checksum"
)

// The two retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// ObjectLock is what a write asks for, or what a version carries: a
// retention (Mode "" for none) and a legal hold.
type ObjectLock struct {
	Mode        string // LockGovernance, LockCompliance or ""
	RetainUntil time.Time
	LegalHold   bool
}

// Retained reports whether the lock has a retention mode and date.
func (l ObjectLock) Retained() bool { return l.Mode != "" }

// ObjectLockConfig is a bucket's ObjectLockConfiguration.
type ObjectLockConfig struct {
	// Enabled is ObjectLockEnabled: once set it is never unset.
	Enabled bool
	// DefaultMode is the default retention's mode, "" when the bucket has
	// no default rule; exactly one of DefaultDays and DefaultYears is then
	// positive.
	DefaultMode  string
	DefaultDays  int
	DefaultYears int
}

// ObjectLockBackend is an optional interface of a Backend: implementing it
// serves the object lock API (?object-lock, ?retention, ?legal-hold), the
// x-amz-object-lock-* headers of writes and x-amz-bucket-object-lock-enabled
// on CreateBucket; without it s3api refuses them with NotImplemented.
//
// A backend that implements it must refuse to remove a version that is
// locked (legal hold on, or retention until a time after now; GOVERNANCE
// retention yields when BypassGovernance(ctx) is true) from every path,
// with ErrObjectLocked where a client asked; and must take the Lock fields
// of PutObjectInput, CopyObjectInput and UploadInfo (refusing them with
// ErrMissingObjectLockConfiguration on a bucket without lock), applying the
// bucket's default retention to a new version that names none.
type ObjectLockBackend interface {
	// GetObjectLockConfiguration answers ErrObjectLockConfigurationNotFound
	// for a bucket without lock enabled.
	GetObjectLockConfiguration(ctx context.Context, bucket string) (ObjectLockConfig, error)
	// PutObjectLockConfiguration enables lock (cfg.Enabled is always true)
	// and replaces the default rule. ErrInvalidBucketState unless the
	// bucket's versioning is Enabled.
	PutObjectLockConfiguration(ctx context.Context, bucket string, cfg ObjectLockConfig) error
	// GetObjectRetention answers ErrNoSuchObjectLockConfiguration for a
	// version without retention, ErrMissingObjectLockConfiguration for a
	// bucket without lock.
	GetObjectRetention(ctx context.Context, bucket, key, versionID string) (ObjectLock, error)
	// PutObjectRetention sets a version's retention (Mode "" removes it):
	// ErrObjectLocked when that would shorten or remove COMPLIANCE
	// retention, or GOVERNANCE retention without BypassGovernance(ctx). It
	// answers the version ID it acted on.
	PutObjectRetention(ctx context.Context, bucket, key, versionID string, ret ObjectLock) (string, error)
	// GetObjectLegalHold answers ErrMissingObjectLockConfiguration for a
	// bucket without lock.
	GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error)
	// PutObjectLegalHold sets or clears a version's legal hold and answers
	// the version ID it acted on.
	PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) (string, error)
}

// Object lock errors, with the codes, statuses and messages AWS answers.
var (
	ErrObjectLockConfigurationNotFound = newError("ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket")
	ErrNoSuchObjectLockConfiguration   = newError("NoSuchObjectLockConfiguration", http.StatusNotFound, "The specified object does not have a ObjectLock configuration")
	ErrMissingObjectLockConfiguration  = newError("InvalidRequest", http.StatusBadRequest, "Bucket is missing Object Lock Configuration")
	// ErrObjectLocked is a delete or a retention change that a version's
	// lock forbids.
	ErrObjectLocked = newError("AccessDenied", http.StatusForbidden, "Access Denied because object protected by object lock.")
	// ErrLockRequiresVersioning is PutObjectLockConfiguration on a bucket
	// whose versioning is not Enabled.
	ErrLockRequiresVersioning = newError("InvalidBucketState", http.StatusConflict, "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
	// ErrLockKeepsVersioning is suspending versioning on a bucket with lock.
	ErrLockKeepsVersioning = newError("InvalidBucketState", http.StatusConflict, "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
	errLockDigest          = newError("InvalidRequest", http.StatusBadRequest, "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters")
	errLockPartDigest      = newError("InvalidRequest", http.StatusBadRequest, "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Part requests with Object Lock parameters")
	errLockBothHeaders     = ErrInvalidArgument.WithMessage("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	errLockPastDate        = ErrInvalidArgument.WithMessage("The retain until date must be in the future!")
	errLockMode            = ErrInvalidArgument.WithMessage("Unknown wormMode directive.")
	errLockDate            = ErrInvalidArgument.WithMessage("The retain until date must be provided in ISO 8601 format")
	errLegalHoldHeader     = ErrInvalidArgument.WithMessage("Legal Hold must be either of 'ON' or 'OFF'")
	errLockNotImplemented  = ErrNotImplemented.WithMessage("Object Lock is not implemented by this backend.")
)

// Limits on a default retention period, as S3 has them (100 years).
const (
	maxRetentionDays  = 36500
	maxRetentionYears = 100
)

type bypassKey struct{}

// BypassGovernance reports whether the request may delete through, shorten
// or remove GOVERNANCE retention: it sent x-amz-bypass-governance-retention:
// true and canBypassGovernance allowed it.
func BypassGovernance(ctx context.Context) bool {
	v, _ := ctx.Value(bypassKey{}).(bool)
	return v
}

// withBypass returns r with BypassGovernance set on its context when the
// request asks for it and may have it on its key. A request that asks
// without the right is not refused here: S3 refuses it only if a lock is in
// the way, as AccessDenied from the backend.
func (h *handler) withBypass(r *http.Request) *http.Request {
	if !asksBypass(r) || !h.canBypassGovernance(r, state(r).key) {
		return r
	}
	return r.WithContext(withBypassContext(r.Context()))
}

// asksBypass says the request sent x-amz-bypass-governance-retention: true.
func asksBypass(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("x-amz-bypass-governance-retention")), "true")
}

func withBypassContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, bypassKey{}, true)
}

// canBypassGovernance is the s3:BypassGovernanceRetention permission check
// (authz.go) on one key of the request's bucket: root has it, a user as
// its policy and the bucket policy say. DeleteObjects names its keys in
// the body and asks for each, as a policy may grant or deny the bypass on
// some keys only.
func (h *handler) canBypassGovernance(r *http.Request, key string) bool {
	return h.authorize(r, "s3:BypassGovernanceRetention", state(r).bucket, key) == nil
}

// enableLock turns on versioning and lock on a bucket CreateBucket just
// made (x-amz-bucket-object-lock-enabled), as S3 does. Three calls, not
// one: after a failure between them createBucket deletes the bucket and
// answers the failure, so no client believes it has lock.
func enableLock(ctx context.Context, b Backend, lb ObjectLockBackend, bucket string) error {
	if err := b.PutBucketVersioning(ctx, bucket, VersioningEnabled); err != nil {
		return err
	}
	return lb.PutObjectLockConfiguration(ctx, bucket, ObjectLockConfig{Enabled: true})
}

func (h *handler) lockBackend() (ObjectLockBackend, error) {
	lb, ok := h.b.(ObjectLockBackend)
	if !ok {
		return nil, errLockNotImplemented
	}
	return lb, nil
}

// parseLockHeaders reads the x-amz-object-lock-* headers of a PutObject,
// CopyObject or CreateMultipartUpload. set says any was sent.
func parseLockHeaders(hdr http.Header, now time.Time) (l ObjectLock, set bool, err error) {
	mode, hasMode := headerValue(hdr, "x-amz-object-lock-mode")
	date, hasDate := headerValue(hdr, "x-amz-object-lock-retain-until-date")
	hold, hasHold := headerValue(hdr, "x-amz-object-lock-legal-hold")
	if hasMode != hasDate {
		return ObjectLock{}, false, errLockBothHeaders
	}
	if hasMode {
		if mode != LockGovernance && mode != LockCompliance {
			return ObjectLock{}, false, errLockMode
		}
		t, err := parseLockDate(date)
		if err != nil {
			return ObjectLock{}, false, errLockDate
		}
		if !t.After(now) {
			return ObjectLock{}, false, errLockPastDate
		}
		l.Mode, l.RetainUntil = mode, t
	}
	if hasHold {
		switch hold {
		case "ON":
			l.LegalHold = true
		case "OFF":
		default:
			return ObjectLock{}, false, errLegalHoldHeader
		}
	}
	for k := range hdr {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-object-lock-") &&
			lk != "x-amz-object-lock-mode" && lk != "x-amz-object-lock-retain-until-date" && lk != "x-amz-object-lock-legal-hold" {
			return ObjectLock{}, false, ErrInvalidArgument.WithMessagef("%s is not an Object Lock header.", k)
		}
	}
	return l, hasMode || hasHold, nil
}

func headerValue(hdr http.Header, name string) (string, bool) {
	vs, ok := hdr[http.CanonicalHeaderKey(name)]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return strings.TrimSpace(vs[0]), true
}

// parseLockDate reads an ISO 8601 date-time as S3 takes it in headers and
// XML: RFC 3339, with or without fractional seconds.
func parseLockDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// hasDigest says a write carries Content-MD5 or an additional checksum
// (in a header or announced for the trailer). An algorithm named without a
// value verifies nothing, and neither, for this rule, does a signed
// x-amz-content-sha256: S3 refuses a write with only that.
func hasDigest(hdr http.Header) bool {
	if hdr.Get("Content-MD5") != "" {
		return true
	}
	_, value, inTrailer, err := checksum.FromHeaders(hdr)
	return err == nil && (value != "" || inTrailer)
}

// requireLockDigest enforces S3's rule that a write of data that object
// lock will keep carries a digest: a PutObject with lock headers
// (explicit), or a PutObject or UploadPart into a bucket with a default
// retention. part says which message S3 answers. Whether the bucket has a
// default is the backend's to say; a bucket it cannot read (missing) is
// left for the write itself to answer.
func (h *handler) requireLockDigest(ctx context.Context, hdr http.Header, bucket string, explicit, part bool) error {
	if hasDigest(hdr) {
		return nil
	}
	refuse := errLockDigest
	if part {
		refuse = errLockPartDigest
	}
	if explicit {
		return refuse
	}
	lb, ok := h.b.(ObjectLockBackend)
	if !ok {
		return nil
	}
	if cfg, err := lb.GetObjectLockConfiguration(ctx, bucket); err == nil && cfg.DefaultMode != "" {
		return refuse
	}
	return nil
}

// setLockHeaders writes x-amz-object-lock-* on GET and HEAD answers.
func setLockHeaders(hdr http.Header, l ObjectLock) {
	if l.Retained() {
		hdr.Set("x-amz-object-lock-mode", l.Mode)
		hdr.Set("x-amz-object-lock-retain-until-date", l.RetainUntil.UTC().Format(iso8601))
	}
	if l.LegalHold {
		hdr.Set("x-amz-object-lock-legal-hold", "ON")
	}
}

package s3api

// The object lock API's documents and handlers: Get/PutObjectLockConfiguration
// (bucket ?object-lock), Get/PutObjectRetention (object ?retention) and
// Get/PutObjectLegalHold (object ?legal-hold). Every Put requires
// Content-MD5 or an additional checksum, as S3 does.

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// lockConfigDoc is an ObjectLockConfiguration as a client sends it. Days
// and Years are strings so that a value that is not an integer is told
// apart from one that is absent.
type lockConfigDoc struct {
	XMLName           xml.Name `xml:"ObjectLockConfiguration"`
	ObjectLockEnabled string
	Rule              *struct {
		DefaultRetention *struct {
			Mode  string
			Days  *string
			Years *string
		}
	}
}

// parseLockConfig decodes and validates an ObjectLockConfiguration.
// Disabling lock does not exist in S3: ObjectLockEnabled must say Enabled.
func parseLockConfig(data []byte) (ObjectLockConfig, error) {
	var doc lockConfigDoc
	if err := decodeXML(data, &doc); err != nil {
		return ObjectLockConfig{}, err
	}
	if doc.ObjectLockEnabled != "Enabled" {
		return ObjectLockConfig{}, ErrMalformedXML
	}
	cfg := ObjectLockConfig{Enabled: true}
	if doc.Rule == nil {
		return cfg, nil
	}
	dr := doc.Rule.DefaultRetention
	if dr == nil {
		return ObjectLockConfig{}, ErrMalformedXML
	}
	if dr.Mode != LockGovernance && dr.Mode != LockCompliance {
		return ObjectLockConfig{}, ErrMalformedXML
	}
	if (dr.Days == nil) == (dr.Years == nil) {
		return ObjectLockConfig{}, ErrMalformedXML
	}
	period, limit := dr.Days, maxRetentionDays
	if dr.Years != nil {
		period, limit = dr.Years, maxRetentionYears
	}
	s := strings.TrimSpace(*period)
	if !isInteger(s) {
		return ObjectLockConfig{}, ErrMalformedXML
	}
	n, err := strconv.Atoi(s)
	switch {
	case (err != nil && strings.HasPrefix(s, "-")) || (err == nil && n <= 0):
		return ObjectLockConfig{}, ErrInvalidArgument.WithMessage("Default retention period must be a positive integer value.")
	case err != nil || n > limit:
		return ObjectLockConfig{}, ErrInvalidArgument.WithMessage("Default retention period is too large.")
	}
	cfg.DefaultMode = dr.Mode
	if dr.Years != nil {
		cfg.DefaultYears = n
	} else {
		cfg.DefaultDays = n
	}
	return cfg, nil
}

// isInteger says s is an optional sign and digits.
func isInteger(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// The response documents, in the element order of S3's schema.
type lockConfigOut struct {
	XMLName           xml.Name     `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ObjectLockConfiguration"`
	ObjectLockEnabled string       `xml:",omitempty"`
	Rule              *lockRuleOut `xml:",omitempty"`
}

type lockRuleOut struct {
	DefaultRetention lockDefaultOut
}

type lockDefaultOut struct {
	Mode  string
	Days  int `xml:",omitempty"`
	Years int `xml:",omitempty"`
}

func renderLockConfig(cfg ObjectLockConfig) lockConfigOut {
	out := lockConfigOut{}
	if cfg.Enabled {
		out.ObjectLockEnabled = "Enabled"
	}
	if cfg.DefaultMode != "" {
		out.Rule = &lockRuleOut{DefaultRetention: lockDefaultOut{Mode: cfg.DefaultMode, Days: cfg.DefaultDays, Years: cfg.DefaultYears}}
	}
	return out
}

// retentionDoc is a Retention document. Both elements absent is a request
// to remove the retention (GOVERNANCE with bypass only).
type retentionDoc struct {
	XMLName         xml.Name `xml:"Retention"`
	Mode            *string
	RetainUntilDate *string
}

func parseRetention(data []byte, now time.Time) (ObjectLock, error) {
	var doc retentionDoc
	if err := decodeXML(data, &doc); err != nil {
		return ObjectLock{}, err
	}
	if doc.Mode == nil && doc.RetainUntilDate == nil {
		return ObjectLock{}, nil
	}
	if doc.Mode == nil || doc.RetainUntilDate == nil {
		return ObjectLock{}, ErrMalformedXML
	}
	mode := strings.TrimSpace(*doc.Mode)
	if mode != LockGovernance && mode != LockCompliance {
		return ObjectLock{}, ErrMalformedXML
	}
	t, err := parseLockDate(strings.TrimSpace(*doc.RetainUntilDate))
	if err != nil {
		return ObjectLock{}, ErrMalformedXML
	}
	if !t.After(now) {
		return ObjectLock{}, errLockPastDate
	}
	return ObjectLock{Mode: mode, RetainUntil: t}, nil
}

type retentionOut struct {
	XMLName         xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Retention"`
	Mode            string
	RetainUntilDate xmlTime
}

type legalHoldDoc struct {
	XMLName xml.Name `xml:"LegalHold"`
	Status  string
}

func parseLegalHold(data []byte) (bool, error) {
	var doc legalHoldDoc
	if err := decodeXML(data, &doc); err != nil {
		return false, err
	}
	switch strings.TrimSpace(doc.Status) {
	case "ON":
		return true, nil
	case "OFF":
		return false, nil
	}
	return false, ErrMalformedXML
}

type legalHoldOut struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LegalHold"`
	Status  string
}

func (h *handler) getObjectLockConfiguration(w http.ResponseWriter, r *http.Request) {
	lb, err := h.lockBackend()
	var cfg ObjectLockConfig
	if err == nil {
		cfg, err = lb.GetObjectLockConfiguration(r.Context(), state(r).bucket)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, renderLockConfig(cfg))
}

func (h *handler) putObjectLockConfiguration(w http.ResponseWriter, r *http.Request) {
	lb, err := h.lockBackend()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	putDocument(h, w, r, maxConfigXML, parseLockConfig, lb.PutObjectLockConfiguration)
}

func (h *handler) getObjectRetention(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	lb, err := h.lockBackend()
	if err == nil {
		err = checkKey(st.key)
	}
	var l ObjectLock
	if err == nil {
		l, err = lb.GetObjectRetention(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, retentionOut{Mode: l.Mode, RetainUntilDate: xmlTime(l.RetainUntil)})
}

func (h *handler) putObjectRetention(w http.ResponseWriter, r *http.Request) {
	r = h.withBypass(r)
	lb, err := h.lockBackend()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	parse := func(data []byte) (ObjectLock, error) { return parseRetention(data, h.now()) }
	putObjectDocument(h, w, r, true, parse, lb.PutObjectRetention)
}

func (h *handler) getObjectLegalHold(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	lb, err := h.lockBackend()
	if err == nil {
		err = checkKey(st.key)
	}
	var on bool
	if err == nil {
		on, err = lb.GetObjectLegalHold(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	status := "OFF"
	if on {
		status = "ON"
	}
	h.writeXML(w, r, http.StatusOK, legalHoldOut{Status: status})
}

func (h *handler) putObjectLegalHold(w http.ResponseWriter, r *http.Request) {
	lb, err := h.lockBackend()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	putObjectDocument(h, w, r, true, parseLegalHold, lb.PutObjectLegalHold)
}

// writeLock reads the lock headers of a write and checks that the backend
// has lock at all; set says any was sent.
func (h *handler) writeLock(hdr http.Header) (l ObjectLock, set bool, err error) {
	l, set, err = parseLockHeaders(hdr, h.now())
	if err != nil || !set {
		return ObjectLock{}, false, err
	}
	if _, err := h.lockBackend(); err != nil {
		return ObjectLock{}, false, err
	}
	return l, true, nil
}

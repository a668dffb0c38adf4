package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORSBackend is an optional interface of a Backend. Implementing it serves
// PutBucketCors, GetBucketCors and DeleteBucketCors, the OPTIONS preflight
// of browsers, and the Access-Control-* headers of the requests that
// follow; without it s3api answers ?cors with NotImplemented and every
// preflight as a bucket without CORS.
//
// s3api parses and validates the configuration as S3 does (parseCORS) and
// applies it (matching, headers); the backend only keeps it with the
// bucket: ErrNoSuchBucket for a missing bucket.
type CORSBackend interface {
	// PutBucketCors replaces the bucket's configuration.
	PutBucketCors(ctx context.Context, bucket string, cfg CORSConfig) error
	// GetBucketCors answers ErrNoSuchCORSConfiguration when the bucket
	// has none. It runs for every preflight and every request carrying an
	// Origin header, before authentication, so it must be cheap.
	GetBucketCors(ctx context.Context, bucket string) (CORSConfig, error)
	// DeleteBucketCors removes the configuration; removing none is not an
	// error (S3 answers 204 either way).
	DeleteBucketCors(ctx context.Context, bucket string) error
}

// CORSConfig is a bucket's CORS configuration (CORSConfiguration): the
// first rule that matches a request decides.
type CORSConfig struct {
	Rules []CORSRule
}

// CORSRule is one CORSRule. Origins and headers may hold one "*" wildcard
// each; methods are among GET, PUT, HEAD, POST and DELETE.
type CORSRule struct {
	ID             string
	AllowedOrigins []string
	AllowedMethods []string
	AllowedHeaders []string
	ExposeHeaders  []string
	// MaxAgeSeconds is how long a browser may cache a preflight's answer;
	// -1 when the rule sets none.
	MaxAgeSeconds int
}

// S3's limits on a CORS configuration.
const (
	maxCORSXML   = 64 << 10 // "up to 64 KB"
	maxCORSRules = 100
	maxCORSID    = 255
)

var (
	// ErrNoSuchCORSConfiguration is GetBucketCors of a bucket without one.
	ErrNoSuchCORSConfiguration = newError("NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist")

	errCORSNoOrigin      = newError("BadRequest", http.StatusBadRequest, "Insufficient information. Origin request header needed.")
	errCORSNotEnabled    = newError("AccessForbidden", http.StatusForbidden, "CORSResponse: CORS is not enabled for this bucket.")
	errCORSNoBucket      = newError("AccessForbidden", http.StatusForbidden, "CORSResponse: Bucket not found")
	errCORSNotAllowed    = newError("AccessForbidden", http.StatusForbidden, "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	errCORSInvalidMethod = newError("BadRequest", http.StatusBadRequest, "Invalid Access-Control-Request-Method")
)

// corsError is a refused preflight: S3 adds the method asked for and
// whether a bucket or an object was addressed to the error document.
type corsError struct {
	err          *Error
	method       string
	resourceType string // "BUCKET" or "OBJECT"
}

func (e *corsError) Error() string { return e.err.Error() }
func (e *corsError) Unwrap() error { return e.err }

func (e *corsError) details() []xmlField {
	return []xmlField{field("Method", e.method), field("ResourceType", e.resourceType)}
}

// corsMethods are the methods a rule may allow.
var corsMethods = []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete}

type corsConfigurationXML struct {
	XMLName xml.Name      `xml:"CORSConfiguration"`
	Rules   []corsRuleXML `xml:"CORSRule"`
}

type corsRuleXML struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

// parseCORS parses and validates a CORSConfiguration document as S3 does.
func parseCORS(data []byte) (CORSConfig, error) {
	var doc corsConfigurationXML
	if err := decodeXML(data, &doc); err != nil {
		return CORSConfig{}, err
	}
	if len(doc.Rules) == 0 || len(doc.Rules) > maxCORSRules {
		return CORSConfig{}, ErrMalformedXML
	}
	cfg := CORSConfig{Rules: make([]CORSRule, 0, len(doc.Rules))}
	for _, x := range doc.Rules {
		if len(x.AllowedMethods) == 0 || len(x.AllowedOrigins) == 0 || len(x.ID) > maxCORSID {
			return CORSConfig{}, ErrMalformedXML
		}
		r := CORSRule{ID: x.ID, MaxAgeSeconds: -1}
		for _, m := range x.AllowedMethods {
			m = strings.TrimSpace(m)
			if !slices.Contains(corsMethods, m) {
				return CORSConfig{}, ErrInvalidRequest.WithMessagef("Found unsupported HTTP method in CORS config. Unsupported method is %s", m)
			}
			r.AllowedMethods = append(r.AllowedMethods, m)
		}
		for _, o := range x.AllowedOrigins {
			o = strings.TrimSpace(o)
			if strings.Count(o, "*") > 1 {
				return CORSConfig{}, ErrInvalidRequest.WithMessagef("AllowedOrigin %q can not have more than one wildcard.", o)
			}
			r.AllowedOrigins = append(r.AllowedOrigins, o)
		}
		for _, h := range x.AllowedHeaders {
			h = strings.TrimSpace(h)
			if strings.Count(h, "*") > 1 {
				return CORSConfig{}, ErrInvalidRequest.WithMessagef("AllowedHeader %q can not have more than one wildcard.", h)
			}
			r.AllowedHeaders = append(r.AllowedHeaders, h)
		}
		for _, h := range x.ExposeHeaders {
			if h = strings.TrimSpace(h); strings.Contains(h, "*") {
				return CORSConfig{}, ErrInvalidRequest.WithMessagef("ExposeHeader %q contains wildcard. We currently do not support wildcard for ExposeHeader.", h)
			}
			r.ExposeHeaders = append(r.ExposeHeaders, h)
		}
		if x.MaxAgeSeconds != nil {
			if *x.MaxAgeSeconds < 0 {
				return CORSConfig{}, ErrMalformedXML
			}
			r.MaxAgeSeconds = *x.MaxAgeSeconds
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, nil
}

type corsConfigurationOut struct {
	XMLName xml.Name      `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CORSConfiguration"`
	Rules   []corsRuleXML `xml:"CORSRule"`
}

func renderCORS(cfg CORSConfig) corsConfigurationOut {
	out := corsConfigurationOut{}
	for _, r := range cfg.Rules {
		x := corsRuleXML{ID: r.ID, AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods, AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposeHeaders}
		if r.MaxAgeSeconds >= 0 {
			x.MaxAgeSeconds = &r.MaxAgeSeconds
		}
		out.Rules = append(out.Rules, x)
	}
	return out
}

// wildcardMatch reports whether s matches pattern, in which one "*" stands
// for any run of characters.
func wildcardMatch(pattern, s string) bool {
	before, after, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// match returns the first rule allowing origin, method and every one of
// headers (lower-case). Origins match exactly (case matters, as in S3),
// headers regardless of case.
func (c CORSConfig) match(origin, method string, headers []string) (CORSRule, bool) {
	for _, r := range c.Rules {
		if !slices.Contains(r.AllowedMethods, method) {
			continue
		}
		if !slices.ContainsFunc(r.AllowedOrigins, func(o string) bool { return wildcardMatch(o, origin) }) {
			continue
		}
		allowed := true
		for _, h := range headers {
			if !slices.ContainsFunc(r.AllowedHeaders, func(a string) bool { return wildcardMatch(strings.ToLower(a), h) }) {
				allowed = false
				break
			}
		}
		if allowed {
			return r, true
		}
	}
	return CORSRule{}, false
}

// corsVary is S3's Vary on every answer a rule matched: a cache must not
// serve it to another origin or another preflight.
const corsVary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

// setCORSHeaders writes the Access-Control-* headers of a matched rule. A
// rule allowing any origin answers "*" and no credentials; one naming the
// origin echoes it and allows credentials.
func setCORSHeaders(hdr http.Header, r CORSRule, origin string) {
	if slices.Contains(r.AllowedOrigins, "*") {
		hdr.Set("Access-Control-Allow-Origin", "*")
	} else {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	hdr.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(r.ExposeHeaders) > 0 {
		hdr.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds >= 0 {
		hdr.Set("Access-Control-Max-Age", strconv.Itoa(r.MaxAgeSeconds))
	}
	hdr.Set("Vary", corsVary)
}

// requestHeaders splits Access-Control-Request-Headers into lower-case
// names, in the order sent.
func requestHeaders(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Access-Control-Request-Headers") {
		for name := range strings.SplitSeq(line, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// preflight answers a browser's OPTIONS preflight. It is not authenticated
// (browsers send none): it only reveals whether the bucket's CORS rules let
// this origin make this request.
func (h *handler) preflight(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	st.op = "PreflightRequest"
	origin := r.Header.Get("Origin")
	if origin == "" {
		h.writeError(w, r, errCORSNoOrigin)
		return
	}
	method, hasMethod := r.Header.Get("Access-Control-Request-Method"), true
	if method == "" {
		method, hasMethod = http.MethodOptions, false
	}
	resource := "BUCKET"
	if st.key != "" {
		resource = "OBJECT"
	}
	refuse := func(e *Error) { h.writeError(w, r, &corsError{err: e, method: method, resourceType: resource}) }
	cb, ok := h.b.(CORSBackend)
	if !ok {
		refuse(errCORSNotEnabled)
		return
	}
	cfg, err := cb.GetBucketCors(r.Context(), st.bucket)
	switch {
	case errors.Is(err, ErrNoSuchBucket):
		refuse(errCORSNoBucket)
		return
	case errors.Is(err, ErrNoSuchCORSConfiguration):
		refuse(errCORSNotEnabled)
		return
	case err != nil:
		h.writeError(w, r, err)
		return
	}
	if !hasMethod || !slices.Contains(corsMethods, method) {
		m := method
		if !hasMethod {
			m = "null"
		}
		h.writeError(w, r, errCORSInvalidMethod.WithMessagef("Invalid Access-Control-Request-Method: %s", m))
		return
	}
	headers := requestHeaders(r.Header)
	rule, ok := cfg.match(origin, method, headers)
	if !ok {
		refuse(errCORSNotAllowed)
		return
	}
	hdr := w.Header()
	setCORSHeaders(hdr, rule, origin)
	if len(headers) > 0 {
		hdr.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// applyCORS adds the Access-Control-* headers to an actual request from a
// browser (one with an Origin) when a rule of the bucket allows its origin
// and method. Request headers do not count here: the preflight checked
// them. Without a matching rule the answer carries no CORS header and the
// browser withholds it from the page.
func (h *handler) applyCORS(w http.ResponseWriter, r *http.Request, bucket string) {
	origin := r.Header.Get("Origin")
	cb, ok := h.b.(CORSBackend)
	if origin == "" || bucket == "" || !ok {
		return
	}
	cfg, err := cb.GetBucketCors(r.Context(), bucket)
	if err != nil {
		return // no bucket, no configuration: the request answers for itself
	}
	if rule, ok := cfg.match(origin, r.Method, nil); ok {
		setCORSHeaders(w.Header(), rule, origin)
	}
}

func (h *handler) corsBackend(w http.ResponseWriter, r *http.Request) (CORSBackend, bool) {
	return backendAs[CORSBackend](h, w, r, "The cors subresource is not implemented by this backend.")
}

// putBucketCors requires Content-MD5 or an additional checksum, as S3 does.
func (h *handler) putBucketCors(w http.ResponseWriter, r *http.Request) {
	if cb, ok := h.corsBackend(w, r); ok {
		putDocument(h, w, r, maxCORSXML, parseCORS, cb.PutBucketCors)
	}
}

func (h *handler) getBucketCors(w http.ResponseWriter, r *http.Request) {
	cb, ok := h.corsBackend(w, r)
	if !ok {
		return
	}
	cfg, err := cb.GetBucketCors(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, renderCORS(cfg))
}

func (h *handler) deleteBucketCors(w http.ResponseWriter, r *http.Request) {
	cb, ok := h.corsBackend(w, r)
	if !ok {
		return
	}
	if err := cb.DeleteBucketCors(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

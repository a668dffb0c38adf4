package s3api

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// s3NS is the namespace of every S3 response document.
const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// writeXML renders v as a complete XML response. It marshals before
// touching the ResponseWriter so that an encoding failure still becomes a
// proper error response.
func (h *handler) writeXML(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		h.writeError(w, r, err)
		return
	}
	if bytes.ContainsRune(buf.Bytes(), xmlRefOpen) {
		buf = *bytes.NewBuffer(xmlRefs.ReplaceAll(buf.Bytes(), []byte("&#x$1;")))
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// Keys may hold characters XML 1.0 cannot carry (C0 controls but TAB, LF
// and CR). encoding/xml would write them as U+FFFD, so that "a\x01" and
// "a\x02" would list alike; AWS writes them as character references
// ("&#x1;"), exact though not XML 1.0, and so does Cairn: xmlSafe marks
// such a character in a key, and writeXML turns the mark into the
// reference once encoding/xml has escaped the rest. (With
// encoding-type=url keys are percent-encoded instead, as S3 advises.)
const (
	xmlRefOpen  = '\uE000'
	xmlRefClose = '\uE001'
)

var xmlRefs = regexp.MustCompile("\uE000([0-9a-f]+)\uE001")

// xmlSafe marks the characters of s that XML 1.0 cannot carry (and the
// marks themselves, should a key hold them) for writeXML.
func xmlSafe(s string) string {
	i := strings.IndexFunc(s, needsRef)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if needsRef(r) {
			b.WriteRune(xmlRefOpen)
			b.WriteString(strconv.FormatInt(int64(r), 16))
			b.WriteRune(xmlRefClose)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsRef(r rune) bool {
	valid := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE002 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
	return !valid
}

// errorDoc is the S3 error document. Details carries the extra elements some
// errors have (SignatureDoesNotMatch's StringToSign, RequestTimeTooSkewed's
// ServerTime, ...).
type errorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId,omitempty"`
	Details   []xmlField
}

// xmlField is one extra <Name>Value</Name> element.
type xmlField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// writeError answers err as an S3 error: the *Error it wraps, else the S3
// error of a sibling-package sentinel (s3Error), else InternalError. A client
// that went away gets nothing (there is no one to read it); a HEAD, a 304 and
// every other bodiless answer gets the status alone.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := state(r)
	if readsObject[st.op] {
		err = h.hideMissing(r, err)
	}
	st.err = err
	if r.Context().Err() != nil {
		st.code = codeClientGone
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = s3Error(err)
	}
	if e == nil {
		e = ErrInternalError
	}
	st.code = e.Code
	st.linger = settleBody(w, r, st.body, e.Code)
	if e.Status == http.StatusNotModified {
		// A successful conditional GET, not a failure worth logging.
		st.err, st.code = nil, ""
	}

	hdr := w.Header()
	if e.Status == http.StatusNotModified || r.Method == http.MethodHead {
		hdr.Del("Content-Type")
		w.WriteHeader(e.Status)
		return
	}
	if st.admin {
		// The admin API speaks JSON, its refusals (a bad signature, a
		// disabled API) too, as {"error": ..., "code": ...}.
		b, _ := json.Marshal(map[string]string{"error": e.Message, "code": e.Code})
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Length", strconv.Itoa(len(b)+1))
		w.WriteHeader(e.Status)
		_, _ = w.Write(append(b, '\n'))
		return
	}
	doc := errorDoc{
		Code:      e.Code,
		Message:   e.Message,
		Resource:  r.URL.Path,
		RequestID: st.id,
		HostID:    hdr.Get("x-amz-id-2"),
		Details:   errorDetails(err),
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if xerr := xml.NewEncoder(&buf).Encode(doc); xerr != nil {
		// Only invalid UTF-8 in a message could fail; the status still says it.
		buf.Reset()
	}
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

// putDocument serves a Put call that stores one small configuration
// document on the request's bucket: read the body (up to limit, with the
// Content-MD5 or checksum these calls require), parse it, store it, answer
// 200. A document that does not parse changes nothing.
func putDocument[T any](h *handler, w http.ResponseWriter, r *http.Request, limit int64, parse func([]byte) (T, error), store func(context.Context, string, T) error) {
	data, err := h.readSmallBody(r, limit, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v, err := parse(data)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := store(r.Context(), state(r).bucket, v); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// putObjectDocument is putDocument for what is kept about one version of
// the request's object (its tags, retention or legal hold): the key is
// checked, the body read (with a digest when requireDigest), parsed and
// stored, and the version it went to named in x-amz-version-id.
func putObjectDocument[T any](h *handler, w http.ResponseWriter, r *http.Request, requireDigest bool, parse func([]byte) (T, error), store func(ctx context.Context, bucket, key, versionID string, v T) (string, error)) {
	st := state(r)
	err := checkKey(st.key)
	var data []byte
	if err == nil {
		data, err = h.readSmallBody(r, maxConfigXML, requireDigest)
	}
	var v T
	if err == nil {
		v, err = parse(data)
	}
	var vid string
	if err == nil {
		vid, err = store(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"), v)
	}
	h.answerVersionWrite(w, r, vid, err)
}

// answerVersionWrite answers a change to one version of an object: its
// error, or 200 with the version it went to in x-amz-version-id.
func (h *handler) answerVersionWrite(w http.ResponseWriter, r *http.Request, vid string, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if vid != "" {
		w.Header().Set("x-amz-version-id", vid)
	}
	w.WriteHeader(http.StatusOK)
}

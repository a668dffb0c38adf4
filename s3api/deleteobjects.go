package s3api

import (
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
)

// maxDeleteKeys is S3's limit on keys in one DeleteObjects.
const maxDeleteKeys = 1000

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool
	Objects []objectID `xml:"Object"`
}

// objectID is one object (version) named by a DeleteObjects request.
type objectID struct {
	Key       string
	VersionID string `xml:"VersionId"`
}

// parseDeleteObjects decodes and checks a DeleteObjects body.
func parseDeleteObjects(data []byte) (objs []objectID, quiet bool, err error) {
	var doc deleteRequest
	if err := decodeXML(data, &doc); err != nil {
		return nil, false, err
	}
	if len(doc.Objects) == 0 || len(doc.Objects) > maxDeleteKeys {
		return nil, false, ErrMalformedXML.WithMessagef("The XML you provided must name 1 to %d objects.", maxDeleteKeys)
	}
	for _, o := range doc.Objects {
		if o.Key == "" {
			return nil, false, ErrUserKeyMustBeSpecified
		}
	}
	return doc.Objects, doc.Quiet, nil
}

type deleteResult struct {
	XMLName xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []deletedEntry `xml:"Deleted"`
	Errors  []deleteError  `xml:"Error"`
}

type deletedEntry struct {
	Key                   string
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:",omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type deleteError struct {
	Key       string
	VersionID string `xml:"VersionId,omitempty"`
	Code      string
	Message   string
}

// deleteObjects is DeleteObjects (POST /bucket?delete). Each key is deleted
// as DeleteObject would, and fails on its own: the answer is 200 with a
// Deleted or Error entry per key.
func (h *handler) deleteObjects(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if r.Header.Get("x-amz-mfa") != "" {
		h.writeError(w, r, ErrNotImplemented.WithMessage("MFA Delete is not supported."))
		return
	}
	// x-amz-bypass-governance-retention is judged key by key below.
	bypass := asksBypass(r)
	data, err := h.readSmallBody(r, maxDeleteXML, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	objs, quiet, err := parseDeleteObjects(data)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// A missing bucket fails the request as a whole, as on S3.
	if _, err := h.b.HeadBucket(r.Context(), st.bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	res := deleteResult{}
	for _, o := range objs {
		if err := r.Context().Err(); err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := checkKey(o.Key); err != nil {
			res.Errors = append(res.Errors, deleteErrorOf(o, asError(err, ErrInternalError)))
			continue
		}
		action := "s3:DeleteObject"
		if o.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		if err := h.authorize(r, action, st.bucket, o.Key); err != nil {
			res.Errors = append(res.Errors, deleteErrorOf(o, asError(err, ErrAccessDenied)))
			continue
		}
		ctx := r.Context()
		if bypass && h.canBypassGovernance(r, o.Key) {
			ctx = withBypassContext(ctx)
		}
		dr, err := h.b.DeleteObject(ctx, st.bucket, o.Key, o.VersionID)
		if err != nil && !(errors.Is(err, ErrNoSuchKey) && o.VersionID == "") {
			e := asError(err, nil)
			if e == nil {
				e = ErrInternalError
				h.log.LogAttrs(r.Context(), slog.LevelError, "delete objects: one key failed",
					slog.String("bucket", st.bucket), slog.String("key", o.Key), slog.String("req_id", st.id), slog.Any("err", err))
			}
			res.Errors = append(res.Errors, deleteErrorOf(o, e))
			continue
		}
		if quiet {
			continue
		}
		d := deletedEntry{Key: o.Key, VersionID: o.VersionID}
		if dr.DeleteMarker {
			d.DeleteMarker = true
			d.DeleteMarkerVersionID = dr.VersionID
		}
		res.Deleted = append(res.Deleted, d)
	}
	h.writeXML(w, r, http.StatusOK, res)
}

// asError is the S3 error err carries (the *Error it wraps, else a
// sibling package's sentinel's), or otherwise.
func asError(err error, otherwise *Error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if e = s3Error(err); e != nil {
		return e
	}
	return otherwise
}

// deleteErrorOf is one key's failure in a DeleteObjects answer.
func deleteErrorOf(o objectID, e *Error) deleteError {
	return deleteError{Key: o.Key, VersionID: o.VersionID, Code: e.Code, Message: e.Message}
}

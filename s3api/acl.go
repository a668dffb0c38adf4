package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// ACLs. A backend that is an ACLBackend (aclgrants.go) keeps them; for any
// other, every bucket and object belongs to its owner alone, which is S3's
// canned ACL "private": GetBucketAcl and GetObjectAcl say so, PutBucketAcl
// and PutObjectAcl accept exactly that and refuse any grant to someone
// else with NotImplemented, so no client believes it shared data.

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

type accessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   owner
	Grants  []grant `xml:"AccessControlList>Grant"`
}

type grant struct {
	Grantee    grantee
	Permission string
}

type grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:",omitempty"`
	DisplayName string `xml:",omitempty"`
	URI         string `xml:",omitempty"`
	Email       string `xml:"EmailAddress,omitempty"`
}

// accessControlPolicyRequest is a PutBucketAcl / PutObjectAcl body. The
// grantee's xsi:type attribute is matched by local name ("type").
type accessControlPolicyRequest struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   *owner
	Grants  []struct {
		Grantee struct {
			Type  string `xml:"type,attr"`
			ID    string
			URI   string
			Email string `xml:"EmailAddress"`
		}
		Permission string
	} `xml:"AccessControlList>Grant"`
}

func privateACL(o owner) accessControlPolicy {
	return accessControlPolicy{
		Owner: o,
		Grants: []grant{{
			Grantee:    grantee{XMLNSXSI: xsiNS, Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
			Permission: "FULL_CONTROL",
		}},
	}
}

// checkACLRequest accepts a request that sets the private ACL: canned
// "private" in x-amz-acl, or a body granting FULL_CONTROL to the owner
// only. Both at once is UnexpectedContent, as on S3.
func (h *handler) checkACLRequest(r *http.Request) error {
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return ErrNotImplemented.WithMessagef("%s is not supported; Cairn resources are private to their owner.", k)
		}
	}
	data, err := h.readSmallBody(r, maxConfigXML, false)
	if err != nil {
		return err
	}
	body := len(strings.TrimSpace(string(data))) > 0
	if canned := r.Header.Get("x-amz-acl"); canned != "" {
		if body {
			return ErrUnexpectedContent
		}
		if canned != "private" {
			return ErrNotImplemented.WithMessagef("Canned ACL %q is not supported; Cairn resources are private to their owner.", canned)
		}
		return nil
	}
	if !body {
		return ErrMissingRequestBodyError
	}
	var doc accessControlPolicyRequest
	if err := decodeXML(data, &doc); err != nil {
		return ErrMalformedACL
	}
	me := requestOwner(r).ID
	for _, g := range doc.Grants {
		if g.Grantee.Type != "CanonicalUser" || g.Grantee.ID != me || g.Permission != "FULL_CONTROL" {
			return ErrNotImplemented.WithMessage("Only the owner's FULL_CONTROL grant is supported; Cairn resources are private to their owner.")
		}
	}
	return nil
}

func (h *handler) getBucketACL(w http.ResponseWriter, r *http.Request) {
	if ab, ok := h.b.(ACLBackend); ok {
		acl, err := ab.GetBucketACL(r.Context(), state(r).bucket)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.writeXML(w, r, http.StatusOK, aclXML(acl))
		return
	}
	if _, err := h.b.HeadBucket(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, privateACL(requestOwner(r)))
}

func (h *handler) putBucketACL(w http.ResponseWriter, r *http.Request) {
	if ab, ok := h.b.(ACLBackend); ok {
		req, err := h.putACLRequest(r)
		if err == nil {
			err = ab.PutBucketACL(r.Context(), state(r).bucket, req)
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if _, err := h.b.HeadBucket(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.checkACLRequest(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) getObjectACL(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	if ab, ok := h.b.(ACLBackend); ok {
		acl, vid, err := ab.GetObjectACL(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if vid != "" {
			w.Header().Set("x-amz-version-id", vid)
		}
		h.writeXML(w, r, http.StatusOK, aclXML(acl))
		return
	}
	info, err := h.b.HeadObject(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if info.VersionID != "" {
		w.Header().Set("x-amz-version-id", info.VersionID)
	}
	h.writeXML(w, r, http.StatusOK, privateACL(requestOwner(r)))
}

func (h *handler) putObjectACL(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	if ab, ok := h.b.(ACLBackend); ok {
		req, err := h.putACLRequest(r)
		var vid string
		if err == nil {
			vid, err = ab.PutObjectACL(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"), req)
		}
		h.answerVersionWrite(w, r, vid, err)
		return
	}
	info, err := h.b.HeadObject(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.checkACLRequest(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if info.VersionID != "" {
		w.Header().Set("x-amz-version-id", info.VersionID)
	}
	w.WriteHeader(http.StatusOK)
}

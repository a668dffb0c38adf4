package s3api

import (
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// S3's tag limits: 50 per bucket, 10 per object; keys 1..128 and values
// 0..256 Unicode characters.
const (
	maxBucketTags = 50
	maxObjectTags = 10
	maxTagKey     = 128
	maxTagValue   = 256
)

type tag struct {
	Key   string
	Value string
}

type tagSet struct {
	Tags []tag `xml:"Tag"`
}

// taggingRequest is the body of PutBucketTagging and PutObjectTagging.
type taggingRequest struct {
	XMLName xml.Name `xml:"Tagging"`
	TagSet  *tagSet
}

type taggingResponse struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Tagging"`
	TagSet  tagSet
}

// parseTagging decodes and validates a Tagging document with at most max tags.
func parseTagging(data []byte, max int) (map[string]string, error) {
	var doc taggingRequest
	if err := decodeXML(data, &doc); err != nil {
		return nil, err
	}
	if doc.TagSet == nil {
		return nil, ErrMalformedXML
	}
	pairs := make([][2]string, 0, len(doc.TagSet.Tags))
	for _, t := range doc.TagSet.Tags {
		pairs = append(pairs, [2]string{t.Key, t.Value})
	}
	return validTags(pairs, max)
}

// parseTagHeader decodes x-amz-tagging: tags as URL query parameters.
func parseTagHeader(s string) (map[string]string, error) {
	q, err := url.ParseQuery(s)
	if err != nil {
		return nil, ErrInvalidTag.WithMessage("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	var pairs [][2]string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, [2]string{k, v})
		}
	}
	return validTags(pairs, maxObjectTags)
}

func validTags(pairs [][2]string, max int) (map[string]string, error) {
	if len(pairs) > max {
		if max == maxObjectTags {
			return nil, ErrInvalidTag.WithMessagef("Object tags cannot be greater than %d.", max)
		}
		return nil, ErrInvalidTag.WithMessagef("Bucket tag count cannot be greater than %d.", max)
	}
	tags := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v := p[0], p[1]
		switch {
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return nil, ErrInvalidTag.WithMessage("Tags must be valid UTF-8.")
		case k == "" || utf8.RuneCountInString(k) > maxTagKey:
			return nil, ErrInvalidTag.WithMessagef("The TagKey you have provided is invalid: it must be 1 to %d characters.", maxTagKey)
		case utf8.RuneCountInString(v) > maxTagValue:
			return nil, ErrInvalidTag.WithMessagef("The TagValue you have provided is invalid: it must be at most %d characters.", maxTagValue)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, ErrInvalidTag.WithMessage("Your TagKey cannot be prefixed with aws:")
		}
		if _, dup := tags[k]; dup {
			return nil, ErrInvalidTag.WithMessage("Cannot provide multiple Tags with the same key")
		}
		tags[k] = v
	}
	return tags, nil
}

// renderTags returns a Tagging document, tags in key order so responses are stable.
func renderTags(tags map[string]string) taggingResponse {
	var doc taggingResponse
	doc.TagSet.Tags = make([]tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		doc.TagSet.Tags = append(doc.TagSet.Tags, tag{Key: k, Value: tags[k]})
	}
	return doc
}

func (h *handler) getBucketTagging(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	tags, err := h.b.GetBucketTagging(r.Context(), st.bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, renderTags(tags))
}

func (h *handler) putBucketTagging(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	data, err := h.readSmallBody(r, maxConfigXML, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, err := parseTagging(data, maxBucketTags)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.b.PutBucketTagging(r.Context(), st.bucket, tags); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) deleteBucketTagging(w http.ResponseWriter, r *http.Request) {
	if err := h.b.DeleteBucketTagging(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) getObjectTagging(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, vid, err := h.b.GetObjectTagging(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if vid != "" {
		w.Header().Set("x-amz-version-id", vid)
	}
	h.writeXML(w, r, http.StatusOK, renderTags(tags))
}

func (h *handler) putObjectTagging(w http.ResponseWriter, r *http.Request) {
	parse := func(data []byte) (map[string]string, error) { return parseTagging(data, maxObjectTags) }
	putObjectDocument(h, w, r, false, parse, h.b.PutObjectTagging)
}

func (h *handler) deleteObjectTagging(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	vid, err := h.b.DeleteObjectTagging(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if vid != "" {
		w.Header().Set("x-amz-version-id", vid)
	}
	w.WriteHeader(http.StatusNoContent)
}

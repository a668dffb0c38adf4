package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxListKeys is S3's page size limit; larger requests are clamped to it.
const maxListKeys = 1000

// parseMax reads max-keys, max-uploads or max-parts: 0..1000, 1000 when
// absent, clamped to 1000, InvalidArgument when not a non-negative integer.
func parseMax(q url.Values, name string) (int, error) {
	s, ok := q[name]
	if !ok {
		return maxListKeys, nil
	}
	n, err := nonNegative(s[0], name)
	return min(n, maxListKeys), err
}

// nonNegative parses a count or marker S3 takes as a non-negative
// integer (max-keys, max-parts, part-number-marker), named in the error.
func nonNegative(s, name string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, ErrInvalidMaxKeys.WithMessagef("Provided %s not an integer or within integer range.", name)
	}
	return n, nil
}

// encodingType returns the function that encodes key-valued response
// fields: the identity, or for encoding-type=url the S3 URL encoding.
// listQuery reads what every listing takes: encoding-type and the page
// size named maxName.
func listQuery(q url.Values, maxName string) (enc func(string) string, max int, err error) {
	if enc, err = encodingType(q); err != nil {
		return nil, 0, err
	}
	max, err = parseMax(q, maxName)
	return enc, max, err
}

func encodingType(q url.Values) (func(string) string, error) {
	switch q.Get("encoding-type") {
	case "":
		return xmlSafe, nil
	case "url":
		return urlEncode, nil
	}
	return nil, ErrInvalidEncodingType
}

// urlEncode escapes every byte but the RFC 3986 unreserved characters and
// '/'. Spaces become %20, never '+': that decodes to the same key under
// both percent-decoding and form-decoding (botocore uses the latter), and
// a literal '+' in a key becomes %2B, so neither decoder confuses the two.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// objectEntry is one Contents element.
type objectEntry struct {
	Key               string
	LastModified      xmlTime
	ETag              string
	ChecksumAlgorithm string `xml:",omitempty"`
	ChecksumType      string `xml:",omitempty"`
	Size              int64
	Owner             *owner `xml:",omitempty"`
	StorageClass      string
}

func newObjectEntry(o ObjectInfo, enc func(string) string, own *owner) objectEntry {
	sc := o.StorageClass
	if sc == "" {
		sc = "STANDARD"
	}
	return objectEntry{
		Key:               enc(o.Key),
		LastModified:      xmlTime(o.LastModified),
		ETag:              etag(o.ETag),
		ChecksumAlgorithm: o.Checksum.Algorithm,
		ChecksumType:      o.Checksum.Type,
		Size:              o.Size,
		Owner:             own,
		StorageClass:      sc,
	}
}

type listBucketResult struct {
	XMLName        xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string
	Prefix         string
	Marker         string
	NextMarker     string `xml:",omitempty"`
	MaxKeys        int
	Delimiter      string `xml:",omitempty"`
	EncodingType   string `xml:",omitempty"`
	IsTruncated    bool
	Contents       []objectEntry
	CommonPrefixes []commonPrefix
}

// listObjects is ListObjects (version 1).
func (h *handler) listObjects(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	enc, max, err := listQuery(q, "max-keys")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in := ListInput{Bucket: st.bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), After: q.Get("marker"), MaxKeys: max}
	res, err := h.b.ListObjects(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// Version 1 always names the owner.
	me := requestOwner(r)
	doc := listBucketResult{
		Name:         st.bucket,
		Prefix:       enc(in.Prefix),
		Marker:       enc(in.After),
		MaxKeys:      max,
		Delimiter:    enc(in.Delimiter),
		EncodingType: q.Get("encoding-type"),
		IsTruncated:  res.IsTruncated,
	}
	// S3 sends NextMarker only with a delimiter; without one a client
	// continues from the last key it got.
	if res.IsTruncated && in.Delimiter != "" {
		doc.NextMarker = enc(res.Next)
	}
	for _, o := range res.Objects {
		doc.Contents = append(doc.Contents, newObjectEntry(o, enc, &me))
	}
	for _, p := range res.CommonPrefixes {
		doc.CommonPrefixes = append(doc.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	h.writeXML(w, r, http.StatusOK, doc)
}

type listBucketV2Result struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	KeyCount              int
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	IsTruncated           bool
	Contents              []objectEntry
	CommonPrefixes        []commonPrefix
}

// The continuation token is the backend's Next, made opaque: clients must
// not build tokens, and a key could hold characters a query string mangles.
func encodeToken(next string) string { return base64.RawURLEncoding.EncodeToString([]byte(next)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || tok == "" {
		return "", ErrInvalidContinuationToken
	}
	return string(b), nil
}

// listObjectsV2 is ListObjectsV2 (list-type=2).
func (h *handler) listObjectsV2(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	enc, max, err := listQuery(q, "max-keys")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in := ListInput{Bucket: st.bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: max}
	startAfter := q.Get("start-after")
	in.After = startAfter
	_, hasToken := q["continuation-token"]
	token := q.Get("continuation-token")
	if hasToken {
		// The token continues a listing that already went past start-after.
		if in.After, err = decodeToken(token); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	res, err := h.b.ListObjects(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var own *owner
	if q.Get("fetch-owner") == "true" {
		me := requestOwner(r)
		own = &me
	}
	doc := listBucketV2Result{
		Name:              st.bucket,
		Prefix:            enc(in.Prefix),
		ContinuationToken: token,
		StartAfter:        enc(startAfter),
		KeyCount:          len(res.Objects) + len(res.CommonPrefixes),
		MaxKeys:           max,
		Delimiter:         enc(in.Delimiter),
		EncodingType:      q.Get("encoding-type"),
		IsTruncated:       res.IsTruncated,
	}
	if res.IsTruncated {
		doc.NextContinuationToken = encodeToken(res.Next)
	}
	for _, o := range res.Objects {
		doc.Contents = append(doc.Contents, newObjectEntry(o, enc, own))
	}
	for _, p := range res.CommonPrefixes {
		doc.CommonPrefixes = append(doc.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	h.writeXML(w, r, http.StatusOK, doc)
}

type listVersionsResult struct {
	XMLName             xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string
	Prefix              string
	KeyMarker           string
	VersionIDMarker     string `xml:"VersionIdMarker"`
	NextKeyMarker       string `xml:",omitempty"`
	NextVersionIDMarker string `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int
	Delimiter           string `xml:",omitempty"`
	EncodingType        string `xml:",omitempty"`
	IsTruncated         bool
	// Entries holds Version and DeleteMarker elements interleaved in the
	// backend's order (key, then newest first).
	Entries        versionEntries
	CommonPrefixes []commonPrefix
}

// versionEntries renders each entry as a Version or a DeleteMarker element
// in place, without a wrapper. (Naming the elements through an XMLName
// value instead would make encoding/xml reset their namespace, xmlns="".)
type versionEntries []versionEntry

func (v versionEntries) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	for _, x := range v {
		name := "Version"
		if x.deleteMarker {
			name = "DeleteMarker"
		}
		if err := e.EncodeElement(x, xml.StartElement{Name: xmlName(name)}); err != nil {
			return err
		}
	}
	return nil
}

type versionEntry struct {
	deleteMarker      bool
	Key               string
	VersionID         string `xml:"VersionId"`
	IsLatest          bool
	LastModified      xmlTime
	ETag              string `xml:",omitempty"`
	ChecksumAlgorithm string `xml:",omitempty"`
	ChecksumType      string `xml:",omitempty"`
	Size              *int64 `xml:",omitempty"`
	Owner             owner
	StorageClass      string `xml:",omitempty"`
}

// versionID renders a version ID as listings show it: objects written
// before versioning was ever enabled are the "null" version.
func versionID(v string) string {
	if v == "" {
		return "null"
	}
	return v
}

func (h *handler) listObjectVersions(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	enc, max, err := listQuery(q, "max-keys")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in := ListVersionsInput{
		Bucket:          st.bucket,
		Prefix:          q.Get("prefix"),
		Delimiter:       q.Get("delimiter"),
		KeyMarker:       q.Get("key-marker"),
		VersionIDMarker: q.Get("version-id-marker"),
		MaxKeys:         max,
	}
	if in.VersionIDMarker != "" && in.KeyMarker == "" {
		h.writeError(w, r, ErrInvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker."))
		return
	}
	res, err := h.b.ListObjectVersions(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	me := requestOwner(r)
	doc := listVersionsResult{
		Name:            st.bucket,
		Prefix:          enc(in.Prefix),
		KeyMarker:       enc(in.KeyMarker),
		VersionIDMarker: in.VersionIDMarker,
		MaxKeys:         max,
		Delimiter:       enc(in.Delimiter),
		EncodingType:    q.Get("encoding-type"),
		IsTruncated:     res.IsTruncated,
	}
	if res.IsTruncated {
		doc.NextKeyMarker = enc(res.NextKeyMarker)
		doc.NextVersionIDMarker = versionID(res.NextVersionIDMarker)
	}
	for _, v := range res.Versions {
		e := versionEntry{
			deleteMarker: v.DeleteMarker,
			Key:          enc(v.Key),
			VersionID:    versionID(v.VersionID),
			IsLatest:     v.IsLatest,
			LastModified: xmlTime(v.LastModified),
			Owner:        me,
		}
		if !v.DeleteMarker {
			size := v.Size
			e.ETag, e.Size = etag(v.ETag), &size
			e.ChecksumAlgorithm, e.ChecksumType = v.Checksum.Algorithm, v.Checksum.Type
			e.StorageClass = v.StorageClass
			if e.StorageClass == "" {
				e.StorageClass = "STANDARD"
			}
		}
		doc.Entries = append(doc.Entries, e)
	}
	for _, p := range res.CommonPrefixes {
		doc.CommonPrefixes = append(doc.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	h.writeXML(w, r, http.StatusOK, doc)
}

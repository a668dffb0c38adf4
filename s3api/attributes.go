package s3api

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
)

// ObjectAttributesBackend is an optional interface of a Backend.
// Implementing it serves GetObjectAttributes (GET ?attributes), which needs
// an object's parts: Backend alone cannot list them, so without it s3api
// answers NotImplemented.
type ObjectAttributesBackend interface {
	// ObjectParts returns a version's info and, for an object completed
	// from a multipart upload, its parts in completion order, numbered
	// from 1 as GetObject ?partNumber numbers them (nil for a simple
	// object), both read together so that they describe one version. Its
	// errors are HeadObject's: a delete marker answers ErrNoSuchKey
	// (current) or ErrMethodNotAllowed (by version ID) with the info filled
	// in.
	ObjectParts(ctx context.Context, bucket, key, versionID string) (ObjectInfo, []ObjectPart, error)
}

// ObjectPart is one part of a completed multipart object.
type ObjectPart struct {
	PartNumber int
	Size       int64
	// Checksum is the part's checksum when the upload announced an
	// algorithm; Type is unset.
	Checksum Checksum
}

// The attributes x-amz-object-attributes may name.
const (
	attrETag         = "ETag"
	attrChecksum     = "Checksum"
	attrObjectParts  = "ObjectParts"
	attrStorageClass = "StorageClass"
	attrObjectSize   = "ObjectSize"
)

var (
	errNoObjectAttributes = ErrInvalidArgument.WithMessage("The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	errBadObjectAttribute = ErrInvalidArgument.WithMessage("Invalid attribute name specified.")
)

// parseObjectAttributes reads x-amz-object-attributes: one or more header
// lines of comma-separated names, matched exactly as S3 does.
func parseObjectAttributes(h http.Header) (map[string]bool, error) {
	want := map[string]bool{}
	for _, line := range h.Values("X-Amz-Object-Attributes") {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.TrimSpace(name)
			switch name {
			case "":
			case attrETag, attrChecksum, attrObjectParts, attrStorageClass, attrObjectSize:
				want[name] = true
			default:
				return nil, errBadObjectAttribute
			}
		}
	}
	if len(want) == 0 {
		return nil, errNoObjectAttributes
	}
	return want, nil
}

type getObjectAttributesResponse struct {
	XMLName      xml.Name               `xml:"http://s3.amazonaws.com/doc/2006-03-01/ GetObjectAttributesResponse"`
	ETag         string                 `xml:",omitempty"`
	Checksum     *attributesChecksum    `xml:",omitempty"`
	ObjectParts  *attributesObjectParts `xml:",omitempty"`
	StorageClass string                 `xml:",omitempty"`
	ObjectSize   *int64                 `xml:",omitempty"`
}

type attributesChecksum struct {
	checksumFields
	ChecksumType string `xml:",omitempty"`
}

type attributesObjectParts struct {
	PartsCount           int
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	Parts                []attributesPart `xml:"Part"`
}

type attributesPart struct {
	checksumFields
	PartNumber int
	Size       int64
}

// getObjectAttributes answers GetObjectAttributes: HeadObject's facts and
// ListParts' for a completed object, in XML. Unlike HeadObject its ETag is
// sent without quotes, as S3 does.
func (h *handler) getObjectAttributes(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	hdr := w.Header()
	ab, ok := h.b.(ObjectAttributesBackend)
	if !ok {
		h.writeError(w, r, ErrNotImplemented.WithMessage("GetObjectAttributes is not implemented by this backend."))
		return
	}
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	want, err := parseObjectAttributes(r.Header)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	maxParts, marker := maxListKeys, 0
	if s := r.Header.Get("X-Amz-Max-Parts"); s != "" {
		if maxParts, err = nonNegative(s, "max-parts"); err != nil {
			h.writeError(w, r, err)
			return
		}
		maxParts = min(maxParts, maxListKeys)
	}
	if s := r.Header.Get("X-Amz-Part-Number-Marker"); s != "" {
		if marker, err = nonNegative(s, "part-number-marker"); err != nil {
			h.writeError(w, r, err)
			return
		}
	}

	info, parts, err := ab.ObjectParts(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"))
	if err != nil {
		setDeleteMarker(hdr, info)
		h.writeError(w, r, err)
		return
	}
	doc := getObjectAttributesResponse{}
	if want[attrETag] {
		doc.ETag = info.ETag
	}
	if want[attrChecksum] && info.Checksum.Algorithm != "" {
		doc.Checksum = &attributesChecksum{checksumFields: newChecksumFields(info.Checksum), ChecksumType: info.Checksum.Type}
	}
	if want[attrObjectParts] && len(parts) > 0 {
		doc.ObjectParts = pageObjectParts(parts, marker, maxParts)
	}
	if want[attrStorageClass] {
		doc.StorageClass = info.StorageClass
		if doc.StorageClass == "" {
			doc.StorageClass = "STANDARD"
		}
	}
	if want[attrObjectSize] {
		doc.ObjectSize = &info.Size
	}
	if info.VersionID != "" {
		hdr.Set("x-amz-version-id", info.VersionID)
	}
	hdr.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	h.writeXML(w, r, http.StatusOK, doc)
}

// pageObjectParts is the page of parts after marker, at most maxParts.
func pageObjectParts(parts []ObjectPart, marker, maxParts int) *attributesObjectParts {
	out := &attributesObjectParts{PartsCount: len(parts), PartNumberMarker: marker, MaxParts: maxParts, Parts: []attributesPart{}}
	for _, p := range parts {
		if p.PartNumber <= marker {
			continue
		}
		if len(out.Parts) == maxParts {
			out.IsTruncated = true
			break
		}
		out.Parts = append(out.Parts, attributesPart{checksumFields: newChecksumFields(p.Checksum), PartNumber: p.PartNumber, Size: p.Size})
		out.NextPartNumberMarker = p.PartNumber
	}
	return out
}

package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/s3api/checksum"
)

// maxParts is S3's limit on part numbers (1..10000).
const maxParts = 10000

// parsePartNumber reads a partNumber query parameter.
func parsePartNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxParts {
		return 0, ErrTooManyParts
	}
	return n, nil
}

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string
	Key      string
	UploadID string `xml:"UploadId"`
}

// uploadChecksum reads x-amz-checksum-algorithm and x-amz-checksum-type of
// CreateMultipartUpload. S3 fixes the type for most algorithms (CRC64NVME is
// full-object only, SHA-1 and SHA-256 composite only); CRC32 and CRC32C may
// be either, composite unless asked.
func uploadChecksum(h http.Header) (alg, typ string, err error) {
	typ = strings.ToUpper(h.Get("x-amz-checksum-type"))
	a := h.Get("x-amz-checksum-algorithm")
	if a == "" {
		if typ != "" {
			return "", "", ErrInvalidRequest.WithMessage("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return "", "", nil
	}
	parsed, err := checksum.Parse(a)
	if err != nil {
		return "", "", ErrInvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	alg = string(parsed)
	switch {
	case typ != "" && typ != "COMPOSITE" && typ != "FULL_OBJECT":
		return "", "", ErrInvalidRequest.WithMessagef("Value for x-amz-checksum-type header is invalid: %q.", typ)
	case typ == "COMPOSITE" && !parsed.Composite(), typ == "FULL_OBJECT" && !parsed.FullObject():
		return "", "", ErrInvalidRequest.WithMessagef("The %s checksum type cannot be used with the %s checksum algorithm.", strings.ToLower(typ), strings.ToLower(alg))
	case typ == "":
		typ = uploadChecksumType(alg)
	}
	return alg, typ, nil
}

// uploadChecksumType is S3's default checksum type for an algorithm.
func uploadChecksumType(alg string) string {
	switch {
	case alg == "":
		return ""
	case alg == string(checksum.CRC64NVME):
		return "FULL_OBJECT"
	}
	return "COMPOSITE"
}

func (h *handler) createMultipartUpload(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	in := UploadInfo{Bucket: st.bucket, Key: st.key, Initiated: h.now()}
	err := checkKey(st.key)
	if err == nil {
		err = checkWriteHeaders(r.Header)
	}
	if err == nil {
		in.Meta, err = parseObjectMeta(r.Header)
	}
	if err == nil {
		in.ChecksumAlgorithm, in.ChecksumType, err = uploadChecksum(r.Header)
	}
	if err == nil {
		in.Lock, _, err = h.writeLock(r.Header)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	id, err := h.b.CreateMultipartUpload(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.ChecksumAlgorithm != "" {
		w.Header().Set("x-amz-checksum-algorithm", in.ChecksumAlgorithm)
		w.Header().Set("x-amz-checksum-type", in.ChecksumType)
	}
	// The encryption the request asked for (a bucket default applies
	// without being echoed here; the parts and the object answer it).
	setSSEHeaders(w.Header(), RequestSSE(r.Context()).Object)
	h.writeXML(w, r, http.StatusOK, initiateMultipartUploadResult{Bucket: st.bucket, Key: st.key, UploadID: id})
}

func (h *handler) uploadPart(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	in := UploadPartInput{Bucket: st.bucket, Key: st.key, UploadID: q.Get("uploadId")}
	err := checkKey(st.key)
	if err == nil {
		in.PartNumber, err = parsePartNumber(q.Get("partNumber"))
	}
	if err == nil {
		err = h.requireLockDigest(r.Context(), r.Header, st.bucket, false, true)
	}
	var p *payload
	if err == nil {
		p, err = h.openPayload(r)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in.Body, in.Size = p, p.size
	// A part's checksum is just that part's: the upload's type (composite
	// or full-object) is a property of the upload, not of the part.
	in.Digest = func() Digest {
		d := p.digest()
		d.Checksum.Type = ""
		return d
	}
	info, err := h.b.UploadPart(r.Context(), in)
	if err := p.result(err); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(info.ETag))
	sum := info.Checksum
	if sum.Algorithm == "" {
		sum = in.Digest().Checksum
	}
	sum.Type = ""
	setChecksumHeaders(w.Header(), sum)
	setSSEHeaders(w.Header(), info.SSE)
	w.WriteHeader(http.StatusOK)
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	ETag         string
	LastModified xmlTime
	checksumFields
}

func (h *handler) uploadPartCopy(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	in := UploadPartCopyInput{Bucket: st.bucket, Key: st.key, UploadID: q.Get("uploadId")}
	err := checkKey(st.key)
	if err == nil {
		in.PartNumber, err = parsePartNumber(q.Get("partNumber"))
	}
	var cs copySource
	if err == nil {
		cs, err = parseCopySource(r.Header.Get("x-amz-copy-source"))
	}
	if err == nil {
		in.SrcBucket, in.SrcKey, in.SrcVersionID = cs.bucket, cs.key, cs.versionID
		if rs := r.Header.Get("x-amz-copy-source-range"); rs != "" {
			in.Ranged = true
			in.First, in.Last, err = parseCopySourceRange(rs)
		}
	}
	if err == nil && in.Ranged && in.Last-in.First+1 > maxObjectSize {
		err = ErrEntityTooLarge
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var src ObjectInfo
	in.SourceCheck = sourceCheck(r.Header, &src)
	info, err := h.b.UploadPartCopy(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if src.VersionID != "" {
		w.Header().Set("x-amz-copy-source-version-id", src.VersionID)
	}
	setSSEHeaders(w.Header(), info.SSE)
	h.writeXML(w, r, http.StatusOK, copyPartResult{
		ETag:           etag(info.ETag),
		LastModified:   xmlTime(info.LastModified),
		checksumFields: newChecksumFields(info.Checksum),
	})
}

// completeMultipartUpload is the request body of CompleteMultipartUpload.
type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int
		ETag       string
		checksumFields
	} `xml:"Part"`
}

// parseCompleteMultipart decodes and checks a CompleteMultipartUpload
// body. Order, existence and ETags of the parts are the backend's to check.
func parseCompleteMultipart(data []byte) ([]CompletePart, error) {
	var doc completeMultipartUpload
	if err := decodeXML(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Parts) == 0 || len(doc.Parts) > maxParts {
		return nil, ErrMalformedXML.WithMessagef("The XML you provided must list 1 to %d parts.", maxParts)
	}
	parts := make([]CompletePart, 0, len(doc.Parts))
	for _, p := range doc.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxParts {
			return nil, ErrTooManyParts
		}
		sum, err := p.checksumFields.checksum()
		if err != nil {
			return nil, ErrMalformedXML.WithMessagef("Part %d lists more than one checksum.", p.PartNumber)
		}
		tag := strings.TrimSpace(p.ETag)
		tag = strings.Trim(tag, `"`)
		parts = append(parts, CompletePart{PartNumber: p.PartNumber, ETag: tag, Checksum: sum})
	}
	return parts, nil
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string
	Bucket   string
	Key      string
	ETag     string
	checksumFields
	ChecksumType string `xml:",omitempty"`
}

func (h *handler) completeMultipartUpload(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	uploadID := r.URL.Query().Get("uploadId")
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	for k := range r.Header {
		// A full-object checksum of the whole upload, for the server to
		// verify: the Backend contract has no way to pass it on, and
		// accepting it unverified would be a lie.
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-checksum-") && lk != "x-amz-checksum-type" {
			h.writeError(w, r, ErrNotImplemented.WithMessagef("%s on CompleteMultipartUpload is not supported; send per-part checksums.", k))
			return
		}
	}
	ifMatch, ifNoneMatch, err := writeConditions(r.Header)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	data, err := h.readSmallBody(r, maxCompleteXML, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	parts, err := parseCompleteMultipart(data)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	info, err := h.b.CompleteMultipartUpload(r.Context(), st.bucket, st.key, uploadID, parts, ifMatch, ifNoneMatch)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setWrittenVersion(w.Header(), info.VersionID)
	setExpiration(w.Header(), info)
	setSSEHeaders(w.Header(), info.SSE)
	h.writeXML(w, r, http.StatusOK, completeMultipartUploadResult{
		Location:       objectURL(r, st.bucket, st.key),
		Bucket:         st.bucket,
		Key:            st.key,
		ETag:           etag(info.ETag),
		checksumFields: newChecksumFields(info.Checksum),
		ChecksumType:   info.Checksum.Type,
	})
}

// objectURL is the path-style URL of an object on this server.
func objectURL(r *http.Request, bucket, key string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/" + bucket + "/" + key}
	return u.String()
}

func (h *handler) abortMultipartUpload(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.b.AbortMultipartUpload(r.Context(), st.bucket, st.key, r.URL.Query().Get("uploadId")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type listPartsResult struct {
	XMLName              xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string
	Key                  string
	UploadID             string `xml:"UploadId"`
	Initiator            owner
	Owner                owner
	StorageClass         string
	PartNumberMarker     int
	NextPartNumberMarker int `xml:",omitempty"`
	MaxParts             int
	IsTruncated          bool
	Parts                []partEntry `xml:"Part"`
	ChecksumAlgorithm    string      `xml:",omitempty"`
	ChecksumType         string      `xml:",omitempty"`
}

type partEntry struct {
	PartNumber   int
	LastModified xmlTime
	ETag         string
	Size         int64
	checksumFields
}

func (h *handler) listParts(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	uploadID := q.Get("uploadId")
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	marker := 0
	if s := q.Get("part-number-marker"); s != "" {
		var err error
		if marker, err = nonNegative(s, "part-number-marker"); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	maxParts, err := parseMax(q, "max-parts")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.b.ListParts(r.Context(), st.bucket, st.key, uploadID, marker, maxParts)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	me := requestOwner(r)
	doc := listPartsResult{
		Bucket: st.bucket, Key: st.key, UploadID: uploadID,
		Initiator: me, Owner: me, StorageClass: "STANDARD",
		PartNumberMarker: marker, MaxParts: maxParts, IsTruncated: res.IsTruncated,
		Parts:             make([]partEntry, 0, len(res.Parts)),
		ChecksumAlgorithm: res.Upload.ChecksumAlgorithm,
	}
	doc.ChecksumType = res.Upload.ChecksumType
	if doc.ChecksumType == "" {
		doc.ChecksumType = uploadChecksumType(doc.ChecksumAlgorithm)
	}
	if res.IsTruncated {
		doc.NextPartNumberMarker = res.NextPartNumberMarker
	}
	for _, p := range res.Parts {
		doc.Parts = append(doc.Parts, partEntry{
			PartNumber: p.PartNumber, LastModified: xmlTime(p.LastModified),
			ETag: etag(p.ETag), Size: p.Size, checksumFields: newChecksumFields(p.Checksum),
		})
	}
	h.writeXML(w, r, http.StatusOK, doc)
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string `xml:",omitempty"`
	NextUploadIDMarker string `xml:"NextUploadIdMarker,omitempty"`
	Delimiter          string `xml:",omitempty"`
	Prefix             string `xml:",omitempty"`
	MaxUploads         int
	IsTruncated        bool
	Uploads            []uploadEntry  `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:",omitempty"`
	EncodingType       string         `xml:",omitempty"`
}

type uploadEntry struct {
	Key               string
	UploadID          string `xml:"UploadId"`
	Initiator         owner
	Owner             owner
	StorageClass      string
	Initiated         xmlTime
	ChecksumAlgorithm string `xml:",omitempty"`
}

func (h *handler) listMultipartUploads(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	q := r.URL.Query()
	enc, max, err := listQuery(q, "max-uploads")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in := ListUploadsInput{
		Bucket:     st.bucket,
		Prefix:     q.Get("prefix"),
		Delimiter:  q.Get("delimiter"),
		KeyMarker:  q.Get("key-marker"),
		MaxUploads: max,
	}
	// S3 ignores upload-id-marker without key-marker.
	if in.KeyMarker != "" {
		in.UploadIDMarker = q.Get("upload-id-marker")
	}
	res, err := h.b.ListMultipartUploads(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	me := requestOwner(r)
	doc := listMultipartUploadsResult{
		Bucket:         st.bucket,
		KeyMarker:      enc(in.KeyMarker),
		UploadIDMarker: in.UploadIDMarker,
		Delimiter:      enc(in.Delimiter),
		Prefix:         enc(in.Prefix),
		MaxUploads:     max,
		IsTruncated:    res.IsTruncated,
		Uploads:        make([]uploadEntry, 0, len(res.Uploads)),
		EncodingType:   q.Get("encoding-type"),
	}
	if res.IsTruncated {
		doc.NextKeyMarker = enc(res.NextKeyMarker)
		doc.NextUploadIDMarker = res.NextUploadIDMarker
	}
	for _, u := range res.Uploads {
		doc.Uploads = append(doc.Uploads, uploadEntry{
			Key: enc(u.Key), UploadID: u.UploadID, Initiator: me, Owner: me,
			StorageClass: "STANDARD", Initiated: xmlTime(u.Initiated), ChecksumAlgorithm: u.ChecksumAlgorithm,
		})
	}
	for _, p := range res.CommonPrefixes {
		doc.CommonPrefixes = append(doc.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	h.writeXML(w, r, http.StatusOK, doc)
}

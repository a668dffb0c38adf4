package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// validBucketName applies S3's naming rules for general purpose buckets.
// Only CreateBucket checks them: a malformed name elsewhere simply names no
// bucket, and the backend says NoSuchBucket.
func validBucketName(name string) bool { return BucketNameProblem(name) == "" }

// BucketNameProblem says which of S3's bucket naming rules name breaks, or
// "" when it breaks none.
func BucketNameProblem(name string) string {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Sprintf("it is %d characters long; a bucket name has 3 to 63", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return "it must start and end with a lowercase letter or a digit"
			}
		default:
			return fmt.Sprintf("it holds %q; a bucket name has lowercase letters, digits, '.' and '-' only", string(rune(c)))
		}
	}
	switch {
	case strings.Contains(name, ".."):
		return "it has two periods in a row"
	case isIPv4Like(name):
		return "it is formatted like an IP address"
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Sprintf("it starts with %q, which S3 reserves", p)
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, sfx) {
			return fmt.Sprintf("it ends with %q, which S3 reserves", sfx)
		}
	}
	return ""
}

// isIPv4Like reports four dot-separated groups of digits (192.168.5.4):
// such a name would be ambiguous in a virtual-host-style Host.
func isIPv4Like(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// requestOwner is the Owner of the caller's resources. Cairn has one owner
// per access key, so the access key is the canonical ID.
func requestOwner(r *http.Request) owner {
	if st := state(r); st.ownerID != "" {
		return owner{ID: st.ownerID, DisplayName: st.ownerName}
	}
	id, _ := AccessKey(r.Context())
	return owner{ID: id, DisplayName: id}
}

type listAllMyBucketsResult struct {
	XMLName           xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner             owner
	Buckets           []bucketEntry `xml:"Buckets>Bucket"`
	ContinuationToken string        `xml:",omitempty"`
	Prefix            string        `xml:",omitempty"`
}

type bucketEntry struct {
	Name         string
	CreationDate xmlTime
}

func (h *handler) listBuckets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	max := 10000
	if s := q.Get("max-buckets"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			h.writeError(w, r, ErrInvalidArgument.WithMessage("max-buckets must be an integer between 1 and 10000."))
			return
		}
		max = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			h.writeError(w, r, ErrInvalidContinuationToken)
			return
		}
		after = string(b)
	}
	prefix := q.Get("prefix")

	buckets, err := h.b.ListBuckets(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	slices.SortFunc(buckets, func(a, b BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	res := listAllMyBucketsResult{Owner: requestOwner(r), Buckets: []bucketEntry{}, Prefix: prefix}
	for _, b := range buckets {
		if b.Name <= after || !strings.HasPrefix(b.Name, prefix) {
			continue
		}
		if len(res.Buckets) == max {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[max-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketEntry{Name: b.Name, CreationDate: xmlTime(b.Created)})
	}
	h.writeXML(w, r, http.StatusOK, res)
}

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string
}

func (h *handler) createBucket(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	var err error
	if problem := BucketNameProblem(st.bucket); problem != "" {
		h.writeError(w, r, ErrInvalidBucketName.WithMessagef("The specified bucket is not valid: %q: %s.", st.bucket, problem))
		return
	}
	if err := checkWriteHeaders(r.Header); err != nil {
		h.writeError(w, r, err)
		return
	}
	var lb ObjectLockBackend
	if strings.EqualFold(r.Header.Get("x-amz-bucket-object-lock-enabled"), "true") {
		if lb, err = h.lockBackend(); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	data, err := h.readSmallBody(r, maxConfigXML, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var location string
	if len(strings.TrimSpace(string(data))) > 0 {
		var cfg createBucketConfiguration
		if err := decodeXML(data, &cfg); err != nil {
			h.writeError(w, r, err)
			return
		}
		location = cfg.LocationConstraint
	}
	// Clients name the region they signed for (the aws CLI does so outside
	// us-east-1); that means the default storage group.
	if location == h.cfg.Region {
		location = ""
	}
	err = h.b.CreateBucket(r.Context(), st.bucket, location)
	if err == nil && lb != nil {
		if err = enableLock(r.Context(), h.b, lb, st.bucket); err != nil {
			// A bucket without the lock it was made for must not stay:
			// the client's retry would find it and be told all is well.
			if derr := h.b.DeleteBucket(r.Context(), st.bucket); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}
	if errors.Is(err, ErrBucketAlreadyOwnedByYou) && location == "" && h.cfg.Region == "us-east-1" && lb == nil {
		// AWS, for legacy compatibility, answers 200 to the owner who
		// creates a bucket again in us-east-1 (409 in every other region).
		// Not when lock was asked for: an existing bucket need not have it.
		err = nil
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/"+st.bucket)
	w.WriteHeader(http.StatusOK)
}

// region is what GetBucketLocation and x-amz-bucket-region answer: the
// storage group, or for the default group the configured region, written
// as S3 writes us-east-1 (empty) in GetBucketLocation.
func (h *handler) region(info BucketInfo) string {
	if info.Location != "" {
		return info.Location
	}
	return h.cfg.Region
}

func (h *handler) headBucket(w http.ResponseWriter, r *http.Request) {
	info, err := h.b.HeadBucket(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("x-amz-bucket-region", h.region(info))
	w.WriteHeader(http.StatusOK)
}

func (h *handler) deleteBucket(w http.ResponseWriter, r *http.Request) {
	if err := h.b.DeleteBucket(r.Context(), state(r).bucket); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Value   string   `xml:",chardata"`
}

func (h *handler) getBucketLocation(w http.ResponseWriter, r *http.Request) {
	info, err := h.b.HeadBucket(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	loc := h.region(info)
	if loc == "us-east-1" {
		loc = ""
	}
	h.writeXML(w, r, http.StatusOK, locationConstraint{Value: loc})
}

type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    string   `xml:",omitempty"`
	MfaDelete string   `xml:",omitempty"`
}

type versioningResponse struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status  string   `xml:",omitempty"`
}

func (h *handler) getBucketVersioning(w http.ResponseWriter, r *http.Request) {
	v, err := h.b.GetBucketVersioning(r.Context(), state(r).bucket)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeXML(w, r, http.StatusOK, versioningResponse{Status: string(v)})
}

func (h *handler) putBucketVersioning(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-amz-mfa") != "" {
		h.writeError(w, r, ErrNotImplemented.WithMessage("MFA Delete is not supported."))
		return
	}
	data, err := h.readSmallBody(r, maxConfigXML, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var cfg versioningConfiguration
	if err := decodeXML(data, &cfg); err != nil {
		h.writeError(w, r, err)
		return
	}
	switch cfg.MfaDelete {
	case "", "Disabled":
	case "Enabled":
		h.writeError(w, r, ErrNotImplemented.WithMessage("MFA Delete is not supported."))
		return
	default:
		h.writeError(w, r, ErrIllegalVersioningConfiguration)
		return
	}
	v := Versioning(cfg.Status)
	if v != VersioningEnabled && v != VersioningSuspended {
		h.writeError(w, r, ErrIllegalVersioningConfiguration.WithMessagef("The versioning Status %q is not Enabled or Suspended.", cfg.Status))
		return
	}
	if err := h.b.PutBucketVersioning(r.Context(), state(r).bucket, v); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

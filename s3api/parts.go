package s3api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// PartRanger is an optional interface of a Backend. Implementing it lets
// GetObject and HeadObject serve ?partNumber=N of an object completed from
// a multipart upload: S3 answers such a request as a range over that
// part's bytes, with x-amz-mp-parts-count. Backend alone cannot say where
// a part lies, so without PartRanger s3api answers NotImplemented (a
// simple object's only part, 1, is served either way).
type PartRanger interface {
	// PartRange returns where part n (1-based, in completion order) of the
	// object version lies in the object's bytes, and the ETag of the
	// version it describes. versionID is the VersionID that GetObject or
	// HeadObject returned for the version being served ("" for an object
	// of a bucket that never had versioning: the current one); s3api
	// compares the ETag to detect an overwrite in between. It answers
	// ErrInvalidPartNumber when the version has fewer than n parts.
	PartRange(ctx context.Context, bucket, key, versionID string, n int) (offset, length int64, etag string, err error)
}

// partRange resolves ?partNumber=n of the version info describes into the
// byte range to serve; ok false means the whole (empty) object.
func (h *handler) partRange(r *http.Request, hdr http.Header, info ObjectInfo, n int) (rng byteRange, ok bool, err error) {
	if info.PartsCount == 0 {
		// S3 treats a simple object as one part and answers part 1 as a
		// range covering it (206), without x-amz-mp-parts-count.
		if n != 1 {
			return byteRange{}, false, ErrInvalidPartNumber
		}
		return byteRange{start: 0, length: info.Size}, info.Size > 0, nil
	}
	pr, implemented := h.b.(PartRanger)
	if !implemented {
		return byteRange{}, false, ErrNotImplemented.WithMessage("GetObject by partNumber is not supported for multipart objects by this backend; use a Range.")
	}
	if n > info.PartsCount {
		return byteRange{}, false, ErrInvalidPartNumber
	}
	st := state(r)
	off, length, tag, err := pr.PartRange(r.Context(), st.bucket, st.key, info.VersionID, n)
	if err != nil {
		return byteRange{}, false, err
	}
	if tag != info.ETag {
		return byteRange{}, false, ErrConditionalRequestConflict.WithMessage("The object was overwritten while its part was being read; retry.")
	}
	if off < 0 || length < 0 || off+length > info.Size {
		return byteRange{}, false, fmt.Errorf("backend bug: part %d at %d+%d lies outside the object's %d bytes", n, off, length, info.Size)
	}
	hdr.Set("x-amz-mp-parts-count", strconv.Itoa(info.PartsCount))
	return byteRange{start: off, length: length}, length > 0, nil
}

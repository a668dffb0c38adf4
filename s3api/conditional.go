package s3api

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// preconditions are the four conditional headers of a read, or the four
// x-amz-copy-source-if-* headers of a copy.
type preconditions struct {
	ifMatch, ifNoneMatch               string
	ifModifiedSince, ifUnmodifiedSince time.Time // zero when absent or unparseable (S3 ignores a bad date)
}

func readPreconditions(h http.Header) preconditions {
	return preconditions{
		ifMatch:           h.Get("If-Match"),
		ifNoneMatch:       h.Get("If-None-Match"),
		ifModifiedSince:   parseHTTPDate(h.Get("If-Modified-Since")),
		ifUnmodifiedSince: parseHTTPDate(h.Get("If-Unmodified-Since")),
	}
}

func copyPreconditions(h http.Header) preconditions {
	return preconditions{
		ifMatch:           h.Get("x-amz-copy-source-if-match"),
		ifNoneMatch:       h.Get("x-amz-copy-source-if-none-match"),
		ifModifiedSince:   parseHTTPDate(h.Get("x-amz-copy-source-if-modified-since")),
		ifUnmodifiedSince: parseHTTPDate(h.Get("x-amz-copy-source-if-unmodified-since")),
	}
}

func (p preconditions) any() bool {
	return p.ifMatch != "" || p.ifNoneMatch != "" || !p.ifModifiedSince.IsZero() || !p.ifUnmodifiedSince.IsZero()
}

func parseHTTPDate(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// checkRead evaluates a GET or HEAD's conditions against the version it
// would serve, in RFC 9110's order, which gives S3's documented pairs:
// If-Match true makes If-Unmodified-Since irrelevant (200), and If-None-Match
// false makes If-Modified-Since irrelevant (304). Failures of the first pair
// are 412, of the second 304.
func (p preconditions) checkRead(info ObjectInfo) error {
	lm := info.LastModified.Truncate(time.Second) // HTTP dates have seconds only
	if p.ifMatch != "" {
		if !etagListMatches(p.ifMatch, info.ETag) {
			return ErrPreconditionFailed
		}
	} else if !p.ifUnmodifiedSince.IsZero() && lm.After(p.ifUnmodifiedSince) {
		return ErrPreconditionFailed
	}
	if p.ifNoneMatch != "" {
		if etagListMatches(p.ifNoneMatch, info.ETag) {
			return ErrNotModified
		}
	} else if !p.ifModifiedSince.IsZero() && !lm.After(p.ifModifiedSince) {
		return ErrNotModified
	}
	return nil
}

// checkCopy evaluates x-amz-copy-source-if-* against the source version.
// The order is the same as for reads, but every failure is 412: S3 documents
// if-none-match false with if-modified-since true as 412, and
// if-match true with if-unmodified-since false as a copy.
func (p preconditions) checkCopy(info ObjectInfo) error {
	err := p.checkRead(info)
	if errors.Is(err, ErrNotModified) {
		return ErrPreconditionFailed
	}
	return err
}

// etagListMatches reports whether an If-Match / If-None-Match value (a
// comma-separated list of quoted ETags, possibly weak, or "*") names etag.
func etagListMatches(list, etag string) bool {
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		item = strings.TrimPrefix(item, "W/")
		if strings.Trim(item, `"`) == etag {
			return true
		}
	}
	return false
}

package s3api

import (
	"strconv"
	"strings"
)

// byteRange is a satisfiable range of an object: length bytes from start.
type byteRange struct {
	start, length int64
}

// parseRange interprets a Range header against an object of size bytes, as
// S3 does: ok false means "serve the whole object" (no header, a header S3
// ignores because it is not a single well-formed bytes range, or several
// ranges, which S3 answers with the whole object); ErrInvalidRange means the
// single range is unsatisfiable (416).
func parseRange(header string, size int64) (r byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	spec = strings.TrimSpace(spec)
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, false, nil
	}
	if first == "" {
		// Suffix range: the last n bytes.
		n, perr := parseOffset(last)
		if perr != nil {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, ErrInvalidRange
		}
		n = min(n, size)
		return byteRange{start: size - n, length: n}, true, nil
	}
	start, perr := parseOffset(first)
	if perr != nil {
		return byteRange{}, false, nil
	}
	end := size - 1
	if last != "" {
		e, perr := parseOffset(last)
		if perr != nil || e < start {
			// Syntactically invalid (RFC 9110 14.1.1): ignored, not 416.
			return byteRange{}, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return byteRange{}, false, ErrInvalidRange
	}
	return byteRange{start: start, length: end - start + 1}, true, nil
}

// parseOffset parses a non-negative decimal offset; no sign, no spaces.
func parseOffset(s string) (int64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseCopySourceRange parses x-amz-copy-source-range, which S3 accepts
// only as "bytes=first-last" with both offsets given.
func parseCopySourceRange(s string) (first, last int64, err error) {
	bad := ErrInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, bad
	}
	first, err1 := parseOffset(a)
	last, err2 := parseOffset(b)
	if err1 != nil || err2 != nil || last < first {
		return 0, 0, bad
	}
	return first, last, nil
}

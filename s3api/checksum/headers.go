package checksum

import (
	"fmt"
	"net/http"
	"strings"
)

// FromHeaders finds the checksum the client sent or announced:
//
//   - an x-amz-checksum-<alg> header: alg and its value;
//   - x-amz-trailer naming x-amz-checksum-<alg>: alg, inTrailer (the value
//     comes in the aws-chunked trailer, sigv4's Auth.Trailer);
//   - only x-amz-sdk-checksum-algorithm or x-amz-checksum-algorithm
//     (CreateMultipartUpload's announcement for its parts): alg, no value.
//
// With none of them alg is "". Two different algorithms, or two values,
// are ErrMultipleChecksums; an unknown algorithm ErrInvalidAlgorithm; a
// value that is not base64 of the right size ErrInvalidChecksum.
func FromHeaders(h http.Header) (alg Algorithm, value string, inTrailer bool, err error) {
	for name, vs := range h {
		lower := strings.ToLower(name)
		suffix, ok := strings.CutPrefix(lower, "x-amz-checksum-")
		if !ok {
			continue
		}
		switch suffix {
		case "algorithm", "mode", "type":
			continue // announcements and options, not values
		}
		a, err := Parse(suffix)
		if err != nil {
			return "", "", false, fmt.Errorf("header %s: %w", lower, err)
		}
		if alg != "" {
			return "", "", false, fmt.Errorf("expecting a single x-amz-checksum- header, got %s and %s: %w", alg.Header(), lower, ErrMultipleChecksums)
		}
		if len(vs) != 1 {
			return "", "", false, fmt.Errorf("header %s given %d times: %w", lower, len(vs), ErrMultipleChecksums)
		}
		alg, value = a, vs[0]
	}

	for _, v := range h.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			suffix, ok := strings.CutPrefix(name, "x-amz-checksum-")
			if !ok {
				continue // a trailer that is not a checksum is not ours
			}
			a, err := Parse(suffix)
			if err != nil {
				return "", "", false, fmt.Errorf("x-amz-trailer %s: %w", name, err)
			}
			if alg != "" {
				return "", "", false, fmt.Errorf("x-amz-trailer announces %s, but %s is also present: %w", name, alg.Header(), ErrMultipleChecksums)
			}
			alg, inTrailer = a, true
		}
	}

	for _, hdr := range []string{"X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Algorithm"} {
		v := h.Get(hdr)
		if v == "" {
			continue
		}
		a, err := Parse(v)
		if err != nil {
			return "", "", false, fmt.Errorf("%s: %w", strings.ToLower(hdr), err)
		}
		if alg == "" {
			alg = a
		} else if a != alg {
			return "", "", false, fmt.Errorf("%s says %s, but the checksum sent is %s: %w", strings.ToLower(hdr), a, alg, ErrMultipleChecksums)
		}
	}

	if value != "" {
		if _, err := Decode(alg, value); err != nil {
			return "", "", false, err
		}
	}
	return alg, value, inTrailer, nil
}

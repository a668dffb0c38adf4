// Package sigv4 authenticates S3 requests signed with AWS Signature
// Version 4 and decodes their payloads, verifying them as they stream.
//
// The nouns:
//
//   - Verifier: the server's side of SigV4. It knows the region requests
//     must be scoped to, how to find a secret key, and the clock.
//   - Auth: what Verifier.Authenticate returns for a request it accepted:
//     who signed it and a reader of the decoded payload.
//   - Credential scope: "YYYYMMDD/region/s3/aws4_request", the part of a
//     signature that binds it to one day, one region and one service.
//   - Signing key: HMAC("AWS4"+secret, date) chained over region, service
//     and "aws4_request"; every signature of a request, its chunks and its
//     trailer is an HMAC under it.
//   - Canonical request: the request reduced to the form both sides sign
//     (method, path as sent, sorted re-encoded query, the signed headers,
//     the payload hash). S3 signs the path as the client sent it, without
//     the second encoding other AWS services apply.
//   - Presigned URL: the same signature carried in X-Amz-* query
//     parameters, with X-Amz-Expires (1..604800 s) instead of a clock skew
//     check and, unless pinned, UNSIGNED-PAYLOAD as the payload hash.
//   - Payload hash: x-amz-content-sha256. A hex SHA-256 (checked when the
//     body ends), UNSIGNED-PAYLOAD, or one of the aws-chunked streaming
//     values below.
//   - aws-chunked body: the payload framed as "hex-size;chunk-signature=sig
//     CRLF data CRLF" chunks ending with a 0-size chunk, optionally followed
//     by trailing headers (x-amz-checksum-*).
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD signs every chunk, chaining each
//     signature from the previous one, the first from the request's own
//     signature (the seed); ...-PAYLOAD-TRAILER also signs the trailer;
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER has neither, only the framing and
//     an unsigned trailer (its integrity comes from the checksum it
//     carries and, in practice, TLS).
//   - Trailer: the headers after the final chunk, available from
//     Auth.Trailer once the body is fully read.
//   - Form policy signature (VerifyPost, post.go): a browser form upload
//     (POST Object) carries no Authorization; its x-amz-signature is the
//     HMAC of the base64 policy document under the signing key of its
//     x-amz-credential.
//
// Memory is bounded per request: a signed chunk is held until its
// signature checks out (at most 16 MiB, and only as much as actually
// arrived), unsigned chunks stream through, nothing else is buffered.
// Decoding allocates nothing per chunk (78 allocations per request, all in
// Authenticate). On this machine (2 cores shared with other work, SHA-NI)
// decoding a 64 MiB body runs at 1.1-1.4 GB/s signed in 64 KiB chunks
// (SHA-256 bound) and 3-13 GB/s unsigned-trailer (copy bound); see
// BenchmarkChunked*. Either is faster than the MD5 every PUT computes.
//
// What the HTTP layer does with it: call Authenticate first, map its error
// to an S3 error (each sentinel is named after the S3 code), then hand
// Auth.Body, never r.Body, to whatever stores the object, and treat a
// non-EOF error from it as the request's failure (the sentinels again).
// Store Auth.ContentEncoding rather than the Content-Encoding header. A
// router must not clean or decode the path before this package sees it
// (gorilla/mux: SkipClean(true), UseEncodedPath()); the signature covers
// the path exactly as sent, which Authenticate reads from r.RequestURI.
package sigv4

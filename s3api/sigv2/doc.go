// Package sigv2 authenticates S3 requests signed with AWS Signature
// Version 2, which older backup tools (and s3cmd --signature-v2) still
// send, and browser form uploads (POST Object) signed with it.
//
// The nouns:
//
//   - Verifier: the server's side of SigV2: how to find a secret key, the
//     clock, the allowed skew, and how to tell the bucket of a
//     virtual-host-style Host.
//   - String to sign: the verb, Content-MD5, Content-Type, the date (Date,
//     or "" when x-amz-date is sent, or Expires for a presigned URL), the
//     canonical x-amz-* headers and the canonical resource, one per line.
//   - Canonical resource: "/bucket" for a virtual-host request, then the
//     path as sent, then the subresources S3 signs (acl, uploadId,
//     versionId, response-* overrides, ...) sorted, with their values.
//   - Signature: base64 of HMAC-SHA1 of the string to sign under the secret
//     key. The header form is "Authorization: AWS <access key>:<signature>";
//     the presigned form is the AWSAccessKeyId, Expires (Unix seconds) and
//     Signature query parameters.
//
// Authenticate answers a *sigv4.Auth, the shape the HTTP layer already
// handles, and errors that wrap sigv4's sentinels (SignatureDoesNotMatch,
// RequestTimeTooSkewed, ...), so a request is answered the same whichever
// version signed it. SigV2 signs no payload hash: the body is the request's
// body, and its integrity rests on Content-MD5 (which the signature covers
// and the HTTP layer checks as the body streams) or on TLS. The time-skew
// check is SigV4's: 15 minutes.
package sigv2

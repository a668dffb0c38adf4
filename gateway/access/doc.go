// Package access is Cairn's access-policy language and its evaluation: the
// JSON policy documents of S3 (bucket policies) and of Cairn's users (the
// identity policies IAM would hold), parsed, validated with S3's
// MalformedPolicy messages, and evaluated for one request. It imports
// nothing of Cairn's; package gateway stores the documents and decides
// which ones apply to a request (the evaluation order lives there, in
// gateway/authz.go), s3api says which action a request is.
//
// The nouns:
//
//   - Policy: a parsed document, a list of Statements. Parse validates as S3
//     does: Version, Statement, Effect, Principal/NotPrincipal (bucket
//     policies only), Action/NotAction (wildcards * and ?, matched without
//     regard to case, against the catalog of S3 actions in actions.go),
//     Resource/NotResource (S3 ARNs; * and ? match any run or one character,
//     "/" included, with regard to case), and Condition.
//   - Principal: who makes a request: the root key, a user (by name and
//     canonical ID) or anonymous. A bucket policy names principals as S3
//     does: "*" (everyone, anonymous included), {"AWS": "*"},
//     {"AWS": "arn:aws:iam::ACCOUNT:user/NAME"} (the account part is not
//     checked: a Cairn is one account), {"AWS": "NAME"},
//     {"AWS": "arn:aws:iam::ACCOUNT:root"} (the root key) and
//     {"CanonicalUser": "ID"}.
//   - Request: the principal, one action ("s3:GetObject"), the resource (an
//     ARN) and the condition context (keys such as aws:SourceIp,
//     aws:SecureTransport, aws:CurrentTime, s3:prefix, s3:max-keys,
//     s3:x-amz-acl, s3:ExistingObjectTag/<key>, s3:object-lock-mode).
//   - Decision: what one policy says of a request: NoMatch (implicit deny),
//     Allowed, or Denied (an explicit Deny, which wins over every Allow).
//   - Condition operators: String{Equals,NotEquals,EqualsIgnoreCase,
//     NotEqualsIgnoreCase,Like,NotLike}, Numeric{Equals,NotEquals,LessThan,
//     LessThanEquals,GreaterThan,GreaterThanEquals}, Date{...the same...},
//     Bool, IpAddress, NotIpAddress, Null, Arn{Equals,Like,NotEquals,
//     NotLike}; each but Null may end in IfExists, and take a ForAnyValue: or
//     ForAllValues: qualifier. A key missing from the request fails a
//     positive operator and passes a negated one (NotEquals, NotLike,
//     NotIpAddress), as IAM documents.
//   - Built-in policies (builtin.go): readwrite, readonly and writeonly, the
//     policies `cairn admin user add --policy` names.
//
// Promises, each with the test that proves it:
//
//   - Bad documents are refused with S3's MalformedPolicy message
//     (TestParseErrors) and Parse never panics (FuzzParse).
//   - Explicit Deny wins, NotAction/NotResource/NotPrincipal invert, every
//     condition operator behaves as IAM documents (TestEvaluate).
//   - Evaluating one request against a typical bucket policy allocates
//     nothing (BenchmarkEvaluate: `go test -bench Evaluate ./gateway/access`).
package access

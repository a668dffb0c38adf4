package access

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Effect is a statement's Effect.
type Effect bool

const (
	Deny  Effect = false
	Allow Effect = true
)

// Decision is what a policy says of one request.
type Decision uint8

const (
	// NoMatch: no statement applies (an implicit deny, unless another
	// policy or an ACL allows).
	NoMatch Decision = iota
	// Allowed: an Allow statement applies and no Deny does.
	Allowed
	// Denied: a Deny statement applies; it wins over every Allow.
	Denied
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allowed"
	case Denied:
		return "Denied"
	}
	return "NoMatch"
}

// Error is a document that is not a valid policy. Message is S3's wording
// of the fault (s3api answers it as MalformedPolicy).
type Error struct{ Message string }

func (e *Error) Error() string { return "malformed policy: " + e.Message }

func malformed(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// S3's messages for the faults it names (as S3 answers PutBucketPolicy).
const (
	msgFirstByte       = "Policies must be valid JSON and the first byte must be '{'"
	msgInvalidJSON     = "This policy contains invalid Json"
	msgNoStatement     = "Missing required field Statement"
	msgEmptyStatement  = "Could not parse the policy: Statement is empty!"
	msgVersion         = "The policy must contain a valid version string"
	msgInvalidAction   = "Policy has invalid action"
	msgInvalidResource = "Policy has invalid resource"
	msgInvalidPrinc    = "Invalid principal in policy"
	msgMismatch        = "Action does not apply to any resource(s) in statement"
	msgConditionKey    = "Policy has an invalid condition key"
)

// Policy is a parsed, valid policy document.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Effect Effect
	// Principals are the statement's Principal (or, when NotPrincipal is
	// set, its NotPrincipal); nil in an identity policy, which applies to
	// its user alone.
	Principals   []principal
	NotPrincipal bool
	Actions      []string // lower-case patterns
	NotAction    bool
	Resources    []string
	NotResource  bool
	Conditions   []condition
}

// Kind says which sort of document Parse reads.
type Kind uint8

const (
	// BucketPolicy: Principal or NotPrincipal required; every resource
	// must be in the policy's bucket.
	BucketPolicy Kind = iota
	// UserPolicy: an identity policy: no Principal; Resource may be "*".
	UserPolicy
)

// Options tell Parse what it validates against.
type Options struct {
	Kind Kind
	// Bucket is the bucket a bucket policy is for.
	Bucket string
	// KnownUser says whether a user name exists, for principals that name
	// one; nil accepts every syntactically valid name.
	KnownUser func(name string) bool
}

// maxPolicy is S3's limit on a bucket policy's size.
const maxPolicy = 20 << 10

// Parse parses and validates doc.
func Parse(doc []byte, o Options) (*Policy, error) {
	if len(doc) > maxPolicy {
		return nil, malformed("Policies must not be larger than %d bytes", maxPolicy)
	}
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, malformed(msgFirstByte)
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(doc, &top); err != nil {
		return nil, malformed(msgInvalidJSON)
	}
	p := &Policy{}
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != "2012-10-17" && p.Version != "2008-10-17") {
				return nil, malformed(msgVersion)
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, malformed(msgInvalidJSON)
			}
		case "Statement":
		default:
			return nil, malformed("Unknown field %s", k)
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformed(msgNoStatement)
	}
	var stmts []json.RawMessage
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		stmts = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &stmts); err != nil {
		return nil, malformed(msgInvalidJSON)
	}
	if len(stmts) == 0 {
		return nil, malformed(msgEmptyStatement)
	}
	sids := make(map[string]bool)
	for _, s := range stmts {
		st, err := parseStatement(s, o)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed("Statement IDs (SID) in a single policy must be unique")
			}
			sids[st.Sid] = true
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// strictUnmarshal refuses trailing data after the document, which
// json.Unmarshal does too, and duplicate keys are left to the last one, as
// IAM does.
func strictUnmarshal(doc []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func parseStatement(raw json.RawMessage, o Options) (Statement, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Statement{}, malformed(msgInvalidJSON)
	}
	var st Statement
	for k := range m {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return st, malformed("Unknown field %s", k)
		}
	}
	if v, ok := m["Sid"]; ok {
		if err := json.Unmarshal(v, &st.Sid); err != nil {
			return st, malformed(msgInvalidJSON)
		}
	}
	var effect string
	v, ok := m["Effect"]
	if !ok {
		return st, malformed("Missing required field Effect")
	}
	if err := json.Unmarshal(v, &effect); err != nil {
		return st, malformed(msgInvalidJSON)
	}
	switch effect {
	case "Allow":
		st.Effect = Allow
	case "Deny":
		st.Effect = Deny
	default:
		return st, malformed("Invalid effect: %s", effect)
	}

	pr, hasP := m["Principal"]
	npr, hasNP := m["NotPrincipal"]
	switch {
	case o.Kind == UserPolicy && (hasP || hasNP):
		return st, malformed("Policy document should not specify a principal.")
	case o.Kind == BucketPolicy && hasP && hasNP:
		return st, malformed(msgInvalidPrinc)
	case o.Kind == BucketPolicy && !hasP && !hasNP:
		return st, malformed("Missing required field Principal")
	case hasNP:
		if effect == "Allow" {
			// IAM refuses NotPrincipal with Allow: it would grant to
			// everybody but a few, anonymous included.
			return st, malformed("NotPrincipal is not allowed with Effect Allow")
		}
		st.NotPrincipal = true
		pr = npr
		fallthrough
	case hasP:
		ps, err := parsePrincipal(pr, o)
		if err != nil {
			return st, err
		}
		st.Principals = ps
	}

	acts, notAct, err := stringsField(m, "Action", "NotAction")
	if err != nil {
		return st, err
	}
	st.NotAction = notAct
	var kinds [3]bool // which kinds of resource the actions may apply to
	for _, a := range acts {
		la := strings.ToLower(a)
		if la == "*" {
			kinds = [3]bool{true, true, true}
			st.Actions = append(st.Actions, la)
			continue
		}
		if !strings.HasPrefix(la, "s3:") {
			return st, malformed(msgInvalidAction)
		}
		found := false
		for name, k := range actions {
			if match(la, strings.ToLower(name), true) {
				found = true
				kinds[k] = true
			}
		}
		if !found {
			return st, malformed(msgInvalidAction)
		}
		st.Actions = append(st.Actions, la)
	}
	if notAct {
		kinds = [3]bool{true, true, true}
	}

	res, notRes, err := stringsField(m, "Resource", "NotResource")
	if err != nil {
		return st, err
	}
	st.NotResource = notRes
	applies := false
	for _, r := range res {
		canBucket, canObject, err := checkResource(r, o)
		if err != nil {
			return st, err
		}
		if kinds[KindService] || notRes || (canBucket && kinds[KindBucket]) || (canObject && kinds[KindObject]) {
			applies = true
		}
	}
	if !applies {
		return st, malformed(msgMismatch)
	}
	st.Resources = res

	if c, ok := m["Condition"]; ok {
		conds, err := parseConditions(c)
		if err != nil {
			return st, err
		}
		st.Conditions = conds
	}
	return st, nil
}

// stringsField reads the one of name and notName the statement has, as a
// string or a list of strings.
func stringsField(m map[string]json.RawMessage, name, notName string) ([]string, bool, error) {
	v, has := m[name]
	nv, hasNot := m[notName]
	switch {
	case has && hasNot:
		return nil, false, malformed("Statement must not have both %s and %s", name, notName)
	case !has && !hasNot:
		return nil, false, malformed("Missing required field %s", name)
	case hasNot:
		v = nv
	}
	ss, err := stringOrList(v)
	if err != nil || len(ss) == 0 {
		return nil, false, malformed(msgInvalidJSON)
	}
	return ss, hasNot, nil
}

func stringOrList(v json.RawMessage) ([]string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(v, &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

const arnPrefix = "arn:aws:s3:::"

// checkResource validates one Resource and says whether it can name a
// bucket, an object, or both.
func checkResource(r string, o Options) (canBucket, canObject bool, err error) {
	if r == "*" && o.Kind == UserPolicy {
		return true, true, nil
	}
	rest, ok := strings.CutPrefix(r, arnPrefix)
	if !ok || rest == "" {
		return false, false, malformed(msgInvalidResource)
	}
	bucket, _, hasKey := strings.Cut(rest, "/")
	if o.Kind == BucketPolicy && !match(bucket, o.Bucket, false) {
		// S3 refuses a bucket policy naming another bucket.
		return false, false, malformed(msgInvalidResource)
	}
	canBucket = !hasKey
	canObject = hasKey || strings.HasSuffix(bucket, "*")
	return canBucket, canObject, nil
}

// ResourceARN is the ARN a policy names a bucket (key "") or an object by.
func ResourceARN(bucket, key string) string {
	if key == "" {
		return arnPrefix + bucket
	}
	return arnPrefix + bucket + "/" + key
}

// match reports whether s matches pattern, in which '*' stands for any run
// of characters and '?' for one; fold compares ASCII letters without regard
// to case (pattern is lower-case then). It allocates nothing.
func match(pattern, s string, fold bool) bool {
	// The classic iterative wildcard match with one backtrack point.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			c := pattern[p]
			switch {
			case c == '*':
				star, mark = p, i
				p++
				continue
			case c == '?' || c == s[i] || (fold && c == lower(s[i])):
				p++
				i++
				continue
			}
		}
		if star < 0 {
			return false
		}
		p = star + 1
		mark++
		i = mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

package access

import "strings"

// Request is one request as a policy sees it.
type Request struct {
	Principal Principal
	// Action is the S3 action, as the catalog spells it ("s3:GetObject").
	Action string
	// Resource is the ARN of the bucket or object (ResourceARN); "" for an
	// action on no resource (s3:ListAllMyBuckets, s3:CreateBucket's
	// absent bucket is its own ARN).
	Resource string
	// Context holds the condition keys the request carries, each with its
	// values. Keys are lower-case ("aws:sourceip", "s3:prefix",
	// "s3:existingobjecttag/project").
	Context []ContextValue
}

// ContextValue is one condition key of a request and its values.
type ContextValue struct {
	Key    string // lower-case
	Values []string
}

func (r *Request) lookup(key string) ([]string, bool) {
	for i := range r.Context {
		if r.Context[i].Key == key {
			return r.Context[i].Values, true
		}
	}
	return nil, false
}

// Set adds or replaces a condition key's values; key is lower-cased.
func (r *Request) Set(key string, values ...string) {
	key = strings.ToLower(key)
	for i := range r.Context {
		if r.Context[i].Key == key {
			r.Context[i].Values = values
			return
		}
	}
	r.Context = append(r.Context, ContextValue{Key: key, Values: values})
}

// Evaluate says what p decides for req: Denied when a Deny statement
// applies, else Allowed when an Allow statement does, else NoMatch.
func (p *Policy) Evaluate(req *Request) Decision {
	if p == nil {
		return NoMatch
	}
	d := NoMatch
	for i := range p.Statements {
		st := &p.Statements[i]
		if !st.applies(req) {
			continue
		}
		if st.Effect == Deny {
			return Denied
		}
		d = Allowed
	}
	return d
}

func (st *Statement) applies(req *Request) bool {
	if st.Principals != nil {
		hit := false
		for _, pr := range st.Principals {
			if pr.matches(&req.Principal) {
				hit = true
				break
			}
		}
		if hit == st.NotPrincipal {
			return false
		}
	}
	hit := false
	for _, a := range st.Actions {
		if match(a, req.Action, true) {
			hit = true
			break
		}
	}
	if hit == st.NotAction {
		return false
	}
	hit = false
	for _, r := range st.Resources {
		if r == "*" || match(r, req.Resource, false) {
			hit = true
			break
		}
	}
	if hit == st.NotResource {
		return false
	}
	for i := range st.Conditions {
		if !st.Conditions[i].eval(req) {
			return false
		}
	}
	return true
}

// IsPublic reports whether the policy grants anything to everyone (a
// Principal "*" in an Allow statement with no condition restricting who
// calls), S3's test for GetBucketPolicyStatus and for BlockPublicPolicy.
func (p *Policy) IsPublic() bool {
	if p == nil {
		return false
	}
	for _, st := range p.Statements {
		if st.Effect != Allow || st.NotPrincipal {
			continue
		}
		everyone := false
		for _, pr := range st.Principals {
			if pr.kind == anyone {
				everyone = true
			}
		}
		if !everyone {
			continue
		}
		restricted := false
		for _, c := range st.Conditions {
			// A condition on the caller's address, or on who the caller
			// is, makes the grant non-public, as S3 judges it.
			if (c.kind == opIP && !c.negate) || c.key == "aws:principalarn" || c.key == "aws:userid" || c.key == "aws:username" {
				restricted = true
			}
		}
		if !restricted {
			return true
		}
	}
	return false
}

// UsesExistingObjectTags reports whether a condition tests an
// s3:ExistingObjectTag/<key>: only then does evaluation need the object's
// tags.
func (p *Policy) UsesExistingObjectTags() bool {
	if p == nil {
		return false
	}
	for _, st := range p.Statements {
		for _, c := range st.Conditions {
			if strings.HasPrefix(c.key, "s3:existingobjecttag/") {
				return true
			}
		}
	}
	return false
}

package s3api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// postPolicy is the policy document of a browser form upload (POST
// Object): when it expires and the conditions every form field must meet.
// The form's signature covers the document, so a page can hand a browser
// a form that uploads only what the policy allows.
type postPolicy struct {
	expiration time.Time
	conditions []postCondition
	// The content-length-range condition, when there is one.
	hasRange         bool
	minSize, maxSize int64
}

// postCondition is one condition on a form field: "eq" (the exact-match
// object form {"field": "value"} is an eq too) or "starts-with".
type postCondition struct {
	op    string
	field string // lower case, without the "$"
	value string
	// raw is the condition as sent, for the AccessDenied message.
	raw string
}

var (
	errInvalidPolicy = newError("InvalidPolicyDocument", http.StatusBadRequest, "Invalid Policy: Invalid JSON.")
	errPolicyExpired = ErrAccessDenied.WithMessage("Invalid according to Policy: Policy expired.")
)

// maxPostPolicy bounds the policy document (base64); S3 documents no limit,
// a real policy is a few hundred bytes.
const maxPostPolicy = 64 << 10

// parsePostPolicy decodes a policy document (JSON, after base64).
func parsePostPolicy(doc []byte) (postPolicy, error) {
	var raw struct {
		Expiration *string           `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return postPolicy{}, errInvalidPolicy
	}
	if d.More() {
		return postPolicy{}, errInvalidPolicy
	}
	var p postPolicy
	if raw.Expiration == nil {
		return postPolicy{}, errInvalidPolicy.WithMessage("Invalid Policy: Policy missing expiration.")
	}
	t, err := time.Parse(time.RFC3339Nano, *raw.Expiration)
	if err != nil {
		return postPolicy{}, errInvalidPolicy.WithMessagef("Invalid Policy: Invalid 'expiration' value: '%s'", *raw.Expiration)
	}
	p.expiration = t
	if raw.Conditions == nil {
		return postPolicy{}, errInvalidPolicy.WithMessage("Invalid Policy: Policy missing conditions.")
	}
	for _, c := range raw.Conditions {
		if err := p.addCondition(c); err != nil {
			return postPolicy{}, err
		}
	}
	return p, nil
}

func (p *postPolicy) addCondition(c json.RawMessage) error {
	bad := errInvalidPolicy.WithMessagef("Invalid Policy: Invalid Simple-Condition: %s", c)
	c = bytes.TrimSpace(c)
	if len(c) > 0 && c[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(c, &m); err != nil || len(m) != 1 {
			return bad
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return bad
			}
			p.conditions = append(p.conditions, postCondition{op: "eq", field: strings.ToLower(k), value: s, raw: string(c)})
		}
		return nil
	}
	var arr []any
	d := json.NewDecoder(bytes.NewReader(c))
	d.UseNumber()
	if err := d.Decode(&arr); err != nil || len(arr) != 3 {
		return bad
	}
	op, ok := arr[0].(string)
	if !ok {
		return bad
	}
	switch op = strings.ToLower(op); op {
	case "content-length-range":
		lo, ok1 := policyInt(arr[1])
		hi, ok2 := policyInt(arr[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return errInvalidPolicy.WithMessagef("Invalid Policy: Invalid content-length-range: %s", c)
		}
		p.hasRange, p.minSize, p.maxSize = true, lo, hi
		return nil
	case "eq", "starts-with":
		field, ok1 := arr[1].(string)
		value, ok2 := arr[2].(string)
		if !ok1 || !ok2 || !strings.HasPrefix(field, "$") || len(field) < 2 {
			return bad
		}
		p.conditions = append(p.conditions, postCondition{op: op, field: strings.ToLower(field[1:]), value: value, raw: string(c)})
		return nil
	}
	return errInvalidPolicy.WithMessagef("Invalid Policy: Invalid condition: %s", c)
}

// policyInt reads a content-length-range bound: a JSON integer, or a
// string holding one (as some form builders send it).
func policyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// postExempt reports the form fields a policy need not name: the signature
// and policy themselves, the file, and x-ignore-* (S3's rule).
func postExempt(field string) bool {
	switch field {
	case "policy", "x-amz-signature", "signature", "awsaccesskeyid", "file":
		return true
	}
	return strings.HasPrefix(field, "x-ignore-")
}

// check applies the policy to a form's fields (lower-case names; "bucket"
// is the bucket addressed and "key" the key after ${filename}), as S3 does:
// the policy must not have expired, every condition must hold, and every
// field the form sent must be named by a condition.
func (p postPolicy) check(form map[string]string, bucket string, now time.Time) error {
	if !now.Before(p.expiration) {
		return errPolicyExpired
	}
	value := func(field string) string {
		if field == "bucket" {
			return bucket
		}
		return form[field]
	}
	named := map[string]bool{}
	for _, c := range p.conditions {
		named[c.field] = true
		v := value(c.field)
		ok := false
		switch c.op {
		case "eq":
			ok = v == c.value
		case "starts-with":
			ok = strings.HasPrefix(v, c.value)
			if !ok && c.field == "content-type" {
				// A Content-Type of several comma-separated types passes
				// when each of them starts with the prefix.
				ok = v != ""
				for t := range strings.SplitSeq(v, ",") {
					ok = ok && strings.HasPrefix(strings.TrimSpace(t), c.value)
				}
			}
		}
		if !ok {
			return ErrAccessDenied.WithMessagef("Invalid according to Policy: Policy Condition failed: %s", c.raw)
		}
	}
	var extra []string
	for f := range form {
		if !postExempt(f) && !named[f] {
			extra = append(extra, f)
		}
	}
	if len(extra) > 0 {
		return ErrAccessDenied.WithMessagef("Invalid according to Policy: Extra input fields: %s", strings.Join(slices.Sorted(slices.Values(extra)), ", "))
	}
	return nil
}

// String is for test failures.
func (c postCondition) String() string { return fmt.Sprintf("[%s $%s %q]", c.op, c.field, c.value) }

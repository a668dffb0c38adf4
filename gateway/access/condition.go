package access

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// opKind is a condition operator's family.
type opKind uint8

const (
	opString opKind = iota
	opStringIgnoreCase
	opStringLike
	opNumeric
	opDate
	opBool
	opIP
	opNull
	opArn
	opArnLike
)

// cmp is what a numeric or date operator compares.
type cmp uint8

const (
	cmpEq cmp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type condition struct {
	kind     opKind
	cmp      cmp
	negate   bool // NotEquals, NotLike, NotIpAddress, ...
	ifExists bool
	forAll   bool // ForAllValues:
	key      string
	values   []string // as written (lower-cased for IgnoreCase)
	nums     []float64
	times    []time.Time
	nets     []netip.Prefix
	null     bool // Null's value: true = the key must be absent
}

type operator struct {
	kind   opKind
	cmp    cmp
	negate bool
}

var operators = map[string]operator{
	"StringEquals":              {kind: opString},
	"StringNotEquals":           {kind: opString, negate: true},
	"StringEqualsIgnoreCase":    {kind: opStringIgnoreCase},
	"StringNotEqualsIgnoreCase": {kind: opStringIgnoreCase, negate: true},
	"StringLike":                {kind: opStringLike},
	"StringNotLike":             {kind: opStringLike, negate: true},
	"NumericEquals":             {kind: opNumeric},
	"NumericNotEquals":          {kind: opNumeric, negate: true},
	"NumericLessThan":           {kind: opNumeric, cmp: cmpLt},
	"NumericLessThanEquals":     {kind: opNumeric, cmp: cmpLe},
	"NumericGreaterThan":        {kind: opNumeric, cmp: cmpGt},
	"NumericGreaterThanEquals":  {kind: opNumeric, cmp: cmpGe},
	"DateEquals":                {kind: opDate},
	"DateNotEquals":             {kind: opDate, negate: true},
	"DateLessThan":              {kind: opDate, cmp: cmpLt},
	"DateLessThanEquals":        {kind: opDate, cmp: cmpLe},
	"DateGreaterThan":           {kind: opDate, cmp: cmpGt},
	"DateGreaterThanEquals":     {kind: opDate, cmp: cmpGe},
	"Bool":                      {kind: opBool},
	"IpAddress":                 {kind: opIP},
	"NotIpAddress":              {kind: opIP, negate: true},
	"Null":                      {kind: opNull},
	"ArnEquals":                 {kind: opArn},
	"ArnNotEquals":              {kind: opArn, negate: true},
	"ArnLike":                   {kind: opArnLike},
	"ArnNotLike":                {kind: opArnLike, negate: true},
}

// globalKeys are the aws: condition keys a Cairn request can carry (or
// that a policy may test for absence); compared without regard to case.
var globalKeys = map[string]bool{
	"aws:sourceip": true, "aws:securetransport": true, "aws:currenttime": true,
	"aws:epochtime": true, "aws:useragent": true, "aws:referer": true,
	"aws:username": true, "aws:userid": true, "aws:principaltype": true,
	"aws:principalarn": true, "aws:principalaccount": true, "aws:sourcevpc": true,
	"aws:sourcevpce": true, "aws:multifactorauthpresent": true,
	"aws:multifactorauthage": true, "aws:tokenissuetime": true,
	"aws:viaawsservice": true, "aws:calledvia": true, "aws:requestedregion": true,
}

// s3Keys are S3's own condition keys.
var s3Keys = map[string]bool{
	"s3:prefix": true, "s3:delimiter": true, "s3:max-keys": true,
	"s3:x-amz-acl": true, "s3:x-amz-content-sha256": true,
	"s3:x-amz-copy-source": true, "s3:x-amz-metadata-directive": true,
	"s3:x-amz-server-side-encryption": true, "s3:x-amz-server-side-encryption-aws-kms-key-id": true,
	"s3:x-amz-storage-class": true, "s3:x-amz-website-redirect-location": true,
	"s3:x-amz-grant-read": true, "s3:x-amz-grant-write": true, "s3:x-amz-grant-read-acp": true,
	"s3:x-amz-grant-write-acp": true, "s3:x-amz-grant-full-control": true,
	"s3:versionid": true, "s3:locationconstraint": true, "s3:signatureversion": true,
	"s3:signatureage": true, "s3:authtype": true, "s3:tlsversion": true,
	"s3:object-lock-mode": true, "s3:object-lock-retain-until-date": true,
	"s3:object-lock-remaining-retention-days": true, "s3:object-lock-legal-hold": true,
	"s3:requestobjecttagkeys": true, "s3:resourceaccount": true,
	"s3:existingobjecttag": false, // only with /<key>: see validKey
}

func validKey(k string) bool {
	lk := strings.ToLower(k)
	if globalKeys[lk] || s3Keys[lk] {
		return true
	}
	for _, p := range [...]string{"s3:existingobjecttag/", "s3:requestobjecttag/", "aws:requesttag/", "aws:resourcetag/", "aws:principaltag/"} {
		if strings.HasPrefix(lk, p) && len(lk) > len(p) {
			return true
		}
	}
	return false
}

// parseConditions reads {"Operator": {"key": value-or-list, ...}, ...}.
func parseConditions(raw json.RawMessage) ([]condition, error) {
	var m map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed(msgInvalidJSON)
	}
	var out []condition
	for name, keys := range m {
		base := name
		var forAll, forAny bool
		if b, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
			base, forAll = b, true
		} else if b, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
			base, forAny = b, true
		}
		_ = forAny // ForAnyValue is the default comparison: any value matches any
		ifExists := false
		if b, ok := strings.CutSuffix(base, "IfExists"); ok && b != "Null" {
			base, ifExists = b, true
		}
		op, ok := operators[base]
		if !ok {
			return nil, malformed("Invalid Condition type : %s", name)
		}
		for key, v := range keys {
			if !validKey(key) {
				return nil, malformed(msgConditionKey)
			}
			vals, err := conditionValues(v)
			if err != nil || len(vals) == 0 {
				return nil, malformed("Invalid Condition value for %s %s", name, key)
			}
			c := condition{kind: op.kind, cmp: op.cmp, negate: op.negate, ifExists: ifExists, forAll: forAll, key: strings.ToLower(key)}
			if err := c.setValues(vals); err != nil {
				return nil, malformed("Invalid Condition value for %s %s: %s", name, key, err.Message)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a string, number, bool or a list of them, as text.
func conditionValues(v json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if t := bytes.TrimLeft(v, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, err
		}
	} else {
		list = []json.RawMessage{v}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err == nil {
			out = append(out, s)
			continue
		}
		var n json.Number
		if err := json.Unmarshal(item, &n); err == nil {
			out = append(out, n.String())
			continue
		}
		var b bool
		if err := json.Unmarshal(item, &b); err != nil {
			return nil, err
		}
		out = append(out, strconv.FormatBool(b))
	}
	return out, nil
}

func (c *condition) setValues(vals []string) *Error {
	for _, v := range vals {
		switch c.kind {
		case opStringIgnoreCase:
			c.values = append(c.values, strings.ToLower(v))
		case opNumeric:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return malformed("%q is not a number", v)
			}
			c.nums = append(c.nums, n)
		case opDate:
			t, ok := parseDate(v)
			if !ok {
				return malformed("%q is not a date", v)
			}
			c.times = append(c.times, t)
		case opBool:
			if v != "true" && v != "false" {
				return malformed("%q is not true or false", v)
			}
			c.values = append(c.values, v)
		case opNull:
			if v != "true" && v != "false" {
				return malformed("%q is not true or false", v)
			}
			c.null = v == "true"
		case opIP:
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, err2 := netip.ParseAddr(v)
				if err2 != nil {
					return malformed("%q is not an IP address or CIDR block", v)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.nets = append(c.nets, p.Masked())
		default:
			c.values = append(c.values, v)
		}
	}
	return nil
}

// parseDate reads the dates IAM accepts: ISO 8601 (with or without time
// and zone) or seconds since the epoch.
func parseDate(v string) (time.Time, bool) {
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

// eval evaluates the condition against the request's values of its key.
func (c *condition) eval(req *Request) bool {
	vals, present := req.lookup(c.key)
	if c.kind == opNull {
		return c.null != present
	}
	if !present || len(vals) == 0 {
		if c.ifExists {
			return true
		}
		if c.forAll {
			return true // ForAllValues of no values: vacuously true
		}
		return c.negate
	}
	if c.forAll {
		for _, v := range vals {
			if !c.matchOne(v) {
				return c.negate
			}
		}
		return !c.negate
	}
	for _, v := range vals {
		if c.matchOne(v) {
			return !c.negate
		}
	}
	return c.negate
}

// matchOne reports whether one request value matches any of the
// condition's values (before negation).
func (c *condition) matchOne(v string) bool {
	switch c.kind {
	case opString, opBool, opArn:
		for _, w := range c.values {
			if v == w {
				return true
			}
		}
	case opStringIgnoreCase:
		for _, w := range c.values {
			if strings.EqualFold(v, w) {
				return true
			}
		}
	case opStringLike, opArnLike:
		for _, w := range c.values {
			if match(w, v, false) {
				return true
			}
		}
	case opNumeric:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		for _, w := range c.nums {
			if compare(c.cmp, cmpFloat(n, w)) {
				return true
			}
		}
	case opDate:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, w := range c.times {
			if compare(c.cmp, t.Compare(w)) {
				return true
			}
		}
	case opIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(c cmp, r int) bool {
	switch c {
	case cmpLt:
		return r < 0
	case cmpLe:
		return r <= 0
	case cmpGt:
		return r > 0
	case cmpGe:
		return r >= 0
	}
	return r == 0
}

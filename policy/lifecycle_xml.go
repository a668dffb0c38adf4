package policy

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseLifecycle parses and validates a PutBucketLifecycleConfiguration
// body. tier reports whether a StorageClass names a configured tier (nil:
// none is); a transition to anything else is InvalidStorageClass. A rule
// sent without an ID gets one derived from its position and content, so
// the same body always yields the same IDs. Every error is an *Error.
func ParseLifecycle(body []byte, tier func(name string) bool) (*Lifecycle, error) {
	root, err := parseTree(body)
	if err != nil {
		return nil, err
	}
	if root.name != "LifecycleConfiguration" {
		return nil, malformed("the root element is <LifecycleConfiguration>, not <%s>", root.name)
	}
	if root.space != "" && root.space != s3Namespace {
		return nil, malformed("unknown namespace %q", root.space)
	}
	if err := root.shape(map[string]int{"Rule": 0}); err != nil {
		return nil, err
	}
	rules := root.all("Rule")
	if len(rules) == 0 {
		return nil, malformed("a lifecycle configuration needs at least one <Rule>")
	}
	if len(rules) > MaxRules {
		return nil, malformed("a lifecycle configuration holds at most %d rules, this one has %d", MaxRules, len(rules))
	}
	l := &Lifecycle{Rules: make([]Rule, 0, len(rules))}
	for i, rn := range rules {
		r, err := parseRule(rn)
		if err != nil {
			return nil, err
		}
		if r.ID == "" {
			r.ID = generatedID(i, r)
		}
		l.Rules = append(l.Rules, r)
	}
	if err := l.Validate(tier); err != nil {
		return nil, err
	}
	return l, nil
}

// generatedID names a rule sent without an ID: 32 base32 characters of a
// hash of its position and content, random-looking like AWS's and stable.
func generatedID(index int, r Rule) string {
	b, _ := xml.Marshal(toWire(&r))
	h := sha256.New()
	h.Write([]byte(strconv.Itoa(index)))
	h.Write(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)[:20])
}

func parseRule(n *node) (Rule, error) {
	var r Rule
	err := n.shape(map[string]int{
		"ID": 1, "Prefix": 1, "Filter": 1, "Status": 1, "Expiration": 1,
		"Transition": 0, "NoncurrentVersionTransition": 0,
		"NoncurrentVersionExpiration": 1, "AbortIncompleteMultipartUpload": 1,
	})
	if err != nil {
		return r, err
	}
	if c := n.child("ID"); c != nil {
		if r.ID, err = c.leaf(); err != nil {
			return r, err
		}
	}
	st := n.child("Status")
	if st == nil {
		return r, malformed("<Rule> needs a <Status>")
	}
	s, err := st.leaf()
	if err != nil {
		return r, err
	}
	switch strings.TrimSpace(s) {
	case "Enabled":
		r.Enabled = true
	case "Disabled":
	default:
		return r, malformed("<Status> is Enabled or Disabled, not %q", s)
	}

	prefix, filter := n.child("Prefix"), n.child("Filter")
	switch {
	case prefix != nil && filter != nil:
		return r, malformed("a <Rule> has a <Filter> or the older <Prefix>, not both")
	case prefix != nil:
		if r.Filter.Prefix, err = prefix.leaf(); err != nil {
			return r, err
		}
	case filter != nil:
		if r.Filter, err = parseFilter(filter); err != nil {
			return r, err
		}
	default:
		return r, malformed("a <Rule> needs a <Filter> (or the older <Prefix>)")
	}

	if c := n.child("Expiration"); c != nil {
		if r.Expiration, err = parseExpiration(c); err != nil {
			return r, err
		}
	}
	for _, c := range n.all("Transition") {
		t, err := parseTransition(c)
		if err != nil {
			return r, err
		}
		r.Transitions = append(r.Transitions, t)
	}
	for _, c := range n.all("NoncurrentVersionTransition") {
		t, err := parseNoncurrentTransition(c)
		if err != nil {
			return r, err
		}
		r.NoncurrentTransitions = append(r.NoncurrentTransitions, t)
	}
	if c := n.child("NoncurrentVersionExpiration"); c != nil {
		if err := c.shape(map[string]int{"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}); err != nil {
			return r, err
		}
		var e NoncurrentExpiration
		d := c.child("NoncurrentDays")
		if d == nil {
			return r, malformed("<NoncurrentVersionExpiration> needs <NoncurrentDays>")
		}
		if e.NoncurrentDays, err = intLeaf(d); err != nil {
			return r, err
		}
		if e.NoncurrentDays <= 0 {
			return r, invalidArg(msgNoncurrentDaysExpiration)
		}
		if e.NewerNoncurrentVersions, err = newerLeaf(c, "NoncurrentVersionExpiration"); err != nil {
			return r, err
		}
		r.NoncurrentExpiration = &e
	}
	if c := n.child("AbortIncompleteMultipartUpload"); c != nil {
		if err := c.shape(map[string]int{"DaysAfterInitiation": 1}); err != nil {
			return r, err
		}
		d := c.child("DaysAfterInitiation")
		if d == nil {
			return r, malformed("<AbortIncompleteMultipartUpload> needs <DaysAfterInitiation>")
		}
		if r.AbortIncompleteMultipartUploadDays, err = intLeaf(d); err != nil {
			return r, err
		}
		if r.AbortIncompleteMultipartUploadDays <= 0 {
			return r, invalidArg(msgAbortDays)
		}
	}
	return r, nil
}

func parseFilter(n *node) (Filter, error) {
	var f Filter
	if err := n.shape(map[string]int{"Prefix": 1, "Tag": 1, "ObjectSizeGreaterThan": 1, "ObjectSizeLessThan": 1, "And": 1}); err != nil {
		return f, err
	}
	if len(n.children) > 1 {
		return f, malformed("<Filter> holds one of <Prefix>, <Tag>, <ObjectSizeGreaterThan>, <ObjectSizeLessThan> or <And>; combine several in <And>")
	}
	if a := n.child("And"); a != nil {
		if err := a.shape(map[string]int{"Prefix": 1, "Tag": 0, "ObjectSizeGreaterThan": 1, "ObjectSizeLessThan": 1}); err != nil {
			return f, err
		}
		if len(a.children) < 2 {
			return f, malformed("<And> combines two or more predicates")
		}
		n = a
	}
	var err error
	if c := n.child("Prefix"); c != nil {
		if f.Prefix, err = c.leaf(); err != nil {
			return f, err
		}
	}
	for _, c := range n.all("Tag") {
		if err := c.shape(map[string]int{"Key": 1, "Value": 1}); err != nil {
			return f, err
		}
		k := c.child("Key")
		if k == nil {
			return f, malformed("<Tag> needs a <Key>")
		}
		var t Tag
		if t.Key, err = k.leaf(); err != nil {
			return f, err
		}
		if v := c.child("Value"); v != nil {
			if t.Value, err = v.leaf(); err != nil {
				return f, err
			}
		}
		f.Tags = append(f.Tags, t)
	}
	if c := n.child("ObjectSizeGreaterThan"); c != nil {
		if f.SizeGreaterThan, err = int64Leaf(c); err != nil {
			return f, err
		}
	}
	if c := n.child("ObjectSizeLessThan"); c != nil {
		if f.SizeLessThan, err = int64Leaf(c); err != nil {
			return f, err
		}
		if f.SizeLessThan <= 0 {
			return f, invalidArg(msgSizeLessThan)
		}
	}
	return f, nil
}

func parseExpiration(n *node) (*Expiration, error) {
	if err := n.shape(map[string]int{"Days": 1, "Date": 1, "ExpiredObjectDeleteMarker": 1}); err != nil {
		return nil, err
	}
	days, date, eodm := n.child("Days"), n.child("Date"), n.child("ExpiredObjectDeleteMarker")
	switch {
	case days == nil && date == nil && eodm == nil:
		return nil, malformed("<Expiration> needs <Days>, <Date> or <ExpiredObjectDeleteMarker>")
	case eodm != nil && (days != nil || date != nil):
		return nil, invalidReq(msgDeleteMarkerWithDays)
	case days != nil && date != nil:
		return nil, malformed("<Expiration> has <Days> or <Date>, not both")
	}
	var e Expiration
	var err error
	switch {
	case days != nil:
		if e.Days, err = intLeaf(days); err != nil {
			return nil, err
		}
		if e.Days <= 0 {
			return nil, invalidArg(msgExpirationDays)
		}
	case date != nil:
		if e.Date, err = dateLeaf(date); err != nil {
			return nil, err
		}
	default:
		s, err := eodm.leaf()
		if err != nil {
			return nil, err
		}
		switch strings.TrimSpace(s) {
		case "true", "1":
			e.ExpiredObjectDeleteMarker = true
		case "false", "0":
		default:
			return nil, malformed("<ExpiredObjectDeleteMarker> is true or false, not %q", s)
		}
	}
	return &e, nil
}

func parseTransition(n *node) (TierTransition, error) {
	var t TierTransition
	if err := n.shape(map[string]int{"Days": 1, "Date": 1, "StorageClass": 1}); err != nil {
		return t, err
	}
	days, date, sc := n.child("Days"), n.child("Date"), n.child("StorageClass")
	switch {
	case days != nil && date != nil:
		return t, malformed("<Transition> has <Days> or <Date>, not both")
	case days == nil && date == nil:
		return t, invalidArg("'Transition' action must specify either 'Days' or 'Date'")
	case sc == nil:
		return t, malformed("<Transition> needs a <StorageClass>")
	}
	var err error
	if t.StorageClass, err = sc.leaf(); err != nil {
		return t, err
	}
	t.StorageClass = strings.TrimSpace(t.StorageClass)
	if days != nil {
		if t.Days, err = intLeaf(days); err != nil {
			return t, err
		}
	} else if t.Date, err = dateLeaf(date); err != nil {
		return t, err
	}
	return t, nil
}

func parseNoncurrentTransition(n *node) (NoncurrentTransition, error) {
	var t NoncurrentTransition
	if err := n.shape(map[string]int{"NoncurrentDays": 1, "NewerNoncurrentVersions": 1, "StorageClass": 1}); err != nil {
		return t, err
	}
	days, sc := n.child("NoncurrentDays"), n.child("StorageClass")
	switch {
	case days == nil:
		return t, malformed("<NoncurrentVersionTransition> needs <NoncurrentDays>")
	case sc == nil:
		return t, malformed("<NoncurrentVersionTransition> needs a <StorageClass>")
	}
	var err error
	if t.StorageClass, err = sc.leaf(); err != nil {
		return t, err
	}
	t.StorageClass = strings.TrimSpace(t.StorageClass)
	if t.NoncurrentDays, err = intLeaf(days); err != nil {
		return t, err
	}
	if t.NewerNoncurrentVersions, err = newerLeaf(n, "NoncurrentVersionTransition"); err != nil {
		return t, err
	}
	return t, nil
}

// newerLeaf reads an optional NewerNoncurrentVersions: absent is 0, and a
// value sent must be 1..100.
func newerLeaf(n *node, action string) (int, error) {
	c := n.child("NewerNoncurrentVersions")
	if c == nil {
		return 0, nil
	}
	v, err := intLeaf(c)
	if err != nil {
		return 0, err
	}
	if err := checkNewer(v, action, true); err != nil {
		return 0, err
	}
	return v, nil
}

func intLeaf(n *node) (int, error) {
	v, err := int64Leaf(n)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return 0, malformed("<%s> is out of range: %d", n.name, v)
	}
	return int(v), nil
}

func int64Leaf(n *node) (int64, error) {
	s, err := n.leaf()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, malformed("<%s> must be an integer, not %q", n.name, s)
	}
	return v, nil
}

// dateLayouts are the ISO 8601 forms a lifecycle Date is accepted in; one
// without a zone is UTC.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

func dateLeaf(n *node) (time.Time, error) {
	s, err := n.leaf()
	if err != nil {
		return time.Time{}, err
	}
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			if !isMidnight(t) {
				return time.Time{}, invalidArg(msgMidnight)
			}
			return t, nil
		}
	}
	return time.Time{}, malformed("<Date> must be an ISO 8601 date such as 2026-01-01T00:00:00.000Z, not %q", s)
}

func isMidnight(t time.Time) bool {
	t = t.UTC()
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// The wire form GetBucketLifecycleConfiguration returns. encoding/xml
// omits nil pointers, which is how optional elements stay out.
type (
	wireRules struct {
		Rules []wireRule `xml:"Rule"`
	}
	wireRule struct {
		ID                    string                     `xml:"ID"`
		Filter                wireFilter                 `xml:"Filter"`
		Status                string                     `xml:"Status"`
		Expiration            *wireExpiration            `xml:"Expiration"`
		Transitions           []wireTransition           `xml:"Transition"`
		NoncurrentTransitions []wireNoncurrentTransition `xml:"NoncurrentVersionTransition"`
		NoncurrentExpiration  *wireNoncurrentExpiration  `xml:"NoncurrentVersionExpiration"`
		Abort                 *wireAbort                 `xml:"AbortIncompleteMultipartUpload"`
	}
	wireFilter struct {
		Prefix *string  `xml:"Prefix"`
		Tag    *wireTag `xml:"Tag"`
		Gt     *int64   `xml:"ObjectSizeGreaterThan"`
		Lt     *int64   `xml:"ObjectSizeLessThan"`
		And    *wireAnd `xml:"And"`
	}
	wireAnd struct {
		Prefix *string   `xml:"Prefix"`
		Tags   []wireTag `xml:"Tag"`
		Gt     *int64    `xml:"ObjectSizeGreaterThan"`
		Lt     *int64    `xml:"ObjectSizeLessThan"`
	}
	wireTag struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	}
	wireExpiration struct {
		Days *int    `xml:"Days"`
		Date *string `xml:"Date"`
		EODM *bool   `xml:"ExpiredObjectDeleteMarker"`
	}
	wireTransition struct {
		Days         *int    `xml:"Days"`
		Date         *string `xml:"Date"`
		StorageClass string  `xml:"StorageClass"`
	}
	wireNoncurrentTransition struct {
		NoncurrentDays int    `xml:"NoncurrentDays"`
		Newer          *int   `xml:"NewerNoncurrentVersions"`
		StorageClass   string `xml:"StorageClass"`
	}
	wireNoncurrentExpiration struct {
		NoncurrentDays int  `xml:"NoncurrentDays"`
		Newer          *int `xml:"NewerNoncurrentVersions"`
	}
	wireAbort struct {
		DaysAfterInitiation int `xml:"DaysAfterInitiation"`
	}
)

const wireDate = "2006-01-02T15:04:05.000Z"

func ptr[T any](v T) *T { return &v }

func optInt(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

func toWire(r *Rule) wireRule {
	w := wireRule{ID: r.ID, Status: "Disabled", Filter: filterToWire(r.Filter)}
	if r.Enabled {
		w.Status = "Enabled"
	}
	if e := r.Expiration; e != nil {
		we := &wireExpiration{}
		switch {
		case e.Days != 0:
			we.Days = ptr(e.Days)
		case !e.Date.IsZero():
			we.Date = ptr(e.Date.UTC().Format(wireDate))
		default:
			we.EODM = ptr(e.ExpiredObjectDeleteMarker)
		}
		w.Expiration = we
	}
	for _, t := range r.Transitions {
		wt := wireTransition{StorageClass: t.StorageClass}
		if t.Date.IsZero() {
			wt.Days = ptr(t.Days)
		} else {
			wt.Date = ptr(t.Date.UTC().Format(wireDate))
		}
		w.Transitions = append(w.Transitions, wt)
	}
	for _, t := range r.NoncurrentTransitions {
		w.NoncurrentTransitions = append(w.NoncurrentTransitions, wireNoncurrentTransition{
			NoncurrentDays: t.NoncurrentDays, Newer: optInt(t.NewerNoncurrentVersions), StorageClass: t.StorageClass,
		})
	}
	if e := r.NoncurrentExpiration; e != nil {
		w.NoncurrentExpiration = &wireNoncurrentExpiration{NoncurrentDays: e.NoncurrentDays, Newer: optInt(e.NewerNoncurrentVersions)}
	}
	if r.AbortIncompleteMultipartUploadDays != 0 {
		w.Abort = &wireAbort{DaysAfterInitiation: r.AbortIncompleteMultipartUploadDays}
	}
	return w
}

// filterToWire renders a Filter in AWS's form: one predicate directly
// (an empty Filter as <Prefix></Prefix>), two or more inside <And>.
func filterToWire(f Filter) wireFilter {
	var gt, lt *int64
	if f.SizeGreaterThan != 0 {
		gt = ptr(f.SizeGreaterThan)
	}
	if f.SizeLessThan != 0 {
		lt = ptr(f.SizeLessThan)
	}
	n := len(f.Tags)
	if f.Prefix != "" {
		n++
	}
	if gt != nil {
		n++
	}
	if lt != nil {
		n++
	}
	switch {
	case n == 0:
		return wireFilter{Prefix: ptr("")}
	case n > 1:
		a := &wireAnd{Gt: gt, Lt: lt}
		if f.Prefix != "" {
			a.Prefix = ptr(f.Prefix)
		}
		for _, t := range f.Tags {
			a.Tags = append(a.Tags, wireTag(t))
		}
		return wireFilter{And: a}
	case f.Prefix != "":
		return wireFilter{Prefix: ptr(f.Prefix)}
	case len(f.Tags) == 1:
		return wireFilter{Tag: ptr(wireTag(f.Tags[0]))}
	default:
		return wireFilter{Gt: gt, Lt: lt}
	}
}

// MarshalXML renders the configuration as GetBucketLifecycleConfiguration
// returns it: <LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
// with one <Rule> per rule, filters in the <Filter> form (a rule sent with
// the older top-level <Prefix> comes back as <Filter><Prefix>), dates as
// 2006-01-02T00:00:00.000Z. It implements xml.Marshaler; the start element
// given is replaced.
func (l *Lifecycle) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	var w wireRules
	if l != nil {
		w.Rules = make([]wireRule, 0, len(l.Rules))
		for i := range l.Rules {
			w.Rules = append(w.Rules, toWire(&l.Rules[i]))
		}
	}
	return e.EncodeElement(w, xml.StartElement{Name: xml.Name{Space: s3Namespace, Local: "LifecycleConfiguration"}})
}

// Marshal returns the GetBucketLifecycleConfiguration body: the XML
// declaration and MarshalXML's rendering.
func (l *Lifecycle) Marshal() ([]byte, error) {
	b, err := xml.Marshal(l)
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// parseReplication decodes and validates a ReplicationConfiguration
// document as S3 does: what its schema forbids (an unknown or repeated
// element, a bad enumeration value, a missing required element) is
// MalformedXML; what S3 checks beyond the schema is InvalidRequest or
// InvalidArgument with S3's message. Rule IDs the client left out stay "".
func parseReplication(data []byte) (ReplicationConfig, error) {
	root, err := parseElementTree(data)
	if err != nil {
		return ReplicationConfig{}, err
	}
	if root.name != "ReplicationConfiguration" {
		return ReplicationConfig{}, ErrMalformedXML
	}
	if err := root.only("Role", "Rule*"); err != nil {
		return ReplicationConfig{}, err
	}
	role, err := root.requiredText("Role")
	if err != nil {
		return ReplicationConfig{}, err
	}
	ruleElems := root.all("Rule")
	switch {
	case len(ruleElems) == 0:
		return ReplicationConfig{}, ErrMalformedXML
	case len(ruleElems) > maxReplicationRules:
		return ReplicationConfig{}, ErrInvalidRequest.WithMessagef("The number of replication rules must not exceed the allowed limit of %d rules.", maxReplicationRules)
	}
	// S3 takes a configuration with any rule lacking a Filter as the V1
	// schema, in which no rule may have one.
	v1 := false
	for _, re := range ruleElems {
		if re.first("Filter") == nil {
			v1 = true
		}
	}
	cfg := ReplicationConfig{Role: role, Rules: make([]ReplicationRule, 0, len(ruleElems))}
	ids := make(map[string]bool, len(ruleElems))
	priorities := make(map[int]bool, len(ruleElems))
	for _, re := range ruleElems {
		rule, err := parseReplicationRule(re, v1)
		if err != nil {
			return ReplicationConfig{}, err
		}
		if rule.ID != "" {
			if ids[rule.ID] {
				return ReplicationConfig{}, ErrInvalidArgument.WithMessage("Rule Id must be unique")
			}
			ids[rule.ID] = true
		}
		if rule.Filter {
			if priorities[rule.Priority] {
				return ReplicationConfig{}, ErrInvalidRequest.WithMessagef("Found duplicate priority %d.", rule.Priority)
			}
			priorities[rule.Priority] = true
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

// replicationUnsupported are elements of S3's schema Cairn does not
// implement: answered NotImplemented rather than MalformedXML, because
// the document is valid S3.
var replicationUnsupported = map[string]bool{
	"SourceSelectionCriteria":  true,
	"AccessControlTranslation": true,
	"EncryptionConfiguration":  true,
	"Metrics":                  true,
	"ReplicationTime":          true,
}

func parseReplicationRule(re *element, v1 bool) (ReplicationRule, error) {
	if err := re.only("ID", "Priority", "Prefix", "Filter", "Status", "SourceSelectionCriteria",
		"ExistingObjectReplication", "Destination", "DeleteMarkerReplication"); err != nil {
		return ReplicationRule{}, err
	}
	var rule ReplicationRule
	var err error
	if rule.ID, err = re.optionalText("ID"); err != nil {
		return ReplicationRule{}, err
	}
	if len([]rune(rule.ID)) > maxReplicationRuleID {
		return ReplicationRule{}, ErrInvalidArgument.WithMessagef("Rule Id cannot be greater than %d", maxReplicationRuleID)
	}
	if rule.Status, err = re.requiredStatus("Status"); err != nil {
		return ReplicationRule{}, err
	}
	if re.first("SourceSelectionCriteria") != nil {
		return ReplicationRule{}, ErrNotImplemented.WithMessage("SourceSelectionCriteria is not implemented by Cairn.")
	}
	filter, prefix := re.first("Filter"), re.first("Prefix")
	priority, marker := re.first("Priority"), re.first("DeleteMarkerReplication")
	if v1 {
		switch {
		case filter != nil:
			return ReplicationRule{}, replicationSchemaError("Filter", false)
		case prefix == nil:
			return ReplicationRule{}, ErrMalformedXML
		case priority != nil:
			return ReplicationRule{}, replicationSchemaError("Priority", false)
		case marker != nil:
			return ReplicationRule{}, replicationSchemaError("DeleteMarkerReplication", false)
		}
		if rule.Prefix, err = prefix.leafText(); err != nil {
			return ReplicationRule{}, err
		}
	} else {
		switch {
		case prefix != nil:
			return ReplicationRule{}, replicationSchemaError("Prefix", false)
		case priority == nil:
			return ReplicationRule{}, replicationSchemaError("Priority", true)
		case marker == nil:
			return ReplicationRule{}, replicationSchemaError("DeleteMarkerReplication", true)
		}
		rule.Filter = true
		if rule.Prefix, rule.Tags, err = parseReplicationFilter(filter); err != nil {
			return ReplicationRule{}, err
		}
		if rule.Priority, err = parsePriority(priority); err != nil {
			return ReplicationRule{}, err
		}
		if err := marker.only("Status"); err != nil {
			return ReplicationRule{}, err
		}
		// The schema makes Status optional here; absent, nothing is
		// replicated.
		status, err := marker.optionalStatus("Status")
		if err != nil {
			return ReplicationRule{}, err
		}
		rule.DeleteMarkerReplication = status == "Enabled"
		if rule.DeleteMarkerReplication && len(rule.Tags) > 0 {
			return ReplicationRule{}, ErrInvalidRequest.WithMessage("Delete marker replication is not supported if any Tag filter is specified. Please refer to S3 Developer Guide for more information.")
		}
	}
	if eor := re.first("ExistingObjectReplication"); eor != nil {
		if err := eor.only("Status"); err != nil {
			return ReplicationRule{}, err
		}
		status, err := eor.requiredStatus("Status")
		if err != nil {
			return ReplicationRule{}, err
		}
		rule.ExistingObjectReplication = status == "Enabled"
	}
	if err := parseReplicationDestination(re.first("Destination"), &rule); err != nil {
		return ReplicationRule{}, err
	}
	return rule, nil
}

// parseReplicationFilter reads a V2 Filter: empty (every object), or
// exactly one of Prefix, Tag, And{Prefix?, Tag*}.
func parseReplicationFilter(f *element) (string, map[string]string, error) {
	if err := f.only("Prefix", "Tag", "And"); err != nil {
		return "", nil, err
	}
	if len(f.children) > 1 {
		return "", nil, ErrMalformedXML
	}
	if len(f.children) == 0 {
		return "", nil, nil // an empty Filter: every object
	}
	c := f.children[0]
	switch c.name {
	case "Prefix":
		p, err := c.leafText()
		return p, nil, err
	case "Tag":
		tags, err := replicationTags([]*element{c})
		return "", tags, err
	}
	if err := c.only("Prefix", "Tag*"); err != nil {
		return "", nil, err
	}
	prefix, err := c.optionalText("Prefix")
	if err != nil {
		return "", nil, err
	}
	tags, err := replicationTags(c.all("Tag"))
	if err != nil {
		return "", nil, err
	}
	// And combines conditions; S3's schema wants at least two.
	if n := len(tags) + len(c.all("Prefix")); n < 2 {
		return "", nil, ErrMalformedXML
	}
	return prefix, tags, nil
}

// replicationTags reads Tag elements: Key and Value both required.
func replicationTags(elems []*element) (map[string]string, error) {
	pairs := make([][2]string, 0, len(elems))
	seen := make(map[string]bool, len(elems))
	for _, te := range elems {
		if err := te.only("Key", "Value"); err != nil {
			return nil, err
		}
		k, err := te.requiredText("Key")
		if err != nil {
			return nil, err
		}
		v, err := te.requiredText("Value")
		if err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, ErrInvalidRequest.WithMessage("Duplicate Tag Keys are not allowed.")
		}
		seen[k] = true
		pairs = append(pairs, [2]string{k, v})
	}
	// The count is no limit here: S3 bounds a filter's tags only by the
	// document's size.
	return validTags(pairs, len(pairs))
}

// parsePriority reads Priority, an xs:int S3 wants non-negative.
func parsePriority(e *element) (int, error) {
	s, err := e.leafText()
	if err != nil {
		return 0, err
	}
	p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w (Priority: %v)", ErrMalformedXML, err)
	}
	if p < 0 {
		return 0, ErrInvalidRequest.WithMessage("Priority must be between 0 and 2147483647.")
	}
	return int(p), nil
}

// replicationStorageClasses are the storage classes S3's schema allows for
// a replication destination.
var replicationStorageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "OUTPOSTS": true,
	"GLACIER_IR": true, "SNOW": true, "EXPRESS_ONEZONE": true, "FSX_OPENZFS": true,
}

func parseReplicationDestination(d *element, rule *ReplicationRule) error {
	if d == nil {
		return ErrMalformedXML
	}
	if err := d.only("Bucket", "Account", "StorageClass", "AccessControlTranslation",
		"EncryptionConfiguration", "ReplicationTime", "Metrics"); err != nil {
		return err
	}
	for _, c := range d.children {
		if replicationUnsupported[c.name] {
			return ErrNotImplemented.WithMessagef("%s is not implemented by Cairn.", c.name)
		}
	}
	var err error
	if rule.DestinationBucket, err = d.requiredText("Bucket"); err != nil {
		return err
	}
	if !isARN(rule.DestinationBucket) {
		return ErrInvalidArgument.WithMessage("Invalid bucket ARN")
	}
	if rule.DestinationAccount, err = d.optionalText("Account"); err != nil {
		return err
	}
	if rule.DestinationStorageClass, err = d.optionalText("StorageClass"); err != nil {
		return err
	}
	if d.first("StorageClass") != nil && !replicationStorageClasses[rule.DestinationStorageClass] {
		return ErrMalformedXML
	}
	return nil
}

// isARN reports whether s has an ARN's shape,
// arn:partition:service:region:account:resource, with partition, service
// and resource set. The service is not checked: a destination may be a
// Cairn peer that names its buckets in its own partition.
func isARN(s string) bool {
	f := strings.SplitN(s, ":", 6)
	return len(f) == 6 && f[0] == "arn" && f[1] != "" && f[2] != "" && f[5] != ""
}

// element is one element of a request document, matched by local name:
// clients send S3 documents with or without its namespace.
type element struct {
	name     string
	text     string // character data directly inside, when no children
	children []*element
}

// maxElementDepth bounds nesting: S3's deepest document is far shallower,
// and a bound keeps a hostile document from costing more than its size.
const maxElementDepth = 16

// parseElementTree decodes a whole document into its root element.
// Anything but whitespace, comments and processing instructions around
// the root element, and character data beside child elements, is
// MalformedXML.
func parseElementTree(data []byte) (*element, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrMalformedXML.WithMessage("The XML you provided was empty.")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	var root *element
	var stack []*element
	var text bytes.Buffer
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w (%v)", ErrMalformedXML, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, ErrMalformedXML // a second root
			}
			if len(stack) >= maxElementDepth {
				return nil, ErrMalformedXML
			}
			if len(stack) > 0 && len(bytes.TrimSpace(text.Bytes())) > 0 {
				return nil, ErrMalformedXML // mixed content
			}
			text.Reset()
			e := &element{name: t.Name.Local}
			if len(stack) == 0 {
				root = e
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			// The decoder has checked that it closes the open element.
			e := stack[len(stack)-1]
			if len(e.children) == 0 {
				e.text = text.String()
			} else if len(bytes.TrimSpace(text.Bytes())) > 0 {
				return nil, ErrMalformedXML // mixed content
			}
			text.Reset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, ErrMalformedXML
				}
				continue
			}
			text.Write(t)
		case xml.Comment, xml.ProcInst:
		default: // a directive (DOCTYPE)
			return nil, ErrMalformedXML
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, ErrMalformedXML
	}
	return root, nil
}

// only fails with MalformedXML when e holds character data, a child not
// named in names, or a child more than once whose name is not marked
// repeatable by a trailing "*".
func (e *element) only(names ...string) error {
	if len(e.children) == 0 && strings.TrimSpace(e.text) != "" {
		return fmt.Errorf("%w (%s holds text)", ErrMalformedXML, e.name)
	}
	seen := make(map[string]bool, len(e.children))
	for _, c := range e.children {
		allowed, repeatable := false, false
		for _, n := range names {
			if c.name == strings.TrimSuffix(n, "*") {
				allowed, repeatable = true, strings.HasSuffix(n, "*")
				break
			}
		}
		if !allowed {
			return fmt.Errorf("%w (unexpected element %s in %s)", ErrMalformedXML, c.name, e.name)
		}
		if seen[c.name] && !repeatable {
			return fmt.Errorf("%w (%s repeated in %s)", ErrMalformedXML, c.name, e.name)
		}
		seen[c.name] = true
	}
	return nil
}

func (e *element) first(name string) *element {
	for _, c := range e.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (e *element) all(name string) []*element {
	var out []*element
	for _, c := range e.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// leafText is the text of an element that must hold no children.
func (e *element) leafText() (string, error) {
	if len(e.children) > 0 {
		return "", fmt.Errorf("%w (%s holds elements)", ErrMalformedXML, e.name)
	}
	return e.text, nil
}

// optionalText is the text of child name, which may appear at most once;
// "" when absent.
func (e *element) optionalText(name string) (string, error) {
	cs := e.all(name)
	switch len(cs) {
	case 0:
		return "", nil
	case 1:
		return cs[0].leafText()
	}
	return "", fmt.Errorf("%w (%s repeated)", ErrMalformedXML, name)
}

// requiredText is the text of child name, which must appear exactly once.
func (e *element) requiredText(name string) (string, error) {
	if e.first(name) == nil {
		return "", fmt.Errorf("%w (%s missing in %s)", ErrMalformedXML, name, e.name)
	}
	return e.optionalText(name)
}

// optionalStatus reads an Enabled|Disabled child; "" when absent.
func (e *element) optionalStatus(name string) (string, error) {
	s, err := e.optionalText(name)
	if err != nil {
		return "", err
	}
	if s != "" && s != "Enabled" && s != "Disabled" {
		return "", fmt.Errorf("%w (%s is neither Enabled nor Disabled)", ErrMalformedXML, name)
	}
	if s == "" && e.first(name) != nil {
		return "", fmt.Errorf("%w (%s is empty)", ErrMalformedXML, name)
	}
	return s, nil
}

// requiredStatus reads an Enabled|Disabled child that must be present.
func (e *element) requiredStatus(name string) (string, error) {
	if e.first(name) == nil {
		return "", fmt.Errorf("%w (%s missing in %s)", ErrMalformedXML, name, e.name)
	}
	return e.optionalStatus(name)
}

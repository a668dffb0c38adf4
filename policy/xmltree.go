package policy

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// The lifecycle parser reads the body into a small element tree first and
// checks it against the schema by hand: encoding/xml's Unmarshal ignores
// unknown elements and lets a repeated element overwrite the first, and AWS
// refuses both as MalformedXML.

const (
	s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
	maxDepth    = 8       // the schema nests 6 deep (LifecycleConfiguration/Rule/Filter/And/Tag/Key)
	maxElements = 200_000 // 1000 rules of every element, with room to spare
)

type node struct {
	name     string
	space    string
	text     string
	children []*node
}

// parseTree parses body into its root element. Comments and processing
// instructions are skipped; a DOCTYPE, a second root or text outside the
// root is MalformedXML.
func parseTree(body []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var (
		root  *node
		stack []*node
		texts [][]byte
		count int
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformed("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, malformed("more than one root element")
			}
			if len(stack) >= maxDepth {
				return nil, malformed("elements nested too deep")
			}
			if count++; count > maxElements {
				return nil, malformed("too many elements")
			}
			n := &node{name: t.Name.Local, space: t.Name.Space}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			texts = append(texts, nil)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.text = string(texts[len(texts)-1])
			stack = stack[:len(stack)-1]
			texts = texts[:len(texts)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, malformed("text outside the root element")
				}
				continue
			}
			texts[len(texts)-1] = append(texts[len(texts)-1], t...)
		case xml.Directive:
			return nil, malformed("XML directives are not allowed")
		}
	}
	if root == nil {
		return nil, malformed("the body is empty")
	}
	return root, nil
}

// shape checks n's children against a schema: max gives, for each allowed
// child name, how many times it may appear (0 = any number). An element
// with children may not hold text.
func (n *node) shape(max map[string]int) error {
	if len(n.children) > 0 || len(max) > 0 {
		if strings.TrimSpace(n.text) != "" {
			return malformed("<%s> holds text where elements belong", n.name)
		}
	}
	seen := make(map[string]int, len(n.children))
	for _, c := range n.children {
		m, ok := max[c.name]
		if !ok {
			return malformed("unknown element <%s> in <%s>", c.name, n.name)
		}
		seen[c.name]++
		if m > 0 && seen[c.name] > m {
			return malformed("<%s> appears more than once in <%s>", c.name, n.name)
		}
	}
	return nil
}

// child returns n's child called name, or nil.
func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// all returns n's children called name, in document order.
func (n *node) all(name string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// leaf returns the text of a leaf element, refusing one with children.
func (n *node) leaf() (string, error) {
	if len(n.children) > 0 {
		return "", malformed("<%s> holds elements where text belongs", n.name)
	}
	return n.text, nil
}

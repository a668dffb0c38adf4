package access

import (
	"encoding/json"
	"strings"
)

// Principal is who makes a request.
type Principal struct {
	Anonymous bool
	Root      bool
	// User is the user's name, CanonicalID its canonical ID ("" for
	// anonymous; the root key's for root).
	User        string
	CanonicalID string
}

type principalKind uint8

const (
	anyone principalKind = iota
	rootKey
	userName
	canonicalID
)

type principal struct {
	kind principalKind
	name string
}

func (pr principal) matches(p *Principal) bool {
	switch pr.kind {
	case anyone:
		return true
	case rootKey:
		return p.Root
	case userName:
		return !p.Anonymous && !p.Root && p.User == pr.name
	case canonicalID:
		return !p.Anonymous && p.CanonicalID == pr.name
	}
	return false
}

// parsePrincipal reads "*" or {"AWS": ..., "CanonicalUser": ...}.
func parsePrincipal(raw json.RawMessage, o Options) ([]principal, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s != "*" {
			return nil, malformed(msgInvalidPrinc)
		}
		return []principal{{kind: anyone}}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil, malformed(msgInvalidPrinc)
	}
	var out []principal
	for k, v := range m {
		vals, err := stringOrList(v)
		if err != nil || len(vals) == 0 {
			return nil, malformed(msgInvalidPrinc)
		}
		for _, val := range vals {
			switch k {
			case "AWS":
				p, ok := awsPrincipal(val, o)
				if !ok {
					return nil, malformed(msgInvalidPrinc)
				}
				out = append(out, p)
			case "CanonicalUser":
				if val == "" {
					return nil, malformed(msgInvalidPrinc)
				}
				out = append(out, principal{kind: canonicalID, name: val})
			default:
				// Service and Federated principals have no meaning on a
				// Cairn.
				return nil, malformed(msgInvalidPrinc)
			}
		}
	}
	return out, nil
}

func awsPrincipal(v string, o Options) (principal, bool) {
	if v == "*" {
		return principal{kind: anyone}, true
	}
	name := v
	if rest, ok := strings.CutPrefix(v, "arn:aws:iam::"); ok {
		_, res, ok := strings.Cut(rest, ":")
		if !ok {
			return principal{}, false
		}
		if res == "root" {
			return principal{kind: rootKey}, true
		}
		name, ok = strings.CutPrefix(res, "user/")
		if !ok {
			return principal{}, false
		}
	}
	if !ValidUserName(name) || (o.KnownUser != nil && !o.KnownUser(name)) {
		return principal{}, false
	}
	return principal{kind: userName, name: name}, true
}

// ValidUserName is IAM's rule for user names: 1 to 64 of letters, digits
// and +=,.@_-.
func ValidUserName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+=,.@_-", c) >= 0) {
			return false
		}
	}
	return true
}

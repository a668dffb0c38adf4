package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Mode is what a cloud policy does with the versions it selects.
type Mode string

const (
	// ModeCopy keeps a second copy in the tier and the local one
	// (the appliance's "data replication").
	ModeCopy Mode = "copy"
	// ModeMove moves versions to the tier: the local copy is released once
	// the tier copy is verified ("extended hold").
	ModeMove Mode = "move"
	// ModeCopyThenMove copies at once and releases the local copy After
	// later ("extend and replace").
	ModeCopyThenMove Mode = "copy-then-move"
)

// CloudPolicy is the appliance's cloud policy for one bucket: which current
// versions go to a tier, when, and whether the local copy stays. It selects
// by idle time (since the version was written), by extension and by
// directory (key prefix); every criterion set must hold.
type CloudPolicy struct {
	Idle        Duration // since the version was written; 0 = at once
	IncludeExt  []string // ".vbk" form, matched case-insensitively at the end of the key; at most one of IncludeExt / ExcludeExt
	ExcludeExt  []string
	IncludeDirs []string // key prefixes ending in "/"; at most one of IncludeDirs / ExcludeDirs
	ExcludeDirs []string
	Tier        string
	Mode        Mode
	After       Duration // copy-then-move: release the local copy this long after the copy; only with that mode, required there
}

// Duration is a time.Duration that reads and writes as text: Go duration
// units plus "d" for 24h days ("30d", "72h", "1d12h").
type Duration time.Duration

// ParseDuration parses a non-negative duration: a sequence of numbers with
// units, where the units are time.ParseDuration's (ns, us, ms, s, m, h) and
// d (24h; whole numbers only). "0" is zero.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New(`empty duration: use a form such as "72h" or "30d"`)
	}
	if s == "0" {
		return 0, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		if num == "" || unit == "" {
			return 0, fmt.Errorf("invalid duration %q: use a form such as \"72h\", \"30d\" or \"1d12h\"", s)
		}
		var part time.Duration
		if unit == "d" {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n > int64(math.MaxInt64/(24*time.Hour)) {
				return 0, fmt.Errorf("invalid duration %q: days are a whole number up to 106751", s)
			}
			part = time.Duration(n) * 24 * time.Hour
		} else {
			p, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: units are d, h, m, s, ms, us and ns", s)
			}
			part = p
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		total += part
		rest = rest[j:]
	}
	return total, nil
}

// String renders d in ParseDuration's form, largest units first, omitting
// zero ones: 30d, 1d12h, 90m is 1h30m, 0 is "0s".
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		if v == math.MinInt64 {
			return time.Duration(v).String()
		}
		v = -v
	}
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", 1}} {
		if n := v / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			v -= n * u.size
		}
	}
	return b.String()
}

// MarshalJSON writes d as a JSON string in String's form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a JSON string in ParseDuration's form.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string such as "72h" or "30d"`)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// wireCloudPolicy is the JSON form, snake_case.
type wireCloudPolicy struct {
	Idle        *string  `json:"idle,omitempty"`
	IncludeExt  []string `json:"include_ext,omitempty"`
	ExcludeExt  []string `json:"exclude_ext,omitempty"`
	IncludeDirs []string `json:"include_dirs,omitempty"`
	ExcludeDirs []string `json:"exclude_dirs,omitempty"`
	Tier        string   `json:"tier"`
	Mode        Mode     `json:"mode"`
	After       *string  `json:"after,omitempty"`
}

const cloudFields = "idle, include_ext, exclude_ext, include_dirs, exclude_dirs, tier, mode and after"

func cloudErr(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// ParseCloudPolicy parses and validates a cloud policy in JSON. Unknown
// fields are refused; extensions are lowered. Errors are *Error
// (InvalidArgument) saying what to fix.
func ParseCloudPolicy(body []byte, tier func(string) bool) (*CloudPolicy, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var w wireCloudPolicy
	if err := dec.Decode(&w); err != nil {
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, cloudErr("the cloud policy must be one JSON object, with nothing after it")
	}
	p := &CloudPolicy{
		IncludeExt: lower(w.IncludeExt), ExcludeExt: lower(w.ExcludeExt),
		IncludeDirs: orNil(w.IncludeDirs), ExcludeDirs: orNil(w.ExcludeDirs),
		Tier: w.Tier, Mode: w.Mode,
	}
	for _, d := range []struct {
		name string
		text *string
		to   *Duration
	}{{"idle", w.Idle, &p.Idle}, {"after", w.After, &p.After}} {
		if d.text == nil {
			continue
		}
		v, err := ParseDuration(*d.text)
		if err != nil {
			return nil, cloudErr("%q: %v", d.name, err)
		}
		*d.to = Duration(v)
	}
	if err := p.Validate(tier); err != nil {
		return nil, err
	}
	return p, nil
}

func jsonErr(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return cloudErr("the cloud policy is empty: send a JSON object with at least tier and mode")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return cloudErr("the cloud policy is not valid JSON: it ends too soon")
	case errors.As(err, &syn):
		return cloudErr("the cloud policy is not valid JSON (at byte %d): %v", syn.Offset, err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return cloudErr("the cloud policy must be a JSON object")
		}
		return cloudErr("%q has the wrong type: it must be %s", typ.Field, fieldKind(typ.Field))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return cloudErr("unknown field %s: a cloud policy has %s", strings.TrimPrefix(err.Error(), "json: unknown field "), cloudFields)
	}
	return cloudErr("the cloud policy is not valid: %v", err)
}

func fieldKind(f string) string {
	switch f {
	case "idle", "after":
		return `a duration such as "72h" or "30d"`
	case "tier", "mode":
		return "a string"
	}
	return "a list of strings"
}

// orNil makes an empty list nil: [] and an absent list mean the same.
func orNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func lower(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, e := range s {
		out[i] = strings.ToLower(e)
	}
	return out
}

// Validate checks p; tier reports whether a name is a configured tier (nil:
// none is). The error is an *Error (InvalidArgument) in plain words.
func (p *CloudPolicy) Validate(tier func(string) bool) error {
	switch {
	case p == nil:
		return cloudErr("no cloud policy given")
	case p.Tier == "":
		return cloudErr(`"tier" is required: the name of a tier added with ` + "`cairn admin tier add`")
	}
	switch p.Mode {
	case ModeCopy, ModeMove, ModeCopyThenMove:
	case "":
		return cloudErr(`"mode" is required: "copy", "move" or "copy-then-move"`)
	default:
		return cloudErr(`"mode" is "copy", "move" or "copy-then-move", not %q`, p.Mode)
	}
	switch {
	case p.Idle < 0:
		return cloudErr(`"idle" cannot be negative`)
	case p.After < 0:
		return cloudErr(`"after" cannot be negative`)
	case p.Mode == ModeCopyThenMove && p.After == 0:
		return cloudErr(`"after" is required with mode "copy-then-move": how long after the copy to release the local copy, such as "30d"`)
	case p.Mode != ModeCopyThenMove && p.After != 0:
		return cloudErr(`"after" is only for mode "copy-then-move": remove it, or change the mode`)
	case len(p.IncludeExt) > 0 && len(p.ExcludeExt) > 0:
		return cloudErr(`"include_ext" and "exclude_ext" cannot both be set: choose a list of extensions to tier or a list to keep local`)
	case len(p.IncludeDirs) > 0 && len(p.ExcludeDirs) > 0:
		return cloudErr(`"include_dirs" and "exclude_dirs" cannot both be set: choose a list of directories to tier or a list to keep local`)
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"include_ext", p.IncludeExt}, {"exclude_ext", p.ExcludeExt}} {
		for _, e := range l.list {
			if len(e) < 2 || e[0] != '.' || strings.Contains(e, "/") {
				return cloudErr("%q entry %q is not an extension: write it with its dot, such as \".vbk\"", l.name, e)
			}
		}
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"include_dirs", p.IncludeDirs}, {"exclude_dirs", p.ExcludeDirs}} {
		for _, d := range l.list {
			switch {
			case d == "" || !strings.HasSuffix(d, "/"):
				return cloudErr("%q entry %q must end in \"/\": a directory is a key prefix such as \"backups/daily/\"", l.name, d)
			case strings.HasPrefix(d, "/"):
				return cloudErr("%q entry %q must not start with \"/\": keys do not, so write \"backups/daily/\" for /backups/daily", l.name, d)
			}
		}
	}
	// Last, so that a policy with mistakes of its own hears of those first.
	if tier == nil || !tier(p.Tier) {
		return cloudErr(`"tier" names no configured tier: %q (tiers are added with `+"`cairn admin tier add`)", p.Tier)
	}
	return nil
}

// MarshalJSON writes the policy with snake_case keys: idle, include_ext,
// exclude_ext, include_dirs, exclude_dirs, tier, mode, after (empty lists
// and zero durations left out).
func (p *CloudPolicy) MarshalJSON() ([]byte, error) {
	w := wireCloudPolicy{
		IncludeExt: p.IncludeExt, ExcludeExt: p.ExcludeExt,
		IncludeDirs: p.IncludeDirs, ExcludeDirs: p.ExcludeDirs,
		Tier: p.Tier, Mode: p.Mode,
	}
	if p.Idle != 0 {
		w.Idle = ptr(p.Idle.String())
	}
	if p.After != 0 {
		w.After = ptr(p.After.String())
	}
	return json.Marshal(w)
}

// selects reports whether the policy's extension and directory criteria
// select key.
func (p *CloudPolicy) selects(key string) bool {
	if len(p.IncludeExt) > 0 && !hasExt(key, p.IncludeExt) {
		return false
	}
	if len(p.ExcludeExt) > 0 && hasExt(key, p.ExcludeExt) {
		return false
	}
	if len(p.IncludeDirs) > 0 && !hasPrefix(key, p.IncludeDirs) {
		return false
	}
	if len(p.ExcludeDirs) > 0 && hasPrefix(key, p.ExcludeDirs) {
		return false
	}
	return true
}

func hasExt(key string, exts []string) bool {
	base := key[strings.LastIndexByte(key, '/')+1:]
	for _, e := range exts {
		if len(base) >= len(e) && strings.EqualFold(base[len(base)-len(e):], e) {
			return true
		}
	}
	return false
}

func hasPrefix(key string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(key, d) {
			return true
		}
	}
	return false
}

// Decide says what the cloud policy wants for v at now. It acts on current
// versions that are not delete markers, that its extension and directory
// criteria select and that were written at least Idle ago (scaled by
// c.Day/24h):
//
//   - not yet in a tier (StorageClass ""): CopyToTier, or MoveToTier in
//     mode move (CopyToTier if the version is locked: a lock forbids the
//     move, not a second copy);
//   - copied to p.Tier with the local copy kept (StorageClass == p.Tier,
//     !TierOnly): MoveToTier in mode move, and in mode copy-then-move once
//     After (scaled) has passed since tieredAt, when the copy was verified
//     (zero: unknown, not yet);
//   - anything else (already moved, in another tier, locked): None.
//
// Decision.RuleID is "cloud-policy" and Decision.Tier is p.Tier.
func (p *CloudPolicy) Decide(v Version, tieredAt time.Time, now time.Time, c Clock) Decision {
	if p == nil || !v.IsLatest || v.DeleteMarker || !p.selects(v.Key) {
		return Decision{}
	}
	if now.Sub(v.ModTime) < c.Scale(time.Duration(p.Idle)) {
		return Decision{}
	}
	d := Decision{RuleID: CloudPolicyRuleID, Tier: p.Tier}
	switch {
	case v.StorageClass == "":
		d.Action = CopyToTier
		if p.Mode == ModeMove && !v.Locked {
			d.Action = MoveToTier
		}
		return d
	case v.StorageClass != p.Tier || v.TierOnly || v.Locked:
		return Decision{}
	case p.Mode == ModeMove:
		d.Action = MoveToTier
		return d
	case p.Mode == ModeCopyThenMove && !tieredAt.IsZero() && now.Sub(tieredAt) >= c.Scale(time.Duration(p.After)):
		d.Action = MoveToTier
		return d
	}
	return Decision{}
}

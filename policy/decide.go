package policy

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

// Version is what the engine knows of one object version at decision time.
type Version struct {
	Key          string
	Size         int64
	Tags         map[string]string
	ModTime      time.Time // when this version was written
	IsLatest     bool
	DeleteMarker bool
	// For noncurrent versions: when it became noncurrent (the ModTime of
	// the version that replaced it; zero = unknown, and no noncurrent rule
	// is due), and how many noncurrent versions of the key are newer than it.
	NoncurrentSince time.Time
	NewerNoncurrent int
	// For a delete marker that is the latest: no other version of the key remains.
	OnlyVersion  bool
	StorageClass string // "" = local (STANDARD); else the tier it is in
	Locked       bool   // object lock: never expired or moved
	// Versioned is the bucket's versioning: Enabled or Suspended. Expiring a
	// current version then adds a delete marker instead of deleting, and
	// AWS ranks that below a transition due the same day.
	Versioned bool
	// TierOnly says the local copy has been released: only the copy in
	// StorageClass remains (after a MoveToTier, or a lifecycle Transition).
	// The cloud policy reads it; false with a StorageClass is a CopyToTier copy.
	TierOnly bool
}

// Action is what is due for a version.
type Action int

const (
	None               Action = iota
	ExpireCurrent             // current version expires: unversioned bucket -> delete; versioned/suspended -> add a delete marker
	ExpireNoncurrent          // delete this noncurrent version permanently
	RemoveDeleteMarker        // an expired object delete marker: remove it
	Transition                // move this version to Tier (lifecycle transition)
	CopyToTier                // cloud policy copy: a second copy in Tier, local kept
	MoveToTier                // cloud policy move: local copy released once the cloud copy is verified
)

var actionNames = [...]string{"None", "ExpireCurrent", "ExpireNoncurrent", "RemoveDeleteMarker", "Transition", "CopyToTier", "MoveToTier"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// CloudPolicyRuleID is Decision.RuleID for the cloud policy's decisions.
const CloudPolicyRuleID = "cloud-policy"

// Decision is one action due for a version, the rule that asks for it and,
// for Transition, CopyToTier and MoveToTier, the tier.
type Decision struct {
	Action Action
	RuleID string // lifecycle rule ID, or "cloud-policy"
	Tier   string
}

// Clock scales time. Day is how long a lifecycle "day" lasts: 24h in
// production, seconds in tests (like Ceph's rgw_lc_debug_interval); zero
// means 24h. The cloud policy's Idle and After scale by Day/24h too.
type Clock struct{ Day time.Duration }

func (c Clock) day() time.Duration {
	if c.Day <= 0 {
		return 24 * time.Hour
	}
	return c.Day
}

// farFuture is a due time nothing reaches, for day counts past time.Duration.
var farFuture = time.Unix(1<<62, 0).UTC()

// Due is when a rule with Days=days becomes due for something written (or
// made noncurrent, or initiated) at t. With a 24h Day it is AWS's rule: t
// plus days, rounded up to the next midnight UTC (a version written at
// 10:30 with 3 days is due at midnight starting the 4th day after; Days=0
// is due at the next midnight). Otherwise it is t + days*Day exactly.
func (c Clock) Due(t time.Time, days int) time.Time {
	d := c.day()
	if d == 24*time.Hour {
		u := t.UTC()
		return time.Date(u.Year(), u.Month(), u.Day()+days+1, 0, 0, 0, 0, time.UTC)
	}
	if days > 0 && time.Duration(days) > math.MaxInt64/d {
		return farFuture
	}
	return t.Add(time.Duration(days) * d)
}

// Scale converts a duration of production time (an Idle, an After) to this
// clock: d * Day / 24h, saturating.
func (c Clock) Scale(d time.Duration) time.Duration {
	day := c.day()
	if day == 24*time.Hour || d <= 0 {
		return max(d, 0)
	}
	hi, lo := bits.Mul64(uint64(d), uint64(day))
	if hi >= uint64(24*time.Hour) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(24*time.Hour))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(q)
}

// since counts lifecycle days from one instant: Clock.Due for that instant,
// with the midnight that starts its UTC day computed once (a Decide over
// 1000 rules asks for a due time from the same instant up to 2000 times).
type since struct {
	c    Clock
	t    time.Time
	mid  time.Time
	prod bool
}

// maxDayDuration is the most days a time.Duration holds.
const maxDayDuration = int(math.MaxInt64 / int64(24*time.Hour))

func newSince(c Clock, t time.Time) since {
	s := since{c: c, t: t, prod: c.day() == 24*time.Hour}
	if s.prod {
		u := t.UTC()
		s.mid = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	return s
}

func (s since) due(days int) time.Time {
	if s.prod && days >= 0 && days < maxDayDuration {
		return s.mid.Add(time.Duration(days+1) * 24 * time.Hour)
	}
	return s.c.Due(s.t, days)
}

// matches reports whether f selects v.
func (f *Filter) matches(v *Version) bool {
	if !strings.HasPrefix(v.Key, f.Prefix) {
		return false
	}
	if f.SizeGreaterThan > 0 && v.Size <= f.SizeGreaterThan {
		return false
	}
	if f.SizeLessThan > 0 && v.Size >= f.SizeLessThan {
		return false
	}
	for _, t := range f.Tags {
		if got, ok := v.Tags[t.Key]; !ok || got != t.Value {
			return false
		}
	}
	return true
}

// expirationDue is when e expires a current version written at t; ok is
// false for an Expiration that names no age (ExpiredObjectDeleteMarker).
func (e *Expiration) due(s since) (time.Time, bool) {
	switch {
	case e == nil:
		return time.Time{}, false
	case !e.Date.IsZero():
		return e.Date, true
	case e.Days > 0:
		return s.due(e.Days), true
	}
	return time.Time{}, false
}

func (t *TierTransition) due(s since) time.Time {
	if !t.Date.IsZero() {
		return t.Date
	}
	return s.due(t.Days)
}

// pick keeps the candidate found so far, or takes (due, d) when better says so.
type pick struct {
	d   Decision
	due time.Time
	ok  bool
}

func (p *pick) offer(d Decision, due time.Time, better func(a, b time.Time) bool) {
	if !p.ok || better(due, p.due) {
		*p = pick{d: d, due: due, ok: true}
	}
}

func earlier(a, b time.Time) bool { return a.Before(b) }
func later(a, b time.Time) bool   { return a.After(b) }

// Decide says what is due for v at now. Disabled rules never apply, and a
// locked version gets None. Among the enabled rules whose filter selects v:
//
//   - A latest delete marker that is the only version left is removed by
//     a rule with ExpiredObjectDeleteMarker, or by one whose Expiration
//     Days (counted from the marker) or Date has come, as AWS does; no
//     other rule acts on a latest delete marker.
//   - A current version expires when an Expiration's Days (Clock.Due from
//     ModTime) or Date has come; it transitions when a Transition's Days or
//     Date has come, to the tier of the transition due last (the furthest
//     along the rules' chains); none is due when it is already there.
//   - A noncurrent version is deleted when a NoncurrentExpiration's
//     NoncurrentDays have passed since NoncurrentSince and at least
//     NewerNoncurrentVersions noncurrent versions are newer; it transitions
//     likewise. Noncurrent delete markers are deleted, never moved.
//
// When several are due, AWS's precedence holds: permanent deletion
// (ExpireCurrent in an unversioned bucket, ExpireNoncurrent,
// RemoveDeleteMarker) wins over Transition, and Transition wins over the
// delete marker an ExpireCurrent adds in a versioned bucket (that one comes
// due again at the next decision, once the version has moved). Between
// rules asking for the same action, the earliest due wins, then the first
// rule.
func (l *Lifecycle) Decide(v Version, now time.Time, c Clock) Decision {
	if l == nil || v.Locked {
		return Decision{}
	}
	var exp, move pick
	var written, noncurrent since
	if v.IsLatest {
		written = newSince(c, v.ModTime)
	} else {
		noncurrent = newSince(c, v.NoncurrentSince)
	}
	for i := range l.Rules {
		r := &l.Rules[i]
		if !r.Enabled || !r.Filter.matches(&v) {
			continue
		}
		switch {
		case v.IsLatest && v.DeleteMarker:
			if r.Expiration == nil || !v.OnlyVersion {
				continue
			}
			if r.Expiration.ExpiredObjectDeleteMarker {
				return Decision{Action: RemoveDeleteMarker, RuleID: r.ID}
			}
			// AWS: a rule that expires current versions also removes an
			// expired object delete marker, once the marker is as old as
			// the rule's Days (or its Date has come).
			if due, ok := r.Expiration.due(written); ok && !now.Before(due) {
				return Decision{Action: RemoveDeleteMarker, RuleID: r.ID}
			}
		case v.IsLatest:
			if due, ok := r.Expiration.due(written); ok && !now.Before(due) {
				exp.offer(Decision{Action: ExpireCurrent, RuleID: r.ID}, due, earlier)
			}
			for j := range r.Transitions {
				t := &r.Transitions[j]
				if due := t.due(written); !now.Before(due) {
					move.offer(Decision{Action: Transition, RuleID: r.ID, Tier: t.StorageClass}, due, later)
				}
			}
		default:
			if v.NoncurrentSince.IsZero() {
				continue
			}
			if e := r.NoncurrentExpiration; e != nil && v.NewerNoncurrent >= e.NewerNoncurrentVersions {
				if due := noncurrent.due(e.NoncurrentDays); !now.Before(due) {
					exp.offer(Decision{Action: ExpireNoncurrent, RuleID: r.ID}, due, earlier)
				}
			}
			if v.DeleteMarker {
				continue
			}
			for j := range r.NoncurrentTransitions {
				t := &r.NoncurrentTransitions[j]
				if v.NewerNoncurrent < t.NewerNoncurrentVersions {
					continue
				}
				if due := noncurrent.due(t.NoncurrentDays); !now.Before(due) {
					move.offer(Decision{Action: Transition, RuleID: r.ID, Tier: t.StorageClass}, due, later)
				}
			}
		}
	}
	if move.ok && move.d.Tier == v.StorageClass && v.TierOnly {
		move.ok = false
	}
	switch {
	case exp.ok && (exp.d.Action == ExpireNoncurrent || !v.Versioned):
		return exp.d
	case move.ok:
		return move.d
	case exp.ok:
		return exp.d
	}
	return Decision{}
}

// Expiry is what x-amz-expiration says for a current version: when its
// current-version Expiration falls due (the earliest of the matching
// enabled rules; the first rule on a tie) and that rule's ID. ok is false
// when no rule expires it: a delete marker, a noncurrent or locked version,
// or no rule with Expiration Days or Date selecting it.
func (l *Lifecycle) Expiry(v Version, c Clock) (due time.Time, ruleID string, ok bool) {
	if l == nil || !v.IsLatest || v.DeleteMarker || v.Locked {
		return time.Time{}, "", false
	}
	var p pick
	written := newSince(c, v.ModTime)
	for i := range l.Rules {
		r := &l.Rules[i]
		if !r.Enabled || !r.Filter.matches(&v) {
			continue
		}
		if d, ok := r.Expiration.due(written); ok {
			p.offer(Decision{RuleID: r.ID}, d, earlier)
		}
	}
	return p.due, p.d.RuleID, p.ok
}

// httpDate is the RFC 7231 date form (net/http's TimeFormat).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// ExpirationHeader formats x-amz-expiration as AWS does:
//
//	expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"
//
// The rule ID is URL-encoded, as AWS documents for the header: every byte
// but A-Z a-z 0-9 - _ . ~ as %XX, so a quote or a comma in an ID cannot
// break the header's syntax.
func ExpirationHeader(due time.Time, ruleID string) string {
	return `expiry-date="` + due.UTC().Format(httpDate) + `", rule-id="` + uriEncode(ruleID) + `"`
}

func uriEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// AbortUpload says whether an incomplete multipart upload of key initiated
// at initiated is due for abort at now, and by which enabled rule: the one
// whose DaysAfterInitiation (Clock.Due) falls earliest. Only a rule's
// prefix applies (AWS refuses tag and size filters with this action).
func (l *Lifecycle) AbortUpload(key string, initiated, now time.Time, c Clock) (ruleID string, ok bool) {
	if l == nil {
		return "", false
	}
	var p pick
	for i := range l.Rules {
		r := &l.Rules[i]
		f := &r.Filter
		if !r.Enabled || r.AbortIncompleteMultipartUploadDays <= 0 || len(f.Tags) > 0 ||
			f.SizeGreaterThan != 0 || f.SizeLessThan != 0 || !strings.HasPrefix(key, f.Prefix) {
			continue
		}
		if due := c.Due(initiated, r.AbortIncompleteMultipartUploadDays); !now.Before(due) {
			p.offer(Decision{RuleID: r.ID}, due, earlier)
		}
	}
	return p.d.RuleID, p.ok
}

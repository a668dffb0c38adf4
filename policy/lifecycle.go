package policy

import (
	"slices"
	"time"
)

// MaxRules is AWS's limit on rules in one lifecycle configuration.
const MaxRules = 1000

// Lifecycle is a bucket's lifecycle configuration: what
// PutBucketLifecycleConfiguration stores and GetBucketLifecycleConfiguration
// returns. Build one with ParseLifecycle, or in code and check it with
// Validate.
type Lifecycle struct {
	Rules []Rule
}

// Rule is one lifecycle rule. A rule applies to the versions its Filter
// selects, and only while Enabled.
type Rule struct {
	ID                    string // 1..255 characters; ParseLifecycle generates one when the client sent none
	Enabled               bool   // Status Enabled / Disabled
	Filter                Filter
	Expiration            *Expiration            // Days, Date, ExpiredObjectDeleteMarker
	NoncurrentExpiration  *NoncurrentExpiration  // NoncurrentDays, NewerNoncurrentVersions
	Transitions           []TierTransition       // Days or Date, StorageClass
	NoncurrentTransitions []NoncurrentTransition // NoncurrentDays, NewerNoncurrentVersions, StorageClass
	// AbortIncompleteMultipartUploadDays is DaysAfterInitiation; 0 = none.
	AbortIncompleteMultipartUploadDays int
}

// Filter selects the versions a rule applies to; every set predicate must
// hold. The zero Filter selects every version of the bucket.
type Filter struct {
	Prefix string
	Tags   []Tag // all must match: the version has the key, with this value
	// ObjectSizeGreaterThan / ObjectSizeLessThan in bytes; 0 = unset. An
	// explicit ObjectSizeGreaterThan of 0 is kept as unset: it differs only
	// for empty objects.
	SizeGreaterThan, SizeLessThan int64
}

// Tag is an object tag a Filter requires. A Tag sent without a Value
// requires the key with an empty value, as AWS documents.
type Tag struct{ Key, Value string }

// Expiration expires current versions at Days after they were written or
// from Date on, or (ExpiredObjectDeleteMarker) removes delete markers that
// no longer hide any version. Exactly one of the three is set, except for
// an Expiration sent as <ExpiredObjectDeleteMarker>false</...>, which is
// kept as an Expiration with nothing set (and does nothing).
type Expiration struct {
	Days                      int
	Date                      time.Time // midnight UTC; zero = none
	ExpiredObjectDeleteMarker bool
}

// NoncurrentExpiration permanently deletes a noncurrent version
// NoncurrentDays after it became noncurrent, keeping the
// NewerNoncurrentVersions newest noncurrent versions (0 = keep none).
type NoncurrentExpiration struct {
	NoncurrentDays          int
	NewerNoncurrentVersions int
}

// TierTransition moves current versions to the tier StorageClass at Days
// after they were written (0 is allowed) or from Date on. It is the S3
// <Transition> element; the name Transition is the Action.
type TierTransition struct {
	Days         int
	Date         time.Time // midnight UTC; zero = Days form
	StorageClass string    // a Cairn tier name
}

// NoncurrentTransition moves a noncurrent version to the tier StorageClass
// NoncurrentDays after it became noncurrent, keeping the
// NewerNoncurrentVersions newest noncurrent versions where they are.
type NoncurrentTransition struct {
	NoncurrentDays          int
	NewerNoncurrentVersions int
	StorageClass            string
}

// Tiers returns the tier names the rules transition to, enabled or not,
// sorted and without repeats: a tier in this list is in use by the bucket.
func (l *Lifecycle) Tiers() []string {
	if l == nil {
		return nil
	}
	var out []string
	for i := range l.Rules {
		r := &l.Rules[i]
		for _, t := range r.Transitions {
			out = append(out, t.StorageClass)
		}
		for _, t := range r.NoncurrentTransitions {
			out = append(out, t.StorageClass)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// HasTransitions reports whether an enabled rule has a transition or a
// noncurrent transition: whether the bucket's versions can move to a tier.
func (l *Lifecycle) HasTransitions() bool {
	if l == nil {
		return false
	}
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Enabled && (len(r.Transitions) > 0 || len(r.NoncurrentTransitions) > 0) {
			return true
		}
	}
	return false
}

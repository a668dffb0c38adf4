package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// AWS's messages for the checks that both the parser (on the values sent)
// and Validate (on the values stored) make.
const (
	msgExpirationDays           = "'Days' for Expiration action must be a positive integer"
	msgNoncurrentDaysExpiration = "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
	msgNoncurrentDaysTransition = "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative"
	msgTransitionDays           = "'Days' in Transition action must be nonnegative"
	msgAbortDays                = "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"
	msgMidnight                 = "'Date' must be at midnight GMT"
	msgDeleteMarkerWithDays     = "'ExpiredObjectDeleteMarker' cannot be specified with 'Days' or 'Date' in a Lifecycle Expiration Policy"
	msgDeleteMarkerWithTags     = "ExpiredObjectDeleteMarker cannot be specified with tags"
	msgAbortWithTags            = "AbortIncompleteMultipartUpload cannot be specified with Tags."
	msgAbortWithSize            = "AbortIncompleteMultipartUpload cannot be specified with Object Size."
	msgNoAction                 = "At least one action needs to be specified in a rule"
	msgDuplicateID              = "Rule ID must be unique. Found same ID for more than one rule"
	msgIDLength                 = "ID length should not exceed allowed limit of 255"
	msgSizeGreaterThan          = "'ObjectSizeGreaterThan' must be a non-negative integer"
	msgSizeLessThan             = "'ObjectSizeLessThan' must be a positive integer"
	msgSizeRange                = "'ObjectSizeGreaterThan' must be less than 'ObjectSizeLessThan'"
	msgDuplicateTagKey          = "Duplicate Tag Keys are not allowed."
	msgTagKey                   = "The TagKey you have provided is invalid"
	msgTagValue                 = "The TagValue you have provided is invalid"
	msgPrefixLength             = "The maximum size of a prefix is 1024"
)

const (
	maxIDLength     = 255
	maxPrefixLength = 1024
	maxTagKey       = 128
	maxTagValue     = 256
	maxNewer        = 100
)

// Validate checks the configuration as PutBucketLifecycleConfiguration
// does, for one built in code or decoded from storage; ParseLifecycle calls
// it. tier reports whether a StorageClass names a configured tier (nil:
// none is). The error is an *Error.
func (l *Lifecycle) Validate(tier func(name string) bool) error {
	if l == nil || len(l.Rules) == 0 {
		return malformed("a lifecycle configuration needs at least one <Rule>")
	}
	if len(l.Rules) > MaxRules {
		return malformed("a lifecycle configuration holds at most %d rules, this one has %d", MaxRules, len(l.Rules))
	}
	ids := make(map[string]bool, len(l.Rules))
	for i := range l.Rules {
		r := &l.Rules[i]
		if err := validateRule(r, tier); err != nil {
			return err
		}
		if ids[r.ID] {
			return invalidArg(msgDuplicateID)
		}
		ids[r.ID] = true
	}
	return nil
}

func validateRule(r *Rule, tier func(string) bool) error {
	switch {
	case r.ID == "":
		return invalidArg("Rule ID must not be empty")
	case utf8.RuneCountInString(r.ID) > maxIDLength:
		return invalidArg(msgIDLength)
	}
	if err := validateFilter(&r.Filter); err != nil {
		return err
	}
	if r.Expiration == nil && r.NoncurrentExpiration == nil && len(r.Transitions) == 0 &&
		len(r.NoncurrentTransitions) == 0 && r.AbortIncompleteMultipartUploadDays == 0 {
		return invalidReq(msgNoAction)
	}
	if e := r.Expiration; e != nil {
		switch {
		case e.Days < 0:
			return invalidArg(msgExpirationDays)
		case e.ExpiredObjectDeleteMarker && (e.Days != 0 || !e.Date.IsZero()):
			return invalidReq(msgDeleteMarkerWithDays)
		case e.Days != 0 && !e.Date.IsZero():
			return malformed("<Expiration> has <Days> or <Date>, not both")
		case !e.Date.IsZero() && !isMidnight(e.Date):
			return invalidArg(msgMidnight)
		case e.ExpiredObjectDeleteMarker && len(r.Filter.Tags) > 0:
			return invalidReq(msgDeleteMarkerWithTags)
		}
	}
	if e := r.NoncurrentExpiration; e != nil {
		if e.NoncurrentDays <= 0 {
			return invalidArg(msgNoncurrentDaysExpiration)
		}
		if err := checkNewer(e.NewerNoncurrentVersions, "NoncurrentVersionExpiration", false); err != nil {
			return err
		}
	}
	fs := filterText(r.Filter)
	if err := validateTransitions(r, tier, fs); err != nil {
		return err
	}
	if err := validateNoncurrentTransitions(r, tier, fs); err != nil {
		return err
	}
	switch d := r.AbortIncompleteMultipartUploadDays; {
	case d < 0:
		return invalidArg(msgAbortDays)
	case d > 0 && len(r.Filter.Tags) > 0:
		return invalidReq(msgAbortWithTags)
	case d > 0 && (r.Filter.SizeGreaterThan != 0 || r.Filter.SizeLessThan != 0):
		return invalidReq(msgAbortWithSize)
	}
	return nil
}

func validateFilter(f *Filter) error {
	if len(f.Prefix) > maxPrefixLength {
		return invalidReq(msgPrefixLength)
	}
	keys := make(map[string]bool, len(f.Tags))
	for _, t := range f.Tags {
		if n := utf8.RuneCountInString(t.Key); n < 1 || n > maxTagKey {
			return invalidArg(msgTagKey)
		}
		if utf8.RuneCountInString(t.Value) > maxTagValue {
			return invalidArg(msgTagValue)
		}
		if keys[t.Key] {
			return invalidReq(msgDuplicateTagKey)
		}
		keys[t.Key] = true
	}
	switch {
	case f.SizeGreaterThan < 0:
		return invalidArg(msgSizeGreaterThan)
	case f.SizeLessThan < 0:
		return invalidArg(msgSizeLessThan)
	case f.SizeGreaterThan > 0 && f.SizeLessThan > 0 && f.SizeGreaterThan >= f.SizeLessThan:
		return invalidArg(msgSizeRange)
	}
	return nil
}

// validateTransitions checks a rule's transitions: a configured tier each,
// a tier once, all Days or all Dates, each later than the one before (tiers
// have no order of their own, so the order of the list is the order of the
// moves), and an Expiration after the last of them.
func validateTransitions(r *Rule, tier func(string) bool, fs string) error {
	ts := r.Transitions
	if len(ts) == 0 {
		return nil
	}
	var byDays, byDate bool
	for _, t := range ts {
		if t.Date.IsZero() {
			if t.Days < 0 {
				return invalidArg(msgTransitionDays)
			}
			byDays = true
		} else {
			if !isMidnight(t.Date) {
				return invalidArg(msgMidnight)
			}
			byDate = true
		}
		if tier == nil || !tier(t.StorageClass) {
			return badTier(t.StorageClass)
		}
	}
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		if seen[t.StorageClass] {
			return invalidReq("'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter '%s'", fs)
		}
		seen[t.StorageClass] = true
	}
	if byDays && byDate {
		return invalidReq("Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule for filter '%s'", fs)
	}
	for i := 1; i < len(ts); i++ {
		prev, t := ts[i-1], ts[i]
		if byDays && t.Days <= prev.Days {
			return invalidArg("'Days' in the Transition action for StorageClass '%s' for filter '%s' must be greater than 'Days' in the Transition action for StorageClass '%s' for filter '%s'",
				t.StorageClass, fs, prev.StorageClass, fs)
		}
		if byDate && !t.Date.After(prev.Date) {
			return invalidArg("'Date' in the Transition action for StorageClass '%s' for filter '%s' must be greater than 'Date' in the Transition action for StorageClass '%s' for filter '%s'",
				t.StorageClass, fs, prev.StorageClass, fs)
		}
	}
	e := r.Expiration
	if e == nil || (e.Days == 0 && e.Date.IsZero()) {
		return nil
	}
	last := ts[len(ts)-1]
	switch {
	case (e.Days != 0 && byDate) || (!e.Date.IsZero() && byDays):
		return invalidReq("Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule for filter '%s'", fs)
	case e.Days != 0 && e.Days <= last.Days:
		return invalidArg("'Days' in the Expiration action for filter '%s' must be greater than 'Days' in the Transition action", fs)
	case !e.Date.IsZero() && !e.Date.After(last.Date):
		return invalidArg("'Date' in the Expiration action for filter '%s' must be greater than 'Date' in the Transition action", fs)
	}
	return nil
}

func validateNoncurrentTransitions(r *Rule, tier func(string) bool, fs string) error {
	ts := r.NoncurrentTransitions
	if len(ts) == 0 {
		return nil
	}
	for _, t := range ts {
		if t.NoncurrentDays < 0 {
			return invalidArg(msgNoncurrentDaysTransition)
		}
		if err := checkNewer(t.NewerNoncurrentVersions, "NoncurrentVersionTransition", false); err != nil {
			return err
		}
		if tier == nil || !tier(t.StorageClass) {
			return badTier(t.StorageClass)
		}
	}
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		if seen[t.StorageClass] {
			return invalidReq("'StorageClass' must be different for 'NoncurrentVersionTransition' actions in same 'Rule' with filter '%s'", fs)
		}
		seen[t.StorageClass] = true
	}
	for i := 1; i < len(ts); i++ {
		prev, t := ts[i-1], ts[i]
		if t.NoncurrentDays <= prev.NoncurrentDays {
			return invalidArg("'NoncurrentDays' in the NoncurrentVersionTransition action for StorageClass '%s' for filter '%s' must be greater than 'NoncurrentDays' in the NoncurrentVersionTransition action for StorageClass '%s' for filter '%s'",
				t.StorageClass, fs, prev.StorageClass, fs)
		}
	}
	if e := r.NoncurrentExpiration; e != nil && e.NoncurrentDays <= ts[len(ts)-1].NoncurrentDays {
		return invalidArg("'NoncurrentDays' in the NoncurrentVersionExpiration action for filter '%s' must be greater than 'NoncurrentDays' in the NoncurrentVersionTransition action", fs)
	}
	return nil
}

// checkNewer checks a NewerNoncurrentVersions: 1..100, or 0 (not sent)
// where sent is false.
func checkNewer(v int, action string, sent bool) error {
	switch {
	case v < 0 || (sent && v == 0):
		return invalidArg("'NewerNoncurrentVersions' for %s action must be a positive integer", action)
	case v > maxNewer:
		return invalidArg("'NewerNoncurrentVersions' for %s action must be an integer between 1 and %d", action, maxNewer)
	}
	return nil
}

// filterText renders a filter the way AWS's messages name it:
// (prefix=logs/ and tag={key=k, value=v} and objectsizegreaterthan=5).
func filterText(f Filter) string {
	var parts []string
	if f.Prefix != "" {
		parts = append(parts, "prefix="+f.Prefix)
	}
	for _, t := range f.Tags {
		parts = append(parts, fmt.Sprintf("tag={key=%s, value=%s}", t.Key, t.Value))
	}
	if f.SizeGreaterThan != 0 {
		parts = append(parts, fmt.Sprintf("objectsizegreaterthan=%d", f.SizeGreaterThan))
	}
	if f.SizeLessThan != 0 {
		parts = append(parts, fmt.Sprintf("objectsizelessthan=%d", f.SizeLessThan))
	}
	if len(parts) == 0 {
		parts = []string{"prefix="}
	}
	return "(" + strings.Join(parts, " and ") + ")"
}

package policy

import (
	"testing"
	"time"
)

var (
	prod  = Clock{Day: 24 * time.Hour}
	quick = Clock{Day: time.Second}
)

func TestDecide(t *testing.T) {
	written := day("2026-03-10T10:30:00Z")
	// With a 24h day, N days from 10:30 on the 10th is due at midnight starting the (11+N)th.
	dueAt := func(n int) time.Time { return day("2026-03-11T00:00:00Z").AddDate(0, 0, n) }
	cur := func(key string) Version { return Version{Key: key, Size: 100, ModTime: written, IsLatest: true} }
	versioned := func(v Version) Version { v.Versioned = true; return v }
	withTags := func(v Version, kv ...string) Version {
		v.Tags = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			v.Tags[kv[i]] = kv[i+1]
		}
		return v
	}
	sized := func(v Version, n int64) Version { v.Size = n; return v }
	noncur := func(since time.Time, newer int) Version {
		return Version{Key: "k", Size: 100, ModTime: written.Add(-time.Hour), NoncurrentSince: since, NewerNoncurrent: newer}
	}
	marker := func(only bool) Version {
		return Version{Key: "k", ModTime: written, IsLatest: true, DeleteMarker: true, OnlyVersion: only, Versioned: true}
	}

	expire30 := `<ID>exp</ID><Filter/><Status>Enabled</Status><Expiration><Days>30</Days></Expiration>`
	tiered := `<ID>tier</ID><Filter/><Status>Enabled</Status><Transition><Days>10</Days><StorageClass>cold</StorageClass></Transition><Transition><Days>20</Days><StorageClass>deep</StorageClass></Transition>`
	both := `<ID>both</ID><Filter/><Status>Enabled</Status><Transition><Days>10</Days><StorageClass>cold</StorageClass></Transition><Expiration><Days>30</Days></Expiration>`
	tests := []struct {
		name  string
		rules []string
		v     Version
		now   time.Time
		c     Clock
		want  Decision
	}{
		// Expiration of current versions, 24h rounding.
		{"not yet due", []string{expire30}, cur("k"), dueAt(30).Add(-time.Nanosecond), prod, Decision{}},
		{"due at the rounded midnight", []string{expire30}, cur("k"), dueAt(30), prod, Decision{Action: ExpireCurrent, RuleID: "exp"}},
		{"due in a versioned bucket", []string{expire30}, versioned(cur("k")), dueAt(31), prod, Decision{Action: ExpireCurrent, RuleID: "exp"}},
		{"short day: exact, not rounded", []string{expire30}, cur("k"), written.Add(30 * time.Second), quick, Decision{Action: ExpireCurrent, RuleID: "exp"}},
		{"short day: a nanosecond early", []string{expire30}, cur("k"), written.Add(30*time.Second - 1), quick, Decision{}},
		{"disabled rule", []string{`<ID>d</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration>`}, cur("k"), dueAt(100), prod, Decision{}},
		{"locked", []string{expire30}, Version{Key: "k", ModTime: written, IsLatest: true, Locked: true}, dueAt(100), prod, Decision{}},
		{"earliest of two expirations", []string{expire30, `<ID>e5</ID><Filter/><Status>Enabled</Status><Expiration><Days>5</Days></Expiration>`}, cur("k"), dueAt(40), prod, Decision{Action: ExpireCurrent, RuleID: "e5"}},

		// Date rules.
		{"date rule before the date", []string{`<ID>dt</ID><Filter/><Status>Enabled</Status><Expiration><Date>2026-04-01</Date></Expiration>`}, cur("k"), day("2026-03-31T23:59:59Z"), prod, Decision{}},
		{"date rule from the date", []string{`<ID>dt</ID><Filter/><Status>Enabled</Status><Expiration><Date>2026-04-01</Date></Expiration>`}, cur("k"), day("2026-04-01T00:00:00Z"), prod, Decision{Action: ExpireCurrent, RuleID: "dt"}},
		{"date rule with a short day uses the date as is", []string{`<ID>dt</ID><Filter/><Status>Enabled</Status><Expiration><Date>2026-04-01</Date></Expiration>`}, cur("k"), day("2026-04-01T00:00:00Z"), quick, Decision{Action: ExpireCurrent, RuleID: "dt"}},
		{"date rule applies to versions written after the date", []string{`<ID>dt</ID><Filter/><Status>Enabled</Status><Expiration><Date>2026-01-01</Date></Expiration>`}, cur("k"), written.Add(time.Second), prod, Decision{Action: ExpireCurrent, RuleID: "dt"}},
		{"transition date", []string{`<ID>td</ID><Filter/><Status>Enabled</Status><Transition><Date>2026-04-01</Date><StorageClass>cold</StorageClass></Transition>`}, cur("k"), day("2026-04-01T00:00:00Z"), prod, Decision{Action: Transition, RuleID: "td", Tier: "cold"}},

		// Filters.
		{"prefix matches", []string{`<ID>p</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, cur("logs/a"), dueAt(1), prod, Decision{Action: ExpireCurrent, RuleID: "p"}},
		{"prefix does not match", []string{`<ID>p</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, cur("log/a"), dueAt(1), prod, Decision{}},
		{"tags all match", []string{`<ID>t</ID><Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, withTags(cur("k"), "a", "1", "b", "2", "c", "3"), dueAt(1), prod, Decision{Action: ExpireCurrent, RuleID: "t"}},
		{"one tag differs", []string{`<ID>t</ID><Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, withTags(cur("k"), "a", "1", "b", "3"), dueAt(1), prod, Decision{}},
		{"tag key without value needs the empty value", []string{`<ID>t</ID><Filter><Tag><Key>a</Key></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, withTags(cur("k"), "a", ""), dueAt(1), prod, Decision{Action: ExpireCurrent, RuleID: "t"}},
		{"tag key missing", []string{`<ID>t</ID><Filter><Tag><Key>a</Key></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, cur("k"), dueAt(1), prod, Decision{}},
		{"size inside bounds", []string{`<ID>s</ID><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>20</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, sized(cur("k"), 11), dueAt(1), prod, Decision{Action: ExpireCurrent, RuleID: "s"}},
		{"size at lower bound is out", []string{`<ID>s</ID><Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, sized(cur("k"), 10), dueAt(1), prod, Decision{}},
		{"size at upper bound is out", []string{`<ID>s</ID><Filter><ObjectSizeLessThan>20</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`}, sized(cur("k"), 20), dueAt(1), prod, Decision{}},

		// Transitions.
		{"first transition", []string{tiered}, cur("k"), dueAt(10), prod, Decision{Action: Transition, RuleID: "tier", Tier: "cold"}},
		{"already in the first tier", []string{tiered}, Version{Key: "k", ModTime: written, IsLatest: true, StorageClass: "cold", TierOnly: true}, dueAt(15), prod, Decision{}},
		{"a copy in the tier still moves there", []string{tiered}, Version{Key: "k", ModTime: written, IsLatest: true, StorageClass: "cold"}, dueAt(15), prod, Decision{Action: Transition, RuleID: "tier", Tier: "cold"}},
		{"second transition from the first tier", []string{tiered}, Version{Key: "k", ModTime: written, IsLatest: true, StorageClass: "cold"}, dueAt(20), prod, Decision{Action: Transition, RuleID: "tier", Tier: "deep"}},
		{"both due: the later one", []string{tiered}, cur("k"), dueAt(25), prod, Decision{Action: Transition, RuleID: "tier", Tier: "deep"}},
		{"in the last tier, nothing", []string{tiered}, Version{Key: "k", ModTime: written, IsLatest: true, StorageClass: "deep", TierOnly: true}, dueAt(25), prod, Decision{}},
		{"transition days 0: next midnight", []string{`<ID>z</ID><Filter/><Status>Enabled</Status><Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition>`}, cur("k"), dueAt(0), prod, Decision{Action: Transition, RuleID: "z", Tier: "cold"}},
		{"transition days 0: not the same day", []string{`<ID>z</ID><Filter/><Status>Enabled</Status><Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition>`}, cur("k"), dueAt(0).Add(-time.Second), prod, Decision{}},
		{"locked version is not moved", []string{tiered}, Version{Key: "k", ModTime: written, IsLatest: true, Locked: true}, dueAt(25), prod, Decision{}},
		{"delete marker is not moved", []string{tiered}, marker(false), dueAt(25), prod, Decision{}},

		// Precedence: permanent deletion > transition > delete marker creation.
		{"unversioned: expiration wins over transition", []string{both}, cur("k"), dueAt(30), prod, Decision{Action: ExpireCurrent, RuleID: "both"}},
		{"versioned: transition wins over the delete marker", []string{both}, versioned(cur("k")), dueAt(30), prod, Decision{Action: Transition, RuleID: "both", Tier: "cold"}},
		{"versioned, already moved: the delete marker", []string{both}, versioned(Version{Key: "k", ModTime: written, IsLatest: true, StorageClass: "cold", TierOnly: true}), dueAt(30), prod, Decision{Action: ExpireCurrent, RuleID: "both"}},
		{"across rules, unversioned", []string{expire30, tiered}, cur("k"), dueAt(30), prod, Decision{Action: ExpireCurrent, RuleID: "exp"}},
		{"short day, transition only", []string{both}, cur("k"), written.Add(10 * time.Second), quick, Decision{Action: Transition, RuleID: "both", Tier: "cold"}},

		// Noncurrent versions.
		{"noncurrent expires", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(written, 0), dueAt(7), prod, Decision{Action: ExpireNoncurrent, RuleID: "nc"}},
		{"noncurrent not yet", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(written, 0), dueAt(6), prod, Decision{}},
		{"noncurrent counts from noncurrent-since, not mod time", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(written.AddDate(0, 0, 5), 0), dueAt(7), prod, Decision{}},
		{"noncurrent since unknown", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(time.Time{}, 5), dueAt(100), prod, Decision{}},
		{"newer noncurrent: kept among the newest 3", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>`}, noncur(written, 2), dueAt(100), prod, Decision{}},
		{"newer noncurrent: the 4th newest goes", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>`}, noncur(written, 3), dueAt(1), prod, Decision{Action: ExpireNoncurrent, RuleID: "nc"}},
		{"noncurrent transition", []string{`<ID>nt</ID><Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>2</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition><NoncurrentVersionExpiration><NoncurrentDays>9</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(written, 0), dueAt(2), prod, Decision{Action: Transition, RuleID: "nt", Tier: "cold"}},
		{"noncurrent: deletion wins over transition", []string{`<ID>nt</ID><Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>2</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition><NoncurrentVersionExpiration><NoncurrentDays>9</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(written, 0), dueAt(9), prod, Decision{Action: ExpireNoncurrent, RuleID: "nt"}},
		{"noncurrent transition keeps the newest", []string{`<ID>nt</ID><Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`}, noncur(written, 0), dueAt(5), prod, Decision{}},
		{"current rules leave noncurrent alone", []string{expire30, tiered}, noncur(written, 0), dueAt(100), prod, Decision{}},
		{"noncurrent rules leave current alone", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>`}, cur("k"), dueAt(100), prod, Decision{}},
		{"noncurrent delete marker is deleted", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>`}, Version{Key: "k", DeleteMarker: true, NoncurrentSince: written}, dueAt(1), prod, Decision{Action: ExpireNoncurrent, RuleID: "nc"}},
		{"noncurrent short day", []string{`<ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>`}, noncur(written, 0), written.Add(7 * time.Second), quick, Decision{Action: ExpireNoncurrent, RuleID: "nc"}},

		// Expired object delete markers.
		{"expired delete marker removed", []string{`<ID>dm</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`}, marker(true), written, prod, Decision{Action: RemoveDeleteMarker, RuleID: "dm"}},
		{"delete marker hiding versions kept", []string{`<ID>dm</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`}, marker(false), written, prod, Decision{}},
		{"delete marker false does nothing", []string{`<ID>dm</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>false</ExpiredObjectDeleteMarker></Expiration>`}, marker(true), dueAt(100), prod, Decision{}},
		{"expiration days remove an expired lone delete marker (AWS)", []string{expire30}, marker(true), dueAt(100), prod, Decision{Action: RemoveDeleteMarker, RuleID: "exp"}},
		{"expiration days: not before the marker is as old as Days", []string{expire30}, marker(true), dueAt(29), prod, Decision{}},
		{"expiration days leave a delete marker with versions under it", []string{expire30}, marker(false), dueAt(100), prod, Decision{}},
		{"delete marker outside the prefix", []string{`<ID>dm</ID><Filter><Prefix>x/</Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`}, marker(true), written, prod, Decision{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustParse(t, doc(tc.rules...))
			if got := l.Decide(tc.v, tc.now, tc.c); got != tc.want {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := (*Lifecycle)(nil).Decide(cur("k"), written, prod); got != (Decision{}) {
		t.Fatalf("nil Decide = %+v", got)
	}
}

func TestExpiry(t *testing.T) {
	written := day("2026-03-10T10:30:00Z")
	l := mustParse(t, doc(
		`<ID>long</ID><Filter/><Status>Enabled</Status><Expiration><Days>30</Days></Expiration>`,
		`<ID>short</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration>`,
		`<ID>off</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration>`,
		`<ID>move</ID><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition>`,
	))
	tests := []struct {
		name   string
		v      Version
		c      Clock
		due    time.Time
		ruleID string
		ok     bool
	}{
		{"one rule", Version{Key: "a", ModTime: written, IsLatest: true}, prod, day("2026-04-10T00:00:00Z"), "long", true},
		{"earliest rule", Version{Key: "tmp/a", ModTime: written, IsLatest: true}, prod, day("2026-03-13T00:00:00Z"), "short", true},
		{"short day", Version{Key: "tmp/a", ModTime: written, IsLatest: true}, quick, written.Add(2 * time.Second), "short", true},
		{"noncurrent", Version{Key: "a", ModTime: written}, prod, time.Time{}, "", false},
		{"delete marker", Version{Key: "a", ModTime: written, IsLatest: true, DeleteMarker: true}, prod, time.Time{}, "", false},
		{"locked", Version{Key: "a", ModTime: written, IsLatest: true, Locked: true}, prod, time.Time{}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due, id, ok := l.Expiry(tc.v, tc.c)
			if !due.Equal(tc.due) || id != tc.ruleID || ok != tc.ok {
				t.Fatalf("Expiry = %v %q %v, want %v %q %v", due, id, ok, tc.due, tc.ruleID, tc.ok)
			}
		})
	}
	none := mustParse(t, doc(`<ID>move</ID><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition>`))
	if _, _, ok := none.Expiry(Version{Key: "a", ModTime: written, IsLatest: true}, prod); ok {
		t.Fatal("Expiry ok without an expiration rule")
	}
}

func TestExpirationHeader(t *testing.T) {
	tests := []struct {
		due    time.Time
		ruleID string
		want   string
	}{
		{day("2012-12-23T00:00:00Z"), "picture-deletion-rule", `expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"`},
		{day("2012-12-21T00:00:00Z"), "Rule1", `expiry-date="Fri, 21 Dec 2012 00:00:00 GMT", rule-id="Rule1"`},
		{day("2026-01-01T01:00:00+01:00"), `Delete "old", now`, `expiry-date="Thu, 01 Jan 2026 00:00:00 GMT", rule-id="Delete%20%22old%22%2C%20now"`},
		{day("2026-01-01T00:00:00Z"), "a.b_c~d/é", `expiry-date="Thu, 01 Jan 2026 00:00:00 GMT", rule-id="a.b_c~d%2F%C3%A9"`},
	}
	for _, tc := range tests {
		if got := ExpirationHeader(tc.due, tc.ruleID); got != tc.want {
			t.Errorf("ExpirationHeader(%v, %q) =\n %s\nwant\n %s", tc.due, tc.ruleID, got, tc.want)
		}
	}
}

func TestAbortUpload(t *testing.T) {
	initiated := day("2026-03-10T10:30:00Z")
	l := mustParse(t, doc(
		`<ID>up7</ID><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
		`<ID>tmp1</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
		`<ID>off</ID><Filter/><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
		`<ID>exp</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
	))
	tests := []struct {
		name string
		key  string
		now  time.Time
		c    Clock
		id   string
		ok   bool
	}{
		{"not yet", "a", day("2026-03-17T23:59:59Z"), prod, "", false},
		{"due at midnight", "a", day("2026-03-18T00:00:00Z"), prod, "up7", true},
		{"prefix rule first", "tmp/a", day("2026-03-12T00:00:00Z"), prod, "tmp1", true},
		{"earliest due of two", "tmp/a", day("2026-04-01T00:00:00Z"), prod, "tmp1", true},
		{"short day", "a", initiated.Add(7 * time.Second), quick, "up7", true},
		{"short day early", "a", initiated.Add(6 * time.Second), quick, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := l.AbortUpload(tc.key, initiated, tc.now, tc.c)
			if id != tc.id || ok != tc.ok {
				t.Fatalf("AbortUpload = %q %v, want %q %v", id, ok, tc.id, tc.ok)
			}
		})
	}
}

func TestActionString(t *testing.T) {
	if MoveToTier.String() != "MoveToTier" || Action(42).String() != "Action(42)" {
		t.Fatal(MoveToTier.String(), Action(42).String())
	}
}

package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseLifecycleElements(t *testing.T) {
	midnight := day("2027-01-01T00:00:00Z")
	tests := []struct {
		name string
		rule string
		want Rule
	}{
		{"expiration days", `<ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{Prefix: "logs/"}, Expiration: &Expiration{Days: 30}}},
		{"expiration date", `<ID>a</ID><Filter></Filter><Status>Disabled</Status><Expiration><Date>2027-01-01T00:00:00.000Z</Date></Expiration>`,
			Rule{ID: "a", Expiration: &Expiration{Date: midnight}}},
		{"date without zone or time", `<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Date>2027-01-01</Date></Expiration>`,
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{Date: midnight}}},
		{"date in another zone at UTC midnight", `<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Date>2027-01-01T01:00:00+01:00</Date></Expiration>`,
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{Date: midnight}}},
		{"expired object delete marker", `<ID>a</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`,
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{ExpiredObjectDeleteMarker: true}}},
		{"delete marker false", `<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>false</ExpiredObjectDeleteMarker></Expiration>`,
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{}}},
		{"legacy prefix", `<ID>a</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{Prefix: "old/"}, Expiration: &Expiration{Days: 1}}},
		{"tag", `<ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{Tags: []Tag{{"k", "v"}}}, Expiration: &Expiration{Days: 1}}},
		{"tag without value", `<ID>a</ID><Filter><Tag><Key>k</Key></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{Tags: []Tag{{"k", ""}}}, Expiration: &Expiration{Days: 1}}},
		{"size greater", `<ID>a</ID><Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{SizeGreaterThan: 100}, Expiration: &Expiration{Days: 1}}},
		{"size less", `<ID>a</ID><Filter><ObjectSizeLessThan>100</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{SizeLessThan: 100}, Expiration: &Expiration{Days: 1}}},
		{"and", `<ID>a</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k1</Key><Value>v1</Value></Tag><Tag><Key>k2</Key><Value>v2</Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{Prefix: "p/", Tags: []Tag{{"k1", "v1"}, {"k2", "v2"}}, SizeGreaterThan: 1, SizeLessThan: 9}, Expiration: &Expiration{Days: 1}}},
		{"noncurrent expiration", `<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>`,
			Rule{ID: "a", Enabled: true, NoncurrentExpiration: &NoncurrentExpiration{NoncurrentDays: 7, NewerNoncurrentVersions: 3}}},
		{"transitions and expiration", `<ID>a</ID><Filter/><Status>Enabled</Status><Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition><Transition><Days>10</Days><StorageClass>deep</StorageClass></Transition><Expiration><Days>11</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{Days: 11}, Transitions: []TierTransition{{Days: 0, StorageClass: "cold"}, {Days: 10, StorageClass: "deep"}}}},
		{"transition date", `<ID>a</ID><Filter/><Status>Enabled</Status><Transition><Date>2027-01-01T00:00:00Z</Date><StorageClass>cold</StorageClass></Transition>`,
			Rule{ID: "a", Enabled: true, Transitions: []TierTransition{{Date: midnight, StorageClass: "cold"}}}},
		{"noncurrent transitions", `<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition><NoncurrentVersionTransition><NoncurrentDays>5</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions><StorageClass>deep</StorageClass></NoncurrentVersionTransition>`,
			Rule{ID: "a", Enabled: true, NoncurrentTransitions: []NoncurrentTransition{{NoncurrentDays: 1, StorageClass: "cold"}, {NoncurrentDays: 5, NewerNoncurrentVersions: 2, StorageClass: "deep"}}}},
		{"abort", `<ID>a</ID><Filter><Prefix>up/</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
			Rule{ID: "a", Enabled: true, Filter: Filter{Prefix: "up/"}, AbortIncompleteMultipartUploadDays: 2}},
		{"whitespace around values", "<ID>a</ID><Filter/><Status> Enabled </Status><Expiration><Days>\n 5 </Days></Expiration>",
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{Days: 5}}},
		{"prefix whitespace kept", `<ID> a </ID><Filter><Prefix> p </Prefix></Filter><Status>Enabled</Status><Expiration><Days>5</Days></Expiration>`,
			Rule{ID: " a ", Enabled: true, Filter: Filter{Prefix: " p "}, Expiration: &Expiration{Days: 5}}},
		{"thousand days", `<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1000000</Days></Expiration>`,
			Rule{ID: "a", Enabled: true, Expiration: &Expiration{Days: 1000000}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustParse(t, doc(tc.rule))
			if !reflect.DeepEqual(l.Rules, []Rule{tc.want}) {
				t.Fatalf("got  %+v\nwant %+v", l.Rules[0], tc.want)
			}
			roundTrip(t, l)
		})
	}
}

// roundTrip checks that l marshals and re-parses to itself.
func roundTrip(t testing.TB, l *Lifecycle) {
	t.Helper()
	b, err := l.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := ParseLifecycle(b, tiers)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, l) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v\n%s", back, l, b)
	}
}

func TestParseLifecycleNoNamespace(t *testing.T) {
	l := mustParse(t, []byte(`<?xml version="1.0"?><!-- c --><LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`))
	if len(l.Rules) != 1 || l.Rules[0].ID != "x" {
		t.Fatalf("rules = %+v", l.Rules)
	}
}

func TestGeneratedID(t *testing.T) {
	body := doc(`<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`,
		`<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`)
	a, b := mustParse(t, body), mustParse(t, body)
	id0, id1 := a.Rules[0].ID, a.Rules[1].ID
	if len(id0) != 32 || id0 == id1 {
		t.Fatalf("IDs %q, %q: want two different 32-character IDs", id0, id1)
	}
	if b.Rules[0].ID != id0 || b.Rules[1].ID != id1 {
		t.Fatalf("IDs not deterministic: %q %q vs %q %q", id0, id1, b.Rules[0].ID, b.Rules[1].ID)
	}
	for _, c := range id0 {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", c) {
			t.Fatalf("ID %q is not base32", id0)
		}
	}
	roundTrip(t, a)
}

func TestMarshalXML(t *testing.T) {
	l := mustParse(t, doc(
		`<ID>r&amp;1</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Date>2027-01-01</Date></Expiration>`,
		`<ID>r2</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter><Status>Disabled</Status><Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration>`,
		`<ID>r3</ID><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
	))
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Rule><ID>r&amp;1</ID><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status><Expiration><Date>2027-01-01T00:00:00.000Z</Date></Expiration></Rule>` +
		`<Rule><ID>r2</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter><Status>Disabled</Status><Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration></Rule>` +
		`<Rule><ID>r3</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>` +
		`</LifecycleConfiguration>`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	roundTrip(t, l)
}

func TestTiers(t *testing.T) {
	l := mustParse(t, doc(
		`<ID>a</ID><Filter/><Status>Disabled</Status><Transition><Days>1</Days><StorageClass>deep</StorageClass></Transition>`,
		`<ID>b</ID><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>deep</StorageClass></NoncurrentVersionTransition>`,
	))
	if got := l.Tiers(); !reflect.DeepEqual(got, []string{"cold", "deep"}) {
		t.Fatalf("Tiers = %v", got)
	}
	if !l.HasTransitions() {
		t.Fatal("HasTransitions = false")
	}
	l.Rules[1].Enabled = false
	if l.HasTransitions() {
		t.Fatal("HasTransitions with only disabled rules")
	}
	if (*Lifecycle)(nil).Tiers() != nil {
		t.Fatal("nil Tiers")
	}
}

func TestClockDue(t *testing.T) {
	at := day("2014-01-15T10:30:00Z")
	tests := []struct {
		name string
		c    Clock
		t    time.Time
		days int
		want time.Time
	}{
		{"AWS example: 3 days from 10:30 is midnight of the 19th", Clock{Day: 24 * time.Hour}, at, 3, day("2014-01-19T00:00:00Z")},
		{"zero clock is 24h", Clock{}, at, 3, day("2014-01-19T00:00:00Z")},
		{"0 days is next midnight", Clock{}, at, 0, day("2014-01-16T00:00:00Z")},
		{"written at midnight rounds to the following one", Clock{}, day("2014-01-15T00:00:00Z"), 1, day("2014-01-17T00:00:00Z")},
		{"other zones count in UTC", Clock{}, day("2014-01-15T23:30:00-05:00"), 1, day("2014-01-18T00:00:00Z")},
		{"month end", Clock{}, day("2014-01-31T12:00:00Z"), 1, day("2014-02-02T00:00:00Z")},
		{"short day is exact", Clock{Day: time.Second}, at, 3, at.Add(3 * time.Second)},
		{"short day 0", Clock{Day: time.Second}, at, 0, at},
		{"huge days saturate", Clock{Day: time.Hour}, at, 1 << 30, farFuture},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Due(tc.t, tc.days); !got.Equal(tc.want) {
				t.Fatalf("Due = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClockScale(t *testing.T) {
	tests := []struct {
		c    Clock
		d    time.Duration
		want time.Duration
	}{
		{Clock{}, 72 * time.Hour, 72 * time.Hour},
		{Clock{Day: time.Second}, 72 * time.Hour, 3 * time.Second},
		{Clock{Day: time.Second}, 30 * 24 * time.Hour, 30 * time.Second},
		{Clock{Day: time.Minute}, 12 * time.Hour, 30 * time.Second},
		{Clock{Day: 48 * time.Hour}, 1 << 62, 1<<63 - 1},
		{Clock{Day: time.Second}, -time.Hour, 0},
	}
	for _, tc := range tests {
		if got := tc.c.Scale(tc.d); got != tc.want {
			t.Errorf("%v.Scale(%v) = %v, want %v", tc.c, tc.d, got, tc.want)
		}
	}
}

// TestSinceMatchesDue checks Decide's precomputed day count against Clock.Due.
func TestSinceMatchesDue(t *testing.T) {
	for _, c := range []Clock{{}, {Day: time.Second}} {
		for _, at := range []time.Time{day("2014-01-15T10:30:00Z"), day("2014-01-15T00:00:00Z"), day("2016-02-28T23:59:59-08:00")} {
			s := newSince(c, at)
			for _, n := range []int{0, 1, 3, 365, 40000, maxDayDuration - 1, maxDayDuration, 1 << 31} {
				if got, want := s.due(n), c.Due(at, n); !got.Equal(want) {
					t.Errorf("%v from %v, %d days: %v, Due says %v", c, at, n, got, want)
				}
			}
		}
	}
}

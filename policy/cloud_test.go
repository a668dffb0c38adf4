package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30d", 30 * 24 * time.Hour, false},
		{"72h", 72 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"1d12h", 36 * time.Hour, false},
		{"1.5h", 90 * time.Minute, false},
		{"0", 0, false},
		{"1h30m10s500ms", time.Hour + 30*time.Minute + 10*time.Second + 500*time.Millisecond, false},
		{"", 0, true},
		{"30", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
		{"-1h", 0, true},
		{"3w", 0, true},
		{"106752d", 0, true},
		{"106751d1000h", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, d := range []time.Duration{0, 30 * 24 * time.Hour, 36 * time.Hour, 90 * time.Minute, 1500 * time.Millisecond, 1} {
		s := Duration(d).String()
		back, err := ParseDuration(s)
		if err != nil || back != d {
			t.Errorf("%v -> %q -> %v, %v", d, s, back, err)
		}
	}
	if s := Duration(36 * time.Hour).String(); s != "1d12h" {
		t.Errorf("String = %q, want 1d12h", s)
	}
}

func TestParseCloudPolicy(t *testing.T) {
	p, err := ParseCloudPolicy([]byte(`{"idle":"72h","include_ext":[".VBK",".vib"],"exclude_dirs":["tmp/"],"tier":"azure","mode":"copy-then-move","after":"30d"}`), tiers)
	if err != nil {
		t.Fatal(err)
	}
	want := &CloudPolicy{Idle: Duration(72 * time.Hour), IncludeExt: []string{".vbk", ".vib"}, ExcludeDirs: []string{"tmp/"},
		Tier: "azure", Mode: ModeCopyThenMove, After: Duration(30 * 24 * time.Hour)}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"idle":"3d","include_ext":[".vbk",".vib"],"exclude_dirs":["tmp/"],"tier":"azure","mode":"copy-then-move","after":"30d"}` {
		t.Fatalf("MarshalJSON = %s", got)
	}
}

func TestParseCloudPolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"not json", `{"tier":`, []string{"not valid JSON"}},
		{"empty", ``, []string{"empty"}},
		{"array", `[]`, []string{"must be a JSON object"}},
		{"trailing data", `{"tier":"azure","mode":"copy"} {}`, []string{"one JSON object"}},
		{"unknown field", `{"tier":"azure","mode":"copy","idle_hours":3}`, []string{`unknown field "idle_hours"`, "idle, include_ext"}},
		{"wrong type", `{"tier":"azure","mode":"copy","include_ext":".vbk"}`, []string{`"include_ext" has the wrong type`, "list of strings"}},
		{"idle not a duration", `{"tier":"azure","mode":"copy","idle":72}`, []string{`duration`, `"72h"`}},
		{"idle bad unit", `{"tier":"azure","mode":"copy","idle":"3 days"}`, []string{`"idle": invalid duration "3 days"`}},
		{"after bad unit", `{"tier":"azure","mode":"copy-then-move","after":"1w"}`, []string{`"after": invalid duration "1w"`}},
		{"the policy's own mistakes before an unknown tier", `{"tier":"s3","mode":"copy","include_ext":[".a"],"exclude_ext":[".b"]}`, []string{`cannot both be set`}},
		{"no tier", `{"mode":"copy"}`, []string{`"tier" is required`, "cairn admin tier add"}},
		{"unknown tier", `{"tier":"s3","mode":"copy"}`, []string{`"tier" names no configured tier: "s3"`}},
		{"no mode", `{"tier":"azure"}`, []string{`"mode" is required`, `"copy-then-move"`}},
		{"bad mode", `{"tier":"azure","mode":"replicate"}`, []string{`not "replicate"`}},
		{"after without copy-then-move", `{"tier":"azure","mode":"copy","after":"1d"}`, []string{`"after" is only for mode "copy-then-move"`}},
		{"copy-then-move without after", `{"tier":"azure","mode":"copy-then-move"}`, []string{`"after" is required with mode "copy-then-move"`}},
		{"both ext lists", `{"tier":"azure","mode":"copy","include_ext":[".vbk"],"exclude_ext":[".tmp"]}`, []string{`"include_ext" and "exclude_ext" cannot both be set: choose a list of extensions to tier or a list to keep local`}},
		{"both dir lists", `{"tier":"azure","mode":"copy","include_dirs":["a/"],"exclude_dirs":["b/"]}`, []string{`"include_dirs" and "exclude_dirs" cannot both be set`}},
		{"ext without dot", `{"tier":"azure","mode":"copy","include_ext":["vbk"]}`, []string{`"include_ext" entry "vbk"`, `".vbk"`}},
		{"ext just a dot", `{"tier":"azure","mode":"copy","exclude_ext":["."]}`, []string{`entry "."`}},
		{"dir without slash", `{"tier":"azure","mode":"copy","include_dirs":["backups"]}`, []string{`must end in "/"`}},
		{"dir with leading slash", `{"tier":"azure","mode":"copy","exclude_dirs":["/backups/"]}`, []string{`must not start with "/"`}},
		{"empty dir", `{"tier":"azure","mode":"copy","exclude_dirs":[""]}`, []string{`must end in "/"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseCloudPolicy([]byte(tc.body), tiers)
			if err == nil {
				t.Fatalf("parsed: %+v", p)
			}
			wantErr(t, err, CodeInvalidArgument, tc.want...)
		})
	}
	wantErr(t, (*CloudPolicy)(nil).Validate(tiers), CodeInvalidArgument, "no cloud policy")
	wantErr(t, (&CloudPolicy{Tier: "azure", Mode: ModeCopy, Idle: -1}).Validate(tiers), CodeInvalidArgument, `"idle" cannot be negative`)
}

func TestCloudPolicyDecide(t *testing.T) {
	written := day("2026-03-10T10:00:00Z")
	idle := written.Add(72 * time.Hour)
	pol := func(mode Mode, extra string) *CloudPolicy {
		body := `{"idle":"72h","tier":"azure","mode":"` + string(mode) + `"` + extra + `}`
		if mode == ModeCopyThenMove && !strings.Contains(extra, "after") {
			body = strings.TrimSuffix(body, "}") + `,"after":"30d"}`
		}
		p, err := ParseCloudPolicy([]byte(body), tiers)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	v := func(key string) Version { return Version{Key: key, ModTime: written, IsLatest: true} }
	in := func(v Version, tier string, only bool) Version { v.StorageClass, v.TierOnly = tier, only; return v }
	copyD := Decision{Action: CopyToTier, RuleID: CloudPolicyRuleID, Tier: "azure"}
	moveD := Decision{Action: MoveToTier, RuleID: CloudPolicyRuleID, Tier: "azure"}
	tieredAt := idle.Add(time.Hour)
	tests := []struct {
		name     string
		p        *CloudPolicy
		v        Version
		tieredAt time.Time
		now      time.Time
		c        Clock
		want     Decision
	}{
		{"copy once idle", pol(ModeCopy, ""), v("a.vbk"), time.Time{}, idle, prod, copyD},
		{"not idle long enough", pol(ModeCopy, ""), v("a.vbk"), time.Time{}, idle.Add(-time.Nanosecond), prod, Decision{}},
		{"idle scales with the clock", pol(ModeCopy, ""), v("a.vbk"), time.Time{}, written.Add(3 * time.Second), quick, copyD},
		{"idle scaled, early", pol(ModeCopy, ""), v("a.vbk"), time.Time{}, written.Add(2 * time.Second), quick, Decision{}},
		{"copied already", pol(ModeCopy, ""), in(v("a.vbk"), "azure", false), tieredAt, idle.AddDate(1, 0, 0), prod, Decision{}},
		{"move directly", pol(ModeMove, ""), v("a.vbk"), time.Time{}, idle, prod, moveD},
		{"move: copy present, release", pol(ModeMove, ""), in(v("a"), "azure", false), tieredAt, idle, prod, moveD},
		{"move: moved already", pol(ModeMove, ""), in(v("a"), "azure", true), tieredAt, idle, prod, Decision{}},
		{"move locked: copy only", pol(ModeMove, ""), Version{Key: "a", ModTime: written, IsLatest: true, Locked: true}, time.Time{}, idle, prod, copyD},
		{"move locked copy: kept", pol(ModeMove, ""), Version{Key: "a", ModTime: written, IsLatest: true, Locked: true, StorageClass: "azure"}, tieredAt, idle, prod, Decision{}},
		{"copy-then-move: copy first", pol(ModeCopyThenMove, ""), v("a"), time.Time{}, idle, prod, copyD},
		{"copy-then-move: before after", pol(ModeCopyThenMove, ""), in(v("a"), "azure", false), tieredAt, tieredAt.Add(30*24*time.Hour - 1), prod, Decision{}},
		{"copy-then-move: release after", pol(ModeCopyThenMove, ""), in(v("a"), "azure", false), tieredAt, tieredAt.Add(30 * 24 * time.Hour), prod, moveD},
		{"copy-then-move: after scales", pol(ModeCopyThenMove, ""), in(v("a"), "azure", false), tieredAt, tieredAt.Add(30 * time.Second), quick, moveD},
		{"copy-then-move: tieredAt unknown", pol(ModeCopyThenMove, ""), in(v("a"), "azure", false), time.Time{}, idle.AddDate(1, 0, 0), prod, Decision{}},
		{"copy-then-move: locked never released", pol(ModeCopyThenMove, ""), Version{Key: "a", ModTime: written, IsLatest: true, Locked: true, StorageClass: "azure"}, tieredAt, idle.AddDate(1, 0, 0), prod, Decision{}},
		{"in another tier", pol(ModeMove, ""), in(v("a"), "cold", true), tieredAt, idle, prod, Decision{}},
		{"noncurrent", pol(ModeCopy, ""), Version{Key: "a", ModTime: written}, time.Time{}, idle, prod, Decision{}},
		{"delete marker", pol(ModeCopy, ""), Version{Key: "a", ModTime: written, IsLatest: true, DeleteMarker: true}, time.Time{}, idle, prod, Decision{}},
		{"include ext, case-insensitive", pol(ModeCopy, `,"include_ext":[".vbk"]`), v("jobs/A.VBK"), time.Time{}, idle, prod, copyD},
		{"include ext, other", pol(ModeCopy, `,"include_ext":[".vbk"]`), v("jobs/a.vib"), time.Time{}, idle, prod, Decision{}},
		{"include ext matches the name, not the directory", pol(ModeCopy, `,"include_ext":[".vbk"]`), v("x.vbk/a"), time.Time{}, idle, prod, Decision{}},
		{"include double ext", pol(ModeCopy, `,"include_ext":[".tar.gz"]`), v("a.tar.gz"), time.Time{}, idle, prod, copyD},
		{"exclude ext", pol(ModeCopy, `,"exclude_ext":[".tmp"]`), v("a.tmp"), time.Time{}, idle, prod, Decision{}},
		{"exclude ext, other", pol(ModeCopy, `,"exclude_ext":[".tmp"]`), v("a.vbk"), time.Time{}, idle, prod, copyD},
		{"include dirs", pol(ModeCopy, `,"include_dirs":["backups/"]`), v("backups/a"), time.Time{}, idle, prod, copyD},
		{"include dirs, outside", pol(ModeCopy, `,"include_dirs":["backups/"]`), v("backupsX/a"), time.Time{}, idle, prod, Decision{}},
		{"exclude dirs", pol(ModeCopy, `,"exclude_dirs":["tmp/","scratch/"]`), v("scratch/a"), time.Time{}, idle, prod, Decision{}},
		{"ext and dir both must hold", pol(ModeCopy, `,"include_ext":[".vbk"],"exclude_dirs":["tmp/"]`), v("tmp/a.vbk"), time.Time{}, idle, prod, Decision{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Decide(tc.v, tc.tieredAt, tc.now, tc.c); got != tc.want {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

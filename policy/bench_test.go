package policy

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecide measures one lifecycle decision: a typical 3-rule
// configuration, and the worst case of 1000 rules that all select the
// version (each with a tag filter, a transition and an expiration, so every
// rule is evaluated in full).
func BenchmarkDecide(b *testing.B) {
	written := day("2026-03-10T10:30:00Z")
	now := written.AddDate(0, 0, 15)
	v := Version{Key: "backups/daily/job1.vbk", Size: 1 << 30, ModTime: written, IsLatest: true, Versioned: true,
		Tags: map[string]string{"class": "backup", "team": "ops"}}
	typical := doc(
		`<ID>tier</ID><Filter><Prefix>backups/</Prefix></Filter><Status>Enabled</Status><Transition><Days>7</Days><StorageClass>cold</StorageClass></Transition><Expiration><Days>365</Days></Expiration>`,
		`<ID>noncurrent</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>`,
		`<ID>uploads</ID><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
	)
	var worst []string
	for i := range MaxRules {
		worst = append(worst, fmt.Sprintf(`<ID>r%d</ID><Filter><And><Prefix>backups/</Prefix><Tag><Key>class</Key><Value>backup</Value></Tag><ObjectSizeGreaterThan>%d</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Transition><Days>%d</Days><StorageClass>cold</StorageClass></Transition><Expiration><Days>%d</Days></Expiration>`,
			i, i%20, i%300, 400+i))
	}
	for _, bc := range []struct {
		name string
		body []byte
	}{{"rules=3", typical}, {"rules=1000", doc(worst...)}} {
		b.Run(bc.name, func(b *testing.B) {
			l := mustParse(b, bc.body)
			if d := l.Decide(v, now, Clock{}); d.Action != Transition {
				b.Fatalf("Decide = %+v", d)
			}
			b.ReportAllocs()
			start := time.Now()
			n := 0
			for b.Loop() {
				l.Decide(v, now, Clock{})
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "decisions/s")
		})
	}
}

// BenchmarkParseLifecycle measures parsing and validating a 1000-rule body.
func BenchmarkParseLifecycle(b *testing.B) {
	var rules []string
	for i := range MaxRules {
		rules = append(rules, fmt.Sprintf(`<ID>r%d</ID><Filter><Prefix>p%d/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>%d</Days></Expiration>`, i, i, i+1))
	}
	body := doc(rules...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLifecycle(body, tiers); err != nil {
			b.Fatal(err)
		}
	}
}

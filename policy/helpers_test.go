package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// tiers is the tier set the tests configure.
func tiers(name string) bool { return name == "cold" || name == "azure" || name == "deep" }

// doc wraps rule bodies into a configuration.
func doc(rules ...string) []byte {
	var b strings.Builder
	b.WriteString(`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for _, r := range rules {
		b.WriteString("<Rule>" + r + "</Rule>")
	}
	b.WriteString("</LifecycleConfiguration>")
	return []byte(b.String())
}

func mustParse(t testing.TB, body []byte) *Lifecycle {
	t.Helper()
	l, err := ParseLifecycle(body, tiers)
	if err != nil {
		t.Fatalf("ParseLifecycle: %v\n%s", err, body)
	}
	return l
}

// wantErr checks err is an *Error with code and a message containing each of want.
func wantErr(t *testing.T, err error, code string, want ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code {
		t.Errorf("code = %s, want %s (message %q)", e.Code, code, e.Message)
	}
	for _, w := range want {
		if !strings.Contains(e.Message, w) {
			t.Errorf("message %q does not say %q", e.Message, w)
		}
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

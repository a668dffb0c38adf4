package s3api

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The object lock parsers never panic, answer only S3 errors, and what
// they accept is valid: a positive period within S3's limits, a known mode,
// a retain-until date after now.

func FuzzParseLockConfig(f *testing.F) {
	for _, s := range []string{
		`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`,
		`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>30</Days></DefaultRetention></Rule></ObjectLockConfiguration>`,
		`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>7</Years></DefaultRetention></Rule></ObjectLockConfiguration>`,
		`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>-7</Years><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`,
		`<ObjectLockConfiguration/>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseLockConfig(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not an S3 error: %v", err)
			}
			return
		}
		if !cfg.Enabled {
			t.Fatal("accepted a configuration that does not enable lock")
		}
		switch cfg.DefaultMode {
		case "":
			if cfg.DefaultDays != 0 || cfg.DefaultYears != 0 {
				t.Fatalf("a period without a mode: %+v", cfg)
			}
		case LockGovernance, LockCompliance:
			days := cfg.DefaultDays > 0 && cfg.DefaultDays <= maxRetentionDays && cfg.DefaultYears == 0
			years := cfg.DefaultYears > 0 && cfg.DefaultYears <= maxRetentionYears && cfg.DefaultDays == 0
			if !days && !years {
				t.Fatalf("accepted period: %+v", cfg)
			}
		default:
			t.Fatalf("accepted mode %q", cfg.DefaultMode)
		}
	})
}

func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{
		`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-02T03:04:05.000Z</RetainUntilDate></Retention>`,
		`<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2099-01-02T03:04:05+02:00</RetainUntilDate></Retention>`,
		`<Retention/>`, `<Retention><Mode>GOVERNANCE</Mode></Retention>`, `<LegalHold><Status>ON</Status></LegalHold>`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseRetention(data, now)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not an S3 error: %v", err)
			}
			return
		}
		if l.Mode == "" {
			if !l.RetainUntil.IsZero() {
				t.Fatalf("a date without a mode: %+v", l)
			}
			return
		}
		if (l.Mode != LockGovernance && l.Mode != LockCompliance) || !l.RetainUntil.After(now) {
			t.Fatalf("accepted %+v", l)
		}
		if _, err := parseLegalHold(data); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("legal hold: not an S3 error: %v", err)
			}
		}
	})
}

func FuzzParseLockHeaders(f *testing.F) {
	f.Add("GOVERNANCE", "2099-01-02T03:04:05Z", "ON")
	f.Add("COMPLIANCE", "2099-01-02T03:04:05.123+01:00", "OFF")
	f.Add("", "", "")
	f.Add("GOVERNANCE", "", "")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, mode, date, hold string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Amz-Object-Lock-Mode": mode, "X-Amz-Object-Lock-Retain-Until-Date": date, "X-Amz-Object-Lock-Legal-Hold": hold} {
			if v != "" {
				h.Set(k, v)
			}
		}
		l, set, err := parseLockHeaders(h, now)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("not a 400 S3 error: %v", err)
			}
			return
		}
		if set != (l.Mode != "" || hold != "") {
			t.Fatalf("set %v for %+v (hold %q)", set, l, hold)
		}
		if l.Mode != "" && ((l.Mode != LockGovernance && l.Mode != LockCompliance) || !l.RetainUntil.After(now)) {
			t.Fatalf("accepted %+v", l)
		}
	})
}

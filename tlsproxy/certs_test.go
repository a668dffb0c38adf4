package tlsproxy

import (
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGeneratedCertificates(t *testing.T) {
	fx := getFixture(t)
	for _, name := range []string{caKeyFile, serverKeyFile} {
		info, err := os.Stat(filepath.Join(fx.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, perm)
		}
	}
	if info, err := os.Stat(fx.alice); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("credential file: %v, mode %o, want 600", err, info.Mode().Perm())
	}
	ca, caKey, err := loadPair(filepath.Join(fx.dir, caCertFile), filepath.Join(fx.dir, caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	srv, srvKey, err := loadPair(filepath.Join(fx.dir, serverCertFile), filepath.Join(fx.dir, serverKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := loadCredential(fx.alice)
	if err != nil {
		t.Fatal(err)
	}
	for what, k := range map[string]*rsa.PrivateKey{"CA": caKey, "server": srvKey, "client": cred.cert.PrivateKey.(*rsa.PrivateKey)} {
		if bits := k.N.BitLen(); bits != 4096 {
			t.Errorf("%s key has %d bits, want 4096", what, bits)
		}
	}
	if !ca.IsCA || srv.CheckSignatureFrom(ca) != nil || cred.cert.Leaf.CheckSignatureFrom(ca) != nil {
		t.Fatal("server or client certificate not signed by the CA")
	}
	if cred.ca == nil || !cred.ca.Equal(ca) {
		t.Fatal("credential does not carry the CA")
	}
	if srv.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || cred.cert.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatal("wrong key usages")
	}

	// A second NewServer on the same Dir reuses everything.
	s, err := NewServer(ServerConfig{Dir: fx.dir, AllowedTargets: []string{":9000"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CAFingerprint(); got != Fingerprint(ca.Raw) || !strings.HasPrefix(got, "SHA256:") || len(got) != 7+64 {
		t.Fatalf("CAFingerprint = %q", got)
	}
	if p, err := parseFingerprint(strings.ToLower(s.CAFingerprint())); err != nil || Fingerprint(ca.Raw) != "SHA256:"+strings.ToLower(strings.TrimPrefix(s.CAFingerprint(), "SHA256:")) {
		t.Fatalf("parseFingerprint: %v %x", err, p)
	}
	if name, err := s.auth.verifyClient([]*x509.Certificate{cred.cert.Leaf}); err != nil || name != "alice" {
		t.Fatalf("verifyClient(alice) = %q, %v", name, err)
	}
}

func TestConfigValidate(t *testing.T) {
	okS := ServerConfig{Dir: "d", AllowedTargets: []string{":9000"}}.withDefaults()
	okC := ClientConfig{Server: "h:9443", Credential: "c"}.withDefaults()
	if err := okS.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := okC.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field string
		err   error
	}{
		{"Dir", func() error { c := okS; c.Dir = ""; return c.Validate() }()},
		{"AllowedTargets", func() error { c := okS; c.AllowedTargets = nil; return c.Validate() }()},
		{"AllowedTargets", func() error { c := okS; c.AllowedTargets = []string{"nohost"}; return c.Validate() }()},
		{"CertFile", func() error { c := okS; c.CertFile = "x"; return c.Validate() }()},
		{"CacheBytes", func() error { c := okS; c.CacheBytes = 1; return c.Validate() }()},
		{"Connections", func() error { c := okC; c.Connections = 99; return c.Validate() }()},
		{"Fingerprint", func() error { c := okC; c.Fingerprint = "MD5:00"; return c.Validate() }()},
		{"Server", func() error { c := okC; c.Server = "nohostport"; return c.Validate() }()},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.field) {
			t.Errorf("Validate with bad %s = %v", tc.field, tc.err)
		}
	}
	if got, _ := canonicalTarget("LocalHost:9000"); got != "127.0.0.1:9000" {
		t.Errorf("canonicalTarget = %q", got)
	}
}

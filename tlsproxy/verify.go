package tlsproxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// serverTrust is how a client decides to trust a server certificate.
type serverTrust struct {
	roots    *x509.CertPool // chain must lead here (CAFile, or the credential's CA)
	hostname string         // with roots from CAFile: the name the certificate must carry
	pin      *[32]byte      // SHA-256 of the server certificate or of a CA in its chain
}

func newServerTrust(cfg ClientConfig, cred credential) (serverTrust, error) {
	var t serverTrust
	if cfg.Fingerprint != "" {
		p, err := parseFingerprint(cfg.Fingerprint)
		if err != nil {
			return t, err
		}
		t.pin = &p
	}
	switch {
	case cfg.CAFile != "":
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return t, fmt.Errorf("CA file: %w", err)
		}
		t.roots = x509.NewCertPool()
		if !t.roots.AppendCertsFromPEM(b) {
			return t, fmt.Errorf("CA file %s: no certificate", cfg.CAFile)
		}
		t.hostname = cfg.ServerName
		if t.hostname == "" {
			host, _, err := net.SplitHostPort(cfg.Server)
			if err != nil {
				return t, fmt.Errorf("server %q: %w", cfg.Server, err)
			}
			t.hostname = host
		}
	case t.pin == nil && cred.ca != nil:
		// The CA that issued our credential is the server's own private
		// CA. It signs exactly one server certificate, so no hostname check
		// is needed (and the client may reach the server by any address).
		t.roots = x509.NewCertPool()
		t.roots.AddCert(cred.ca)
	case t.pin == nil:
		return t, errors.New("no way to verify the server: set CAFile or Fingerprint")
	}
	return t, nil
}

// verify is the client's tls.Config.VerifyConnection.
func (t serverTrust) verify(cs tls.ConnectionState) error {
	chain := cs.PeerCertificates
	if len(chain) == 0 {
		return fmt.Errorf("%w: no certificate", ErrUntrustedServer)
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if t.roots != nil {
		opts := x509.VerifyOptions{
			Roots:         t.roots,
			Intermediates: inter,
			DNSName:       t.hostname,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if _, err := leaf.Verify(opts); err != nil {
			return fmt.Errorf("%w: %v", ErrUntrustedServer, err)
		}
	}
	if t.pin != nil {
		if err := t.verifyPin(chain, inter); err != nil {
			return err
		}
	}
	return nil
}

// verifyPin accepts the chain if the pinned fingerprint is the leaf's, or
// a CA's in the chain that really signed the leaf (anyone can send our
// public CA certificate along with their own leaf).
func (t serverTrust) verifyPin(chain []*x509.Certificate, inter *x509.CertPool) error {
	for i, c := range chain {
		sum := sha256.Sum256(c.Raw)
		if !bytes.Equal(sum[:], t.pin[:]) {
			continue
		}
		if i == 0 {
			return nil
		}
		roots := x509.NewCertPool()
		roots.AddCert(c)
		opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := chain[0].Verify(opts); err != nil {
			return fmt.Errorf("%w: pinned CA did not sign the server certificate: %v", ErrUntrustedServer, err)
		}
		return nil
	}
	return fmt.Errorf("%w: fingerprint mismatch: server presented %s", ErrUntrustedServer, Fingerprint(chain[0].Raw))
}

// clientTLS is the client's TLS configuration.
func clientTLS(cred credential, trust serverTrust, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{cred.cert},
		ServerName:         serverName,
		InsecureSkipVerify: true, // verification is trust.verify, below
		VerifyConnection:   trust.verify,
	}
}

// serverTLS is the server's TLS configuration: a client must present a
// credential this server issued.
func serverTLS(cert tls.Certificate, auth *authority) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := auth.verifyClient(cs.PeerCertificates)
			return err
		},
	}
}

// isRemoteAlert reports whether err is a TLS alert sent by the peer: the
// way a server refuses a client certificate.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

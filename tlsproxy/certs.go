package tlsproxy

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// keyBits is the RSA key size of every certificate this package makes.
const keyBits = 4096

// Files in ServerConfig.Dir.
const (
	caCertFile     = "ca.pem"
	caKeyFile      = "ca.key"
	serverCertFile = "server.pem"
	serverKeyFile  = "server.key"
	clientsDir     = "clients" // one NAME.pem per issued credential (certificate only)
)

// ClientCredential is what Server.Issue returns: a client certificate
// signed by the server's CA, its private key, and the CA certificate, as
// one PEM bundle. Whoever holds it can connect as Name; keep it 0600.
type ClientCredential struct {
	Name          string
	Serial        string // hex
	NotAfter      time.Time
	CAFingerprint string // "SHA256:<hex>", also a valid pin for ClientConfig.Fingerprint
	PEM           []byte // CERTIFICATE (client), CERTIFICATE (CA), PRIVATE KEY
}

// WriteFile saves the credential bundle with mode 0600.
func (c ClientCredential) WriteFile(path string) error {
	return writeFileAtomic(path, c.PEM, 0o600)
}

// Fingerprint returns "SHA256:" and the hex SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// parseFingerprint accepts "SHA256:" followed by 64 hex digits, colons
// and case ignored.
func parseFingerprint(s string) ([32]byte, error) {
	var out [32]byte
	rest, ok := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(s)), "SHA256:")
	if !ok {
		return out, fmt.Errorf("fingerprint %q: want SHA256:<64 hex digits>", s)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(rest, ":", ""))
	if err != nil || len(b) != 32 {
		return out, fmt.Errorf("fingerprint %q: want SHA256:<64 hex digits>", s)
	}
	copy(out[:], b)
	return out, nil
}

var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// authority is the CA in ServerConfig.Dir: it signs the server certificate
// and every client credential, and keeps the record of issued credentials.
type authority struct {
	dir  string
	cert *x509.Certificate
	key  *rsa.PrivateKey
	pool *x509.CertPool
}

// openAuthority loads the CA from dir, creating it on first use.
func openAuthority(dir string) (*authority, bool, error) {
	if err := os.MkdirAll(filepath.Join(dir, clientsDir), 0o700); err != nil {
		return nil, false, fmt.Errorf("secure connect dir: %w", err)
	}
	created := false
	cert, key, err := loadPair(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		created = true
		cert, key, err = createCA(dir)
	}
	if err != nil {
		return nil, false, err
	}
	if !cert.IsCA {
		return nil, false, fmt.Errorf("%s is not a CA certificate", filepath.Join(dir, caCertFile))
	}
	a := &authority{dir: dir, cert: cert, key: key, pool: x509.NewCertPool()}
	a.pool.AddCert(cert)
	return a, created, nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func createCA(dir string) (*x509.Certificate, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Cairn"}, CommonName: "Cairn secure connect CA " + serial.Text(16)[:8]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	if err := savePair(dir, caCertFile, caKeyFile, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// savePair writes the key (0600) before the certificate, so a certificate
// file never exists without its key.
func savePair(dir, certName, keyName string, der []byte, key *rsa.PrivateKey) error {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *rsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	certs, keyDER, err := splitPEM(cb)
	if err != nil || len(certs) == 0 {
		return nil, nil, fmt.Errorf("%s: no certificate (%v)", certPath, err)
	}
	_, keyDER, err = splitPEM(kb)
	if err != nil || keyDER == nil {
		return nil, nil, fmt.Errorf("%s: no private key (%v)", keyPath, err)
	}
	key, err := parseRSAKey(keyDER)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(certs[0].PublicKey) {
		return nil, nil, fmt.Errorf("%s does not match %s", keyPath, certPath)
	}
	return certs[0], key, nil
}

func parseRSAKey(der []byte) (*rsa.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, fmt.Errorf("private key is %T, want RSA", k)
	}
	return x509.ParsePKCS1PrivateKey(der)
}

// splitPEM returns the certificates and the (last) private key in b.
func splitPEM(b []byte) ([]*x509.Certificate, []byte, error) {
	var certs []*x509.Certificate
	var key []byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, nil, err
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			key = blk.Bytes
		}
	}
	return certs, key, nil
}

// serverCert loads the server certificate from dir, creating it (signed
// by the CA, for hosts) on first use. The chain includes the CA so a
// client can pin the CA's fingerprint.
func (a *authority) serverCert(hosts []string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(a.dir, serverCertFile), filepath.Join(a.dir, serverKeyFile)
	cert, key, err := loadPair(certPath, keyPath)
	if errors.Is(err, os.ErrNotExist) {
		cert, key, err = a.createServerCert(hosts)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw, a.cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

func (a *authority) createServerCert(hosts []string) (*x509.Certificate, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Cairn"}, CommonName: "Cairn secure connect server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("create server certificate: %w", err)
	}
	if err := savePair(a.dir, serverCertFile, serverKeyFile, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// issue creates a client credential for name. Issuing again for the same
// name replaces (and so revokes) the previous credential.
func (a *authority) issue(name string) (ClientCredential, error) {
	if !clientNameRE.MatchString(name) {
		return ClientCredential{}, fmt.Errorf("client name %q: want 1-64 of [A-Za-z0-9._-]", name)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return ClientCredential{}, fmt.Errorf("generate client key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return ClientCredential{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Cairn"}, CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return ClientCredential{}, fmt.Errorf("create client certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return ClientCredential{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFileAtomic(a.recordPath(name), certPEM, 0o644); err != nil {
		return ClientCredential{}, fmt.Errorf("record credential: %w", err)
	}
	var bundle bytes.Buffer
	bundle.Write(certPEM)
	pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
	pem.Encode(&bundle, &pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return ClientCredential{
		Name:          name,
		Serial:        serial.Text(16),
		NotAfter:      tmpl.NotAfter,
		CAFingerprint: Fingerprint(a.cert.Raw),
		PEM:           bundle.Bytes(),
	}, nil
}

func (a *authority) recordPath(name string) string {
	return filepath.Join(a.dir, clientsDir, name+".pem")
}

// revoke forgets name's credential; its holder is refused from then on.
func (a *authority) revoke(name string) error {
	if !clientNameRE.MatchString(name) {
		return fmt.Errorf("client name %q: invalid", name)
	}
	err := os.Remove(a.recordPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("revoke %s: no credential is issued to %s (revoked already, or never issued): %w", name, name, ErrUnknownClient)
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", name, err)
	}
	return nil
}

// ErrUnknownClient: no credential is on record for the name.
var ErrUnknownClient = errors.New("unknown client")

// verifyClient accepts a client certificate only if this CA signed it for
// client use and it is the credential currently on record for its name.
// The record is read on every handshake, so a credential issued or revoked
// by another process (cairn admin) takes effect at once.
func (a *authority) verifyClient(chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", fmt.Errorf("%w: no certificate", errClientRejected)
	}
	leaf := chain[0]
	opts := x509.VerifyOptions{Roots: a.pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		return "", fmt.Errorf("%w: not issued by this server: %v", errClientRejected, err)
	}
	name := leaf.Subject.CommonName
	if !clientNameRE.MatchString(name) {
		return "", fmt.Errorf("%w: bad client name %q", errClientRejected, name)
	}
	rec, err := os.ReadFile(a.recordPath(name))
	if err != nil {
		return "", fmt.Errorf("%w: client %q has no credential on record (revoked?)", errClientRejected, name)
	}
	certs, _, err := splitPEM(rec)
	if err != nil || len(certs) == 0 || !bytes.Equal(certs[0].Raw, leaf.Raw) {
		return "", fmt.Errorf("%w: client %q presented a replaced or revoked credential", errClientRejected, name)
	}
	return name, nil
}

// onRecord says whether owner (the SHA-256 of a client certificate) is
// still the credential on record for name: false once it is revoked or
// replaced, by this process or another.
func (a *authority) onRecord(name string, owner [32]byte) bool {
	rec, err := os.ReadFile(a.recordPath(name))
	if err != nil {
		return false
	}
	certs, _, err := splitPEM(rec)
	return err == nil && len(certs) > 0 && sha256.Sum256(certs[0].Raw) == owner
}

// credential is a loaded ClientCredential file.
type credential struct {
	cert tls.Certificate
	name string
	ca   *x509.Certificate // the issuing CA, when the bundle carries it
}

func loadCredential(path string) (credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return credential{}, fmt.Errorf("credential: %w", err)
	}
	certs, keyDER, err := splitPEM(b)
	if err != nil {
		return credential{}, fmt.Errorf("credential %s: %w", path, err)
	}
	if len(certs) == 0 || keyDER == nil {
		return credential{}, fmt.Errorf("credential %s: want a certificate and a private key", path)
	}
	key, err := parseRSAKey(keyDER)
	if err != nil {
		return credential{}, fmt.Errorf("credential %s: %w", path, err)
	}
	if !key.PublicKey.Equal(certs[0].PublicKey) {
		return credential{}, fmt.Errorf("credential %s: key does not match certificate", path)
	}
	c := credential{
		cert: tls.Certificate{PrivateKey: key, Leaf: certs[0]},
		name: certs[0].Subject.CommonName,
	}
	for _, x := range certs {
		c.cert.Certificate = append(c.cert.Certificate, x.Raw)
		if x.IsCA && certs[0].CheckSignatureFrom(x) == nil {
			c.ca = x
		}
	}
	return c, nil
}

// writeFileAtomic writes data to path with perm via a temporary file and
// a rename, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

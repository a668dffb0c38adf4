package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// credentials are the root access key and secret.
type credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

const credentialsFile = "credentials.json"

// envCredentials reads CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY; ok is
// false when neither is set, an error when only one is.
func envCredentials() (credentials, bool, error) {
	c := credentials{AccessKey: os.Getenv("CAIRN_ROOT_ACCESS_KEY"), SecretKey: os.Getenv("CAIRN_ROOT_SECRET_KEY")}
	switch {
	case c.AccessKey == "" && c.SecretKey == "":
		return c, false, nil
	case c.AccessKey == "" || c.SecretKey == "":
		return c, false, errors.New("set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY, or neither")
	case len(c.SecretKey) < 8:
		return c, false, errors.New("CAIRN_ROOT_SECRET_KEY is shorter than 8 characters")
	}
	return c, true, nil
}

// loadCredentials reads DATA/credentials.json.
func loadCredentials(dataDir string) (credentials, error) {
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return credentials{}, err
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
		return credentials{}, fmt.Errorf("%s is not a credentials file (want {\"access_key\": ..., \"secret_key\": ...})", path)
	}
	return c, nil
}

// rootCredentials returns the root credentials: from the environment, else
// from DATA/credentials.json, else newly generated and saved there (mode
// 0600). created reports the last case: the caller prints them once.
func rootCredentials(dataDir string) (c credentials, created bool, err error) {
	if c, ok, err := envCredentials(); ok || err != nil {
		return c, false, err
	}
	c, err = loadCredentials(dataDir)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return c, false, err
	}
	c = credentials{AccessKey: "CA" + randomString(18, upperAlnum), SecretKey: randomString(40, secretAlphabet)}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return c, false, err
	}
	if err := writeFileAtomic(filepath.Join(dataDir, credentialsFile), append(b, '\n'), 0o600); err != nil {
		return c, false, fmt.Errorf("save root credentials: %w", err)
	}
	return c, true, nil
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // 32: no modulo bias
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters from alphabet (of 32 or 64 characters,
// so that a byte's low bits pick one without bias).
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// writeFileAtomic writes path through a temporary file and a rename, so a
// crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
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
	if err := os.Rename(f.Name(), path); err != nil {
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

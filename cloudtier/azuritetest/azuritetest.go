// Package azuritetest runs Azurite, the Azure Storage emulator from npm,
// as the real Azure Blob endpoint of tests: on a free loopback port, with
// a container made, stopped when the test ends.
package azuritetest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Azurite's well-known development account.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Bin finds azurite-blob: $AZURITE (scripts/test.sh sets it to its npm
// install), then PATH, then an install in /tmp/azurite.
func Bin() string {
	if b := os.Getenv("AZURITE"); b != "" {
		return b
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p
	}
	if p := "/tmp/azurite/node_modules/.bin/azurite-blob"; fileExists(p) {
		return p
	}
	return ""
}

// Start runs Azurite's blob service with the container, and returns its
// root URL (the account URL is root + "/" + Account). It skips t when
// Azurite is not installed.
func Start(t testing.TB, containerName string) string {
	t.Helper()
	bin := Bin()
	if bin == "" {
		const msg = "Azurite not found: set $AZURITE to azurite-blob, put it on PATH, or run npm install azurite@3 in /tmp/azurite"
		if os.Getenv("CAIRN_REQUIRE_AZURITE") != "" {
			t.Fatal(msg + " (scripts/test.sh installs it)")
		}
		t.Skip(msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--location", t.TempDir(), "--skipApiVersionCheck", "--loose", "--silent")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Azurite: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// Azurite may ignore SIGTERM.
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("Azurite exited: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Azurite does not listen on %s after 30 s", addr)
		}
	}
	root := "http://" + addr
	cred, err := container.NewSharedKeyCredential(Account, Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(root+"/"+Account+"/"+containerName, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(t.Context(), nil); err != nil {
		t.Fatalf("create the container: %v", err)
	}
	return root
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

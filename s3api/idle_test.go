package s3api

import (
	"bufio"
	"bytes"
	"context"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIdleTimeout: a client that stalls mid-upload, or stops reading
// mid-download, has its request ended after IdleTimeout instead of holding
// the server's resources for ever; a slow but moving transfer is not.
func TestIdleTimeout(t *testing.T) {
	watch := &closeWatcher{fakeBackend: newFakeBackend()}
	e := newEnv(t, watch, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	e.fake = watch.fakeBackend
	e.mustBucket("idle")
	big := strings.Repeat("x", 32<<20)
	e.mustPut("idle", "big", big)
	addr := strings.TrimPrefix(e.srv.URL, "http://")

	t.Run("stalled upload", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/idle/stalled", nil)
		req.ContentLength = 1 << 20
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		sign(t, req, testAccessKey, testSecret, testRegion)
		var head bytes.Buffer
		req.Body = io.NopCloser(strings.NewReader(strings.Repeat("y", 1000)))
		req.Write(&head) // writes the headers and the first 1000 bytes, then stops
		if _, err := conn.Write(head.Bytes()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatalf("a stalled upload was stored: %s %s", resp.Status, b)
			}
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Fatalf("the server held a stalled upload for %v", waited)
		}
		if _, _, err := e.fake.GetObject(t.Context(), "idle", "stalled", ""); err == nil {
			t.Fatal("a stalled upload is visible")
		}
	})

	t.Run("reader that stopped", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(4 << 10)
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/idle/big", nil)
		req.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
		sign(t, req, testAccessKey, testSecret, testRegion)
		closed := watch.next()
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		// Read nothing: once the socket buffers fill, the server's writes block.
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("the server still holds the object open 10s after its reader stopped")
		}
	})

	t.Run("slow but moving", func(t *testing.T) {
		out, err := e.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("idle"), Key: aws.String("big")})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		buf := make([]byte, 8<<20)
		var got int
		for {
			n, err := io.ReadFull(out.Body, buf)
			got += n
			if err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond) // slower than the server, never idle for long
		}
		if got != len(big) {
			t.Fatalf("a slow reader got %d of %d bytes", got, len(big))
		}
	})
}

// closeWatcher is the fake backend with a signal when a GetObject reader is
// closed: the server is done with the object.
type closeWatcher struct {
	*fakeBackend
	closed chan struct{}
}

func (c *closeWatcher) next() <-chan struct{} {
	c.closed = make(chan struct{})
	return c.closed
}

func (c *closeWatcher) GetObject(ctx context.Context, bucket, key, versionID string) (ObjectInfo, io.ReadSeekCloser, error) {
	info, rc, err := c.fakeBackend.GetObject(ctx, bucket, key, versionID)
	if err != nil || c.closed == nil {
		return info, rc, err
	}
	done := c.closed
	c.closed = nil // one GET per next()
	return info, &notifyCloser{ReadSeekCloser: rc, done: done}, nil
}

type notifyCloser struct {
	io.ReadSeekCloser
	done chan struct{}
	once sync.Once
}

func (n *notifyCloser) Close() error {
	n.once.Do(func() { close(n.done) })
	return n.ReadSeekCloser.Close()
}

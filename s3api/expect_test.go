package s3api

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestExpectContinueRejectedAtOnce: a request that holds its body back
// behind Expect: 100-continue and is refused (anonymous, no bucket) gets
// its error at once, not after the client gives up waiting, and the
// connection closes, since the body it announced was never read.
func TestExpectContinueRejectedAtOnce(t *testing.T) {
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.IdleTimeout = 30 * time.Second })
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, req := range []string{
		"PUT /bkt/obj HTTP/1.1\r\nHost: " + addr + "\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
		"PUT /nobucket/obj HTTP/1.1\r\nHost: " + addr + "\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=nobody/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer within 5 s to a refused request with Expect: 100-continue: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || !resp.Close {
			t.Fatalf("status %d, close %v; want a 4xx refusal and the connection closed", resp.StatusCode, resp.Close)
		}
		t.Logf("answered %d in %v", resp.StatusCode, time.Since(start).Round(time.Millisecond))
		c.Close()
	}
}

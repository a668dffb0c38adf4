package s3api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
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

// TestTrickleCutOff: a client that keeps a PUT open with a byte now and
// then, never idle long enough for the idle timeout, is cut off with
// RequestTimeout once a window passes below the minimum rate.
func TestTrickleCutOff(t *testing.T) {
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.IdleTimeout, c.MinRate = 300*time.Millisecond, 10<<10 })
	e.mustBucket("bkt")
	req, err := http.NewRequest("PUT", e.srv.URL+"/bkt/slow", &trickle{left: 1 << 20, every: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1 << 20
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signWith(t, req, testAccessKey, testSecret)
	start := time.Now()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the trickling PUT: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "RequestTimeout") {
		t.Fatalf("the trickling PUT: %s %s", resp.Status, body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("cut off only after %v", took)
	}
	t.Logf("cut off after %v: %s", time.Since(start).Round(time.Millisecond), body)
}

// trickle yields one byte every so often.
type trickle struct {
	left  int
	every time.Duration
}

func (tr *trickle) Read(p []byte) (int, error) {
	if tr.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(tr.every)
	p[0] = 'x'
	tr.left--
	return 1, nil
}

// TestRefusedBodySentAnywayIsRead: a client that announced Expect:
// 100-continue but sent its body without waiting (its wait ran out) is
// refused, and reads the refusal: the server reads what it sends rather
// than closing on it (which resets the connection and loses the answer).
// A body refused halfway is read to its end first too.
func TestRefusedBodySentAnywayIsRead(t *testing.T) {
	e := newEnv(t, newFakeBackend(), func(c *Config) { c.IdleTimeout = 30 * time.Second })
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const size = 8 << 20
	for _, expect := range []string{"Expect: 100-continue\r\n", ""} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		head := "PUT /bkt/obj HTTP/1.1\r\nHost: " + addr + "\r\n" + expect + "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n"
		if _, err := c.Write(append([]byte(head), make([]byte, size)...)); err != nil {
			t.Fatalf("%q: sending the body: %v", expect, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: no answer: %v", expect, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "AccessDenied") {
			t.Fatalf("%q: %s %s", expect, resp.Status, body)
		}
		c.Close()
	}
}

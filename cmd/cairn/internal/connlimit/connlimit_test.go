package connlimit

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFloodOfHalfSentRequests: one address opening many connections that
// never finish their request churns through its share; a request from the
// same address that is sent whole is served meanwhile, and the server
// never holds more than its bounds.
func TestFloodOfHalfSentRequests(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, Limits{Total: 100, PerHost: 50, Evict: true})
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
		ReadHeaderTimeout: time.Minute, // the flood is not timed out: the limits must do it
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateActive:
				ln.Active(c)
			case http.StateIdle:
				ln.Idle(c)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := raw.Addr().String()

	var flood []net.Conn
	t.Cleanup(func() {
		for _, c := range flood {
			c.Close()
		}
	})
	for range 500 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // never finished
		flood = append(flood, c)
	}
	time.Sleep(100 * time.Millisecond)
	if total, _ := ln.Open("127.0.0.1"); total > 50 {
		t.Fatalf("%d connections held for one address, bound 50", total)
	}
	if ln.Shed() < 400 {
		t.Fatalf("only %d of the flood shed", ln.Shed())
	}
	// A client that sends its request whole gets an answer.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a whole request during the flood: %v, %v", resp, err)
	}
}

// TestRefuseWithoutEvict: without eviction, connections beyond the bound
// per address are closed at once and the held ones are kept.
func TestRefuseWithoutEvict(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, Limits{PerHost: 3})
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	var clients []net.Conn
	closed := 0
	for range 6 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			closed++ // reset before the dial returned
			continue
		}
		clients = append(clients, c)
	}
	time.Sleep(100 * time.Millisecond)
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if err != nil && !strings.Contains(err.Error(), "timeout") {
			closed++
		}
		c.Close()
	}
	if closed != 3 || ln.Shed() != 3 {
		t.Fatalf("%d closed, %d shed; want 3 of 6 over a bound of 3", closed, ln.Shed())
	}
}

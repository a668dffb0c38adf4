package events

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook that fails its first failures requests (503)
// and then records what it is sent.
type receiver struct {
	mu       sync.Mutex
	failures int
	attempts int
	got      []Event
	arrived  chan struct{} // a send per event taken
}

func newReceiver(t *testing.T, failures int) (*receiver, *httptest.Server) {
	r := &receiver{failures: failures, arrived: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts++
		if r.attempts <= r.failures {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		var e Event
		if err := json.NewDecoder(req.Body).Decode(&e); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		r.got = append(r.got, e)
		r.arrived <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) wait(t *testing.T, n int) []Event {
	t.Helper()
	for range n {
		select {
		case <-r.arrived:
		case <-t.Context().Done():
			t.Fatal("the webhook never got its events")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.got...)
}

// waitCursor waits until l's webhook cursor says seq was delivered.
func waitCursor(t *testing.T, l *Log, seq uint64) {
	t.Helper()
	for {
		var c webhookCursor
		if b, err := os.ReadFile(l.cursorPath()); err == nil && json.Unmarshal(b, &c) == nil && c.Delivered >= seq {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatal("the cursor never reached", seq)
		case <-time.After(time.Millisecond):
		}
	}
}

func webhookOptions(t *testing.T, url string) Options {
	o := testOptions(t)
	o.Webhook = url
	o.WebhookBackoff, o.WebhookMaxBackoff = time.Millisecond, 10*time.Millisecond
	return o
}

// TestWebhookRetries: a receiver that fails the first attempts gets every
// event, once each and in order, after the retries.
func TestWebhookRetries(t *testing.T) {
	r, srv := newReceiver(t, 3)
	l := openLog(t, filepath.Join(t.TempDir(), "events.log"), webhookOptions(t, srv.URL))
	emit(t, l, TierFailing, "cold", "down")
	emit(t, l, CleanerFailed, "default", "failed")
	got := r.wait(t, 2)
	if len(got) != 2 || got[0].Seq != 1 || got[0].Kind != TierFailing || got[1].Seq != 2 {
		t.Fatalf("webhook got %+v", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.attempts != 5 {
		t.Fatalf("%d attempts, want 3 failures and 2 deliveries", r.attempts)
	}
}

// TestWebhookResumesAfterReopen: events emitted while the receiver was
// down, and while no Log had a webhook (cairn stopped, a scrub running),
// reach it after the next Open; what it took before is not sent again.
func TestWebhookResumesAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	r, srv := newReceiver(t, 0)
	l := openLog(t, path, webhookOptions(t, srv.URL))
	emit(t, l, TierFailing, "cold", "first")
	r.wait(t, 1)
	// Delivery is at least once: an event taken but not yet noted in the
	// cursor when the Log closes is sent again. Wait for the note.
	waitCursor(t, l, 1)

	// The receiver goes down (every request fails) and the process stops.
	r.mu.Lock()
	r.failures = 1 << 30
	r.mu.Unlock()
	emit(t, l, TierFailing, "warm", "while down")
	l.Close()
	// An offline writer with no webhook.
	off := openLog(t, path, testOptions(t))
	emit(t, off, ScrubDamage, "default", "while stopped")
	off.Close()

	r.mu.Lock()
	r.failures = 0
	r.mu.Unlock()
	openLog(t, path, webhookOptions(t, srv.URL))
	got := r.wait(t, 2)
	if len(got) != 3 || got[0].Seq != 1 || got[1].Message != "while down" || got[2].Message != "while stopped" {
		t.Fatalf("webhook got %+v", got)
	}
}

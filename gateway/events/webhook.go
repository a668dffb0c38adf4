package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"
)

// webhookCursor is what the sender keeps in events.log.webhook: which
// receiver, and the last Seq it took.
type webhookCursor struct {
	URL       string `json:"url"`
	Delivered uint64 `json:"delivered"`
}

// webhookBatch bounds the events read from the log per round: memory
// stays bounded however long the receiver was down.
const webhookBatch = 100

// webhookTimeout bounds one delivery attempt.
const webhookTimeout = 10 * time.Second

func (l *Log) cursorPath() string { return l.path + ".webhook" }

// loadCursor reads the cursor. A new URL starts at the log's end: a new
// receiver gets the events from now on, not the whole history.
func (l *Log) loadCursor() (webhookCursor, error) {
	var c webhookCursor
	b, err := os.ReadFile(l.cursorPath())
	if err == nil && json.Unmarshal(b, &c) == nil && c.URL == l.opts.Webhook {
		// A log removed by hand starts its Seqs again from 1: a cursor
		// beyond its end would hold every new event back.
		last, err := l.LastSeq()
		if err != nil {
			return c, err
		}
		c.Delivered = min(c.Delivered, last)
		return c, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("events: webhook cursor: %w", err)
	}
	last, err := l.LastSeq()
	if err != nil {
		return c, err
	}
	c = webhookCursor{URL: l.opts.Webhook, Delivered: last}
	return c, l.saveCursor(c)
}

// saveCursor replaces the cursor file atomically and durably.
func (l *Log) saveCursor(c webhookCursor) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := l.cursorPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("events: webhook cursor: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, l.cursorPath())
	}
	if err != nil {
		return fmt.Errorf("events: webhook cursor: %w", err)
	}
	return nil
}

// deliver sends every event after the cursor to the webhook, in order,
// until ctx ends. It never holds more than webhookBatch events.
func (l *Log) deliver(ctx context.Context, cur webhookCursor) {
	client := &http.Client{Timeout: webhookTimeout}
	backoff := l.newBackoff()
	for {
		if err := l.Wait(ctx, cur.Delivered); err != nil {
			if ctx.Err() == nil {
				l.log.Error("events: webhook", "err", err)
				backoff.sleep(ctx)
				continue
			}
			return
		}
		batch, err := l.Since(cur.Delivered, webhookBatch)
		if err != nil {
			l.log.Error("events: webhook", "err", err)
			if !backoff.sleep(ctx) {
				return
			}
			continue
		}
		if len(batch) == 0 {
			// Rotation dropped events older than the first kept: skip
			// to what the log still has.
			last, err := l.LastSeq()
			if err == nil && last > cur.Delivered {
				cur.Delivered = last
			}
			continue
		}
		for _, e := range batch {
			if !l.post(ctx, client, e) {
				return
			}
			cur.Delivered = e.Seq
			if err := l.saveCursor(cur); err != nil {
				// The event may be sent again after a restart: at
				// least once.
				l.log.Error("events: webhook", "err", err)
			}
		}
	}
}

// post delivers one event, retrying with backoff until the receiver takes
// it (a 2xx), refuses it for good (a 4xx other than 408 and 429), or
// Options.WebhookRetries is spent; those last two are logged and skipped.
// It returns false only when ctx ended.
func (l *Log) post(ctx context.Context, client *http.Client, e Event) bool {
	body, err := json.Marshal(e)
	if err != nil {
		l.log.Error("events: webhook: encode", "seq", e.Seq, "err", err)
		return true
	}
	backoff := l.newBackoff()
	for attempt := 1; ; attempt++ {
		status, err := l.send(ctx, client, body)
		switch {
		case err == nil && status/100 == 2:
			if attempt > 1 {
				l.log.Info("events: webhook delivered after retries", "seq", e.Seq, "attempts", attempt)
			}
			return true
		case ctx.Err() != nil:
			return false
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			l.log.Error("events: webhook refused the event; skipped", "seq", e.Seq, "status", status)
			return true
		case l.opts.WebhookRetries > 0 && attempt > l.opts.WebhookRetries:
			l.log.Error("events: webhook failed; event skipped", "seq", e.Seq, "attempts", attempt, "status", status, "err", err)
			return true
		}
		if attempt == 1 {
			l.log.Warn("events: webhook failed; retrying", "seq", e.Seq, "status", status, "err", err)
		}
		if !backoff.sleep(ctx) {
			return false
		}
	}
}

func (l *Log) send(ctx context.Context, client *http.Client, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.opts.Webhook, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cairn-events")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// backoff is an exponential backoff with jitter.
type backoff struct{ next, max time.Duration }

func (l *Log) newBackoff() *backoff {
	return &backoff{next: l.opts.WebhookBackoff, max: l.opts.WebhookMaxBackoff}
}

// sleep waits the next delay (between half and all of it, so that many
// senders do not retry in step) and reports whether ctx is still live.
func (b *backoff) sleep(ctx context.Context) bool {
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

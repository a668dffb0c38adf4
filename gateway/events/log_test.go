package events

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testOptions(t *testing.T) Options {
	o := DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	return o
}

func openLog(t *testing.T, path string, o Options) *Log {
	t.Helper()
	l, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func emit(t *testing.T, l *Log, kind, subject, msg string) Event {
	t.Helper()
	e, written, err := l.Emit(kind, subject, msg)
	if err != nil || !written {
		t.Fatalf("Emit(%s, %s): written %v, %v", kind, subject, written, err)
	}
	return e
}

func since(t *testing.T, l *Log, after uint64) []Event {
	t.Helper()
	evs, err := l.Since(after, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestEventsSurviveReopen: events read back in order after a reopen, and
// Seqs go on from the last.
func TestEventsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	l := openLog(t, path, testOptions(t))
	emit(t, l, CleanerFailed, "default", "the cleaner failed: disk error")
	emit(t, l, TierFailing, "cold", "upload failed:\nconnection refused") // a newline in a message
	l.Close()

	l = openLog(t, path, testOptions(t))
	evs := since(t, l, 0)
	if len(evs) != 2 || evs[0].Seq != 1 || evs[1].Seq != 2 || evs[1].Kind != TierFailing || evs[1].Message != "upload failed:\nconnection refused" {
		t.Fatalf("after reopen: %+v", evs)
	}
	if e := emit(t, l, ScrubDamage, "default", "damage"); e.Seq != 3 {
		t.Fatalf("seq after reopen: %d", e.Seq)
	}
	if evs, _ := l.Since(1, 1); len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("Since(1, 1): %+v", evs)
	}
}

// TestTornTailDropped: a record cut short by a crash, and a line damaged
// in the middle, are dropped; the next append starts a whole line.
func TestTornTailDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	l := openLog(t, path, testOptions(t))
	emit(t, l, CleanerFailed, "a", "one")
	emit(t, l, CleanerFailed, "b", "two")
	emit(t, l, CleanerFailed, "c", "three")
	l.Close()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	damaged := strings.Replace(lines[1], "two", "twx", 1) // a flipped byte
	torn := lines[2][:len(lines[2])/2]                    // a crash mid-append
	if err := os.WriteFile(path, []byte(lines[0]+damaged+torn), 0o644); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, path, testOptions(t))
	if evs := since(t, l, 0); len(evs) != 1 || evs[0].Message != "one" {
		t.Fatalf("after the damage: %+v", evs)
	}
	e := emit(t, l, CleanerFailed, "d", "four")
	if e.Seq != 2 {
		t.Fatalf("seq after a torn tail: %d (want 2: seq 2's record is gone)", e.Seq)
	}
	if evs := since(t, l, 0); len(evs) != 2 || evs[1].Message != "four" {
		t.Fatalf("after appending past the torn tail: %+v", evs)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), torn) {
		t.Fatalf("the torn tail is still in the file:\n%s", b)
	}
}

// TestRotationKeepsNewest: the file never holds more than 2×Max records,
// rotation keeps the newest, and Seqs go on across it and a reopen.
func TestRotationKeepsNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	o := testOptions(t)
	o.Max = 5
	o.Repeat = -1
	l := openLog(t, path, o)
	for i := range 23 {
		emit(t, l, DiskNearlyFull, "default", fmt.Sprint(i+1))
		if evs := since(t, l, 0); len(evs) > 2*o.Max {
			t.Fatalf("%d records after %d events", len(evs), i+1)
		}
	}
	evs := since(t, l, 0)
	if len(evs) < o.Max || evs[len(evs)-1].Seq != 23 {
		t.Fatalf("after rotations: %d events, last %+v", len(evs), evs[len(evs)-1])
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("a gap in the kept events: %+v", evs)
		}
	}
	l.Close()
	l = openLog(t, path, o)
	if e := emit(t, l, DiskNearlyFull, "default", "after"); e.Seq != 24 {
		t.Fatalf("seq after rotation and reopen: %d", e.Seq)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("rotation left its temporary file: %v", err)
	}
}

// TestRepeatSuppressed: the same kind and subject are written once within
// Repeat; another subject or kind is not held back.
func TestRepeatSuppressed(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "events.log"), testOptions(t))
	emit(t, l, QuotaReached, "default", "at 100%")
	if _, written, err := l.Emit(QuotaReached, "default", "at 100% again"); err != nil || written {
		t.Fatalf("a repeat: written %v, %v", written, err)
	}
	emit(t, l, QuotaReached, "fast", "at 100%")
	emit(t, l, DiskNearlyFull, "default", "95% used")
	if evs := since(t, l, 0); len(evs) != 3 {
		t.Fatalf("want 3 events, got %+v", evs)
	}
}

// TestTwoWritersShareTheLog: two Logs on one file (as cairn serve and an
// offline scrub would be, each with its own file description, so flock
// excludes them) append concurrently: every event is kept whole, with
// distinct Seqs.
func TestTwoWritersShareTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	o := testOptions(t)
	o.Repeat = -1
	a, b := openLog(t, path, o), openLog(t, path, o)
	const each = 50
	var wg sync.WaitGroup
	for _, w := range []struct {
		l    *Log
		name string
	}{{a, "a"}, {b, "b"}} {
		wg.Go(func() {
			for i := range each {
				if _, _, err := w.l.Emit(ScrubDamage, w.name, fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	evs := since(t, a, 0)
	if len(evs) != 2*each {
		t.Fatalf("%d events, want %d", len(evs), 2*each)
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: %+v", i, e.Seq, evs)
		}
	}
}

// TestWaitWakes: Wait returns for an event of this Log and for one another
// Log (another process) appended, and with ctx's error when it ends first.
func TestWaitWakes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	a := openLog(t, path, testOptions(t))
	b := openLog(t, path, testOptions(t))

	for _, writer := range []*Log{a, b} {
		last, err := a.LastSeq()
		if err != nil {
			t.Fatal(err)
		}
		woke := make(chan error, 1)
		go func() { woke <- a.Wait(t.Context(), last) }()
		emit(t, writer, TierFailing, fmt.Sprintf("%p", writer), "down")
		if err := <-woke; err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	last, _ := a.LastSeq()
	if err := a.Wait(ctx, last); err != context.Canceled {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
	if err := a.Wait(ctx, last-1); err != nil {
		t.Fatalf("Wait for an event that exists: %v", err)
	}
}

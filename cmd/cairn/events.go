package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/gateway"
	"github.com/cairn-backup/cairn/gateway/events"
)

const eventsUsage = `Usage:
  cairn admin events [--follow] [--after SEQ] [--last N] [--json] [--data DIR] [--endpoint URL]

Prints the server's events, oldest first, one a line: time, seq, kind,
subject, message. Kinds: quota_reached, cleaner_failed, disk_nearly_full,
scrub_damage, replication_incompatible, tier_failing. --follow then waits
for new ones until interrupted, and rides out a restart of the server.
`

// eventsPage bounds one admin call's events.
const eventsPage = 1000

// eventsPoll is how long one --follow call waits on the server, and
// eventsRetry how long it waits before calling a server that was down.
const (
	eventsPoll  = 30 * time.Second
	eventsRetry = 2 * time.Second
)

func adminEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, fs := adminFlags("cairn admin events", stderr)
	setUsage(fs, eventsUsage)
	fs.Lookup("json").Usage = "print each event as a JSON object, one a line"
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	after := fs.Uint64("after", 0, "only the events after this seq")
	last := fs.Int("last", 0, "only the last N events (0: all the server keeps)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	printEvent := func(e events.Event) error {
		if o.json {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s  #%d  %s  %s  %s\n", e.Time.Local().Format(time.RFC3339), e.Seq, e.Kind, e.Subject,
			strings.ReplaceAll(e.Message, "\n", " "))
		return err
	}

	// What the server has now, a page at a time.
	cursor := *after
	var tail []events.Event
	for {
		evs, err := fetchEvents(ctx, o, cursor, 0)
		if err != nil {
			if !*follow {
				return err
			}
			break // follow's loop retries
		}
		for _, e := range evs {
			if *last > 0 {
				tail = append(tail, e)
				if len(tail) > *last {
					tail = tail[1:]
				}
			} else if err := printEvent(e); err != nil {
				return err
			}
			cursor = e.Seq
		}
		if len(evs) < eventsPage {
			break
		}
	}
	for _, e := range tail {
		if err := printEvent(e); err != nil {
			return err
		}
	}
	if !*follow {
		return nil
	}

	down := false
	for {
		evs, err := fetchEvents(ctx, o, cursor, eventsPoll)
		if ctx.Err() != nil {
			return nil // interrupted: following ends there
		}
		if err != nil {
			if !down {
				fmt.Fprintf(stderr, "cairn admin events: %v; retrying every %v\n", err, eventsRetry)
				down = true
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(eventsRetry):
			}
			continue
		}
		if down {
			fmt.Fprintln(stderr, "cairn admin events: the server answers again; following")
			down = false
		}
		for _, e := range evs {
			if err := printEvent(e); err != nil {
				return err
			}
			cursor = e.Seq
		}
	}
}

// fetchEvents asks the server for a page of events after the seq after,
// waiting up to wait for one when there is none.
func fetchEvents(ctx context.Context, o *adminOptions, after uint64, wait time.Duration) ([]events.Event, error) {
	path := fmt.Sprintf("%s?after=%d&limit=%d", gateway.AdminEventsPath, after, eventsPage)
	if wait > 0 {
		path += "&wait=" + wait.String()
	}
	body, err := o.call(ctx, http.MethodGet, path)
	if err != nil {
		return nil, err
	}
	var page gateway.EventsPage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return page.Events, nil
}

// emitEvent writes an event to the data directory's log from a command
// that runs with the server stopped (scrub). A failure is reported, not
// returned: the command's own result matters more.
func emitEvent(data, kind, subject, message string, stderr io.Writer) {
	l, err := gateway.OpenEvents(data, events.DefaultOptions())
	if err == nil {
		_, _, err = l.Emit(kind, subject, message)
		err = errors.Join(err, l.Close())
	}
	if err != nil {
		fmt.Fprintf(stderr, "cairn: the event %s %s was not recorded: %v\n", kind, subject, err)
	}
}

// Package events keeps the operator's event log: the few things an admin
// must hear about (a quota reached, a cleaner run that failed, a disk nearly
// full, damage a scrub found, an incompatible replication peer, a tier
// target failing), durable in the data directory, bounded, readable after a
// restart, and optionally delivered to a webhook.
//
// # Nouns
//
//   - Event: one thing that happened, numbered by Seq. Seqs only grow: across
//     restarts, rotation and processes.
//   - Record: an event on disk, one line: the CRC32C of the JSON (8 hex
//     digits), a space, the JSON, a newline (record.go). A line without its
//     newline is a torn tail; a line whose CRC does not match is dropped.
//     The log stays readable with tail and grep.
//   - Log: the file (DATA/events.log) and its lock file (events.log.lock).
//     Every append and every rotation holds an exclusive flock on the lock
//     file, so `cairn serve` and an offline `cairn admin scrub` may both
//     append. Appends are O_APPEND and fsynced before Emit returns.
//   - Rotation: when the file holds more than 2×Options.Max records, the
//     newest Max are written to a new file that replaces the old one by
//     rename: a crash leaves one or the other, whole.
//   - Webhook cursor: the last Seq a webhook received
//     (events.log.webhook). The sender reads what is pending from the log,
//     never from a queue in memory, so events emitted while the receiver
//     was down, or while cairn was stopped, reach it once it is back.
//
// # Promises
//
//   - Emit returns after the record is on disk (TestEventsSurviveReopen).
//   - A torn tail is dropped, never breaks the log, and the next append
//     follows the last whole record (TestTornTailDropped, FuzzDecodeRecord).
//   - At most 2×Max records are kept, the newest (TestRotationKeepsNewest).
//   - Two processes appending get distinct, increasing Seqs
//     (TestTwoWritersShareTheLog).
//   - The same Kind and Subject within Options.Repeat is written once
//     (TestRepeatSuppressed).
//   - The webhook gets every event, in order, retrying with backoff, and
//     resumes after a reopen (TestWebhookRetries, TestWebhookResumesAfterReopen).
//     At least once: an event taken just before a Close, not yet in the
//     cursor, is sent again after the next Open.
package events

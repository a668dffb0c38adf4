// Package conformance is the evidence that Cairn behaves like S3 for real
// tools. It holds only tests: they talk to a server over HTTP and import
// nothing of Cairn's.
//
// By default TestMain builds ../cmd/cairn, starts `cairn serve` on a loopback
// port with a temporary data directory, runs every test against it and stops
// it. With CAIRN_CONFORMANCE_ENDPOINT (and _ACCESS_KEY, _SECRET_KEY, _REGION)
// set, the same tests run against that endpoint instead; tests of Cairn-only
// features (dedup, the cleaner, `cairn admin`) and of Cairn's documented
// limitations skip there, saying why.
//
// Nouns used across the files:
//
//   - target: the server under test (endpoint, credentials, and whether it is
//     a Cairn this package started).
//   - scenario: one real client (aws CLI, rclone, restic) driven through a
//     sequence of steps; any failing step fails the test with the tool's output.
//   - seeded data: deterministic pseudo-random bytes generated from a seed, so
//     that large payloads are streamed and compared without being held in memory.
//
// See README.md for how to run the suite and what it covers.
package conformance

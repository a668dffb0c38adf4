//go:build race

package replicator

// raceEnabled shrinks test data under -race, which slows hashing and
// compression several times over on two shared cores.
const raceEnabled = true

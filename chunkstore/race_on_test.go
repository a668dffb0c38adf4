//go:build race

package chunkstore

// raceEnabled: the race detector is on. It makes sync.Pool drop a quarter
// of what is put back, on purpose, so buffers that libraries pool (S2's
// hash tables, BLAKE3's hashers) are made again at the rate of chunks.
const raceEnabled = true

// Package bench is the engine of `cairn bench`: it makes backup-like
// datasets and measures any S3 endpoint on backup workloads with
// aws-sdk-go-v2. Nothing in it is Cairn-specific except the optional
// stored-bytes figures read from Cairn's admin API.
//
// Its nouns:
//
//   - Dataset: a directory that Gen writes from a seed: generations of a
//     file tree (documents, source code, logs, executables, media,
//     database files, disk images), each as a tar stream (genK.tar) and as
//     a directory tree (tree/genK/), with SHA-256 sums and a manifest.
//     Generation 1 is opts.Size bytes; each further one edits a few percent
//     of the files, adds some and removes some, as a nightly backup of a
//     live server sees it. The same seed gives the same bytes.
//
//   - Workload: what Run measures. put writes unique objects on N streams
//     for a duration or a byte count (multipart above a threshold, with the
//     SDK's transfer manager); get reads them back, whole and by random
//     ranges, and checks every byte; small does PUT, GET, HEAD, LIST and
//     DELETE on many small objects; generations uploads a dataset's
//     generations as full backup images and as trees of files and reports
//     the server's stored bytes after each (after running its cleaner,
//     when the stats source can: what the server keeps, Cairn's zstd-later
//     recompression done, not what it wrote first).
//
//   - Stream: one worker issuing one operation at a time. An object's data
//     is generated as it is sent and checked as it is read, so a stream
//     holds at most a part in memory.
//
//   - Phase: one measured step of a workload (put, get, get-range,
//     small-put, …, image-genK, tree-genK): operations, errors, bytes,
//     wall time, MB/s (10^6 bytes), ops/s and latency percentiles (p50, p99,
//     p999, per whole operation).
//
//   - Report: every phase of a Run with its parameters, as a table for a
//     person (WriteTable) and as JSON (WriteJSON, LoadReport). Compare sets
//     two reports side by side with ratios.
//
//   - StatsSource: where stored bytes come from: CairnStats (the admin API,
//     GET /_cairn/admin/stats signed with SigV4), DirStats (the sizes of
//     the files in a server's data directory), or any StatsFunc.
//
// Errors are counted, never hidden: the client does not retry, every failed
// or wrong operation counts in its phase with a sample of its error, and
// Run returns an error wrapping ErrFailed when any did. The client signs
// payloads as the SDK does by default (on plain http, a SHA-256 of each
// request body), so client CPU is part of what is measured, as with any
// SDK-based backup tool.
package bench

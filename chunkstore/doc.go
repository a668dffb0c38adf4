// Package chunkstore turns streams of bytes into durable, deduplicated
// manifests and back. It is the heart of Cairn: every object body is a
// manifest in the chunk store of its bucket's storage group.
//
// # Nouns
//
//   - Chunk: a run of bytes cut at a content-defined boundary (FastCDC gear
//     hash with normalized chunking), named by its ChunkID, the 256-bit
//     BLAKE3 hash of its plaintext (keyed, for a sealed chunk). Identical
//     bytes give identical chunks at any offset in any stream, so a chunk is
//     stored once per store (per sealing domain).
//   - SealKey: the key of a sealing domain (see Sealed records below).
//   - Record: one chunk as stored, self-describing (magic, codec, sealed
//     flag, lengths, chunk ID, CRC32C), so a container file can be verified and the index
//     rebuilt from it alone. The same bytes travel unchanged to a tier's
//     packs and between Cairns (Record, ReadRecord, PutRecords): nothing is
//     recompressed on the way, and every receiver verifies them.
//   - Container file: an append-only file of records (containers/*.ctr).
//     Each write stream appends to its own, up to the stream limit; beyond
//     it streams share (see Streams below). Sealed at Config.ContainerSize;
//     only the cleaner removes one, whole, after copying its live records
//     forward.
//   - Pack: a remote object of a tier holding records (AddPack). A chunk
//     has a local copy, copies in packs, or both; manifests name chunks,
//     never places, so copies come and go without rewriting them.
//   - Index: chunk ID -> locations and reference counts, in bbolt (index.db),
//     with the reverse rows of containers and packs, a row per container
//     and per pack (size, live bytes), manifests, counters, and the caller's
//     namespace (index.go lists the buckets).
//   - Manifest: an object's ordered chunk list, stored as segments of at most
//     1024 entries keyed by (manifest ID, logical offset): a 1 TiB object is
//     never in memory whole, and a Range read seeks to its first segment.
//     Entries enumerates one, a segment at a time.
//   - Writer / Reader: one stream in, one stream out. Clone and Concat make
//     manifests that share chunks without reading data (CopyObject,
//     multipart completion); CommitEntries and Import make them from chunk
//     IDs (replication, seeding, recalls from a tier).
//   - References: a chunk counts the manifest entries (and import holds)
//     that name it, and apart the ones that need its local copy: all but
//     those of moved manifests (Move). So "move" can give up a chunk's local
//     copy exactly when every manifest naming it has moved and a tier holds
//     it, while copies of the same data still written locally keep theirs.
//   - Lease: a Reader's (or an enumeration's) hold on its manifest. Releasing
//     a manifest makes it invisible at once; its references are dropped by
//     the drainer once the last lease is gone (release.go).
//   - Tx: a transaction opened to the caller, with its own bbolt namespace:
//     what the caller records about a manifest (the gateway: an object
//     version) commits in the transaction that commits the manifest
//     (Writer.CommitWith, ConcatWith, Import.Commit), and a release happens
//     in the transaction that drops the last record naming it.
//   - Cleaner: reclaims unreferenced chunks, and local copies only moved
//     manifests reference, by compacting container files whose dead
//     fraction reaches Config.CompactThreshold.
//   - Scrub: verifies every record, the index against the files and packs'
//     rows, manifests against the index and every count; Repair rebuilds
//     the index from the container files and the packs' reverse rows.
//
// # Promises
//
// Commit returns only after the new records are fsynced and the one bbolt
// transaction that references them, commits the manifest and runs the
// caller's CommitFunc has committed: one durable commit per write, so a
// crash can never leave a manifest without the record that names it or a
// record without its manifest. Concurrent commits (writers' index
// transactions, Batch, the drainer) share one bbolt commit and its fsync
// (group commit, commit.go): each still returns only once that commit is
// durable, and one that fails is rolled back alone, the others rerun
// without it, so a grouped function (a CommitFunc too) may run more than
// once (TestGroupCommitFailureIsolated, TestGroupCommitRace). A crash at any moment leaves committed
// manifests whole; at Open, container tails beyond the committed length are
// cut off, container files no commit reached are removed, and the manifests
// the pending bucket lists (writes and imports that never committed,
// releases and moves under way, holds to drop) are rolled back or finished
// in the background. Open reads the container rows and the pending bucket,
// never every manifest or chunk: its time does not grow with what the
// store holds (1 million objects: 0.3 ms, from 6.5 s before; see below).
// TestCrashWriters, TestCrashCleaner and the chunk API's crash tests kill
// a child process with SIGKILL at random moments and check all of it.
//
// A reader checks every chunk against its ID, from whichever copy it
// reads, and fails with ErrCorrupt rather than return a wrong byte; a copy
// that fails (a tier down, too slow, or returning wrong bytes) is skipped
// for the next, and when none is left the error names each. Writers,
// readers, imports, moves, releases and the cleaner run concurrently: a gate
// orders dedup against the cleaner so that a chunk a writer decided to
// reuse cannot be dropped before its reference lands, and leases keep a
// released manifest's chunks until its last reader closes
// (TestConcurrentWritersCleanerDeletes and the chunk API's race test, under
// -race). Records from elsewhere are verified before anything is indexed;
// Need and Append hold what they report present, so Missing-then-send is
// exact: a chunk is never reported present and then gone. A full disk
// fails the write that hit it with ENOSPC and nothing else: a reserve file
// keeps room for deletes and the cleaner (TestDiskFull, on a real 12 MiB
// tmpfs).
//
// Memory per write stream is bounded, whatever the object's size: at most
// three batches in flight (one filling, one being prepared, one being
// stored; two, filling and prepared-then-stored, for a stream that starts
// while more than two write: pipelinedStreams), each its input
// (Config.BatchBytes + MaxChunk) and the records of its new chunks. A chunk
// stored raw is not copied into a record: its header is, and the container
// append takes header and chunk from their own buffers (staged.go). So
// incompressible unique data (encrypted backups) and duplicate data cost
// about 24.2 MiB a stream at the defaults, and compressible unique data at
// most 40 MiB (a compressed payload is under 31/32 of its chunk, for two
// batches). Buffers start at 64 KiB and grow only for a stream that keeps
// writing, so a small object costs little; full-size batches are recycled
// (batchpool.go), up to four kept idle for 30 s, so a warm writer
// allocates next to nothing per byte (TestWriterAllocationsDoNotScale:
// 12.0 MiB allocated for a 48 MiB object, mostly index pages, against 259
// MiB before), and their input buffers live off the Go heap (bufmem.go),
// so the collector's headroom (about as much again as the live heap) does
// not double them. Measured through the whole binary with four 64 MiB
// PUTs at once (s3load put, 4 streams), the server's peak RSS went from
// 595-620 MB to 262-280 MB with recycled batches, to 191-233 MB once
// streams past the second ran two batches, and to 129-148 MB off the heap.
//
// A stream whose new chunks do not compress (a batch saving under 1/64)
// stops offering every chunk to its compressor: only one in sixteen,
// until that sample saves again (TestIncompressibleStreamSamples), which
// spares a core's worth of compression on encrypted backups.
// A reader holds one segment (36 KiB), one chunk and, reading from a tier,
// one span of records (Config.RemoteReadahead, 4 MiB).
//
// # Quota
//
// Config.Quota (SetQuota while running) bounds the store's physical
// bytes: the blocks its container files and index occupy (quota.go).
// Writers and imports reserve each batch of records before appending it
// and fail with a *QuotaError (errors.Is ErrQuotaExceeded) past the quota,
// so a write crossing it fails whole; concurrent writers can overshoot by
// at most one batch each. AtQuota says a store is within a batch of its
// quota, for callers that refuse writes before they read a byte. The use
// is measured at most every two seconds plus what was admitted since, and
// again after each clean, so space the cleaner frees is seen at once
// (TestQuotaRefusesWholeAndResumesAfterClean, TestQuotaConcurrentWritersCrossing).
//
// # Streams
//
// A stream is one write in progress: a Writer from its first byte, or an
// Import, until it commits or aborts. The stream limit (Config.MaxStreams,
// changed at run time by SetMaxStreams; the gateway's --streams N per
// storage group) is how many streams may append to container files of
// their own at once. A stream takes its container when it first has a new
// chunk to store and keeps it until it commits or the file reaches
// Config.ContainerSize, when it moves to another. Within the limit, then,
// the chunks a backup stores land in one back-to-back run per container
// file, written by no one else meanwhile, and restoring it reads each file
// sequentially (TestStreamsWithinLimitOwnRuns checks the runs record by
// record). A write that is one batch from start to end (a small object)
// takes no stream container: small writes share one, whose records are
// contiguous per object anyway, and whose fsyncs they share (a write an
// fsync in progress already covers waits for it instead of running its
// own; TestSmallWritesShareAContainer, TestSyncToCoversLaterCallers).
//
// Past the limit a write never fails or waits: the new stream appends to
// the busy container with the fewest streams, and Stats.StreamOverflows
// counts it. The cost comes at restore time: the shared file holds the
// streams' batches interleaved (a batch, Config.BatchBytes of input, stays
// contiguous), so reading one stream back skips over the other's records,
// and a disk seeks where it would have read on (TestStreamsOverLimitShare).
// Duplicate chunks are unaffected: they are found in the index wherever they
// lie. Stats.ActiveStreams and Stats.MaxStreams say how close a store runs
// to the limit. The limit costs an open file handle per container, and
// nothing else: each stream's memory is its batches (above), whatever the
// limit. Lowering it fails nothing in flight: streams keep the containers
// they hold, new streams see the new limit, and containers beyond it are
// sealed once idle.
//
// # Sealed records (encryption at rest)
//
// A Writer given a SealKey (Writer.Seal; seal.go) writes its stream into
// the key's sealing domain: each chunk is named by BLAKE3 keyed with a key
// derived from the SealKey (not the plain BLAKE3 of its bytes), and its
// record holds the compressed chunk sealed with sio (DARE 2.0, AES-256-GCM)
// under a key derived from the SealKey and the chunk ID, so that no two
// chunks share a key. Byte 5 of the record header, reserved (zero) before,
// flags a sealed record: every record written before reads as it did, and
// code from before refuses a sealed record as corrupt rather than return
// ciphertext. A Reader opens a sealed manifest once given the same key
// (Reader.Unseal); without it, or with another, a read fails with
// ErrSealed, and a key given for plain records fails with ErrCorrupt: a
// plain record is never passed off as a sealed one. The store never keeps
// a SealKey: the caller (the gateway) does, wrapped, or never at rest.
//
// The dedup domain is the key: equal plaintext under one SealKey dedups
// (one record, however many manifests); nothing links it to the plain
// chunk of the same bytes or to another key's, since the IDs differ and
// each is as good as random to whoever lacks the key. The index, the
// reference counts, Clone/Concat, the cleaner, quotas and moves work on
// chunk IDs and records as stored and are unchanged. Without the key, the
// cleaner, scrub and records as stored (ReadRecord, PutRecords: tiers,
// replication, seeding) check a sealed record's header and CRC only: scrub
// catches torn or bit-rotted records, not a record that is whole but was
// sealed under another key or swapped for another sealed record; a reader
// with the key catches those (authenticated decryption, then the keyed
// hash). TestSealedRoundTrip, TestSealedDedupDomains,
// TestSealedNotOnDiskInClear, TestSealedRecordHeader, TestSealedCleanAndScrub,
// FuzzSealedRecord.
//
// What a sealed record still says in the clear: the codec, the plaintext
// and sealed lengths, and the keyed chunk ID; so whoever holds the disk
// learns chunk counts and sizes, and which chunks repeat within a domain
// (the same ID), never which chunks of two domains hold the same bytes.
//
// Cost, go test -run '^$' -bench 'BenchmarkSealed$' -benchtime 3x -count 3
// ./chunkstore/ (64 MiB, one stream, half random, half text; the shared
// 2-core machine with others' builds running: each figure is the median of
// the three runs, the range in brackets):
//
//	                          plain                  sealed
//	ingest, unique data       164 (115-273) MB/s     118 (86-124) MB/s
//	ingest, duplicate data    586 (203-688) MB/s     284 (260-565) MB/s
//	read back, verified       449 (426-480) MB/s     380 (359-405) MB/s
//
// and per 16 KiB chunk, one core (BenchmarkSealChunk): keyed BLAKE3
// 643-840 MB/s (plain 903), seal 341-427 MB/s, open 402-743 MB/s. (Since
// BLAKE3 became lukechampine.com/blake3 with pooled keyed hashers: keyed
// 6.9 GB/s, plain 7.0, seal 540-570 MB/s, open 3.8 GB/s.) Sealing
// adds one AES-GCM pass each way and a keyed hash for a plain one: reads
// lose about 15%, unique ingest about a quarter (zstd stays the larger
// cost). sio allocates its package buffers per call (86-114 KB per 16 KiB
// chunk, most of the write path's extra): the next thing to remove if
// sealing shows in a profile.
//
// # Format
//
// The database says its format (meta/format). Format 2 (this code) added
// remote copies, local reference counts, packs, holds, the pending bucket
// and the caller's namespace, and writes index entries as varints. A store
// of format 1 is upgraded when it opens, in the transaction that opens it:
// its entries, headers and counters are read as they are and rewritten in
// format 2 when they next change, so the upgrade walks only the manifest
// headers, once, to fill the pending bucket (TestUpgradeFromFormat1 opens a
// store the format 1 code wrote).
//
// # Choices, by measurement
//
// Chunk size and codec were chosen on the reference data set (five
// generations of the Go 1.26.8 tree with small edits, 1.32 GB; restic 0.14
// stores 262 MB for it, the target is at most 0.7x = 183 MB), everything in
// the store's directory counted:
//
//	avg   codec  stored   index   on disk  unique/logical  ingest
//	 8K   zstd   132.4    33.6    166.0    0.241           197 MB/s
//	16K   zstd   136.6    16.8    153.4    0.263           303 MB/s   <- default once cleaned
//	16K   s2     167.4    16.8    184.2    0.263           381 MB/s   <- default as written
//	16K   none   347.5    16.8    364.3    0.263           474 MB/s
//	32K   zstd   149.0     8.4    157.4    0.299           261 MB/s
//	64K   zstd   168.8     4.2    173.0    0.352           227 MB/s
//	(MB; CAIRN_BACKUPGEN_DIR=... go test -run '^$' -bench Generations -benchtime 1x ./chunkstore/)
//
// 16 KiB average (4 KiB min, 64 KiB max) with zstd at its fastest level
// stores the least: smaller chunks find more duplicates but the index grows
// as fast as they shrink (130 bytes of index per chunk with format 2's
// varint entries, from 148 in format 1: about 8.7 GB of index per TiB of
// unique data at 16 KiB); S2 is faster but misses the target on
// this data. So the default, zstd-later, has both: chunks are written
// with S2 and the cleaner makes them zstd when the store is idle or short
// of space (later.go). On this data set, 167.5 MB as written and 136.0
// after the cleaner (152.7 MB on disk with the index, 0.58 of restic's),
// and gen1.tar through the whole server at 181-185 MB/s against 139-142
// with zstd at once (s3load, alternating runs). Compression is per store
// (Config.Compression, and SetCompression while it runs; cairn admin group
// set --compression): zstd compresses at once, a group holding data that
// is already compressed or encrypted can choose none, one that wants
// speed s2, and chunks that do not shrink by 1/32 are stored raw anyway.
// TestDataReductionOnBackupGenerations holds the default, once cleaned, to
// the target.
//
// BLAKE3 is lukechampine.com/blake3, not the design card's
// github.com/zeebo/blake3: both compute the same function
// (TestChunkNamesNeverChange pins chunk IDs, keyed IDs and derived keys to
// what zeebo/blake3 v0.2.4 computed), but zeebo/blake3 stops at AVX2, eight BLAKE3 chunks at a
// time, while lukechampine.com/blake3 uses AVX-512 for sixteen. On these
// machines (AVX-512), 16 KiB chunks hash at 6.2-7.0 GB/s against 2.2-2.7,
// and a 4-stream unique put's server profile went from 14% BLAKE3 to 4%;
// with AVX-512 turned off in its code, it still matched zeebo/blake3 (2.9
// against 2.6 GB/s at 16 KiB).
//
// # Speed
//
// On the 2-core machines this project runs on (shared and noisy: runs of
// the same benchmark differ by up to a third; compare figures within one
// run), go test -run '^$' -bench . -benchtime 5x ./chunkstore/:
//
//	chunker alone                  2.2-2.9 GB/s   one core (0.8-0.9 rolled a byte at a time)
//	BLAKE3 of 16 KiB chunks        6.2-6.5 GB/s   one core (2.2 with zeebo/blake3: Choices)
//	chunk + BLAKE3                 1.64-1.67 GB/s   one core (target 0.85; 1.2 with zeebo/blake3)
//	zstd fastest / s2 (mixed data) 0.31-0.35 / 0.76-0.78 GB/s   one core; zstd 1.1 GB/s on random data
//	ingest, duplicate data         1.26-1.35 GB/s one stream, 1.17 GB/s two (0.72-0.80 / 0.96-1.29 with zeebo/blake3)
//	ingest, unique data            0.42-0.44 GB/s   one or two streams, zstd-later (0.24-0.27 with zstd at once)
//	read back, verified            2.0-2.2 / 2.7-2.9 GB/s   one / two streams (0.86-0.94 / 1.2-1.7 with zeebo/blake3)
//
// The chunk-level API, same command (BenchmarkEntries, BenchmarkReadRecords,
// BenchmarkImport, BenchmarkReadThrough):
//
//	enumerate a manifest (Entries)         60 GB/s of object per second
//	records as stored (ReadRecord)         1.37 GB/s   verified
//	import records from elsewhere          255 MB/s    verify + index + commit
//	read through a tier (DirTier, no net)  1.55 GB/s   verified
//
// Opening a store, and the gateway over it, with 1 million small objects
// (TestStartupTime with CAIRN_STARTUP_OBJECTS=1000000, on tmpfs):
//
//	format 1 (reconcile scan at start)   6.4-6.7 s
//	format 2 (this code)                 0.26-0.39 ms
//
// Small writes share commits (commit.go). 4 KiB objects, 4 streams, the
// whole binary driven from another process (../shared/bench/s3load: s3load
// small --streams 4 --count 2000 against cairn serve), medians of 3 runs
// alternating with the build before it, on the same shared 2-core machine,
// two such sets:
//
//	                  one commit each   group commit
//	PUT               692 / 671/s       918 / 810/s       1.33 / 1.21x
//	DELETE            1,032 / 864/s     1,623 / 1,451/s   1.57 / 1.68x
//	GET, HEAD         unchanged (3,577-3,694/s, 4,470-4,884/s both)
//
// A profile of the server under that run (same operations) showed, before,
// 44% of its CPU in bbolt's Update (its commit 31%, fdatasync 14%) and 55%
// of its blocked time waiting for bbolt's writer lock (PUTs, DELETEs and
// the drainer one commit each); with group commit the server spends 33%
// less CPU (5.6 vs 8.4 s), Update 36% of it (commit 24%, fdatasync 10%),
// and nothing waits on that lock. What remains per PUT is the fsync of its
// own container before the shared commit.
//
// Duplicate ingest of one stream is at or above one core's chunk + BLAKE3
// rate (the target was 80% of it) because the writer hashes on both cores.
//
// A writer pipelines its batches: the caller's goroutine only fills buffers
// (an S3 PUT computes SHA-256 there, and MD5 unless s3api hashes it aside),
// a prepare goroutine cuts, hashes (on all cores) and compresses (on all
// cores), and a store goroutine writes, fsyncs and indexes. Unique-data
// ingest is bound by zstd; the figures above were taken with other
// engineers' builds on the same two cores.
//
// Where a unique upload's time goes, through the whole binary (s3load put,
// 4 streams x 16 x 64 MiB of random data, perf of the server): before this
// round, 26-30% of the server's CPU was the kernel copying batches into
// the page cache (copy_folio_from_iter_atomic under pwritev: 3.2-3.7 s of
// system CPU a GiB, against 0.8-1.1 s for the mainstream server's plain
// writes of the same bytes), 18-20% MD5, 9-11% SHA-256, 9-16% the chunker,
// 5-7% BLAKE3 and 8-13% the index. Staging large appends through an
// aligned buffer (staged.go) brought the kernel's share to 1.1-1.3 s a GiB;
// rolling the gear hash four bytes at a time (chunker.go) made the chunker
// 2.6x faster; placing a new chunk and referencing it in one read and
// write of its entry (placeRef) took two of six B+tree operations per new
// chunk. The 4-stream put went from 161-175 to 206-243 MB/s on the same
// machine, with the server at 5.6-6.2 s of CPU a GiB: MD5 about 1.5 ns a
// byte, SHA-256 0.6, chunking 0.5-0.7, BLAKE3 0.5, the index 0.4-0.7, the
// copy into the page cache 0.4-0.9, CRCs 0.3. The mainstream server does
// the MD5, the SHA-256 and a CRC (3.6-3.9 s a GiB) and neither chunks,
// names, indexes nor compresses; on two cores shared with the client that
// difference is the remaining gap (README, Performance).
//
// The next round kept warm batches: the free list of full batches holds as
// many as were out at once, not four (batchpool.go). A fresh batch faults
// its pages in as the socket reads first fill it, and on these virtual
// machines each fault is dear: the 4-stream put of 1 GiB went from 49,000
// page faults and 1.48 s of system CPU to 32,000 and 1.24 s, 8% less
// server CPU in all (3 alternating runs each). What still faults is mostly
// the first filling of each batch after the server starts.
//
// Block and mutex profiles (cairn serve --pprof) of the same workloads
// show no lock that anything waits on: the mutex profile is empty, and the
// blocked time is the pipeline's hand-offs (a request waiting for its
// stage to take the next batch, a commit for its stages to finish, a
// prepare for its hashing and compressing on the other core). The
// uploads wait for CPU, not for each other; with a files upload (four
// 16 MiB parts in flight) a part's body is read in 45-150 ms and its
// commit, the last batch's cutting, hashing and fsyncs, takes 15-90 ms on
// duplicate data and 140-300 ms on compressible new data (zstd, 43% of the
// server's CPU in gen1.tar).
//
// Then BLAKE3 on AVX-512 (lukechampine.com/blake3; Choices): in the same
// 4-stream put, BLAKE3's share of the server's CPU (perf) went from 14% to
// 5%. What it spends now, of 5.2-5.7 s a GiB: MD5 27%, SHA-256 14%, the
// kernel's interrupt and scheduling paths under the hypervisor 9%, the
// gear hash 7%, the page-cache copy 5% (7% with ext4's own), BLAKE3 5%,
// bbolt 5-6% (lookups twice per chunk, once as a hint before compressing
// and once under the gate, then the commits), the socket copy 3%, CRC32C of
// the records 2%. sync_file_range after each staged append, so that the
// per-batch fsync finds its pages written already, made no difference
// that 3 alternating pairs could see.
//
// Then a first backup of compressible files: gen1.tar (245 MB of source
// code, one multipart upload, s3load files) through a fresh server. With
// zstd at once its profile was zstd 22% (the match finder and its entropy
// stages), MD5 14%, system calls 14%, SHA-256 10%, memmove 9%, most of that
// append growing each new batch's records by a quarter at a time. Writing
// S2 instead (zstd-later, later.go) left S2 at 12%, MD5 22%, SHA-256 12%
// of a smaller whole, and memmove at 14%; records grown in doubling
// steps of up to 1 MiB (reserve, batch.go) took their copying from 0.23 to
// 0.16 s a run, the rest being the page faults of a new batch's first
// records. The upload
// went from 139-142 MB/s to 176-193 (3 alternating runs each, two
// rounds); the cleaner's zstd pass over its chunks, once the server is
// idle, costs 1.5 s of CPU.
package chunkstore

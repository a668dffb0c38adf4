// Package replicator keeps a replica bucket on a second Cairn in step with
// a source bucket, sending only the chunks the replica's storage group
// lacks. It works on manifests and records through the chunk store's
// chunk-level API (Entries, ReadRecord on the source; Import on the
// replica); the gateway decides what to send and when (its durable log of
// pending operations, schedules), what an object version is (the opaque
// op), and authenticates the peer.
//
// # Nouns
//
//   - Peer: the replica as the source sees it, a client of its Handler.
//     Every request is SigV4-signed (service "s3", UNSIGNED-PAYLOAD: the
//     receiver verifies every record against its chunk ID anyway) with
//     the replica's credentials, and paced by a Limiter.
//   - Handler: the replica's side, mounted by the gateway at PathPrefix
//     behind its S3 authentication. It calls a Target, which the gateway
//     implements over its buckets and versions.
//   - Transfer: one version being received: a chunkstore Import in the
//     replica bucket's store, named by a random ID, in a bounded table
//     (HandlerOptions.MaxTransfers); idle ones are aborted by a janitor
//     after HandlerOptions.TransferIdle.
//   - Op: the gateway's description of a version (key, version ID, owner,
//     metadata) or of a data-less change (delete, delete marker, tags), as
//     JSON that this package carries and never reads.
//   - Limiter: a token bucket of bytes per second for request bodies, per
//     Peer or shared by peers, changeable while it runs (schedule windows).
//
// # Protocol
//
// Routes, under PathPrefix; all POST but hello; bodies are binary (see
// protocol.go) but ops and answers, which are JSON:
//
//	GET  hello                              -> Hello
//	POST transfers?bucket=B                 -> {"id"}             Target.Store, NewImport
//	POST transfers/need?id=T                IDs -> IDs missing    Import.Need
//	POST transfers/records?id=T             record frames -> 204  Import.PutRecords
//	POST transfers/append?id=T&offset=N     entries -> 204        Import.Append (409 MissingChunks: IDs)
//	POST transfers/commit?id=T&size=N       op -> {"size",...}    Target.CommitFunc, Import.Commit
//	POST transfers/abort?id=T               -> 204                Import.Abort
//	POST apply?bucket=B                     op -> 204             Target.Apply
//
// SendVersion walks the source manifest in batches of MaxBatch (4096)
// entries: Need for the batch's distinct IDs, the missing records as
// stored (never recompressed) in bodies of about 8 MiB, Append of the
// batch at its offset, and at the end Commit with the op. A 0-byte object
// has no entries and is a commit alone.
//
// Errors are JSON {"error", "code"} with the code also in ErrorHeader:
// 400 BadRequest (413 for a body too large), BadRecord (a record that does not match its chunk ID:
// the body is refused whole, nothing written) and IncompatiblePeer; 404
// NoSuchTransfer; 409 MissingChunks (body: the IDs) and OffsetMismatch;
// 503 TooManyTransfers; 507 QuotaExceeded; whatever a Target's
// *TargetError says (403 not a replica, 404 no such bucket). The client
// returns them as *PeerError, apart from a link's errors, so the gateway
// can tell a full replica from a broken link.
//
// # Idempotency, crashes and cuts
//
// Every step changes the replica in one chunk store transaction, and a
// step may be repeated or the version started over at any point:
//
//   - transfers: a cut leaves an import nobody knows; the janitor aborts it
//     (TestIdleTransferExpires), a crash of the replica rolls it back at
//     Open (the chunk store's pending imports).
//   - need: holds on the chunks reported present, so they stay until the
//     transfer ends: Missing-then-send is exact. Repeating it is harmless.
//   - records: verified (CRC, codec, BLAKE3) before anything is written,
//     then fsynced and indexed. After a cut the records are in the
//     replica's store: a restart's Need finds them and they do not travel
//     twice (TestSendVersionRestartsWhenTransferLost sends each chunk once
//     over two attempts; TestLinkCutMidBody cuts the link inside a body,
//     and sending again sends only the records that had not arrived). One
//     bad record refuses the call whole (TestBadRecordRefused).
//   - append: carries the offset it appends at, so one repeated after a
//     lost answer is refused (409 OffsetMismatch) rather than doubling the
//     object (TestAppendRepeatedRefused). If the replica lacks a chunk it
//     appends nothing and names the chunks (409 MissingChunks); the sender
//     sends them and retries once.
//   - commit: the manifest and the Target's record of the version commit in
//     one transaction, or neither. Committed but the answer lost: sending
//     the version again finds it applied (Target.CommitFunc returns
//     ErrAlreadyApplied), the new import is dropped and the answer is a
//     success, with one version at the replica (TestSendVersionIdempotent,
//     TestCommitAnswerLost).
//     A commit of another size than was appended is refused.
//   - a replica restart or a janitor's abort mid-way: the next call gets
//     404 NoSuchTransfer and SendVersion starts the version over, at most
//     3 times (TestSendVersionRestartsWhenTransferLost,
//     TestSendVersionGivesUpAfterRestarts).
//   - the source: sending only reads (under an Entries lease); after a
//     crash the gateway's log drives the version again.
//
// On any other error SendVersion aborts the transfer (best effort; the
// janitor is the backstop) and returns the error. It does not retry a
// broken link itself: the gateway's log sends the version again later,
// which costs only what had not arrived. Calls racing on one
// transfer (a retry and its original) are serialized by the handler
// (TestConcurrentCallsOnOneTransfer, under -race).
//
// # Versions
//
// ProtocolVersion (routes and bodies) and RecordFormat (the record layout
// of chunkstore/record.go, since records travel as stored) travel in
// VersionHeader, "2/2", on every request and answer. A handler refuses a
// request of other versions (or none) with 400 IncompatiblePeer, "this
// server speaks replication protocol 2 (record format 2); the peer sent
// 1/1". (Protocol 2 added the lock operation and versions that carry their
// lock, encryption, part checksums and ACL; record format 2 the sealed
// record flag.) GET hello answers every version with the server's, so that a
// client can learn it; the client refuses a Hello that is not its own with
// *IncompatibleError (errors.Is ErrIncompatible), and turns an
// IncompatiblePeer answer into one too. Both sides call their
// OnIncompatible hook, so each gateway raises its event
// (TestIncompatiblePeer). Versions must be equal for now; a later version
// will say here what older ones it still speaks.
//
// # Seeding
//
// ExportSeed writes a bucket's unique chunks (records as stored) and its
// versions to a directory, and ImportSeed puts them into a replica through
// the same Target, so the first sync can travel on a disk (seed.go says
// the layout). An export resumes after a cut from its last finished record
// file; every file's SHA-256 is in seed.json, checked as the import reads
// it, and each record is checked against its chunk ID as ever. Import
// holds the records it puts until the versions that need them commit, and
// skips versions the replica has: run again, it does what is left
// (TestSeedExportImport, TestSeedExportResumes, TestSeedImportDamaged).
//
// # Memory
//
// The sender holds one batch of entries (4096, under 200 KiB with its
// dedup map) and one records body (about 8 MiB plus one record) whatever
// the object's size; a Peer keeps up to two idle bodies for reuse. The
// receiver holds one body per call in progress (at most MaxRecordsBody,
// 16 MiB of records; two kept idle), and per transfer only the Import's
// small state, for at most MaxTransfers transfers. Decoders bound counts
// (MaxBatch) and sizes before allocating, and fail with an error naming
// the item, never a panic (FuzzDecodeIDs, FuzzDecodeEntries,
// FuzzDecodeRecords).
//
// # Speed
//
// A 16 MiB object of random data over loopback HTTP, both Cairns on the
// same two shared cores (go test -run '^$' -bench SendVersion -benchtime
// 10x -count 3 ./replicator/):
//
//	replica has none of the chunks (every record sent, verified, stored)   170-185 MB/s   6.3 MB allocated per op
//	replica has them all (IDs and entries only)                           1.5-2.6 GB/s   2.8 MB allocated per op
//
// The first is bound by the receiver's verification (decompress, BLAKE3)
// and fsyncs, and by the sender waiting for each call in turn: calls are
// not pipelined.
package replicator

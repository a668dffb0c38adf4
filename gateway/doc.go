// Package gateway is Cairn's object layer: it implements s3api.Backend on top
// of one chunkstore.Store per storage group, which holds the group's buckets'
// records beside their manifests (meta.go), and a small meta.db that locks
// the data directory and knows the groups.
//
// The nouns:
//
//   - Storage group: a named directory holding one chunk store. Dedup happens
//     inside a group. The "default" group lives at DataDir/groups/default
//     unless Config.Groups names another directory for it.
//   - Bucket: a named container of objects, bound to one group at creation
//     (CreateBucket's LocationConstraint names the group).
//   - Version: one state of a key: a manifest in the bucket's group plus its
//     size, ETag, metadata and tags, or a delete marker. A key's versions are
//     kept newest first; the first is the current version. A bucket that
//     never had versioning keeps exactly one version per key, the null
//     version, and answers VersionID "".
//   - Null version: the version S3 calls "null": written while versioning is
//     unset or suspended; at most one per key, replaced by the next such write.
//   - Manifest: the chunk store's ordered list of chunks of one byte stream
//     (an object body or a multipart part). Records name manifests by ID.
//   - Upload: a multipart upload in progress; each part is a manifest,
//     stitched together without reading data on completion.
//   - Lock: a version's object lock (objectlock.go): a retention (GOVERNANCE
//     or COMPLIANCE until a date) and a legal hold, in its record; a bucket
//     with lock enabled keeps a default retention and versioning Enabled.
//     Every removal of a version goes through bkt.drop, which refuses a
//     locked one (TestObjectLock* name each path).
//   - User: an identity besides the root key (users.go): a name, a canonical
//     ID, a policy (built-in readwrite/readonly/writeonly or a document,
//     package access), keys whose secrets are sealed under DATA/users.key.
//     Each user owns the buckets it creates, like an AWS account of its own.
//   - Authorization (authz.go): the gateway is s3api's Authorizer; it
//     evaluates the user's policy, the bucket policy and the ACLs (acl.go)
//     in AWS's order for every action of every request, and marks writeonly
//     callers so that the commit refuses an overwrite (bkt.writeOnce).
//   - Event: what an admin must hear about (a cleaner run failed, a tier
//     failing, a disk nearly full, ...), written to DATA/events.log by
//     package events (events.go); g.event never fails its caller.
//
// Writes stream into the group's chunk store and become visible in the one
// transaction that commits the manifest and records the version (or part);
// the manifests a write or delete displaces are released in that same
// transaction. A crash leaves the write whole or absent: there is no orphan
// to look for, so start-up reads no object. A GET opens its reader in the
// read transaction that resolved the version; the reader holds the manifest
// (a chunk store lease) until it is closed, so a concurrent DELETE and clean
// never take its chunks.
//
// Metrics (metrics.go) count S3 requests as s3api reports them and, at each
// scrape, read figures the gateway already keeps (store counters, cleaner
// totals, tier movers); a scrape never walks objects, Stats does.
//
// Storage groups are added, changed and removed while the gateway runs
// (groupadmin.go), their settings (performance tier, quota, stream limit)
// in meta.db's group rows. A quota (quota.go) refuses writes with 507
// QuotaExceeded; each group's cleaner also runs on its own (autoclean.go).
//
// Replication (package replicator does the protocol and seeding): a
// replicating bucket logs each change in the transaction that makes it
// (repllog.go), one sender per bucket sends the log (replsend.go), the
// gateway is the replicator.Target for the buckets it holds as replicas
// (repltarget.go), relationships are set by the admin or by S3's
// PutBucketReplication (replication.go, s3replication.go), and a reversal
// swaps the roles of source and replica without a write lost (reverse.go).
//
// # Encryption at rest
//
// s3api parses the encryption headers (x-amz-server-side-encryption*, the
// SSE-C customer-key headers and their x-amz-copy-source-* variants) and
// passes them in the request's context (s3api.RequestSSE); the gateway
// seals an object's chunks with a chunkstore.SealKey (sse.go), and records
// how in the version (versionRecord.SSE), the upload and, through the
// upload, its parts:
//
//   - SSE-S3 (AES256): one data key per storage group, random, made at the
//     group's first SSE-S3 write and kept in the group's own store (sys/
//     sse-s3-key) wrapped under the master key (ssekeys.go). Per group, not
//     per bucket, because dedup happens per group: the SSE-S3 buckets of a
//     group dedup against each other as plain buckets do; a bucket key
//     would cut a group into as many domains as it has buckets, and a
//     backup copied between buckets would be stored again.
//   - SSE-KMS (aws:kms): a named key of the local key ring (kms.go,
//     DATA/kms-keys.json, each key wrapped under the master key; cairn
//     admin kms key add|ls), named by its name, alias/NAME or an ARN ending
//     key/NAME or alias/NAME; an unknown name is KMS.NotFoundException; no
//     name is the key "default", made at its first use (S3's aws/s3 key).
//     One domain per key.
//   - SSE-C: the client's key, never stored: a version keeps a salted
//     HMAC-SHA256 of it (sseRecord.Salt, Check) to answer a wrong key with
//     403 AccessDenied before reading, a missing one with 400
//     InvalidRequest. The SealKey derives from the customer key alone, so
//     SSE-C objects dedup with objects under the same key only, and an SSE-C
//     object replicated to another Cairn reads there with the same key.
//     s3api refuses SSE-C keys over plain HTTP except from loopback (where
//     cairn connect's TLS tunnel delivers, and a key never crossed a
//     network in the clear), as S3 refuses them without TLS.
//   - Bucket default encryption (Put/Get/DeleteBucketEncryption): the
//     bucket record's Encryption, applied to writes with no header.
//
// The master key is DATA/sse-master.key (0600, made at the first start;
// Config.SSEMasterKeyFile, cairn serve --sse-master-key, puts it elsewhere).
// Losing it loses every SSE-S3 and SSE-KMS object: back it up apart from
// the data.
//
// Copies (CopyObject, UploadPartCopy) within one group and one sealing
// domain share the source's chunks; any other copy reads the source with
// its key and writes the destination sealed with its own, streaming. A
// multipart upload's encryption is chosen at CreateMultipartUpload; SSE-C
// needs the key with every UploadPart. Range GETs and GET ?partNumber seek
// within the sealed manifest as within a plain one. ETag: the MD5 for
// plain and SSE-S3 objects (as on S3); for SSE-C and SSE-KMS, as on S3, not
// the MD5 (which would let whoever reads the metadata confirm a guess of
// the plaintext) but HMAC-SHA256(key derived from the object's key, MD5)
// cut to 16 bytes: clients that check an ETag against the MD5 skip it for
// those modes, as they must against S3.
//
// Tiers carry records as stored, sealed, and read-through returns them as
// stored: a moved SSE object reads back with its key
// (TestSSETieredReadsBack). Replication and seeding send SSE-C versions
// (the key check travels with the version) and leave SSE-S3 and SSE-KMS
// versions out, each with a replication_sse_refused event and the version
// FAILED: the replica cannot open data sealed under this site's keys
// (TestSSEReplication). A tier's catalog carries each bucket's group
// SSE-S3 key (bucketMeta.SSEKey, sealed with the catalog under the tier's
// keys, as the data is), so a recovery with the tier's passphrase alone
// opens the SSE-S3 and SSE-C versions it recovers (TestSSERecoverFromTier).
// SSE-KMS versions recover too, and open once the old site's key ring
// (kms-keys.json) and SSE master key are put in place: the catalog does
// not carry the ring.
//
// What whoever steals the disks learns. With the data disks but not the
// master key: nothing of an encrypted object's bytes; its chunks' sizes and
// count, which chunks repeat within a sealing domain (a group's SSE-S3
// objects, a KMS key's, an SSE-C key's) and so roughly how much two
// objects of one domain share; and, in the clear in the group's index.db,
// bucket and object names, sizes, times, user metadata, tags, and the MD5
// ETag of plain and SSE-S3 objects (as S3 keeps them). With the master key
// too (it lies in the data directory unless moved): every SSE-S3 and
// SSE-KMS object; SSE-C objects stay sealed (only a salted HMAC of their
// key is kept). TestSSEDiskHoldsNoPlaintext checks the container files
// hold no plaintext marker of an SSE-S3, SSE-KMS or SSE-C object and do of
// a plain one.
//
// Measured over S3 (the SDK on loopback, one stream, 64 MiB of unique
// backup-like data; go test -run '^$' -bench BenchmarkSSE -benchtime 3x
// ./gateway/, the shared 2-core machine): PUT plain 80, SSE-S3 99, SSE-C
// 93 MB/s; GET plain 480, SSE-S3 440, SSE-C 234 MB/s. A second PUT of the
// same 64 MiB stores 0 new bytes under SSE-S3 and under SSE-C with the same
// key, and 33.7 MB (all of it, compressed) under another SSE-C key.
package gateway

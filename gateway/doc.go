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
package gateway

// Package gateway is Cairn's object layer: it implements s3api.Backend on top
// of one bbolt metadata database and one chunkstore.Store per storage group.
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
//     (an object body or a multipart part). Metadata names manifests by ID;
//     a manifest that no metadata names is an orphan, released at startup.
//   - Upload: a multipart upload in progress; each part is a manifest,
//     stitched together without reading data on completion.
//   - Pin: a reader's hold on a manifest; a release that arrives while a
//     manifest is pinned waits until the last reader closes, so a GET never
//     loses its chunks to a concurrent DELETE and clean.
//
// Writes stream into the chunk store first and become visible only in the
// short bbolt transaction that records them; manifests that a write displaces
// are released after that transaction commits. A crash between the two leaves
// an orphan manifest, never a dangling reference.
package gateway

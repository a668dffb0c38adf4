// Package cloudtier sends chunks to cloud tiers (Azure Blob, any S3
// service) and reads them back, so that a chunk store can give up its
// local copies of cold data. It imports only chunkstore.
//
// The provider sees no key, no byte, no name and no chunk identity in the
// clear: chunks travel as the chunk store's records, many to a pack (a
// large object, 16 to 64 MiB), sealed with minio/sio under a key derived
// per pack; every object name is random; a pack's index (which records it
// holds, where) is sealed inside it, and names chunks by a keyed MAC.
//
// The parts:
//
//   - Target (target.go) is the cloud object store: put a whole object,
//     read a byte range, delete, list. NewAzure (azure.go) and NewS3
//     (s3.go) implement it; Probe checks one works.
//   - Keys (keys.go): the master key, kept in a file of mode 0600, and the
//     per-purpose keys HKDF derives from it, by key generation.
//   - Packs (pack.go): the layout of a pack, its sealing and its index.
//   - Tier and Registry (tier.go): a configured tier, and the
//     chunkstore.Remote that reads any tier's packs by byte range.
//   - Sender (sender.go): what a mover uses to put a manifest's chunks
//     that a tier lacks into packs, once per tier.
package cloudtier

package gateway

// Server-side encryption of objects (see doc.go, "Encryption at rest").
// A version, an upload and its parts record how their chunks are sealed
// (sseRecord); writes choose it from the request or the bucket's default,
// reads find the key from it (and, for SSE-C, from the request).

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// sseRecord is how a version's (or an upload's) chunks are sealed.
type sseRecord struct {
	Mode string `json:"mode"` // s3api.SSEModeS3, SSEModeKMS or SSEModeCustomer
	// KMSKey is the key ring's key (SSE-KMS).
	KMSKey string `json:"kms,omitempty"`
	// Salt and Check identify an SSE-C key without keeping it:
	// HMAC-SHA256 keyed by the customer's key over the random salt.
	Salt  []byte `json:"salt,omitempty"`
	Check []byte `json:"chk,omitempty"`
}

// sseDefault is a bucket's default encryption (PutBucketEncryption).
type sseDefault struct {
	Mode   string `json:"mode"`
	KMSKey string `json:"kms,omitempty"` // the key ring's name
	// KMSKeyID is the key as the client named it (an ARN, alias/NAME),
	// answered back as sent.
	KMSKeyID string `json:"kmsid,omitempty"`
}

func (r *sseRecord) s3() s3api.SSE {
	if r == nil {
		return s3api.SSE{}
	}
	return s3api.SSE{Mode: r.Mode, KMSKeyID: r.KMSKey}
}

// sealing is the encryption of one write or read: nil key when plain.
type sealing struct {
	rec *sseRecord
	key *sealKey
	md5 string // SSE-C: the key's MD5, echoed in answers
}

func (s sealing) chunkKey() *chunkstore.SealKey {
	if s.key == nil {
		return nil
	}
	return s.key.seal
}

// sameDomain reports whether data sealed as s can be shared as o.
func (s sealing) sameDomain(o sealing) bool {
	if s.key == nil || o.key == nil {
		return s.key == nil && o.key == nil
	}
	return s.key.domain == o.key.domain
}

// etag is the ETag of a write whose plaintext has MD5 sum: the MD5 for
// plain and SSE-S3 objects as S3 has it; for SSE-C and SSE-KMS, as on S3,
// not the MD5 (which would let whoever reads the metadata test a guess of
// the plaintext) but a keyed hash of it, the same length.
func (s sealing) etag(sum []byte) string {
	if s.key == nil || s.key.etag == nil {
		return hex.EncodeToString(sum)
	}
	m := hmac.New(sha256.New, s.key.etag)
	m.Write(sum)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// info is the SSE part of an answer.
func (s sealing) info() s3api.SSE {
	out := s.rec.s3()
	out.CustomerKeyMD5 = s.md5
	return out
}

// customerCheck is the salted HMAC an SSE-C version keeps of its key.
func customerCheck(key, salt []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("cairn sse-c key check"))
	m.Write(salt)
	return m.Sum(nil)
}

// writeSealing decides how a write to bucket is sealed: as req asks, else
// as the bucket's default says, else plain.
func (g *Gateway) writeSealing(gr *group, bucket string, req s3api.SSE) (sealing, error) {
	if req.Mode == "" {
		var def *sseDefault
		err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
			def = k.rec.Encryption
			return nil
		})
		if err != nil {
			return sealing{}, err
		}
		if def == nil {
			return sealing{}, nil
		}
		req = s3api.SSE{Mode: def.Mode, KMSKeyID: def.KMSKey}
	}
	switch req.Mode {
	case s3api.SSEModeS3:
		key, err := g.sse.groupKey(gr)
		return sealing{rec: &sseRecord{Mode: req.Mode}, key: key}, err
	case s3api.SSEModeKMS:
		name := defaultKMSKey
		if req.KMSKeyID != "" {
			name = s3api.KMSKeyName(req.KMSKeyID)
		}
		key, err := g.sse.kmsKey(name)
		return sealing{rec: &sseRecord{Mode: req.Mode, KMSKey: name}, key: key}, err
	case s3api.SSEModeCustomer:
		salt := make([]byte, 16)
		if _, err := io.ReadFull(rand.Reader, salt); err != nil {
			return sealing{}, err
		}
		key, err := newSealKey(req.CustomerKey, "c", true)
		rec := &sseRecord{Mode: req.Mode, Salt: salt, Check: customerCheck(req.CustomerKey, salt)}
		return sealing{rec: rec, key: key, md5: req.CustomerKeyMD5}, err
	}
	return sealing{}, s3api.ErrInvalidArgument.WithMessagef("The encryption method specified is not supported: %q.", req.Mode)
}

// readSealing finds the key of data sealed as rec, given what the request
// said (req: its SSE-C key, if any). An SSE-C object read without its key,
// or with another, and SSE-C headers on an object that is not SSE-C, get
// S3's errors.
func (g *Gateway) readSealing(gr *group, rec *sseRecord, req s3api.SSE) (sealing, error) {
	customer := req.Mode == s3api.SSEModeCustomer
	if rec == nil || rec.Mode != s3api.SSEModeCustomer {
		if customer {
			return sealing{}, s3api.ErrSSENotApplicable
		}
	}
	if rec == nil {
		return sealing{}, nil
	}
	switch rec.Mode {
	case s3api.SSEModeS3:
		key, err := g.sse.groupKey(gr)
		return sealing{rec: rec, key: key}, err
	case s3api.SSEModeKMS:
		key, err := g.sse.kmsKey(rec.KMSKey)
		return sealing{rec: rec, key: key}, err
	case s3api.SSEModeCustomer:
		if !customer {
			return sealing{}, s3api.ErrSSECustomerKeyRequired
		}
		if !hmac.Equal(customerCheck(req.CustomerKey, rec.Salt), rec.Check) {
			return sealing{}, s3api.ErrSSECustomerKeyMismatch
		}
		key, err := newSealKey(req.CustomerKey, "c", true)
		return sealing{rec: rec, key: key, md5: req.CustomerKeyMD5}, err
	}
	return sealing{}, s3api.ErrInternalError.WithMessagef("Unknown encryption mode %q recorded.", rec.Mode)
}

// unseal gives a reader its manifest's key.
func (s sealing) unseal(r *chunkstore.Reader) {
	if k := s.chunkKey(); k != nil {
		r.Unseal(k)
	}
}

// requestSSE is what the request in ctx said about encryption.
func requestSSE(ctx context.Context) s3api.SSERequest { return s3api.RequestSSE(ctx) }

// PutBucketEncryption sets the bucket's default encryption; a KMS key must
// exist (the default key is made).
func (g *Gateway) PutBucketEncryption(ctx context.Context, bucket string, def s3api.SSE) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	rec := &sseDefault{Mode: def.Mode, KMSKeyID: def.KMSKeyID}
	if def.Mode == s3api.SSEModeKMS {
		// A request for no bucket makes no key.
		if err := g.viewBucket(bucket, func(*chunkstore.Tx, *bkt) error { return nil }); err != nil {
			return mapErr(err)
		}
		rec.KMSKey = defaultKMSKey
		if def.KMSKeyID != "" {
			rec.KMSKey = s3api.KMSKeyName(def.KMSKeyID)
		}
		if _, err := g.sse.kmsKey(rec.KMSKey); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(g.updateInfo(bucket, func(k *bkt) error {
		k.rec.Encryption = rec
		return nil
	}))
}

// GetBucketEncryption answers the bucket's default encryption.
func (g *Gateway) GetBucketEncryption(ctx context.Context, bucket string) (s3api.SSE, error) {
	var def *sseDefault
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		def = k.rec.Encryption
		return nil
	})
	if err != nil {
		return s3api.SSE{}, mapErr(err)
	}
	if def == nil {
		return s3api.SSE{}, s3api.ErrNoSuchEncryptionConfiguration
	}
	id := def.KMSKeyID
	if id == "" {
		id = def.KMSKey
	}
	return s3api.SSE{Mode: def.Mode, KMSKeyID: id}, nil
}

// DeleteBucketEncryption removes the default: new writes without headers
// are stored plain; what was written stays as it was written.
func (g *Gateway) DeleteBucketEncryption(ctx context.Context, bucket string) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	return mapErr(g.updateInfo(bucket, func(k *bkt) error {
		k.rec.Encryption = nil
		return nil
	}))
}

var _ s3api.EncryptionBackend = (*Gateway)(nil)

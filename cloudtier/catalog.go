package cloudtier

// The catalog makes a tier self-describing: with the tier and the master
// key alone, a new gateway rebuilds what was tiered. It is a log of
// records (a bucket's metadata, a version and its manifest, a version
// forgotten), written in objects numbered 1, 2, 3...; object n is named
// "c/" and a keyed hash of n, so the provider learns only how many there
// are, and a reader finds them in order without listing: it reads 1, 2,
// ... until one is absent. Each object's contents are sealed with sio
// under a key derived from the catalog key and its name.
//
//	format (1), uvarint record count, then per record: op (1 byte),
//	varint time (Unix ns), bucket, key, version and meta as uvarint
//	length and bytes, uvarint entry count, per entry the chunk ID (32
//	bytes) and uvarint length
//
// What the metadata means is the gateway's: the catalog carries it sealed
// and opaque.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/minio/sio"
	"lukechampine.com/blake3"

	"github.com/cairn-backup/cairn/chunkstore"
)

const catalogPrefix = "c/"

// maxCatalogObject bounds one catalog object's plaintext; a write of more
// spans several.
const maxCatalogObject = 16 << 20

// CatalogOp says what a catalog record records.
type CatalogOp byte

const (
	// CatalogBucket is a bucket's metadata (Meta), replacing any before.
	CatalogBucket CatalogOp = 1
	// CatalogVersion is a version in the tier: Meta is its record,
	// Entries its manifest.
	CatalogVersion CatalogOp = 2
	// CatalogForget is a version deleted (or, without a key and a
	// version, a bucket): recovery leaves it out.
	CatalogForget CatalogOp = 3
)

// CatalogRecord is one entry of the catalog's log.
type CatalogRecord struct {
	Op      CatalogOp
	Time    time.Time
	Bucket  string
	Key     string
	Version []byte // the gateway's version identity
	Meta    []byte
	Entries []chunkstore.Entry // offsets are not kept
}

// catalogName is object n's name.
func (k Keys) catalogName(n uint64) string {
	var sum [16]byte
	h := blake3.New(len(sum), k.names[:])
	h.Write([]byte("catalog " + strconv.FormatUint(n, 10)))
	h.Sum(sum[:0])
	return catalogPrefix + hex.EncodeToString(sum[:])
}

func (k Keys) catalogKey(name string) [32]byte {
	return derive(k.catalog[:], []byte(name), "cairn tier catalog object")
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeCatalog(recs []CatalogRecord) []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = append(b, byte(r.Op))
		b = binary.AppendVarint(b, r.Time.UnixNano())
		b = appendBytes(b, []byte(r.Bucket))
		b = appendBytes(b, []byte(r.Key))
		b = appendBytes(b, r.Version)
		b = appendBytes(b, r.Meta)
		b = binary.AppendUvarint(b, uint64(len(r.Entries)))
		for _, e := range r.Entries {
			b = append(b, e.ID[:]...)
			b = binary.AppendUvarint(b, uint64(e.Len))
		}
	}
	return b
}

func decodeCatalog(b []byte) ([]CatalogRecord, error) {
	bad := errors.New("catalog object does not parse")
	if len(b) < 1 || b[0] != 1 {
		return nil, bad
	}
	p := b[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	bs := func() ([]byte, bool) {
		l, ok := uv()
		if !ok || l > uint64(len(p)) {
			return nil, false
		}
		s := p[:l:l]
		p = p[l:]
		return s, true
	}
	count, ok := uv()
	if !ok || count > uint64(len(p)) {
		return nil, bad
	}
	recs := make([]CatalogRecord, 0, count)
	for range count {
		if len(p) < 1 {
			return nil, bad
		}
		r := CatalogRecord{Op: CatalogOp(p[0])}
		p = p[1:]
		t, n := binary.Varint(p)
		if n <= 0 {
			return nil, bad
		}
		p = p[n:]
		r.Time = time.Unix(0, t).UTC()
		var fields [4][]byte
		for i := range fields {
			if fields[i], ok = bs(); !ok {
				return nil, bad
			}
		}
		r.Bucket, r.Key, r.Version, r.Meta = string(fields[0]), string(fields[1]), fields[2], fields[3]
		ne, ok := uv()
		if !ok || ne > uint64(len(p))/33 {
			return nil, bad
		}
		r.Entries = make([]chunkstore.Entry, ne)
		for i := range r.Entries {
			if len(p) < 32 {
				return nil, bad
			}
			copy(r.Entries[i].ID[:], p)
			p = p[32:]
			l, ok := uv()
			if !ok || l == 0 || l > 1<<32-1 {
				return nil, bad
			}
			r.Entries[i].Len = uint32(l)
		}
		if r.Op < CatalogBucket || r.Op > CatalogForget {
			return nil, bad
		}
		recs = append(recs, r)
	}
	if len(p) != 0 {
		return nil, bad
	}
	return recs, nil
}

// Catalog appends to and reads a tier's catalog. Appends are serialized by
// the caller (a tier's mover).
type Catalog struct {
	tier *Tier
	next uint64 // the number of the next object to write; 0: not found yet
}

// NewCatalog is the catalog of a tier.
func NewCatalog(t *Tier) *Catalog { return &Catalog{tier: t} }

// exists says whether catalog object n is in the tier.
func (c *Catalog) exists(ctx context.Context, n uint64) (bool, error) {
	rc, err := c.tier.Target.GetRange(ctx, c.tier.Keys.catalogName(n), 0, 1)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

// HasStart says whether the catalog's first object is in the tier: with
// another master key it is not (its name is keyed), though others are.
func (c *Catalog) HasStart(ctx context.Context) (bool, error) {
	return c.exists(ctx, 1)
}

// findNext finds the first absent object number: from the last one known,
// forward. Objects are written in order, one at a time, so the first gap
// is the end.
func (c *Catalog) findNext(ctx context.Context) error {
	if c.next != 0 {
		return nil
	}
	// Probe 1, 2, 4, ... for an upper bound, then bisect: the log's end in
	// O(log n) reads.
	lo, hi := uint64(0), uint64(1) // object lo exists (0 stands for "none"); hi unknown
	for {
		ok, err := c.exists(ctx, hi)
		if err != nil {
			return fmt.Errorf("cloudtier: catalog: %w", err)
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := c.exists(ctx, mid)
		if err != nil {
			return fmt.Errorf("cloudtier: catalog: %w", err)
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	c.next = hi
	return nil
}

// Append writes records to the catalog, durably once it returns nil. A
// failed append may be repeated: an object written whole is never written
// again (the next number is taken only once it is stored).
func (c *Catalog) Append(ctx context.Context, recs []CatalogRecord) error {
	if err := c.findNext(ctx); err != nil {
		return err
	}
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size < maxCatalogObject) {
			size += 64 + len(recs[n].Bucket) + len(recs[n].Key) + len(recs[n].Meta) + 40*len(recs[n].Entries)
			n++
		}
		if err := c.put(ctx, c.next, encodeCatalog(recs[:n])); err != nil {
			return err
		}
		c.next++
		recs = recs[n:]
	}
	return nil
}

func (c *Catalog) put(ctx context.Context, n uint64, plain []byte) error {
	name := c.tier.Keys.catalogName(n)
	var sealed bytes.Buffer
	k := c.tier.Keys.catalogKey(name)
	if _, err := sio.Encrypt(&sealed, bytes.NewReader(plain), sioConfig(k, 0)); err != nil {
		return fmt.Errorf("cloudtier: seal catalog: %w", err)
	}
	sum := md5.Sum(sealed.Bytes())
	if err := c.tier.Target.Put(ctx, name, bytes.NewReader(sealed.Bytes()), int64(sealed.Len()), sum[:]); err != nil {
		return fmt.Errorf("cloudtier: tier %s: catalog: %w", c.tier.Name, err)
	}
	return nil
}

// Read calls fn for every record of the catalog, in the order written.
// An object that does not open (altered, or another master key's) fails
// the read, naming it.
func (c *Catalog) Read(ctx context.Context, fn func(CatalogRecord) error) error {
	for n := uint64(1); ; n++ {
		name := c.tier.Keys.catalogName(n)
		rc, err := c.tier.Target.GetRange(ctx, name, 0, -1)
		if errors.Is(err, ErrNotFound) {
			c.next = n
			return nil
		}
		if err != nil {
			return fmt.Errorf("cloudtier: catalog: %w", err)
		}
		sealed, err := io.ReadAll(io.LimitReader(rc, 2*maxCatalogObject+maxIndex))
		rc.Close()
		if err != nil {
			return fmt.Errorf("cloudtier: catalog object %s: %w", name, err)
		}
		plain, err := sio.DecryptBuffer(nil, sealed, sioConfig(c.tier.Keys.catalogKey(name), 0))
		if err != nil {
			return fmt.Errorf("cloudtier: %s catalog object %s does not open (%v): %w", c.tier.Target, name, err, ErrDamaged)
		}
		recs, err := decodeCatalog(plain)
		if err != nil {
			return fmt.Errorf("cloudtier: %s catalog object %s: %v: %w", c.tier.Target, name, err, ErrDamaged)
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
}

package cloudtier

// A pack is one cloud object holding many chunk records:
//
//	sealed data   the records, back to back, exactly as the chunk store
//	              keeps them, sealed with sio (DARE 2.0) under the pack's
//	              data key
//	sealed index  format (1), uvarints data size and record count, then per
//	              record its chunk's MAC (32 bytes) and uvarints offset and
//	              size, sealed with sio under the pack's index key
//	trailer       16 bytes: the sealed index's length (uint32, little
//	              endian), the key generation (uint32), "cairnpk1"
//
// Both keys derive from the generation's data key and the pack's random
// name, so a package of one pack does not open in another, and DARE's
// sequence numbers stop packages from moving within a pack. DARE seals
// 64 KiB packages one by one, so a range read fetches and opens only the
// packages its bytes lie in: reading a chunk costs its record rounded out to
// 64 KiB, not the pack. The index is sealed apart from the data, so a scrub
// or a recovery reads a pack's contents from its last few KiB; unlike
// restic's header, it names chunks by a keyed MAC, never by their hash.
// The trailer says nothing the provider does not know but the key
// generation.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/minio/sio"

	"github.com/cairn-backup/cairn/chunkstore"
)

const (
	packPrefix  = "p/"
	trailerSize = 16
	packMagic   = "cairnpk1"
	// sio's package: 64 KiB of plaintext, sealed with a 16-byte header and
	// a 16-byte tag.
	sioPayload = 64 << 10
	sioPackage = sioPayload + 32
	// maxIndex bounds a sealed index: a 64 MiB pack of 1 KiB records
	// needs ~3 MiB.
	maxIndex = 64 << 20
)

// ErrDamaged is how a pack that does not open fails: altered, truncated or
// sealed under another key.
var ErrDamaged = errors.New("cloudtier: pack is damaged, altered or sealed under another key")

func sioConfig(key [32]byte, seq uint32) sio.Config {
	return sio.Config{MinVersion: sio.Version20, MaxVersion: sio.Version20, Key: key[:], SequenceNumber: seq}
}

// newPackName is a random pack name: 128 bits, so that names never meet.
func newPackName() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("cloudtier: pack name: %w", err)
	}
	return packPrefix + hex.EncodeToString(b[:]), nil
}

// packWriter seals a pack into a spool file as records are added.
type packWriter struct {
	keys   Keys
	gen    uint32
	name   string
	f      *os.File
	sum    hash.Hash // MD5 of the object, for the service to check
	enc    io.WriteCloser
	size   int64 // plaintext bytes added
	chunks []chunkstore.PackedChunk
}

func newPackWriter(dir string, keys Keys, gen uint32) (*packWriter, error) {
	name, err := newPackName()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "pack-*")
	if err != nil {
		return nil, fmt.Errorf("cloudtier: spool: %w", err)
	}
	w := &packWriter{keys: keys, gen: gen, name: name, f: f, sum: md5.New()}
	w.enc, err = sio.EncryptWriter(io.MultiWriter(f, w.sum), sioConfig(keys.packKey(gen, name, "data"), 0))
	if err != nil {
		w.discard()
		return nil, fmt.Errorf("cloudtier: %w", err)
	}
	return w, nil
}

// add appends a record.
func (w *packWriter) add(r chunkstore.Record) error {
	if _, err := w.enc.Write(r.Data); err != nil {
		return fmt.Errorf("cloudtier: spool: %w", err)
	}
	w.chunks = append(w.chunks, chunkstore.PackedChunk{ID: r.ID, Offset: w.size, Size: int64(len(r.Data))})
	w.size += int64(len(r.Data))
	return nil
}

// seal finishes the pack: the data's last package, the sealed index, the
// trailer. The file is then read from its start by the upload.
func (w *packWriter) seal() (objSize int64, sum []byte, err error) {
	if err := w.enc.Close(); err != nil {
		return 0, nil, fmt.Errorf("cloudtier: spool: %w", err)
	}
	idx := encodeIndex(w.keys, w.size, w.chunks)
	var sealed bytes.Buffer
	if _, err := sio.Encrypt(&sealed, bytes.NewReader(idx), sioConfig(w.keys.packKey(w.gen, w.name, "index"), 0)); err != nil {
		return 0, nil, fmt.Errorf("cloudtier: seal index: %w", err)
	}
	var tr [trailerSize]byte
	binary.LittleEndian.PutUint32(tr[0:], uint32(sealed.Len()))
	binary.LittleEndian.PutUint32(tr[4:], w.gen)
	copy(tr[8:], packMagic)
	out := io.MultiWriter(w.f, w.sum)
	if _, err := out.Write(append(sealed.Bytes(), tr[:]...)); err != nil {
		return 0, nil, fmt.Errorf("cloudtier: spool: %w", err)
	}
	dataSize, _ := sio.EncryptedSize(uint64(w.size))
	objSize = int64(dataSize) + int64(sealed.Len()) + trailerSize
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return 0, nil, fmt.Errorf("cloudtier: spool: %w", err)
	}
	return objSize, w.sum.Sum(nil), nil
}

// discard removes the spool file.
func (w *packWriter) discard() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// IndexEntry is one record of a pack as its index has it.
type IndexEntry struct {
	MAC    [32]byte // Keys.ChunkMAC of the chunk's ID
	Offset int64
	Size   int64
}

// PackIndex is a pack's opened index.
type PackIndex struct {
	Name     string
	KeyGen   uint32
	DataSize int64 // plaintext bytes of records
	Entries  []IndexEntry
}

func encodeIndex(keys Keys, size int64, chunks []chunkstore.PackedChunk) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(chunks)*(32+6))
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(size))
	b = binary.AppendUvarint(b, uint64(len(chunks)))
	for _, c := range chunks {
		mac := keys.ChunkMAC(c.ID)
		b = append(b, mac[:]...)
		b = binary.AppendUvarint(b, uint64(c.Offset))
		b = binary.AppendUvarint(b, uint64(c.Size))
	}
	return b
}

// decodeIndex parses an opened index; every record must lie inside the
// data, in order, without overlap.
func decodeIndex(b []byte) (size int64, es []IndexEntry, err error) {
	bad := func(what string) error { return fmt.Errorf("index: %s: %w", what, ErrDamaged) }
	if len(b) < 1 || b[0] != 1 {
		return 0, nil, bad("unknown format")
	}
	p := b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	sz, ok1 := next()
	count, ok2 := next()
	if !ok1 || !ok2 || sz > 1<<40 || count > uint64(len(p))/34 {
		return 0, nil, bad("bad header")
	}
	es = make([]IndexEntry, 0, count)
	var end uint64
	for range count {
		if len(p) < 32 {
			return 0, nil, bad("truncated")
		}
		var e IndexEntry
		copy(e.MAC[:], p)
		p = p[32:]
		off, ok1 := next()
		n, ok2 := next()
		if !ok1 || !ok2 || off < end || n == 0 || off+n > sz {
			return 0, nil, bad("record outside the data")
		}
		end = off + n
		e.Offset, e.Size = int64(off), int64(n)
		es = append(es, e)
	}
	if len(p) != 0 {
		return 0, nil, bad("trailing bytes")
	}
	return int64(sz), es, nil
}

// ReadPackIndex reads and opens the index of the pack name, an object of
// objSize bytes (as List gives it).
func ReadPackIndex(ctx context.Context, t Target, keys Keys, name string, objSize int64) (PackIndex, error) {
	fail := func(err error) (PackIndex, error) {
		return PackIndex{}, fmt.Errorf("cloudtier: %s pack %s: %w", t, name, err)
	}
	if objSize < trailerSize {
		return fail(fmt.Errorf("%d bytes: too short for a pack: %w", objSize, ErrDamaged))
	}
	tr, err := readAll(ctx, t, name, objSize-trailerSize, trailerSize)
	if err != nil {
		return fail(err)
	}
	if string(tr[8:]) != packMagic {
		return fail(fmt.Errorf("no pack trailer: %w", ErrDamaged))
	}
	idxLen := int64(binary.LittleEndian.Uint32(tr[0:]))
	gen := binary.LittleEndian.Uint32(tr[4:])
	if idxLen > maxIndex || idxLen > objSize-trailerSize {
		return fail(fmt.Errorf("index of %d bytes: %w", idxLen, ErrDamaged))
	}
	sealed, err := readAll(ctx, t, name, objSize-trailerSize-idxLen, idxLen)
	if err != nil {
		return fail(err)
	}
	idx, err := sio.DecryptBuffer(nil, sealed, sioConfig(keys.packKey(gen, name, "index"), 0))
	if err != nil {
		return fail(fmt.Errorf("index does not open (%v): %w", err, ErrDamaged))
	}
	size, es, err := decodeIndex(idx)
	if err != nil {
		return fail(err)
	}
	if enc, _ := sio.EncryptedSize(uint64(size)); int64(enc) != objSize-trailerSize-idxLen {
		return fail(fmt.Errorf("data of %d bytes, index says %d sealed: %w", objSize-trailerSize-idxLen, enc, ErrDamaged))
	}
	return PackIndex{Name: name, KeyGen: gen, DataSize: size, Entries: es}, nil
}

// readAll reads n bytes at off of an object.
func readAll(ctx context.Context, t Target, name string, off, n int64) ([]byte, error) {
	rc, err := t.GetRange(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
	}
	return b, nil
}

// openRange reads and opens the plaintext bytes [off, off+n) of a pack's
// data whose plaintext is dataSize bytes: the sio packages they lie in, no
// more. The result may begin before off: it starts at the returned
// plaintext offset, a multiple of 64 KiB.
func openRange(ctx context.Context, t *Tier, p chunkstore.Pack, off, n int64) (start int64, plain []byte, err error) {
	if off < 0 || n <= 0 || off+n > p.Size {
		return 0, nil, fmt.Errorf("cloudtier: bytes %d+%d of pack %s of %d bytes", off, n, p.Object, p.Size)
	}
	first, last := off/sioPayload, (off+n-1)/sioPayload
	encSize, _ := sio.EncryptedSize(uint64(p.Size))
	cstart := first * sioPackage
	cend := min((last+1)*sioPackage, int64(encSize))
	sealed, err := readAll(ctx, t.Target, p.Object, cstart, cend-cstart)
	if err != nil {
		return 0, nil, err
	}
	plain, err = openPackages(sealed, sioConfig(t.Keys.packKey(p.KeyGen, p.Object, "data"), uint32(first)), (last-first+1)*sioPayload)
	if err != nil {
		return 0, nil, fmt.Errorf("%s pack %s bytes %d+%d do not open (%v): %w", t.Target, p.Object, off, n, err, ErrDamaged)
	}
	return first * sioPayload, plain, nil
}

// openPackages opens consecutive sio packages from the middle of a stream
// (sio's DecryptBuffer wants the stream's final package; its writer does
// not). Every package is authenticated before its plaintext is kept.
func openPackages(sealed []byte, cfg sio.Config, size int64) ([]byte, error) {
	out := bytes.NewBuffer(make([]byte, 0, size))
	w, err := sio.DecryptWriter(out, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(sealed); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

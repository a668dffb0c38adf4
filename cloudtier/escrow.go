package cloudtier

// Escrow keeps the master key in the tier itself, wrapped under a
// passphrase, so that the tier and the passphrase alone recover its data.
// The escrow object is named "k/" and random; what it holds:
//
//	"cairnesc1", argon2id time (uint32), memory in KiB (uint32), threads
//	(1 byte), salt (16 bytes), XChaCha20-Poly1305 nonce (24 bytes), then
//	the master key sealed (48 bytes), all little endian
//
// The parameters travel with the key, so that they can grow without
// breaking old escrows. Changing the passphrase writes a new escrow and
// deletes the old: the data is not touched.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

const (
	escrowPrefix = "k/"
	escrowMagic  = "cairnesc1"
	escrowSize   = len(escrowMagic) + 4 + 4 + 1 + 16 + chacha20poly1305.NonceSizeX + 32 + chacha20poly1305.Overhead
)

// The argon2id parameters of new escrows: RFC 9106's second recommended
// option (64 MiB, 3 passes), with the machines' two cores.
var escrowParams = struct {
	time, memory uint32
	threads      uint8
}{3, 64 << 10, 2}

// ErrWrongPassphrase is Recover's answer when no escrow in the tier opens
// with the passphrase given.
var ErrWrongPassphrase = errors.New("cloudtier: the passphrase does not open the master key escrowed in the tier")

// ErrNoEscrow says the tier holds no escrowed key.
var ErrNoEscrow = errors.New("cloudtier: the tier holds no escrowed master key (cairn admin tier escrow)")

// minPassphrase is the shortest passphrase Escrow takes.
const minPassphrase = 12

// ErrShortPassphrase is Escrow's refusal of a passphrase under
// minPassphrase bytes.
var ErrShortPassphrase = fmt.Errorf("cloudtier: the passphrase is too short: use at least %d bytes", minPassphrase)

// Escrow stores mk in the tier wrapped under passphrase, replacing any
// escrow there before (once the new one is stored).
func Escrow(ctx context.Context, tg Target, mk MasterKey, passphrase []byte) error {
	passphrase = bytes.TrimRight(passphrase, "\r\n")
	if len(passphrase) < minPassphrase {
		return fmt.Errorf("%w (it has %d)", ErrShortPassphrase, len(passphrase))
	}
	var old []string
	err := tg.List(ctx, escrowPrefix, func(name string, _ int64) error {
		old = append(old, name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cloudtier: escrow: %w", err)
	}
	b := make([]byte, 0, escrowSize)
	b = append(b, escrowMagic...)
	p := escrowParams
	b = binary.LittleEndian.AppendUint32(b, p.time)
	b = binary.LittleEndian.AppendUint32(b, p.memory)
	b = append(b, p.threads)
	salt := make([]byte, 16+chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return fmt.Errorf("cloudtier: escrow: %w", err)
	}
	b = append(b, salt...)
	aead, err := chacha20poly1305.NewX(argon2.IDKey(passphrase, salt[:16], p.time, p.memory, p.threads, 32))
	if err != nil {
		return err
	}
	b = aead.Seal(b, salt[16:], mk[:], []byte(escrowMagic))
	var rnd [16]byte
	if _, err := io.ReadFull(rand.Reader, rnd[:]); err != nil {
		return fmt.Errorf("cloudtier: escrow: %w", err)
	}
	name := escrowPrefix + hex.EncodeToString(rnd[:])
	sum := md5.Sum(b)
	if err := tg.Put(ctx, name, bytes.NewReader(b), int64(len(b)), sum[:]); err != nil {
		return fmt.Errorf("cloudtier: escrow: %w", err)
	}
	for _, o := range old {
		if err := tg.Delete(ctx, o); err != nil {
			return fmt.Errorf("cloudtier: escrow stored as %s, but the old one stays: %w", name, err)
		}
	}
	return nil
}

// Unescrow opens the master key escrowed in the tier with passphrase.
func Unescrow(ctx context.Context, tg Target, passphrase []byte) (MasterKey, error) {
	passphrase = bytes.TrimRight(passphrase, "\r\n")
	var names []string
	err := tg.List(ctx, escrowPrefix, func(name string, size int64) error {
		if size == int64(escrowSize) && strings.HasPrefix(name, escrowPrefix) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return MasterKey{}, fmt.Errorf("cloudtier: escrow: %w", err)
	}
	if len(names) == 0 {
		return MasterKey{}, ErrNoEscrow
	}
	for _, name := range names {
		b, err := readAll(ctx, tg, name, 0, int64(escrowSize))
		if err != nil {
			return MasterKey{}, fmt.Errorf("cloudtier: escrow: %w", err)
		}
		if string(b[:len(escrowMagic)]) != escrowMagic {
			continue
		}
		p := b[len(escrowMagic):]
		t, mem, threads := binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]), p[8]
		if t == 0 || t > 100 || mem < 8<<10 || mem > 4<<20 || threads == 0 {
			return MasterKey{}, fmt.Errorf("cloudtier: escrow %s: argon2id parameters %d/%d/%d out of range: %w", name, t, mem, threads, ErrDamaged)
		}
		salt, nonce, sealed := p[9:25], p[25:25+chacha20poly1305.NonceSizeX], p[25+chacha20poly1305.NonceSizeX:]
		aead, err := chacha20poly1305.NewX(argon2.IDKey(passphrase, salt, t, mem, threads, 32))
		if err != nil {
			return MasterKey{}, err
		}
		key, err := aead.Open(nil, nonce, sealed, []byte(escrowMagic))
		if err != nil {
			continue
		}
		var mk MasterKey
		copy(mk[:], key)
		return mk, nil
	}
	return MasterKey{}, ErrWrongPassphrase
}

package webhook

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SealingKeySize is the size of the key that seals signing secrets (AES-256).
const SealingKeySize = 32

// sealVersion prefixes every sealed value: the format (AES-256-GCM, random
// nonce). Which key sealed a value is not written down: Open tries the
// current key, then the previous one, and the GCM tag tells which fits.
const sealVersion = 1

// SealingKeys are sealing keys that can rotate (package secrets keeps them
// from Secrets Manager): the current key first, which seals, then the
// previous one, which still opens what it sealed.
type SealingKeys interface {
	// Current returns the keys; it fails only while none could be loaded.
	Current(ctx context.Context) ([][]byte, error)
	// Refresh is told that no key opened a value: it may fetch the keys
	// again (rate-limited), and says whether they changed.
	Refresh(ctx context.Context) ([][]byte, bool)
}

// Sealer encrypts signing secrets at rest. They must be usable for signing,
// so they cannot be hashed like publisher tokens; a table dump without the
// sealing key (which lives in Secrets Manager) does not reveal them.
type Sealer struct {
	keys SealingKeys
}

// NewSealer uses one fixed 32-byte key (tests, tools).
func NewSealer(key []byte) (*Sealer, error) {
	if _, err := newAEAD(key); err != nil {
		return nil, err
	}
	return &Sealer{keys: fixedKeys{key}}, nil
}

// NewRotatingSealer uses keys that rotate: the webhook function's, read
// from Secrets Manager.
func NewRotatingSealer(keys SealingKeys) *Sealer {
	return &Sealer{keys: keys}
}

type fixedKeys struct{ key []byte }

func (f fixedKeys) Current(context.Context) ([][]byte, error) { return [][]byte{f.key}, nil }
func (f fixedKeys) Refresh(context.Context) ([][]byte, bool)  { return [][]byte{f.key}, false }

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != SealingKeySize {
		return nil, fmt.Errorf("the sealing key must be %d bytes, got %d", SealingKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return aead, nil
}

// ParseSealingKey decodes the configured key: standard base64 of 32 bytes.
func ParseSealingKey(encoded string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return nil, errors.New("the sealing key is not base64")
	}
	if len(key) != SealingKeySize {
		return nil, fmt.Errorf("the sealing key must decode to %d bytes, got %d", SealingKeySize, len(key))
	}
	return key, nil
}

// NewSealingKey makes a random key and its configuration form.
func NewSealingKey() (key []byte, encoded string) {
	key = make([]byte, SealingKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return key, base64.StdEncoding.EncodeToString(key)
}

// ErrSealingKeyUnavailable means no sealing key could be loaded: a
// transient failure (the delivery is retried), not a corrupt value.
var ErrSealingKeyUnavailable = errors.New("the sealing key is unavailable")

// Seal encrypts plain with the current key, bound to binding: a sealed value
// copied to another endpoint (or publisher) does not open there.
func (s *Sealer) Seal(ctx context.Context, plain []byte, binding string) ([]byte, error) {
	keys, err := s.keys.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealingKeyUnavailable, err)
	}
	aead, err := newAEAD(keys[0])
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{sealVersion}, nonce...)
	return aead.Seal(out, nonce, plain, []byte(binding)), nil
}

// ErrUnseal means a sealed value is corrupt, was sealed with a key that is
// neither the current nor the previous one, or belongs to another context.
var ErrUnseal = errors.New("cannot open a sealed secret")

// Open decrypts a value of Seal, with the current key or the previous one;
// when neither opens it, with the keys fetched again (a rotation not seen
// yet), if that brings new ones.
func (s *Sealer) Open(ctx context.Context, sealed []byte, binding string) ([]byte, error) {
	keys, err := s.keys.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSealingKeyUnavailable, err)
	}
	if plain, ok := open(keys, sealed, binding); ok {
		return plain, nil
	}
	if keys, changed := s.keys.Refresh(ctx); changed {
		if plain, ok := open(keys, sealed, binding); ok {
			return plain, nil
		}
	}
	return nil, ErrUnseal
}

func open(keys [][]byte, sealed []byte, binding string) ([]byte, bool) {
	for _, key := range keys {
		aead, err := newAEAD(key)
		if err != nil {
			continue
		}
		n := aead.NonceSize()
		if len(sealed) < 1+n || sealed[0] != sealVersion {
			return nil, false
		}
		if plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(binding)); err == nil {
			return plain, true
		}
	}
	return nil, false
}

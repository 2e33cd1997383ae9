package webhook

import (
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

// sealVersion prefixes every sealed value, so a future key rotation can tell
// which key sealed what.
const sealVersion = 1

// Sealer encrypts signing secrets at rest. They must be usable for signing,
// so they cannot be hashed like publisher tokens; a table dump without the
// sealing key (which lives in Secrets Manager) does not reveal them.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer uses a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
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
	return &Sealer{aead: aead}, nil
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

// Seal encrypts plain, bound to context: a sealed value copied to another
// endpoint (or publisher) does not open there.
func (s *Sealer) Seal(plain []byte, context string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(context))
}

// ErrUnseal means a sealed value is corrupt, was sealed with another key, or
// belongs to another context.
var ErrUnseal = errors.New("cannot open a sealed secret")

// Open decrypts a value of Seal.
func (s *Sealer) Open(sealed []byte, context string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}

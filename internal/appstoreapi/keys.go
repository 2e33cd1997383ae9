package appstoreapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// A publisher's App Store Connect key, at rest: the issuer id and the key id
// in clear (operators see them), the private key sealed with AES-256-GCM by
// the same sealer as webhook signing secrets, bound to the publisher and the
// key id, so a sealed key copied to another publisher's item does not open.

// SealedKey is a publisher's key as stored.
type SealedKey struct {
	IssuerID string
	KeyID    string
	// Sealed is the .p8 file, sealed.
	Sealed []byte
	SetAt  time.Time
}

// KeyStore stores publishers' keys.
type KeyStore interface {
	// PutAppStoreKey replaces the publisher's key; operator.ErrPublisherNotFound
	// when the publisher is unknown.
	PutAppStoreKey(ctx context.Context, publisher transfer.PublisherID, k SealedKey) error
	// AppStoreKey reads the publisher's key; nil when none is set.
	AppStoreKey(ctx context.Context, publisher transfer.PublisherID) (*SealedKey, error)
}

// Sealer seals and opens secrets bound to a context; *webhook.Sealer is one
// (the one sealer of the service: one sealing key, one rotation procedure).
type Sealer interface {
	Seal(ctx context.Context, plain []byte, binding string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, binding string) ([]byte, error)
}

// ErrNoKey: the publisher has no App Store Connect key.
var ErrNoKey = errors.New("the publisher has no App Store Connect key (transferctl publisher apple set --issuer ... --key-id ... --private-key-file ...)")

// Keys are the rules of publishers' keys over their storage.
type Keys struct {
	store  KeyStore
	sealer Sealer
	now    func() time.Time
}

// NewKeys wires the rules to a store and the sealer (nil when only reading
// what is stored in clear).
func NewKeys(store KeyStore, sealer Sealer) *Keys {
	return &Keys{store: store, sealer: sealer, now: time.Now}
}

// CheckKey applies the rules of a key as an operator gives it: an issuer id
// that is a UUID, a key id of 10 letters and digits, and a .p8 that is a
// P-256 private key. Its errors quote the ids, never the key.
func CheckKey(issuerID, keyID string, p8 []byte) error {
	if !isUUID(issuerID) {
		return fmt.Errorf("issuer id %q is not a UUID (App Store Connect, Users and Access, Integrations, In-App Purchase: Issuer ID)", issuerID)
	}
	if !isKeyID(keyID) {
		return fmt.Errorf("key id %q is not 10 capital letters and digits (the Key ID beside the key in App Store Connect)", keyID)
	}
	if _, err := ParsePrivateKey(p8); err != nil {
		return err
	}
	return nil
}

// Set checks the key, seals the .p8 and stores it in place of the publisher's
// current key.
func (k *Keys) Set(ctx context.Context, publisher transfer.PublisherID, issuerID, keyID string, p8 []byte) (SealedKey, error) {
	if err := CheckKey(issuerID, keyID, p8); err != nil {
		return SealedKey{}, err
	}
	sealed, err := k.sealer.Seal(ctx, p8, binding(publisher, keyID))
	if err != nil {
		return SealedKey{}, fmt.Errorf("seal the private key: %w", err)
	}
	s := SealedKey{IssuerID: issuerID, KeyID: keyID, Sealed: sealed, SetAt: k.now().UTC()}
	if err := k.store.PutAppStoreKey(ctx, publisher, s); err != nil {
		return SealedKey{}, fmt.Errorf("store the App Store Connect key of publisher %d: %w", publisher, err)
	}
	return s, nil
}

// Info is the stored key without its secret; nil when none is set.
func (k *Keys) Info(ctx context.Context, publisher transfer.PublisherID) (*SealedKey, error) {
	s, err := k.store.AppStoreKey(ctx, publisher)
	if err != nil || s == nil {
		return nil, err
	}
	s.Sealed = nil
	return s, nil
}

// Open reads and unseals the publisher's key, for the app bundleID.
func (k *Keys) Open(ctx context.Context, publisher transfer.PublisherID, bundleID string) (Key, error) {
	s, err := k.store.AppStoreKey(ctx, publisher)
	if err != nil {
		return Key{}, fmt.Errorf("read the App Store Connect key of publisher %d: %w", publisher, err)
	}
	if s == nil {
		return Key{}, ErrNoKey
	}
	p8, err := k.sealer.Open(ctx, s.Sealed, binding(publisher, s.KeyID))
	if err != nil {
		return Key{}, fmt.Errorf("open the App Store Connect key %s of publisher %d: %w", s.KeyID, publisher, err)
	}
	priv, err := ParsePrivateKey(p8)
	if err != nil {
		return Key{}, fmt.Errorf("the stored App Store Connect key %s of publisher %d: %w", s.KeyID, publisher, err)
	}
	return Key{IssuerID: s.IssuerID, KeyID: s.KeyID, BundleID: bundleID, Private: priv}, nil
}

// binding ties a sealed key to its publisher and key id.
func binding(publisher transfer.PublisherID, keyID string) string {
	return "appstore-connect-key:" + strconv.FormatInt(int64(publisher), 10) + ":" + keyID
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isKeyID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

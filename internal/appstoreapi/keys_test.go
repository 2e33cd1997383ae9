package appstoreapi_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

type memKeys map[transfer.PublisherID]appstoreapi.SealedKey

func (m memKeys) PutAppStoreKey(_ context.Context, p transfer.PublisherID, k appstoreapi.SealedKey) error {
	m[p] = k
	return nil
}

func (m memKeys) AppStoreKey(_ context.Context, p transfer.PublisherID) (*appstoreapi.SealedKey, error) {
	k, ok := m[p]
	if !ok {
		return nil, nil
	}
	return &k, nil
}

func newKeys(t *testing.T) (*appstoreapi.Keys, memKeys) {
	t.Helper()
	key, _ := webhook.NewSealingKey()
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	store := memKeys{}
	return appstoreapi.NewKeys(store, sealer), store
}

// A key is stored sealed, opens for its publisher only, and Info never carries the secret.
func TestKeysSealedAtRest(t *testing.T) {
	ctx := context.Background()
	keys, store := newKeys(t)
	k, p8 := newKey(t)
	if _, err := keys.Set(ctx, 7, testIssuer, testKeyID, p8); err != nil {
		t.Fatal(err)
	}
	stored := store[7]
	if bytes.Contains(stored.Sealed, p8[30:60]) || len(stored.Sealed) == 0 {
		t.Fatal("the private key is stored in clear")
	}
	if stored.IssuerID != testIssuer || stored.KeyID != testKeyID || stored.SetAt.IsZero() {
		t.Errorf("stored = %+v", stored)
	}
	got, err := keys.Open(ctx, 7, testBundle)
	if err != nil || !got.Private.Equal(k.Private) || got.KeyID != testKeyID || got.IssuerID != testIssuer || got.BundleID != testBundle {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	info, err := keys.Info(ctx, 7)
	if err != nil || info.Sealed != nil || info.KeyID != testKeyID {
		t.Errorf("Info = %+v, %v", info, err)
	}
	if store[7].Sealed == nil {
		t.Error("Info cleared the stored value")
	}
	// Copied to another publisher, or relabelled with another key id, it does not open.
	store[8] = stored
	if _, err := keys.Open(ctx, 8, testBundle); !errors.Is(err, webhook.ErrUnseal) {
		t.Errorf("another publisher's Open = %v, want ErrUnseal", err)
	}
	relabelled := stored
	relabelled.KeyID = "AAAAAAAAAA"
	store[9] = relabelled
	if _, err := keys.Open(ctx, 9, testBundle); !errors.Is(err, webhook.ErrUnseal) {
		t.Errorf("relabelled Open = %v, want ErrUnseal", err)
	}
	if _, err := keys.Open(ctx, 10, testBundle); !errors.Is(err, appstoreapi.ErrNoKey) {
		t.Errorf("Open without a key = %v", err)
	}
	if info, err := keys.Info(ctx, 10); info != nil || err != nil {
		t.Errorf("Info without a key = %v, %v", info, err)
	}
}

// Bad input is refused before anything is stored, and no error quotes the key.
func TestKeysRefuseBadInput(t *testing.T) {
	ctx := context.Background()
	keys, store := newKeys(t)
	_, p8 := newKey(t)
	for name, c := range map[string]struct {
		issuer, keyID string
		p8            []byte
		want          string
	}{
		"issuer not a UUID": {"not-a-uuid", testKeyID, p8, "issuer id"},
		"key id too short":  {testIssuer, "ABC", p8, "key id"},
		"key id lowercase":  {testIssuer, "2x9r4hxf34", p8, "key id"},
		"not a private key": {testIssuer, testKeyID, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "private key"},
		"the key truncated": {testIssuer, testKeyID, p8[:len(p8)/2], "private key"},
	} {
		_, err := keys.Set(ctx, 7, c.issuer, c.keyID, c.p8)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: error quotes the file: %v", name, err)
		}
	}
	if len(store) != 0 {
		t.Errorf("a refused key was stored: %v", store)
	}
}

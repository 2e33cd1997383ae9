package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// rotatingKeys stands in for package secrets: held are the keys Current
// returns, fetched what a Refresh would find.
type rotatingKeys struct {
	held, fetched [][]byte
	err           error
	refreshes     int
}

func (k *rotatingKeys) Current(context.Context) ([][]byte, error) { return k.held, k.err }

func (k *rotatingKeys) Refresh(context.Context) ([][]byte, bool) {
	k.refreshes++
	changed := string(k.fetched[0]) != string(k.held[0])
	k.held = k.fetched
	return k.held, changed
}

func mint(t *testing.T, key []byte, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.MintHS256(key, 1, 2, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHS256KeysRotate(t *testing.T) {
	k1, k2, k3 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32)), []byte(strings.Repeat("3", 32))
	keys := &rotatingKeys{held: [][]byte{k2, k1}, fetched: [][]byte{k2, k1}}
	v := auth.NewVerifier(auth.JWTConfig{HS256Keys: keys})
	want := transfer.Credential{Publisher: 1, Customer: 2}

	// Both keys of the overlap verify, without a fetch.
	expectAccepted(t, v, mint(t, k2, time.Hour), want)
	expectAccepted(t, v, mint(t, k1, time.Hour), want)
	if keys.refreshes != 0 {
		t.Errorf("%d refreshes for tokens the keys held verify", keys.refreshes)
	}
	// A token of a key rotated in since: one refresh, then it verifies.
	keys.fetched = [][]byte{k3, k2}
	expectAccepted(t, v, mint(t, k3, time.Hour), want)
	if keys.refreshes != 1 {
		t.Errorf("refreshes = %d, want 1", keys.refreshes)
	}
	// Two keys back: refused, after a refresh that found nothing new.
	expectRefused(t, v, mint(t, k1, time.Hour))
	if keys.refreshes != 2 {
		t.Errorf("refreshes = %d, want 2", keys.refreshes)
	}
	// A well-signed token refused for its claims needs no fetch.
	expectRefused(t, v, mint(t, k3, -time.Hour))
	if keys.refreshes != 2 {
		t.Errorf("an expired token made a refresh (%d)", keys.refreshes)
	}
}

func TestHS256KeysUnavailable(t *testing.T) {
	keys := &rotatingKeys{err: errors.New("secrets manager down")}
	v := auth.NewVerifier(auth.JWTConfig{HS256Keys: keys})
	_, err := v.Verify(context.Background(), mint(t, hsSecret, time.Hour))
	if !errors.Is(err, auth.ErrKeysUnavailable) || errors.Is(err, auth.ErrInvalidJWT) {
		t.Errorf("error %v: want ErrKeysUnavailable (an internal failure), not ErrInvalidJWT", err)
	}
}

func TestDecodeHS256Key(t *testing.T) {
	if _, err := auth.DecodeHS256Key([]byte(strings.Repeat("k", 32))); err != nil {
		t.Errorf("a 32-byte key refused: %v", err)
	}
	short := "short-secret-value-31-bytes-xxx"
	_, err := auth.DecodeHS256Key([]byte(short))
	if err == nil || strings.Contains(err.Error(), short) {
		t.Errorf("a 31-byte key: error %v (want a refusal that does not quote the value)", err)
	}
}

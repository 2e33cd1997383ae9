package apple_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// fixtures are Apple-shaped decoded payloads from testdata, decoded strictly so that a key the
// structs do not map fails the test.
type fixtures struct {
	txJSON, renewalJSON []byte
	tx                  apple.TransactionInfo
	renewal             apple.RenewalInfo
	payload             apple.NotificationPayload
}

func loadFixtures(t testing.TB) fixtures {
	t.Helper()
	var f fixtures
	f.txJSON = fixture.Read(t, "transaction.json")
	f.renewalJSON = fixture.Read(t, "renewal.json")
	fixture.DecodeStrict(t, "transaction.json", f.txJSON, &f.tx)
	fixture.DecodeStrict(t, "renewal.json", f.renewalJSON, &f.renewal)
	fixture.DecodeStrict(t, "notification.json", fixture.Read(t, "notification.json"), &f.payload)
	return f
}

// newAuthority returns a local root and a verifier that trusts only it.
func newAuthority(t testing.TB) (*localroot.Authority, *apple.Verifier) {
	t.Helper()
	a, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	v, err := apple.NewVerifier(apple.WithRoots(a.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	return a, v
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// assertErr checks err is want and not the other sentinel, and that it quotes no part of the
// token: errors end up in logs, and a token is a customer's purchase.
func assertErr(t testing.TB, err, want error, token string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	for _, other := range []error{apple.ErrMalformed, apple.ErrUnverified} {
		if other != want && errors.Is(err, other) {
			t.Errorf("err = %v is also %v", err, other)
		}
	}
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 12 && strings.Contains(err.Error(), seg[:12]) {
			t.Errorf("error quotes the token: %v", err)
		}
	}
}

// assertAllSet fails when a field of v is its zero value, so that a happy path comparing a
// fixture proves every field decoded, not only the ones the fixture happens to fill.
func assertAllSet(t *testing.T, name string, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Errorf("%s: fixture leaves %s unset", name, rv.Type().Field(i).Name)
		}
	}
}

// jsonSegment base64url-encodes b as a JWS segment.
func jsonSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

var ctx = context.Background()

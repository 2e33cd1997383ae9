package apple_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// signFixtureNotification signs the testdata transaction and renewal as Apple would (the raw
// wire JSON, not re-marshalled structs) and a notification carrying them.
func signFixtureNotification(t *testing.T, a *localroot.Authority, f fixtures) (string, apple.NotificationPayload) {
	t.Helper()
	p := f.payload
	d := *p.Data
	d.SignedTransactionInfo = must[string](t)(a.Sign(json.RawMessage(f.txJSON)))
	d.SignedRenewalInfo = must[string](t)(a.Sign(json.RawMessage(f.renewalJSON)))
	p.Data = &d
	return must[string](t)(a.Sign(p)), p
}

func TestVerifyNotificationDecodesEveryField(t *testing.T) {
	a, v := newAuthority(t)
	f := loadFixtures(t)
	assertAllSet(t, "transaction.json", f.tx)
	assertAllSet(t, "renewal.json", f.renewal)
	assertAllSet(t, "notification.json data", *f.payload.Data)
	signed, want := signFixtureNotification(t, a, f)

	n, err := v.VerifyNotification(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(n.Payload, want) {
		t.Errorf("payload:\n got %+v\nwant %+v", n.Payload, want)
	}
	if n.Transaction == nil || !reflect.DeepEqual(*n.Transaction, f.tx) {
		t.Errorf("transaction:\n got %+v\nwant %+v", n.Transaction, f.tx)
	}
	if n.Renewal == nil || !reflect.DeepEqual(*n.Renewal, f.renewal) {
		t.Errorf("renewal:\n got %+v\nwant %+v", n.Renewal, f.renewal)
	}
	// The pointers carry meaningful zeros: reason 0 ("other"), not in billing retry.
	if *n.Transaction.RevocationReason != apple.RevocationOther || *n.Renewal.IsInBillingRetryPeriod {
		t.Errorf("pointer fields lost their zero values")
	}
}

// A TEST notification has data but nothing signed inside: no transaction, no renewal.
func TestVerifyNotificationWithoutNestedJWS(t *testing.T) {
	a, v := newAuthority(t)
	p := apple.NotificationPayload{
		NotificationType: apple.TypeTest, NotificationUUID: "u-test", Version: "2.0",
		SignedDate: time.Now().UnixMilli(),
		Data:       &apple.NotificationData{BundleID: "com.acme.video", Environment: apple.EnvironmentSandbox},
	}
	n, err := v.VerifyNotification(ctx, must[string](t)(localroot.SignNotification(a, p, nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if n.Transaction != nil || n.Renewal != nil || n.Payload.NotificationType != apple.TypeTest {
		t.Errorf("got %+v", n)
	}
}

func TestVerifyTransactionAndRenewal(t *testing.T) {
	a, v := newAuthority(t)
	f := loadFixtures(t)
	tx, err := v.VerifyTransaction(ctx, must[string](t)(a.Sign(json.RawMessage(f.txJSON))))
	if err != nil || !reflect.DeepEqual(tx, f.tx) {
		t.Errorf("VerifyTransaction = %+v, %v", tx, err)
	}
	r, err := v.VerifyRenewal(ctx, must[string](t)(a.Sign(json.RawMessage(f.renewalJSON))))
	if err != nil || !reflect.DeepEqual(r, f.renewal) {
		t.Errorf("VerifyRenewal = %+v, %v", r, err)
	}
	// Apple adds fields; unknown ones must not break verification.
	var m map[string]any
	if err := json.Unmarshal(f.txJSON, &m); err != nil {
		t.Fatal(err)
	}
	m["price"], m["currency"], m["someFutureField"] = 4990, "USD", map[string]any{"x": 1}
	if _, err := v.VerifyTransaction(ctx, must[string](t)(a.Sign(m))); err != nil {
		t.Errorf("unknown fields: %v", err)
	}
}

// The chain is checked at signedDate, not now: a leaf that has since expired still verifies
// what it signed while it was valid (Apple's notifications are retried for days).
func TestChainCheckedAtSignedDate(t *testing.T) {
	a, v := newAuthority(t)
	now := time.Now()
	expired := must[*localroot.Authority](t)(a.Issue(localroot.WithLeafValidity(now.Add(-10*24*time.Hour), now.Add(-24*time.Hour))))
	tx := loadFixtures(t).tx
	tx.SignedDate = now.Add(-5 * 24 * time.Hour).UnixMilli()
	if _, err := v.VerifyTransaction(ctx, must[string](t)(expired.Sign(tx))); err != nil {
		t.Errorf("signed while valid: %v", err)
	}
	tx.SignedDate = now.UnixMilli()
	_, err := v.VerifyTransaction(ctx, must[string](t)(expired.Sign(tx)))
	assertErr(t, err, apple.ErrUnverified, "")
}

// The default Verifier trusts Apple Root CA - G3 only, so the local root is refused.
func TestDefaultVerifierRefusesLocalRoot(t *testing.T) {
	a, _ := newAuthority(t)
	v := must[*apple.Verifier](t)(apple.NewVerifier())
	signed, _ := signFixtureNotification(t, a, loadFixtures(t))
	_, err := v.VerifyNotification(ctx, signed)
	assertErr(t, err, apple.ErrUnverified, signed)
}

func TestRevocationCheck(t *testing.T) {
	a, _ := newAuthority(t)
	var calls int
	revoked := errors.New("revoked")
	check := func(_ context.Context, chain []*x509.Certificate) error {
		calls++
		if len(chain) != 3 || !chain[0].Equal(a.Leaf()) || !chain[2].Equal(a.Root()) {
			t.Errorf("chain = %d certificates, want leaf..root", len(chain))
		}
		return nil
	}
	v := must[*apple.Verifier](t)(apple.NewVerifier(apple.WithRoots(a.Pool()), apple.WithRevocationCheck(check)))
	signed, _ := signFixtureNotification(t, a, loadFixtures(t))
	if _, err := v.VerifyNotification(ctx, signed); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("revocation check ran %d times, want 3 (payload, transaction, renewal)", calls)
	}
	v = must[*apple.Verifier](t)(apple.NewVerifier(apple.WithRoots(a.Pool()),
		apple.WithRevocationCheck(func(context.Context, []*x509.Certificate) error { return revoked })))
	_, err := v.VerifyNotification(ctx, signed)
	assertErr(t, err, apple.ErrUnverified, signed)
	if !errors.Is(err, revoked) {
		t.Errorf("err = %v does not wrap the check's error", err)
	}
}

package apple_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// FuzzSignedPayload hands the verifier whatever a caller of the notifications endpoint could
// post as signedPayload. It is refused as malformed or unverified, naming neither sentinel
// twice and quoting none of it, or it is the genuine notification, unchanged.
func FuzzSignedPayload(f *testing.F) {
	a, v := newAuthority(f)
	fx := loadFixtures(f)
	good := must[string](f)(localroot.SignNotification(a, fx.payload, &fx.tx, &fx.renewal))
	genuine := must[apple.Notification](f)(v.VerifyNotification(context.Background(), good))
	f.Add(good)
	f.Add(must[string](f)(localroot.SignNotification(a, fx.payload, &fx.tx, &fx.renewal, localroot.WithAlg("none"))))
	f.Add(must[string](f)(a.Sign(fx.payload, localroot.WithoutX5C())))
	f.Add("e30.e30.")
	f.Add("..")

	f.Fuzz(func(t *testing.T, signedPayload string) {
		n, err := v.VerifyNotification(context.Background(), signedPayload)
		if err == nil {
			if !reflect.DeepEqual(n, genuine) {
				t.Fatalf("a changed payload verified: %+v", n)
			}
			return
		}
		assertRefused(t, err, signedPayload)
	})
}

// FuzzNotificationClaims signs whatever JSON a notification's payload could hold under the
// trusted test root, so that the fuzzer explores what is decided after the signature: the
// claims, and the nested signed transaction and renewal the seeds carry. Whatever they are, a
// payload is refused as malformed or unverified, or it verifies with its UUID and type set.
func FuzzNotificationClaims(f *testing.F) {
	a, v := newAuthority(f)
	fx := loadFixtures(f)
	p := fx.payload
	d := *p.Data
	d.SignedTransactionInfo = must[string](f)(a.Sign(fx.tx))
	d.SignedRenewalInfo = must[string](f)(a.Sign(fx.renewal))
	p.Data = &d
	f.Add(must[[]byte](f)(json.Marshal(p)))
	f.Add(must[[]byte](f)(json.Marshal(fx.payload)))
	f.Add([]byte(`{"notificationType":"TEST","notificationUUID":"u","signedDate":1}`))
	f.Add([]byte(`{"notificationType":"","signedDate":"yesterday","data":{"signedTransactionInfo":7}}`))

	f.Fuzz(func(t *testing.T, claims []byte) {
		if !json.Valid(claims) {
			return // the signer cannot marshal it; FuzzSignedPayload covers what is not JSON
		}
		token, err := a.Sign(json.RawMessage(claims))
		if err != nil {
			t.Fatal(err)
		}
		n, err := v.VerifyNotification(context.Background(), token)
		if err != nil {
			assertRefused(t, err, token)
			return
		}
		if n.Payload.NotificationUUID == "" || n.Payload.NotificationType == "" {
			t.Fatalf("verified without a UUID or a type: %+v", n.Payload)
		}
		if d := n.Payload.Data; d != nil && (d.SignedTransactionInfo != "") != (n.Transaction != nil) {
			t.Fatalf("a signedTransactionInfo verified into %v", n.Transaction)
		}
	})
}

// assertRefused checks a refusal is one of the two sentinels, and quotes nothing of the token.
func assertRefused(t testing.TB, err error, token string) {
	t.Helper()
	switch {
	case errors.Is(err, apple.ErrMalformed):
		assertErr(t, err, apple.ErrMalformed, token)
	case errors.Is(err, apple.ErrUnverified):
		assertErr(t, err, apple.ErrUnverified, token)
	default:
		t.Fatalf("refused with %v, neither ErrMalformed nor ErrUnverified", err)
	}
}

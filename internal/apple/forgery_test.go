package apple_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// TestForgeriesRefused: every way of making a token that is not Apple's, or not intact, must be
// refused with the right sentinel. Forged chains are issued under the trusted root (Issue) so
// each fails for the reason it names, not for an unknown root.
func TestForgeriesRefused(t *testing.T) {
	a, v := newAuthority(t)
	f := loadFixtures(t)
	now := time.Now()
	day := 24 * time.Hour
	x5c := a.X5C()

	// notification signs the fixture notification (and its nested JWS) by signer, at signedDate
	// at (zero: the fixture's dates).
	notification := func(signer *localroot.Authority, at time.Time, opts ...localroot.SignOption) string {
		p, tx, r := f.payload, f.tx, f.renewal
		if !at.IsZero() {
			p.SignedDate, tx.SignedDate, r.SignedDate = at.UnixMilli(), at.UnixMilli(), at.UnixMilli()
		}
		return must[string](t)(localroot.SignNotification(signer, p, &tx, &r, opts...))
	}
	issue := func(opts ...localroot.Option) *localroot.Authority {
		return must[*localroot.Authority](t)(a.Issue(opts...))
	}
	// withNested signs the fixture notification with nested JWS replaced.
	withNested := func(tx, renewal string) string {
		p := f.payload
		d := *p.Data
		d.SignedTransactionInfo, d.SignedRenewalInfo = tx, renewal
		p.Data = &d
		return must[string](t)(a.Sign(p))
	}
	goodTx := must[string](t)(a.Sign(f.tx))
	goodRenewal := must[string](t)(a.Sign(f.renewal))
	good := notification(a, time.Time{})
	parts := strings.Split(good, ".")
	otherRoot := must[*localroot.Authority](t)(localroot.New())
	sibling := issue()
	otherPayload := func(p apple.NotificationPayload) apple.NotificationPayload {
		p.NotificationUUID = ""
		return p
	}

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"chain under another root", notification(otherRoot, time.Time{}), apple.ErrUnverified},
		{"leaf without marker OID", notification(issue(localroot.WithoutLeafMarker()), time.Time{}), apple.ErrUnverified},
		{"intermediate without marker OID", notification(issue(localroot.WithoutIntermediateMarker()), time.Time{}), apple.ErrUnverified},
		{"leaf expired at signedDate", notification(issue(localroot.WithLeafValidity(now.Add(-10*day), now.Add(-day))), now), apple.ErrUnverified},
		{"intermediate expired at signedDate", notification(issue(localroot.WithIntermediateValidity(now.Add(-10*day), now.Add(-day))), now), apple.ErrUnverified},
		{"leaf valid now, not yet at signedDate", notification(issue(localroot.WithLeafValidity(now.Add(-time.Hour), now.Add(365*day))), now.Add(-2*time.Hour)), apple.ErrUnverified},
		{"alg none", notification(a, time.Time{}, localroot.WithAlg("none")), apple.ErrUnverified},
		{"alg HS256 keyed with the leaf's public key", notification(a, time.Time{}, localroot.WithAlg("HS256")), apple.ErrUnverified},
		{"alg ES384", notification(a, time.Time{}, localroot.WithAlg("ES384")), apple.ErrUnverified},
		{"swapped chain: sibling's valid x5c, signed by another leaf", notification(a, time.Time{}, localroot.WithX5C(sibling.X5C()...)), apple.ErrUnverified},
		{"swapped leaf: another leaf under this intermediate", notification(a, time.Time{}, localroot.WithX5C(sibling.X5C()[0], x5c[1], x5c[2])), apple.ErrUnverified},
		{"x5c names another root than the one it chains to", notification(a, time.Time{}, localroot.WithX5C(x5c[0], x5c[1], otherRoot.X5C()[2])), apple.ErrUnverified},
		{"tampered payload", must[string](t)(localroot.ReplaceInPayload(good, f.payload.NotificationUUID, "002e14d5-51f5-4503-b5a8-c3a1af68eb21")), apple.ErrUnverified},
		{"tampered signedTransactionInfo", withNested(must[string](t)(localroot.ReplaceInPayload(goodTx, f.tx.TransactionID, "2000000899999999")), goodRenewal), apple.ErrUnverified},
		{"tampered signedRenewalInfo", withNested(goodTx, must[string](t)(localroot.ReplaceInPayload(goodRenewal, `"autoRenewStatus":1`, `"autoRenewStatus":0`))), apple.ErrUnverified},
		{"signedTransactionInfo under another root", withNested(must[string](t)(otherRoot.Sign(f.tx)), goodRenewal), apple.ErrUnverified},
		{"signedRenewalInfo alg none", withNested(goodTx, must[string](t)(a.Sign(f.renewal, localroot.WithAlg("none")))), apple.ErrUnverified},
		{"missing x5c", notification(a, time.Time{}, localroot.WithoutX5C()), apple.ErrUnverified},
		{"x5c with only the leaf", notification(a, time.Time{}, localroot.WithX5C(x5c[0])), apple.ErrUnverified},
		{"x5c leaf and intermediate, no root", notification(a, time.Time{}, localroot.WithX5C(x5c[0], x5c[1])), apple.ErrUnverified},
		{"x5c not base64", notification(a, time.Time{}, localroot.WithX5C("%%%", x5c[1], x5c[2])), apple.ErrUnverified},
		{"x5c base64url instead of base64", notification(a, time.Time{}, localroot.WithX5C(urlB64(t, x5c[0]), x5c[1], x5c[2])), apple.ErrUnverified},
		{"empty signature", parts[0] + "." + parts[1] + ".", apple.ErrUnverified},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(goodTx, ".")[2], apple.ErrUnverified},
		{"truncated to header.payload", parts[0] + "." + parts[1], apple.ErrMalformed},
		{"truncated mid-payload", good[:len(parts[0])+1+len(parts[1])/2], apple.ErrMalformed},
		{"empty", "", apple.ErrMalformed},
		{"not a JWS", "not a token", apple.ErrMalformed},
		{"payload not base64url", parts[0] + ".***." + parts[2], apple.ErrMalformed},
		{"payload not JSON", parts[0] + "." + b64([]byte("not json")) + "." + parts[2], apple.ErrMalformed},
		{"payload JSON array", parts[0] + "." + b64([]byte("[1,2]")) + "." + parts[2], apple.ErrMalformed},
		{"payload JSON null", parts[0] + "." + b64([]byte("null")) + "." + parts[2], apple.ErrMalformed},
		{"header not JSON", b64([]byte("{")) + "." + parts[1] + "." + parts[2], apple.ErrMalformed},
		{"signedDate missing", must[string](t)(a.Sign(map[string]any{"notificationType": "TEST", "notificationUUID": "u"})), apple.ErrMalformed},
		{"signedDate of the wrong type", parts[0] + "." + jsonSegment(t, map[string]any{"signedDate": "yesterday"}) + "." + parts[2], apple.ErrMalformed},
		{"notificationUUID missing (signed)", must[string](t)(a.Sign(otherPayload(f.payload))), apple.ErrMalformed},
		{"nested signedTransactionInfo not a JWS", withNested("garbage", goodRenewal), apple.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := v.VerifyNotification(ctx, c.token)
			assertErr(t, err, c.want, c.token)
			if n.Transaction != nil || n.Renewal != nil || n.Payload.NotificationUUID != "" {
				t.Errorf("returned data from a refused token: %+v", n)
			}
		})
	}
	// The controls: the untampered tokens verify, so each refusal above is the forgery's.
	if _, err := v.VerifyNotification(ctx, good); err != nil {
		t.Fatalf("control: %v", err)
	}
	if _, err := v.VerifyNotification(ctx, withNested(goodTx, goodRenewal)); err != nil {
		t.Fatalf("control nested: %v", err)
	}
}

// The transaction and renewal entry points refuse forgeries the same way and name the token.
func TestVerifyTransactionRefusesForgeries(t *testing.T) {
	a, v := newAuthority(t)
	f := loadFixtures(t)
	noMarker := must[*localroot.Authority](t)(a.Issue(localroot.WithoutLeafMarker()))
	for name, tok := range map[string]string{
		"leaf without marker": must[string](t)(noMarker.Sign(f.tx)),
		"alg none":            must[string](t)(a.Sign(f.tx, localroot.WithAlg("none"))),
		"tampered":            must[string](t)(localroot.ReplaceInPayload(must[string](t)(a.Sign(f.tx)), `"quantity":1`, `"quantity":9`)),
	} {
		_, err := v.VerifyTransaction(ctx, tok)
		assertErr(t, err, apple.ErrUnverified, tok)
		if !strings.Contains(err.Error(), "signedTransactionInfo") {
			t.Errorf("%s: err = %v does not name the token", name, err)
		}
		_, err = v.VerifyRenewal(ctx, tok)
		assertErr(t, err, apple.ErrUnverified, tok)
	}
	_, err := v.VerifyTransaction(ctx, must[string](t)(a.Sign(map[string]any{"signedDate": f.tx.SignedDate, "bundleId": "b"})))
	assertErr(t, err, apple.ErrMalformed, "")
	_, err = v.VerifyRenewal(ctx, must[string](t)(a.Sign(map[string]any{"signedDate": f.tx.SignedDate})))
	assertErr(t, err, apple.ErrMalformed, "")
}

// urlB64 re-encodes a standard base64 string as base64url, which x5c must not use.
func urlB64(t *testing.T, s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	u := base64.URLEncoding.EncodeToString(b)
	if u == s {
		t.Fatal("leaf DER has no + or / to tell the encodings apart") // odds about 1e-10
	}
	return u
}

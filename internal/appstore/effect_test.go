package appstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func owned(now time.Time) *transfer.Purchase {
	return &transfer.Purchase{OriginalTransactionID: "t-1", TransactionIDs: []string{"t-1"}, Owner: 5, OfferID: "S1_M", ProductID: "monthly",
		Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: now.Add(time.Hour), AppleSignedAt: now.Add(-time.Hour), Version: 2}
}

func TestApplyOrderAndIdentity(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := owned(now)
	if c, out := appstore.Apply(p, renewal(now.Add(-2*time.Hour)), *testApp, now); c != nil || out != appstore.OutcomeOutOfOrder {
		t.Errorf("older than the last applied: %v %s", c, out)
	}
	// The same signedDate as the last applied is not older: it applies.
	if c, out := appstore.Apply(p, renewal(p.AppleSignedAt), *testApp, now); c == nil || out != appstore.OutcomeApplied {
		t.Errorf("same signedDate: %v %s", c, out)
	}
	c, _ := appstore.Apply(p, renewal(now), *testApp, now)
	if c.After.Owner != 5 || c.Before != p || c.After.Version != 3 || !c.After.AppleSignedAt.Equal(now) || c.NewTransactionID != "t-2" ||
		!slices.Equal(c.After.TransactionIDs, []string{"t-1", "t-2"}) || !slices.Equal(p.TransactionIDs, []string{"t-1"}) {
		t.Errorf("change %+v (before now %+v)", c, p)
	}
	again, _ := appstore.Apply(&c.After, renewal(now), *testApp, now)
	if again.NewTransactionID != "" || len(again.After.TransactionIDs) != 2 {
		t.Errorf("a transactionId already in the chain joined again: %+v", again)
	}
}

func TestApplyProductAndOffer(t *testing.T) {
	t.Parallel()
	now := time.Now()
	n := renewal(now)
	n.Transaction.ProductID = "unmapped"
	c, _ := appstore.Apply(owned(now), n, *testApp, now)
	if c.After.ProductID != "unmapped" || c.After.OfferID != "" {
		t.Errorf("unmapped product: product %q offer %q, want the product and no offer", c.After.ProductID, c.After.OfferID)
	}
	n.Transaction.ProductID = "yearly"
	if c, _ := appstore.Apply(owned(now), n, *testApp, now); c.After.OfferID != "S1_Y" {
		t.Errorf("offer %q, want S1_Y", c.After.OfferID)
	}
}

func TestApplyUnknownChain(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name  string
		mod   func(*apple.Notification)
		state transfer.PurchaseState
	}{
		{"a renewal", func(*apple.Notification) {}, transfer.StateActive},
		{"a type that states nothing, status active", func(n *apple.Notification) {
			n.Payload.NotificationType, n.Payload.Data.Status = apple.TypePriceIncrease, apple.StatusActive
		}, transfer.StateActive},
		{"a type that states nothing, status revoked", func(n *apple.Notification) {
			n.Payload.NotificationType, n.Payload.Data.Status = apple.TypeConsumptionRequest, apple.StatusRevoked
		}, transfer.StateRevoked},
		{"a type that states nothing, no status, expired", func(n *apple.Notification) {
			n.Payload.NotificationType = apple.TypeDidChangeRenewalStatus
			n.Transaction.ExpiresDate = now.Add(-time.Minute).UnixMilli()
		}, transfer.StateExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := renewal(now)
			tc.mod(&n)
			c, out := appstore.Apply(nil, n, *testApp, now)
			if out != appstore.OutcomeCreated || c.Before != nil || c.After.Owned() || c.After.State != tc.state ||
				c.After.Kind != transfer.KindAutoRenewable || !slices.Equal(c.After.TransactionIDs, []string{"t-1", "t-2"}) {
				t.Errorf("%s %+v", out, c)
			}
		})
	}
}

func TestApplyRecordsWhatItCannotOwn(t *testing.T) {
	t.Parallel()
	now := time.Now()
	consumable := renewal(now)
	consumable.Transaction.Type = apple.ProductConsumable
	test := renewal(now)
	test.Payload.NotificationType, test.Transaction = apple.TypeTest, nil
	for name, n := range map[string]apple.Notification{"consumable": consumable, "TEST": test} {
		if c, out := appstore.Apply(nil, n, *testApp, now); c != nil || out != appstore.OutcomeRecorded {
			t.Errorf("%s: %v %s, want recorded only", name, c, out)
		}
	}
}

// live is Apple's answer to a live check, shaped as Current takes it: the
// chain's latest transaction, status and renewal, signed at signed.
func live(status int32, tx apple.TransactionInfo, grace, signed time.Time) apple.Notification {
	r := &apple.RenewalInfo{OriginalTransactionID: tx.OriginalTransactionID, SignedDate: signed.UnixMilli()}
	if !grace.IsZero() {
		r.GracePeriodExpiresDate = grace.UnixMilli()
	}
	return apple.Notification{Payload: apple.NotificationPayload{SignedDate: signed.UnixMilli(), Data: &apple.NotificationData{Status: status}},
		Transaction: &tx, Renewal: r}
}

func TestCurrentIsAppleState(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := owned(now)
	tx := apple.TransactionInfo{TransactionID: "t-1", OriginalTransactionID: "t-1", ProductID: "monthly", Type: apple.ProductAutoRenewable,
		ExpiresDate: p.ExpiresAt.UnixMilli()}
	if c, _ := appstore.Current(p, live(apple.StatusActive, tx, time.Time{}, now), *testApp, now); c != nil {
		t.Errorf("Apple agrees, yet a change: %+v", c)
	}
	if c, out := appstore.Current(p, live(apple.StatusRevoked, tx, time.Time{}, now.Add(-2*time.Hour)), *testApp, now); c != nil || out != appstore.OutcomeOutOfOrder {
		t.Errorf("an answer older than the last applied: %v %s", c, out)
	}
	c, out := appstore.Current(p, live(apple.StatusRevoked, tx, time.Time{}, now), *testApp, now)
	if c == nil || out != appstore.OutcomeApplied || c.After.State != transfer.StateRevoked || c.After.Owner != 5 || c.After.Version != 3 {
		t.Errorf("revoked: %+v %s", c, out)
	}
	c, _ = appstore.Current(p, live(apple.StatusBillingRetry, tx, time.Time{}, now), *testApp, now)
	if c == nil || c.After.State != transfer.StateExpired {
		t.Errorf("billing retry: %+v", c)
	}
	grace := now.Add(48 * time.Hour)
	c, _ = appstore.Current(p, live(apple.StatusBillingGracePeriod, tx, grace, now), *testApp, now)
	if c == nil || c.After.State != transfer.StateActive || !c.After.ExpiresAt.Equal(grace) {
		t.Errorf("grace period: %+v", c)
	}
	renewed := tx
	renewed.TransactionID, renewed.ExpiresDate = "t-9", now.Add(30*24*time.Hour).UnixMilli()
	c, _ = appstore.Current(p, live(apple.StatusActive, renewed, time.Time{}, now), *testApp, now)
	if c == nil || c.NewTransactionID != "t-9" || !c.After.ExpiresAt.Equal(time.UnixMilli(renewed.ExpiresDate).UTC()) {
		t.Errorf("renewed: %+v", c)
	}
}

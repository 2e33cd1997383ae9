package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const signedBundle = "com.example.signed"

// seedSigningPublisher is an active publisher with an Apple app that requires
// customer-JWT transfers to carry the device's signed transaction.
func (e *env) seedSigningPublisher() publisher {
	e.t.Helper()
	ctx := context.Background()
	id := transfer.PublisherID(newID())
	if err := e.svc.Stores.Operator.PutPublisher(ctx, transfer.Publisher{
		ID: id, Name: "signed", StoreKit2Active: true, RequireSignedTransaction: true,
		Apple: &transfer.AppleApp{BundleID: signedBundle, AppAppleID: 1234567890, Environments: []string{transfer.EnvironmentProduction}},
	}); err != nil {
		e.t.Fatal(err)
	}
	token, hash := auth.NewPublisherToken(id)
	if err := e.svc.Stores.Operator.PutToken(ctx, id, hash, "test"); err != nil {
		e.t.Fatal(err)
	}
	return publisher{id: id, token: token}
}

// signedTx is a StoreKit 2 signedTransactionInfo under the env's local Apple root.
func signedTx(t *testing.T, bundle, txID, original string) string {
	t.Helper()
	now := time.Now().UnixMilli()
	jws, err := appleRoot.Sign(apple.TransactionInfo{
		TransactionID: txID, OriginalTransactionID: original, BundleID: bundle,
		ProductID: "com.example.premium.monthly", Type: "Auto-Renewable Subscription",
		PurchaseDate: now, SignedDate: now, Environment: apple.EnvironmentProduction,
	})
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func signedBody(c transfer.CustomerID, tx, jws string) string {
	b, _ := json.Marshal(jws)
	return fmt.Sprintf(`{"cleengCustomerId": %d, "transactionId": %q, "signedTransactionInfo": %s}`, c, tx, b)
}

func jwtHeader(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
}

// TestSignedTransactionRequired: for a publisher with requireSignedTransaction,
// a customer-JWT transfer without signedTransactionInfo, or with one of
// another chain or app, is 403 AUTH0004 and leaves nothing behind; one with a
// signed transaction of the chain (verified under the configured root) is
// accepted and finalized; a publisher token needs none.
func TestSignedTransactionRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedSigningPublisher()
	cs := e.seedCustomers(pub, 3)
	chain := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour), newTxID(), newTxID())
	other := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))
	requested := chain.TransactionIDs[0]
	jwt := jwtHeader(e.jwt(pub, cs[1]))

	before := e.items()
	depth := e.queueDepth(e.res.TransferQueueURL())
	for _, c := range []struct{ name, body string }{
		{"without signedTransactionInfo", transferBody(cs[1], requested)},
		{"a signed transaction of another chain", signedBody(cs[1], requested, signedTx(t, signedBundle, other.TransactionIDs[0], other.OriginalTransactionID))},
		{"a signed transaction of another app", signedBody(cs[1], requested, signedTx(t, "com.example.other", requested, chain.OriginalTransactionID))},
		{"a signed transaction that does not verify", signedBody(cs[1], requested, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertError(t, e.transfer(jwt, c.body), http.StatusForbidden, transfer.CodeSignedTxRequired, "signedTransactionInfo")
		})
	}
	after := e.items()
	for _, kind := range []string{"SYNC", "LOCK"} {
		if len(after[kind]) != len(before[kind]) {
			t.Errorf("refused requests left %d %s items behind", len(after[kind])-len(before[kind]), kind)
		}
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != depth {
		t.Errorf("refused requests left %d messages behind", d-depth)
	}

	e.startProcessor()

	// The device holds a later transaction of the chain: the directory knows
	// the requested transactionId's chain, so it proves possession.
	r := e.transfer(jwt, signedBody(cs[1], requested, signedTx(t, signedBundle, newTxID(), chain.OriginalTransactionID)))
	if r.status != http.StatusAccepted {
		t.Fatalf("a signed transaction of the chain: %d %s", r.status, r.raw)
	}
	done := e.waitFinalized(jwt, r.str("synchronizationId"))
	if got := done.str("result"); got != string(transfer.ResultTransferred) {
		t.Errorf("result = %s, want %s: %s", got, transfer.ResultTransferred, done.raw)
	}
	if owner := e.purchase(pub, chain.OriginalTransactionID).Owner; owner != cs[1] {
		t.Errorf("owner = %d, want %d", owner, cs[1])
	}

	// A publisher token needs no signed transaction.
	r = e.transfer(tokenHeader(pub), transferBody(cs[2], other.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("publisher token without signedTransactionInfo: %d %s", r.status, r.raw)
	}
	done = e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
	if got := done.str("result"); got != string(transfer.ResultTransferred) {
		t.Errorf("result = %s, want %s: %s", got, transfer.ResultTransferred, done.raw)
	}
}

// TestSignedTransactionOfAnUnownedPurchase: Apple's notification of a chain
// the service does not know creates it unowned (docs/contract.md §6); a
// customer holding its signed transaction passes AUTH0004, but no transfer
// can take an unowned purchase: TRANSACTION_ID_NOT_FOUND, until an operator
// gives it an owner.
func TestSignedTransactionOfAnUnownedPurchase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedSigningPublisher()
	cs := e.seedCustomers(pub, 1)
	h, err := e.svc.AppleNotificationHandler()
	if err != nil {
		t.Fatal(err)
	}
	appleSrv := httptest.NewServer(h)
	t.Cleanup(appleSrv.Close)

	otx, txID := newTxID(), newTxID()
	now := time.Now()
	jws, err := localroot.SignNotification(appleRoot, apple.NotificationPayload{
		NotificationType: apple.TypeSubscribed, Subtype: apple.SubtypeInitialBuy,
		NotificationUUID: "uuid-" + newTxID(), Version: "2.0", SignedDate: now.UnixMilli(),
		Data: &apple.NotificationData{AppAppleID: 1234567890, BundleID: signedBundle, Environment: apple.EnvironmentProduction, Status: apple.StatusActive},
	}, &apple.TransactionInfo{
		TransactionID: txID, OriginalTransactionID: otx, BundleID: signedBundle, ProductID: "com.example.premium.monthly",
		Type: apple.ProductAutoRenewable, PurchaseDate: now.UnixMilli(), ExpiresDate: now.Add(time.Hour).UnixMilli(),
		SignedDate: now.UnixMilli(), Environment: apple.EnvironmentProduction,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(localroot.SignedPayload{SignedPayload: jws})
	path := fmt.Sprintf("/apple/notifications/%d", pub.id)
	for _, want := range []appstore.Outcome{appstore.OutcomeCreated, appstore.OutcomeDuplicate} {
		r := testkit.Do(t, appleSrv.URL, http.MethodPost, path, map[string]string{"Content-Type": "application/json"}, string(body))
		if r.Status != http.StatusOK || r.Body["outcome"] != string(want) {
			t.Fatalf("notification: %d %s, want 200 %s", r.Status, r.Raw, want)
		}
	}
	if owner := e.purchase(pub, otx).Owner; owner != 0 {
		t.Fatalf("Apple's notification gave the purchase an owner: %d", owner)
	}

	e.startProcessor()
	jwt := jwtHeader(e.jwt(pub, cs[0]))
	r := e.transfer(jwt, signedBody(cs[0], txID, signedTx(t, signedBundle, txID, otx)))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer with the signed transaction: %d %s", r.status, r.raw)
	}
	done := e.waitFinalized(jwt, r.str("synchronizationId"))
	if got := done.str("result"); got != string(transfer.ResultNotFound) {
		t.Errorf("result = %s, want %s (an unowned purchase): %s", got, transfer.ResultNotFound, done.raw)
	}
	if owner := e.purchase(pub, otx).Owner; owner != 0 {
		t.Errorf("a transfer took an unowned purchase: owner %d", owner)
	}
}

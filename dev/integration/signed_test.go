package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
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

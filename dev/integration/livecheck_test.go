package integration_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The live check (verifyWithApple): the processor asks the App Store Server
// API (here the stand-in, dev/appstoresim, signing under the tests' root)
// before deciding, and decides on what it says.

// liveEnv is an env whose processor reaches the stand-in, with a publisher
// that has verifyWithApple on and an App Store Connect key the stand-in
// accepts.
type liveEnv struct {
	*env
	sim   *appstoresim.Server
	down  *atomic.Bool // Apple unreachable while set
	asked *atomic.Int64
	pub   publisher
	users []transfer.CustomerID
}

func newLiveEnv(t *testing.T, opts ...envOption) *liveEnv {
	t.Helper()
	ctx := context.Background()
	sim := appstoresim.New(appleRoot, appstoresim.App{BundleID: testBundleID, AppAppleID: testAppAppleID, Environment: apple.EnvironmentSandbox})
	var down atomic.Bool
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if down.Load() {
			// Unreachable: the connection drops without an answer.
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	_, sealingKey := webhook.NewSealingKey()
	sealingKeyID := "integration/live-sealing-" + strconv.FormatInt(newID(), 10)
	if err := stack.PutSecret(ctx, sealingKeyID, sealingKey); err != nil {
		t.Fatal(err)
	}
	sealing := config.SealingKeys(ctx, stack.Clients.SecretsManager, sealingKeyID, secrets.WithRequestWait(time.Minute))
	e := newEnv(t, append([]envOption{func(c *envConfig) {
		c.cfg.Webhook.SealingKeys = sealing
		c.cfg.Apple.APIBaseURL = srv.URL
	}}, opts...)...)

	p := e.seedPublisher(true, false)
	app := &transfer.AppleApp{BundleID: testBundleID, AppAppleID: testAppAppleID,
		Environments: []string{transfer.EnvironmentSandbox}, Offers: map[string]string{testProduct: testOffer}}
	if err := e.svc.Stores.Operator.PutPublisher(ctx, transfer.Publisher{ID: p.id, Name: "live", StoreKit2Active: true, VerifyWithApple: true, Apple: app}); err != nil {
		t.Fatal(err)
	}
	setAppStoreKey(t, e, sim, p, sealing)
	return &liveEnv{env: e, sim: sim, down: &down, asked: &asked, pub: p, users: e.seedCustomers(p, 2)}
}

// setAppStoreKey gives publisher p a fresh App Store Connect key, sealed with
// sealing as transferctl seals it, that sim accepts (nil: no stand-in knows it).
func setAppStoreKey(t *testing.T, e *env, sim *appstoresim.Server, p publisher, sealing webhook.SealingKeys) {
	t.Helper()
	priv, p8, err := appstoresim.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer := "7c2a1b3e-0d4f-4a5b-9c6d-" + fmt.Sprintf("%012d", newID()%1e12)
	keyID := strings.ToUpper(rand.Text()[:10])
	keys := appstoreapi.NewKeys(e.svc.Stores.Operator, webhook.NewRotatingSealer(sealing))
	if _, err := keys.Set(context.Background(), p.id, issuer, keyID, p8); err != nil {
		t.Fatal(err)
	}
	if sim != nil {
		sim.AddKey(issuer, keyID, &priv.PublicKey)
	}
}

// appleTransaction is a transaction of the chain otx as the stand-in keeps it.
func appleTransaction(tx, otx string, bought, expires time.Time) apple.TransactionInfo {
	return apple.TransactionInfo{TransactionID: tx, OriginalTransactionID: otx, ProductID: testProduct, SubscriptionGroupIdentifier: "group",
		PurchaseDate: bought.UnixMilli(), OriginalPurchaseDate: bought.UnixMilli(), ExpiresDate: expires.UnixMilli(), Quantity: 1,
		Type: apple.ProductAutoRenewable, InAppOwnershipType: "PURCHASED"}
}

func (l *liveEnv) transferAndWait(to transfer.CustomerID, tx string) response {
	l.t.Helper()
	r := l.transfer(tokenHeader(l.pub), transferBody(to, tx))
	if r.status != http.StatusAccepted {
		l.t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	return l.waitFinalized(tokenHeader(l.pub), r.str("synchronizationId"))
}

func TestLiveCheckRefundedPurchaseEndsExpired(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	l.startProcessor()
	month := 30 * 24 * time.Hour
	// Stored active; Apple refunded it an hour ago, and the REFUND
	// notification never arrived.
	stored := l.seedPurchase(l.pub, l.users[0], transfer.StateActive, time.Now().Add(month))
	refunded := appleTransaction(stored.TransactionIDs[0], stored.OriginalTransactionID, time.Now().Add(-month), time.Now().Add(month))
	refunded.RevocationDate = time.Now().Add(-time.Hour).UnixMilli()
	l.sim.AddTransaction(refunded)

	got := l.transferAndWait(l.users[1], stored.TransactionIDs[0])
	if got.str("result") != string(transfer.ResultExpired) {
		t.Fatalf("result %q, want %s: %s", got.str("result"), transfer.ResultExpired, got.raw)
	}
	after := l.purchase(l.pub, stored.OriginalTransactionID)
	if after.State != transfer.StateRevoked || after.Owner != l.users[0] || after.RevokedAt.IsZero() {
		t.Fatalf("purchase after the live check: %+v, want revoked and still owned by %d", after, l.users[0])
	}
}

func TestLiveCheckRenewedPurchaseIsTransferred(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	l.startProcessor()
	month := 30 * 24 * time.Hour
	// Stored expired; Apple renewed it, and the DID_RENEW never arrived.
	stored := l.seedPurchase(l.pub, l.users[0], transfer.StateExpired, time.Now().Add(-time.Hour))
	l.sim.AddTransaction(appleTransaction(stored.TransactionIDs[0], stored.OriginalTransactionID, time.Now().Add(-2*month), time.Now().Add(-time.Hour)))
	renewal := "renewal-" + strconv.FormatInt(newID(), 10)
	l.sim.AddTransaction(appleTransaction(renewal, stored.OriginalTransactionID, time.Now().Add(-time.Hour), time.Now().Add(month)))

	got := l.transferAndWait(l.users[1], stored.TransactionIDs[0])
	if got.str("result") != string(transfer.ResultTransferred) {
		t.Fatalf("result %q, want %s: %s", got.str("result"), transfer.ResultTransferred, got.raw)
	}
	after := l.purchase(l.pub, stored.OriginalTransactionID)
	if after.Owner != l.users[1] || after.State != transfer.StateActive || !after.ExpiresAt.After(time.Now()) || len(after.TransactionIDs) != 2 {
		t.Fatalf("purchase after the transfer: %+v", after)
	}
	// The renewal joined the chain: it can be transferred by its own id.
	if p := l.purchaseByTransaction(l.pub, renewal); p == nil || p.OriginalTransactionID != stored.OriginalTransactionID {
		t.Fatalf("renewal %s maps to %+v", renewal, p)
	}
}

func TestLiveCheckAgreeingAppleChangesNothingBeforeTheTransfer(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	l.startProcessor()
	month := 30 * 24 * time.Hour
	stored := l.seedPurchase(l.pub, l.users[0], transfer.StateActive, time.Now().Add(month).Truncate(time.Millisecond))
	l.sim.AddTransaction(appleTransaction(stored.TransactionIDs[0], stored.OriginalTransactionID, time.Now().Add(-month), stored.ExpiresAt))

	before := l.asked.Load()
	got := l.transferAndWait(l.users[1], stored.TransactionIDs[0])
	if got.str("result") != string(transfer.ResultTransferred) {
		t.Fatalf("result %q: %s", got.str("result"), got.raw)
	}
	if n := l.asked.Load() - before; n != 1 {
		t.Errorf("Apple was asked %d times for one transfer, want 1", n)
	}
	// Apple agreed: no live-check record was written, only the transfer's
	// version step.
	after := l.purchase(l.pub, stored.OriginalTransactionID)
	if after.Version != stored.Version+1 {
		t.Errorf("version %d, want %d (the transfer alone)", after.Version, stored.Version+1)
	}
	for _, it := range l.items()["NOTIFICATION"] {
		t.Errorf("a record was written although Apple agreed: %v", it)
	}
}

func TestLiveCheckRetriesWhileAppleIsUnreachable(t *testing.T) {
	t.Parallel()
	// Redelivered after 2 s, and never given up within the test.
	l := newLiveEnv(t, func(c *envConfig) {
		c.resources = append(c.resources, localaws.WithQueueOverride(localaws.TransferQueueID, 2, 100))
		c.cfg.MaxReceives = 100
	})
	l.startProcessor()
	month := 30 * 24 * time.Hour
	stored := l.seedPurchase(l.pub, l.users[0], transfer.StateActive, time.Now().Add(month))
	l.sim.AddTransaction(appleTransaction(stored.TransactionIDs[0], stored.OriginalTransactionID, time.Now().Add(-month), time.Now().Add(month)))

	l.down.Store(true)
	r := l.transfer(tokenHeader(l.pub), transferBody(l.users[1], stored.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")
	testkit.Eventually(t, "the synchronization shown retrying while Apple is unreachable", 60*time.Second, func() bool {
		return l.status(tokenHeader(l.pub), id).str("status") == string(transfer.StatusRetrying)
	})
	if got := l.purchase(l.pub, stored.OriginalTransactionID); got.Owner != l.users[0] || got.Version != stored.Version {
		t.Fatalf("decided while Apple was unreachable: %+v", got)
	}
	l.down.Store(false)
	got := l.waitFinalized(tokenHeader(l.pub), id)
	if got.str("result") != string(transfer.ResultTransferred) {
		t.Fatalf("result once Apple answers: %q %s", got.str("result"), got.raw)
	}
}

package integration_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// backfillEnv is an env whose service reaches the App Store Server API
// stand-in (dev/appstoresim, signing under appleRoot as the env's Apple does),
// with publishers' keys sealed by a sealing key in the local Secrets Manager.
type backfillEnv struct {
	*env
	sim *appstoresim.Server
	app *transfer.AppleApp
}

func newBackfillEnv(t *testing.T) *backfillEnv {
	t.Helper()
	e := newEnv(t)
	e.svc.Config.Webhook.SealingKeys = e.sealingKeys()
	return withAppStore(e)
}

// withAppStore gives e the stand-in; e.svc.Config.Webhook.SealingKeys seal
// the keys.
func withAppStore(e *env) *backfillEnv {
	t := e.t
	sim := appstoresim.New(appleRoot, appstoresim.App{BundleID: testBundleID, AppAppleID: testAppAppleID, Environment: apple.EnvironmentSandbox})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e.svc.Config.Apple.APIBaseURL = srv.URL
	app := &transfer.AppleApp{BundleID: testBundleID, AppAppleID: testAppAppleID, Environments: []string{transfer.EnvironmentSandbox},
		Offers: map[string]string{testProduct: testOffer}}
	return &backfillEnv{env: e, sim: sim, app: app}
}

// applePublisher seeds a publisher with the app and, when withKey, an App
// Store Connect key; known says whether the stand-in accepts that key.
func (b *backfillEnv) applePublisher(withKey, known bool) publisher {
	b.t.Helper()
	ctx := context.Background()
	p := b.seedPublisher(true, false)
	if err := b.svc.Stores.Operator.PutPublisher(ctx, transfer.Publisher{ID: p.id, Name: "backfill", StoreKit2Active: true, Apple: b.app}); err != nil {
		b.t.Fatal(err)
	}
	if !withKey {
		return p
	}
	sim := b.sim
	if !known {
		sim = nil
	}
	setAppStoreKey(b.t, b.env, sim, p, b.svc.Config.Webhook.SealingKeys)
	return p
}

// renewalOf makes Apple know a renewal of chain, expiring at expires, and
// keeps a DID_RENEW of it in the history, delivered or not.
func (b *backfillEnv) renewalOf(chain string, at, expires time.Time, delivered bool) string {
	b.t.Helper()
	tx := newTxID()
	b.sim.AddTransaction(apple.TransactionInfo{TransactionID: tx, OriginalTransactionID: chain, ProductID: testProduct, Type: apple.ProductAutoRenewable,
		InAppOwnershipType: "PURCHASED", Quantity: 1, SubscriptionGroupIdentifier: "g", PurchaseDate: at.UnixMilli(), ExpiresDate: expires.UnixMilli()})
	if _, err := b.sim.AddNotification(apple.TypeDidRenew, "", tx, at, delivered); err != nil {
		b.t.Fatal(err)
	}
	return tx
}

func (b *backfillEnv) run() (appstore.ScheduledReport, error) {
	b.t.Helper()
	job, err := b.svc.AppleBackfill()
	if err != nil {
		b.t.Fatal(err)
	}
	return job.Run(context.Background())
}

// TestScheduledAppleBackfill: a renewal Apple failed to deliver is applied by
// the scheduled run (a delivered one is not asked for); a publisher whose key
// Apple refuses is counted and fails the run while the others still run; a
// publisher without a key is left alone; a second run changes nothing.
func TestScheduledAppleBackfill(t *testing.T) {
	t.Parallel()
	b := newBackfillEnv(t)
	now := time.Now()
	pub := b.applePublisher(true, true)
	owner := b.seedCustomers(pub, 1)[0]
	owned := b.seedPurchase(pub, owner, transfer.StateActive, now.Add(time.Hour))
	b.renewalOf(owned.OriginalTransactionID, now.Add(-3*time.Hour), now.Add(30*time.Minute), true)
	missed := b.renewalOf(owned.OriginalTransactionID, now.Add(-2*time.Hour), now.Add(30*24*time.Hour), false)
	b.renewalOf(owned.OriginalTransactionID, now.Add(-7*time.Hour), now.Add(time.Hour), false) // before the window
	b.applePublisher(false, false)
	refused := b.applePublisher(true, false)

	rep, err := b.run()
	if err == nil || !strings.Contains(err.Error(), "1 of 2 backfill(s) failed") {
		t.Errorf("first run: error %v, want 1 of 2 failed", err)
	}
	if rep.Publishers != 3 || rep.WithoutKey != 1 || rep.Backfills != 2 || rep.Failed != 1 ||
		rep.Notifications.Seen != 1 || rep.Notifications.Applied != 1 {
		t.Fatalf("first run = %+v", rep)
	}
	if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], fmt.Sprintf("publisher %d (Sandbox)", refused.id)) || !strings.Contains(rep.Failures[0], "401") {
		t.Errorf("failures = %q, want the refused publisher's 401", rep.Failures)
	}
	p := b.purchase(pub, owned.OriginalTransactionID)
	if p == nil || len(p.TransactionIDs) != 2 || p.TransactionIDs[1] != missed || p.Owner != owner || !p.ExpiresAt.After(now.Add(29*24*time.Hour)) {
		t.Fatalf("purchase after the run = %+v, want the missed renewal in its chain, its expiry moved, the owner kept", p)
	}

	again, _ := b.run()
	if again.Notifications.Seen != 1 || again.Notifications.AlreadySeen != 1 || again.Notifications.Applied != 0 || again.Failed != 1 {
		t.Errorf("second run = %+v, want the renewal already seen", again)
	}
	if p2 := b.purchase(pub, owned.OriginalTransactionID); p2.Version != p.Version || !p2.ExpiresAt.Equal(p.ExpiresAt) {
		t.Errorf("the second run changed the purchase: %+v -> %+v", p, p2)
	}
}

// TestScheduledAppleBackfillRate logs how long a run of N undelivered
// notifications takes against DynamoDB Local and the stand-in (a figure for
// docs/operations.md, not a bound: the machine's load moves it).
func TestScheduledAppleBackfillRate(t *testing.T) {
	t.Parallel()
	const n = 200
	b := newBackfillEnv(t)
	b.applePublisher(true, true)
	now := time.Now()
	for i := range n {
		b.renewalOf("otx-"+strconv.FormatInt(newID(), 10), now.Add(-time.Hour).Add(time.Duration(i)*time.Second), now.Add(24*time.Hour), false)
	}
	began := time.Now()
	rep, err := b.run()
	took := time.Since(began)
	if err != nil || rep.Notifications.Applied != n || rep.Notifications.Pages != n/20 {
		t.Fatalf("run = %+v, %v", rep, err)
	}
	t.Logf("one scheduled run of %d notifications (%d pages): %s, %.0f notifications/s", n, rep.Notifications.Pages, took.Round(time.Millisecond), n/took.Seconds())
}

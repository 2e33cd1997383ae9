package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/dev/demoseed"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The App Store Server API of `make run`: the demo publisher gets a fresh App
// Store Connect key (written to .local/, stored sealed like any publisher's),
// and, unless APPLE_API_BASE_URL names another server, the stand-in
// (dev/appstoresim) serves the API on 127.0.0.1, signing under the run's
// test root, knowing the demo purchases, and posting its test notifications
// to the local API.

// demoRenewal is a renewal of TX_ACTIVE Apple "failed to deliver": the
// walk-through's backfill applies it.
const demoRenewal = "2000000000000003"

// demoSilentRenewal renewed TX_EXPIRED, stored expired here, with no
// notification at all (none in the history either): only a live check
// (verifyWithApple) learns of it, and the walk-through's transfer of
// TX_EXPIRED then moves it.
const demoSilentRenewal = "2000000000000022"

type appStoreAPI struct {
	env  map[string]string
	stop func()
}

func startAppStoreAPI(ctx context.Context, stateDir, apiURL, baseURL string, root appleRoot, svc keySealer) (*appStoreAPI, error) {
	priv, p8, err := appstoresim.NewKey()
	if err != nil {
		return nil, err
	}
	issuer, keyID := newIssuerID(), strings.ToUpper(rand.Text()[:10])
	keyPath := filepath.Join(stateDir, "appstore-connect-key.p8")
	if err := os.WriteFile(keyPath, p8, 0o600); err != nil {
		return nil, err
	}
	if err := svc.sealKey(ctx, issuer, keyID, p8); err != nil {
		return nil, fmt.Errorf("the demo publisher's App Store Connect key: %w", err)
	}
	a := &appStoreAPI{stop: func() {}, env: map[string]string{
		"APPLE_API_ISSUER_ID": issuer, "APPLE_API_KEY_ID": keyID, "APPLE_API_PRIVATE_KEY": keyPath, "APPLE_API_BASE_URL": baseURL,
	}}
	if baseURL != "" {
		return a, nil
	}
	sim := appstoresim.New(root.authority, appstoresim.App{BundleID: demoseed.AppleBundleID, AppAppleID: demoseed.AppleAppAppleID, Environment: apple.EnvironmentSandbox})
	sim.AddKey(issuer, keyID, &priv.PublicKey)
	sim.SetNotificationURL(apiURL + "/apple/notifications/" + strconv.FormatInt(int64(demoseed.PublisherID), 10))
	if err := seedAppStore(sim, time.Now()); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	a.env["APPLE_API_BASE_URL"] = "http://" + ln.Addr().String()
	a.stop = func() {
		_ = srv.Close()
		sim.Wait()
	}
	return a, nil
}

// seedAppStore gives the stand-in the demo purchases (as demoseed imports
// them) and a notification history: their purchases, delivered, and one
// renewal of TX_ACTIVE that was not.
func seedAppStore(sim *appstoresim.Server, now time.Time) error {
	month := 30 * 24 * time.Hour
	tx := func(id, otx string, bought time.Time, expires time.Time) apple.TransactionInfo {
		return apple.TransactionInfo{TransactionID: id, OriginalTransactionID: otx, ProductID: demoseed.ProductID, SubscriptionGroupIdentifier: "demo",
			PurchaseDate: bought.UnixMilli(), OriginalPurchaseDate: bought.UnixMilli(), ExpiresDate: expires.UnixMilli(), Quantity: 1,
			Type: apple.ProductAutoRenewable, InAppOwnershipType: "PURCHASED"}
	}
	for _, t := range []apple.TransactionInfo{
		tx(demoseed.TxActive, demoseed.TxActive, now.Add(-month), now.Add(month)),
		tx(demoseed.TxActive2, demoseed.TxActive2, now.Add(-month), now.Add(12*month)),
		tx(demoseed.TxChain1, demoseed.TxChain1, now.Add(-2*month), now.Add(-month)),
		tx(demoseed.TxChain2, demoseed.TxChain1, now.Add(-month), now.Add(month)),
		tx(demoseed.TxExpired, demoseed.TxExpired, now.Add(-2*month), now.Add(-month)),
		tx(demoRenewal, demoseed.TxActive, now.Add(-time.Hour), now.Add(2*month)),
		tx(demoSilentRenewal, demoseed.TxExpired, now.Add(-time.Hour), now.Add(month)),
	} {
		sim.AddTransaction(t)
	}
	for i, n := range []struct {
		typ, tx   string
		delivered bool
	}{
		{apple.TypeSubscribed, demoseed.TxActive2, true},
		{apple.TypeDidRenew, demoseed.TxChain2, true},
		{apple.TypeExpired, demoseed.TxExpired, true},
		{apple.TypeDidRenew, demoRenewal, false},
	} {
		if _, err := sim.AddNotification(n.typ, "", n.tx, now.Add(-2*time.Hour).Add(time.Duration(i)*time.Minute), n.delivered); err != nil {
			return err
		}
	}
	return nil
}

// newIssuerID is a random UUID, the shape of an App Store Connect issuer id.
func newIssuerID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// keySealer stores the demo publisher's key as transferctl would.
type keySealer struct {
	keys *appstoreapi.Keys
}

func newKeySealer(store appstoreapi.KeyStore, sealing webhook.SealingKeys) keySealer {
	return keySealer{keys: appstoreapi.NewKeys(store, webhook.NewRotatingSealer(sealing))}
}

func (k keySealer) sealKey(ctx context.Context, issuer, keyID string, p8 []byte) error {
	_, err := k.keys.Set(ctx, demoseed.PublisherID, issuer, keyID, p8)
	return err
}

const appStoreWalkthrough = `
Apple's App Store Server API (the stand-in at APPLE_API_BASE_URL, or your server given as
APPLE_API_BASE_URL=http://127.0.0.1:PORT make run; the demo publisher's key is APPLE_API_KEY_ID,
its .p8 at APPLE_API_PRIVATE_KEY):

  # Replay what Apple sent in the last day (the stand-in's history of the demo purchases,
  # with a renewal of TX_ACTIVE that Apple "failed to deliver"; --only-failures: that one alone).
  bin/transferctl --local apple backfill --since 24h
  bin/transferctl --local purchase show ` + demoRenewal + `     # now part of TX_ACTIVE's chain
  bin/transferctl --local apple backfill --since 24h      # again: everything already seen
  # Ask Apple for a test notification and check it reached the local endpoint:
  bin/transferctl --local apple test-notification

  # A live check before each transfer: TX_EXPIRED is stored expired, but Apple renewed it
  # (` + demoSilentRenewal + `) and told nobody. With verifyWithApple on, the processor asks Apple first:
  bin/transferctl --local publisher apple set --verify-with-apple
  curl -s -X POST $API_URL/purchases/transfers -H "X-Publisher-Token: $PUBLISHER_TOKEN" \
    -H 'Content-Type: application/json' -d "{\"cleengCustomerId\": $CUSTOMER_B, \"transactionId\": \"$TX_EXPIRED\"}"
  bin/transferctl --local sync show SYNCHRONIZATION_ID    # PURCHASE_OWNERSHIP_TRANSFERRED, not RECEIVED_EXPIRED_PURCHASE
  bin/transferctl --local purchase show $TX_EXPIRED         # active, ` + demoSilentRenewal + ` in its chain
  bin/transferctl --local publisher apple set --verify-with-apple=false
`

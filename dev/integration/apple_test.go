package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const (
	testBundleID   = "com.example.streaming"
	testAppAppleID = 1234567890
	testProduct    = "com.example.premium.monthly"
	testOffer      = "S123456789_US"
	yearlyProduct  = "com.example.premium.yearly"
	yearlyOffer    = "S123456789_Y"
)

// appleEnv is an env with the Apple notifications endpoint, trusting a local
// test root instead of Apple's, and a publisher whose app it is.
type appleEnv struct {
	*env
	root   *localroot.Authority
	apple  *httptest.Server
	pub    publisher
	owners []transfer.CustomerID
}

func newAppleEnv(t *testing.T, opts ...envOption) *appleEnv {
	t.Helper()
	e := newEnv(t, opts...)
	root, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := apple.NewVerifier(apple.WithRoots(root.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	receiver := appstore.NewReceiver(verifier, e.svc.Directory, dynamo.NewNotificationStore(e.svc.Stores.Table, 0))
	srv := httptest.NewServer(httpapi.NewAppleNotificationHandler(receiver))
	t.Cleanup(srv.Close)
	a := &appleEnv{env: e, root: root, apple: srv}
	a.pub = a.seedApplePublisher(&transfer.AppleApp{
		BundleID: testBundleID, AppAppleID: testAppAppleID,
		Environments: []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox},
		Offers:       map[string]string{testProduct: testOffer, yearlyProduct: yearlyOffer},
	})
	a.owners = e.seedCustomers(a.pub, 3)
	return a
}

func (a *appleEnv) seedApplePublisher(app *transfer.AppleApp) publisher {
	a.t.Helper()
	p := a.seedPublisher(true, false)
	if err := a.svc.Stores.Operator.PutPublisher(context.Background(), transfer.Publisher{ID: p.id, Name: "apple", StoreKit2Active: true, Apple: app}); err != nil {
		a.t.Fatal(err)
	}
	return p
}

// note is one notification to send: what Apple would say of one transaction.
type note struct {
	typ, subtype   string
	tx, otx        string
	product        string
	expires        time.Time
	signedAt       time.Time
	status         int32
	grace          time.Time
	revoked        time.Time
	bundleID, env  string
	uuid           string
	productType    string
	withoutTxnInfo bool
}

func (a *appleEnv) sign(n note) (string, apple.NotificationPayload) {
	a.t.Helper()
	if n.signedAt.IsZero() {
		n.signedAt = time.Now()
	}
	if n.otx == "" {
		n.otx = n.tx
	}
	n.bundleID = cmpOr(n.bundleID, testBundleID)
	n.env = cmpOr(n.env, apple.EnvironmentProduction)
	n.product = cmpOr(n.product, testProduct)
	n.uuid = cmpOr(n.uuid, fmt.Sprintf("uuid-%d", newID()))
	p := apple.NotificationPayload{
		NotificationType: n.typ, Subtype: n.subtype, NotificationUUID: n.uuid, Version: "2.0",
		SignedDate: n.signedAt.UnixMilli(),
		Data:       &apple.NotificationData{AppAppleID: testAppAppleID, BundleID: n.bundleID, Environment: n.env, Status: n.status},
	}
	var t *apple.TransactionInfo
	var r *apple.RenewalInfo
	if !n.withoutTxnInfo {
		t = &apple.TransactionInfo{
			TransactionID: n.tx, OriginalTransactionID: n.otx, BundleID: n.bundleID, ProductID: n.product,
			Type: cmpOr(n.productType, apple.ProductAutoRenewable), SignedDate: n.signedAt.UnixMilli(), Environment: n.env,
			PurchaseDate: n.signedAt.UnixMilli(),
		}
		if !n.expires.IsZero() {
			t.ExpiresDate = n.expires.UnixMilli()
		}
		if !n.revoked.IsZero() {
			t.RevocationDate = n.revoked.UnixMilli()
		}
		r = &apple.RenewalInfo{OriginalTransactionID: n.otx, ProductID: n.product, SignedDate: n.signedAt.UnixMilli(), Environment: n.env}
		if !n.grace.IsZero() {
			r.GracePeriodExpiresDate = n.grace.UnixMilli()
		}
	}
	signed, err := localroot.SignNotification(a.root, p, t, r)
	if err != nil {
		a.t.Fatal(err)
	}
	return signed, p
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// post sends a signedPayload to the publisher's endpoint.
func (a *appleEnv) post(p publisher, signed string) testkit.Response {
	a.t.Helper()
	body, _ := json.Marshal(map[string]string{"signedPayload": signed})
	return testkit.Do(a.t, a.apple.URL, http.MethodPost, fmt.Sprintf("/apple/notifications/%d", p.id), nil, string(body))
}

// notify signs n and posts it, expecting 200 and the given outcome.
func (a *appleEnv) notify(n note, want appstore.Outcome) {
	a.t.Helper()
	signed, _ := a.sign(n)
	r := a.post(a.pub, signed)
	if r.Status != http.StatusOK || r.Body["outcome"] != string(want) {
		a.t.Fatalf("%s %s: %d %s, want 200 outcome %s", n.typ, n.subtype, r.Status, r.Raw, want)
	}
}

// seedOwned is an imported active chain owned by owners[0].
func (a *appleEnv) seedOwned(expires time.Time) transfer.Purchase {
	a.t.Helper()
	return a.seedPurchase(a.pub, a.owners[0], transfer.StateActive, expires, newTxID())
}

func (a *appleEnv) notificationItems() []map[string]any {
	return a.items()["NOTIFICATION"]
}

// TestAppleNotificationEffects sends each listed type to an owned purchase and
// checks what it did: state, expiry, the chain's transactionIds, product and
// offer, a bumped version, and the owner untouched.
func TestAppleNotificationEffects(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	later := now.Add(30 * 24 * time.Hour)
	grace := now.Add(72 * time.Hour)
	past := now.Add(-time.Hour)
	cases := []struct {
		name       string
		start      transfer.PurchaseState
		note       note
		wantState  transfer.PurchaseState
		wantExpiry time.Time
		newTx      bool
		wantOffer  string
	}{
		{"SUBSCRIBED", transfer.StateExpired, note{typ: apple.TypeSubscribed, subtype: apple.SubtypeResubscribe, expires: later}, transfer.StateActive, later, true, testOffer},
		{"DID_RENEW", transfer.StateActive, note{typ: apple.TypeDidRenew, expires: later}, transfer.StateActive, later, true, testOffer},
		{"OFFER_REDEEMED", transfer.StateActive, note{typ: apple.TypeOfferRedeemed, expires: later}, transfer.StateActive, later, true, testOffer},
		{"RENEWAL_EXTENDED", transfer.StateActive, note{typ: apple.TypeRenewalExtended, expires: later}, transfer.StateActive, later, true, testOffer},
		{"REFUND_REVERSED", transfer.StateRevoked, note{typ: apple.TypeRefundReversed, expires: later}, transfer.StateActive, later, true, testOffer},
		{"DID_CHANGE_RENEWAL_PREF UPGRADE", transfer.StateActive, note{typ: apple.TypeDidChangeRenewalPref, subtype: apple.SubtypeUpgrade, product: yearlyProduct, expires: later}, transfer.StateActive, later, true, yearlyOffer},
		{"DID_FAIL_TO_RENEW GRACE_PERIOD", transfer.StateActive, note{typ: apple.TypeDidFailToRenew, subtype: apple.SubtypeGracePeriod, expires: past, grace: grace, status: apple.StatusBillingGracePeriod}, transfer.StateActive, grace, true, testOffer},
		{"DID_FAIL_TO_RENEW in billing retry", transfer.StateActive, note{typ: apple.TypeDidFailToRenew, expires: past, status: apple.StatusBillingRetry}, transfer.StateExpired, past, true, testOffer},
		{"EXPIRED", transfer.StateActive, note{typ: apple.TypeExpired, subtype: apple.SubtypeVoluntary, expires: past, status: apple.StatusExpired}, transfer.StateExpired, past, true, testOffer},
		{"GRACE_PERIOD_EXPIRED", transfer.StateActive, note{typ: apple.TypeGracePeriodExpired, expires: past, status: apple.StatusExpired}, transfer.StateExpired, past, true, testOffer},
		{"REFUND", transfer.StateActive, note{typ: apple.TypeRefund, expires: later, revoked: now, status: apple.StatusRevoked}, transfer.StateRevoked, later, true, testOffer},
		{"REVOKE", transfer.StateActive, note{typ: apple.TypeRevoke, expires: later, revoked: now, status: apple.StatusRevoked}, transfer.StateRevoked, later, true, testOffer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := a.seedPurchase(a.pub, a.owners[0], c.start, now.Add(time.Hour), newTxID())
			c.note.tx, c.note.otx = newTxID(), before.OriginalTransactionID
			a.notify(c.note, appstore.OutcomeApplied)
			got := a.purchase(a.pub, before.OriginalTransactionID)
			if got.State != c.wantState || !got.ExpiresAt.Equal(c.wantExpiry) {
				t.Errorf("state %s expires %v, want %s %v", got.State, got.ExpiresAt, c.wantState, c.wantExpiry)
			}
			if c.newTx != slices.Contains(got.TransactionIDs, c.note.tx) {
				t.Errorf("transactionIds %v: %s joined = %v, want %v", got.TransactionIDs, c.note.tx, !c.newTx, c.newTx)
			}
			if got.OfferID != c.wantOffer || got.Owner != a.owners[0] || got.Version != before.Version+1 {
				t.Errorf("offer %q owner %d version %d, want %q %d %d", got.OfferID, got.Owner, got.Version, c.wantOffer, a.owners[0], before.Version+1)
			}
			if c.wantState == transfer.StateRevoked && !got.RevokedAt.Equal(now) {
				t.Errorf("revokedAt %v, want %v", got.RevokedAt, now)
			}
		})
	}

	t.Run("types that state nothing are recorded only", func(t *testing.T) {
		before := a.seedOwned(later)
		for _, typ := range []string{apple.TypeDidChangeRenewalStatus, apple.TypeConsumptionRequest, apple.TypePriceIncrease, apple.TypeRefundDeclined, apple.TypeMetadataUpdate} {
			a.notify(note{typ: typ, tx: newTxID(), otx: before.OriginalTransactionID, expires: later}, appstore.OutcomeRecorded)
		}
		a.notify(note{typ: apple.TypeDidChangeRenewalPref, subtype: apple.SubtypeDowngrade, tx: newTxID(), otx: before.OriginalTransactionID}, appstore.OutcomeRecorded)
		a.notify(note{typ: apple.TypeTest, withoutTxnInfo: true}, appstore.OutcomeRecorded)
		if got := a.purchase(a.pub, before.OriginalTransactionID); got.Version != before.Version || len(got.TransactionIDs) != len(before.TransactionIDs) {
			t.Errorf("purchase changed: version %d→%d, transactionIds %v", before.Version, got.Version, got.TransactionIDs)
		}
	})
}

// TestAppleNotificationRecorded: every accepted notification leaves one
// record with its identity and a TTL; a redelivery changes nothing.
func TestAppleNotificationDuplicate(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	p := a.seedOwned(time.Now().Add(time.Hour))
	signed, payload := a.sign(note{typ: apple.TypeDidRenew, tx: newTxID(), otx: p.OriginalTransactionID, expires: time.Now().Add(48 * time.Hour)})

	// Apple redelivers, and may do so concurrently: one applies, the rest are duplicates.
	outcomes := make(chan string, 5)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			r := a.post(a.pub, signed)
			if r.Status != http.StatusOK {
				t.Errorf("status %d %s", r.Status, r.Raw)
			}
			outcomes <- fmt.Sprint(r.Body["outcome"])
		})
	}
	wg.Wait()
	close(outcomes)
	count := map[string]int{}
	for o := range outcomes {
		count[o]++
	}
	if count[string(appstore.OutcomeApplied)] != 1 || count[string(appstore.OutcomeDuplicate)] != 4 {
		t.Errorf("outcomes %v, want 1 applied and 4 duplicates", count)
	}
	if got := a.purchase(a.pub, p.OriginalTransactionID); got.Version != p.Version+1 {
		t.Errorf("version %d, want %d: a duplicate changed the purchase", got.Version, p.Version+1)
	}
	recs := a.notificationItems()
	if len(recs) != 1 {
		t.Fatalf("%d notification records, want 1", len(recs))
	}
	rec := recs[0]
	if rec["notificationUUID"] != payload.NotificationUUID || rec["notificationType"] != apple.TypeDidRenew ||
		rec["signedDate"] != float64(payload.SignedDate) || rec["outcome"] != string(appstore.OutcomeApplied) {
		t.Errorf("record %v", rec)
	}
	ttl, _ := rec["ttl"].(float64)
	if d := time.Until(time.Unix(int64(ttl), 0)); d < 180*24*time.Hour {
		t.Errorf("record expires in %v, want about %v", d, appstore.DefaultRetention)
	}
}

// TestAppleNotificationsOutOfOrder: a notification signed before the last one
// applied is recorded and changes nothing, so a late DID_RENEW never revives
// a purchase Apple has since expired.
func TestAppleNotificationsOutOfOrder(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	p := a.seedOwned(time.Now().Add(time.Hour))
	now := time.Now()
	a.notify(note{typ: apple.TypeExpired, tx: p.TransactionIDs[0], otx: p.OriginalTransactionID, signedAt: now, expires: now.Add(-time.Minute)}, appstore.OutcomeApplied)
	late := newTxID()
	a.notify(note{typ: apple.TypeDidRenew, tx: late, otx: p.OriginalTransactionID, signedAt: now.Add(-time.Hour), expires: now.Add(30 * 24 * time.Hour)}, appstore.OutcomeOutOfOrder)
	got := a.purchase(a.pub, p.OriginalTransactionID)
	if got.State != transfer.StateExpired || slices.Contains(got.TransactionIDs, late) || got.Version != p.Version+1 {
		t.Errorf("state %s, transactionIds %v, version %d: the older notification changed the purchase", got.State, got.TransactionIDs, got.Version)
	}
	if n := len(a.notificationItems()); n != 2 {
		t.Errorf("%d records, want 2 (the late one is recorded too)", n)
	}
}

// TestAppleUnknownChainIsUnowned: a notification for a chain the service
// does not know creates it without an owner; no transfer can take it.
func TestAppleUnknownChainIsUnowned(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	a.startProcessor()
	otx, tx := newTxID(), newTxID()
	a.notify(note{typ: apple.TypeDidRenew, tx: tx, otx: otx, expires: time.Now().Add(24 * time.Hour)}, appstore.OutcomeCreated)
	got := a.purchase(a.pub, otx)
	if got.Owned() || got.State != transfer.StateActive || !slices.Equal(got.TransactionIDs, []string{otx, tx}) || got.OfferID != testOffer {
		t.Fatalf("created %+v", got)
	}
	for _, name := range []string{otx, tx} {
		r := a.transfer(tokenHeader(a.pub), transferBody(a.owners[1], name))
		if r.status != http.StatusAccepted {
			t.Fatalf("transfer: %d %s", r.status, r.raw)
		}
		done := a.waitFinalized(tokenHeader(a.pub), r.str("synchronizationId"))
		if done.str("result") != string(transfer.ResultNotFound) {
			t.Errorf("transfer of unowned %s: result %s, want TRANSACTION_ID_NOT_FOUND", name, done.str("result"))
		}
	}
	if got := a.purchase(a.pub, otx); got.Owned() || len(a.history(a.pub, otx)) != 0 {
		t.Errorf("a transfer took an unowned purchase: %+v", got)
	}

	// An operator gives it its first owner; from then on it transfers.
	if _, err := operator.Assign(context.Background(), a.svc.Stores.Operator, a.pub.id, tx, a.owners[0]); err != nil {
		t.Fatal(err)
	}
	r := a.transfer(tokenHeader(a.pub), transferBody(a.owners[1], tx))
	if done := a.waitFinalized(tokenHeader(a.pub), r.str("synchronizationId")); done.str("result") != string(transfer.ResultTransferred) {
		t.Errorf("transfer after the assignment: %s", done.raw)
	}
	if h := a.history(a.pub, otx); len(h) != 1 || h[0].From != int64(a.owners[0]) {
		t.Errorf("history %+v: want the transfer alone (an assignment is no transfer)", h)
	}
}

// TestAppleRenewalBetweenAcceptAndProcess: a transfer names a transactionId
// that only a renewal, arriving while the job waits, makes known.
func TestAppleRenewalBetweenAcceptAndProcess(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	p := a.seedOwned(time.Now().Add(time.Minute))
	renewed := newTxID()
	r := a.transfer(tokenHeader(a.pub), transferBody(a.owners[1], renewed))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	a.notify(note{typ: apple.TypeDidRenew, tx: renewed, otx: p.OriginalTransactionID, expires: time.Now().Add(30 * 24 * time.Hour)}, appstore.OutcomeApplied)
	a.startProcessor()
	done := a.waitFinalized(tokenHeader(a.pub), r.str("synchronizationId"))
	if done.str("result") != string(transfer.ResultTransferred) {
		t.Fatalf("result %s, want PURCHASE_OWNERSHIP_TRANSFERRED", done.raw)
	}
	if got := a.purchase(a.pub, p.OriginalTransactionID); got.Owner != a.owners[1] {
		t.Errorf("owner %d, want %d", got.Owner, a.owners[1])
	}
}

// TestAppleRefundWhileTransferQueued: the processor decides on what Apple
// said last, not on what was true at accept time.
func TestAppleRefundWhileTransferQueued(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	p := a.seedOwned(time.Now().Add(30 * 24 * time.Hour))
	r := a.transfer(tokenHeader(a.pub), transferBody(a.owners[1], p.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	a.notify(note{typ: apple.TypeRefund, tx: p.TransactionIDs[0], otx: p.OriginalTransactionID, revoked: time.Now(), status: apple.StatusRevoked}, appstore.OutcomeApplied)
	a.startProcessor()
	done := a.waitFinalized(tokenHeader(a.pub), r.str("synchronizationId"))
	if done.str("result") != string(transfer.ResultExpired) {
		t.Fatalf("result %s, want RECEIVED_EXPIRED_PURCHASE", done.raw)
	}
	if got := a.purchase(a.pub, p.OriginalTransactionID); got.Owner != a.owners[0] || got.State != transfer.StateRevoked {
		t.Errorf("owner %d state %s, want %d revoked", got.Owner, got.State, a.owners[0])
	}
}

// TestAppleNeverChangesTheOwner: notifications racing a transfer leave the
// owner to the transfer; the history has the transfer alone.
func TestAppleNeverChangesTheOwner(t *testing.T) {
	t.Parallel()
	// The racing notifications may make the processor lose all its stale
	// re-reads on one delivery; it then retries as for any transient
	// failure, so redeliver within a second instead of after the default
	// visibility timeout.
	a := newAppleEnv(t, withFastRetries(5))
	a.startProcessor()
	p := a.seedOwned(time.Now().Add(30 * 24 * time.Hour))
	r := a.transfer(tokenHeader(a.pub), transferBody(a.owners[1], p.TransactionIDs[0]))
	// One signedDate for all: with distinct ones, those overtaken by a later
	// one are rightly out of order, and the count below would vary.
	signedAt := time.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			signed, _ := a.sign(note{typ: apple.TypeDidRenew, tx: newTxID(), otx: p.OriginalTransactionID,
				signedAt: signedAt, expires: time.Now().Add(60 * 24 * time.Hour)})
			if got := a.post(a.pub, signed); got.Status != http.StatusOK {
				t.Errorf("notification: %d %s", got.Status, got.Raw)
			}
		})
	}
	wg.Wait()
	done := a.waitFinalized(tokenHeader(a.pub), r.str("synchronizationId"))
	if done.str("result") != string(transfer.ResultTransferred) {
		t.Fatalf("result %s", done.raw)
	}
	got := a.purchase(a.pub, p.OriginalTransactionID)
	h := a.history(a.pub, p.OriginalTransactionID)
	if got.Owner != a.owners[1] || len(h) != 1 || h[0].From != int64(a.owners[0]) || h[0].To != int64(a.owners[1]) {
		t.Errorf("owner %d, history %+v: want one move %d→%d", got.Owner, h, a.owners[0], a.owners[1])
	}
	if len(got.TransactionIDs) != 1+6 {
		t.Errorf("transactionIds %v: every renewal must have joined", got.TransactionIDs)
	}
}

// TestAppleRefusalsWriteNothing: what does not verify, or is not the
// publisher's app, is refused with its code and leaves no record.
func TestAppleRefusalsWriteNothing(t *testing.T) {
	t.Parallel()
	a := newAppleEnv(t)
	p := a.seedOwned(time.Now().Add(time.Hour))
	noApp := a.seedPublisher(true, false)
	sandboxOnly := a.seedApplePublisher(&transfer.AppleApp{BundleID: testBundleID, Environments: []string{transfer.EnvironmentSandbox}})
	other, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	renew := note{typ: apple.TypeDidRenew, tx: newTxID(), otx: p.OriginalTransactionID, expires: time.Now().Add(time.Hour)}
	good, _ := a.sign(renew)
	forged, _ := a.sign(renew)
	forgedPayload, _ := json.Marshal(map[string]any{"notificationType": "DID_RENEW", "notificationUUID": "x", "signedDate": time.Now().UnixMilli()})
	underOtherRoot, err := other.Sign(json.RawMessage(forgedPayload))
	if err != nil {
		t.Fatal(err)
	}
	wrongBundle := renew
	wrongBundle.bundleID = "com.example.other"
	wrongBundleSigned, _ := a.sign(wrongBundle)
	if forged, err = localroot.ReplaceInPayload(forged, apple.TypeDidRenew, apple.TypeRevoke); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		to     publisher
		body   string
		status int
		code   transfer.Code
	}{
		{"not JSON", a.pub, `{"signedPayload":`, 400, transfer.CodeAppleInvalidBody},
		{"no signedPayload", a.pub, `{"payload":"x"}`, 400, transfer.CodeAppleInvalidBody},
		{"signedPayload a number", a.pub, `{"signedPayload":7}`, 400, transfer.CodeAppleInvalidBody},
		{"not a JWS", a.pub, `{"signedPayload":"hello"}`, 400, transfer.CodeAppleUnverified},
		{"under another root", a.pub, mustBody(underOtherRoot), 400, transfer.CodeAppleUnverified},
		{"tampered payload", a.pub, mustBody(forged), 400, transfer.CodeAppleUnverified},
		{"another app's bundleId", a.pub, mustBody(wrongBundleSigned), 400, transfer.CodeAppleWrongApp},
		{"Production to a Sandbox-only app", sandboxOnly, mustBody(good), 400, transfer.CodeAppleWrongApp},
		{"publisher without an Apple app", noApp, mustBody(good), 404, transfer.CodeAppleUnknownPublisher},
		{"unknown publisher", publisher{id: transfer.PublisherID(newID())}, mustBody(good), 404, transfer.CodeAppleUnknownPublisher},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testkit.Do(t, a.apple.URL, http.MethodPost, fmt.Sprintf("/apple/notifications/%d", c.to.id), nil, c.body)
			if r.Status != c.status || r.Body["code"] != string(c.code) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, c.status, c.code)
			}
		})
	}
	if n := len(a.notificationItems()); n != 0 {
		t.Errorf("%d notification records after refusals, want 0", n)
	}
	if got := a.purchase(a.pub, p.OriginalTransactionID); got.Version != p.Version {
		t.Errorf("a refused notification changed the purchase (version %d→%d)", p.Version, got.Version)
	}
}

func mustBody(signed string) string {
	b, _ := json.Marshal(map[string]string{"signedPayload": signed})
	return string(b)
}

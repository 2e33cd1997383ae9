package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const simBundle = "com.example.backfill"

// appleAPIFixture is a publisher with a Sandbox app and an App Store Connect key, the
// stand-in serving its app at APPLE_API_BASE_URL, the local test root in run.env, and the
// notifications endpoint on the fixture's tables.
type appleAPIFixture struct {
	*fixture
	pid       transfer.PublisherID
	sim       *appstoresim.Server
	endpoint  string
	authority *localroot.Authority
}

func newAppleAPIFixture(t *testing.T, id int64) *appleAPIFixture {
	t.Helper()
	f := newFixture(t)
	f.withSealingKey()
	a, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "root.pem"), filepath.Join(dir, "root-key.pem")
	if err := a.WritePEM(cert, key); err != nil {
		t.Fatal(err)
	}
	f.setEnv(settingAppleRootCert, cert)
	pid, _ := f.createPublisher("--id", strconv.FormatInt(id, 10))
	f.ok("publisher", "apple", "set", "--publisher", fmt.Sprint(pid), "--bundle-id", simBundle, "--app-apple-id", "1234567890", "--environments", "Sandbox")
	priv, p8 := newP8(t)
	f.ok("publisher", "apple", "set", "--publisher", fmt.Sprint(pid), "--issuer", testIssuerID, "--key-id", testKeyID, "--private-key-file", f.writeFile("key.p8", p8))

	sim := appstoresim.New(a, appstoresim.App{BundleID: simBundle, AppAppleID: 1234567890, Environment: apple.EnvironmentSandbox})
	sim.AddKey(testIssuerID, testKeyID, &priv.PublicKey)
	apiSrv := httptest.NewServer(sim)
	t.Cleanup(apiSrv.Close)
	f.setEnv(settingAppleAPIURL, apiSrv.URL)

	f.svc.Config.Apple.Roots = a.Pool()
	h, err := f.svc.AppleNotificationHandler()
	if err != nil {
		t.Fatal(err)
	}
	endpoint := httptest.NewServer(h)
	t.Cleanup(endpoint.Close)
	sim.SetNotificationURL(fmt.Sprintf("%s/apple/notifications/%d", endpoint.URL, pid))
	t.Cleanup(sim.Wait)
	return &appleAPIFixture{fixture: f, pid: pid, sim: sim, endpoint: endpoint.URL, authority: a}
}

// backfillShown is backfill --json.
type backfillShown struct {
	appstore.BackfillReport
	PublisherID transfer.PublisherID `json:"publisherId"`
}

func (f *appleAPIFixture) backfill(args ...string) backfillShown {
	f.t.Helper()
	var out backfillShown
	f.okJSON(&out, append([]string{"apple", "backfill", "--publisher", fmt.Sprint(f.pid)}, args...)...)
	return out
}

func (f *appleAPIFixture) purchase(otx string) *transfer.Purchase {
	f.t.Helper()
	p, err := f.svc.Stores.Operator.Purchase(context.Background(), f.pid, otx)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// TestAppleBackfill: the history is paged through (25 notifications, Apple's 20 a page), each
// applied by the endpoint's rules — the unknown chain created unowned, the refund applied, an
// older renewal on the second page out of order, TESTs recorded; a second run changes nothing;
// --only-failures replays only what Apple could not deliver.
func TestAppleBackfill(t *testing.T) {
	f := newAppleAPIFixture(t, 555000021)
	now := time.Now()
	base := apple.TransactionInfo{OriginalTransactionID: "3000000000000001", ProductID: "com.example.monthly", Type: apple.ProductAutoRenewable,
		InAppOwnershipType: "PURCHASED", Quantity: 1, SubscriptionGroupIdentifier: "g"}
	first, renewal := base, base
	first.TransactionID, first.PurchaseDate, first.ExpiresDate = base.OriginalTransactionID, now.Add(-48*time.Hour).UnixMilli(), now.Add(-24*time.Hour).UnixMilli()
	renewal.TransactionID, renewal.PurchaseDate, renewal.ExpiresDate = "3000000000000002", now.Add(-24*time.Hour).UnixMilli(), now.Add(24*time.Hour).UnixMilli()
	f.sim.AddTransaction(first)
	f.sim.AddTransaction(renewal)
	at := func(m int) time.Time { return now.Add(-3 * time.Hour).Add(time.Duration(m) * time.Minute) }
	add := func(typ, tx string, m int, delivered bool) {
		if _, err := f.sim.AddNotification(typ, "", tx, at(m), delivered); err != nil {
			t.Fatal(err)
		}
	}
	add(apple.TypeSubscribed, first.TransactionID, 0, false)
	add(apple.TypeRefund, renewal.TransactionID, 60, false)
	for i := range 18 {
		add(apple.TypeTest, "", 61+i, true)
	}
	add(apple.TypeDidRenew, renewal.TransactionID, 30, false) // page 2, signed before the refund
	for i := range 4 {
		add(apple.TypeTest, "", 80+i, true)
	}

	rep := f.backfill("--since", "4h")
	want := appstore.BackfillReport{Pages: 2, Seen: 25, Applied: 2, Recorded: 22, OutOfOrder: 1}
	if rep.BackfillReport.Pages != want.Pages || rep.Seen != want.Seen || rep.Applied != want.Applied || rep.Recorded != want.Recorded ||
		rep.OutOfOrder != want.OutOfOrder || rep.AlreadySeen != 0 || rep.Failed != 0 || rep.PublisherID != f.pid {
		t.Fatalf("first run = %+v, want %+v", rep, want)
	}
	p := f.purchase(first.OriginalTransactionID)
	if p == nil || p.State != transfer.StateRevoked || p.Owner != 0 || len(p.TransactionIDs) != 2 || p.TransactionIDs[1] != renewal.TransactionID {
		t.Fatalf("purchase after the backfill = %+v, want revoked, unowned, both transactions", p)
	}

	again := f.backfill("--since", "4h")
	if again.Seen != 25 || again.AlreadySeen != 25 || again.Applied+again.Recorded+again.OutOfOrder+again.Failed != 0 {
		t.Errorf("second run = %+v, want everything already seen", again)
	}
	if p2 := f.purchase(first.OriginalTransactionID); p2.Version != p.Version || p2.State != p.State {
		t.Errorf("the second run changed the purchase: %+v -> %+v", p, p2)
	}

	failures := f.backfill("--since", "4h", "--only-failures")
	if failures.Seen != 3 || failures.AlreadySeen != 3 || failures.Pages != 1 {
		t.Errorf("--only-failures = %+v, want the 3 undelivered, already seen", failures)
	}
	// A window that holds nothing.
	if none := f.backfill("--since", now.Add(-time.Minute).UTC().Format(time.RFC3339)); none.Seen != 0 || none.Pages != 1 {
		t.Errorf("an empty window = %+v", none)
	}
	// Text output: the counts, and no progress line off a terminal.
	out := f.ok("apple", "backfill", "--publisher", fmt.Sprint(f.pid), "--since", "4h").stdout
	if !strings.Contains(out, "25 notification(s) in 2 page(s): 0 applied, 0 recorded, 25 already seen, 0 out of order, 0 failed") || strings.Contains(out, "\r") {
		t.Errorf("backfill output:\n%q", out)
	}
}

// Bad command lines are refused before anything is asked; a publisher without a key is told so.
func TestAppleBackfillRefusals(t *testing.T) {
	f := newAppleAPIFixture(t, 555000022)
	for _, since := range []string{"", "yesterday", "-1h0m0s" + "x", "4400h", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)} {
		args := []string{"apple", "backfill", "--publisher", fmt.Sprint(f.pid)}
		if since != "" {
			args = append(args, "--since", since)
		}
		if r := f.ctl(args...); r.code != exitUsage {
			t.Errorf("--since %q: %v, want exit %d", since, r, exitUsage)
		}
	}
	if n := f.sim.Requests(); n != 0 {
		t.Errorf("a refused command line reached Apple %d times", n)
	}
	other, _ := f.createPublisher("--id", "555000023")
	f.ok("publisher", "apple", "set", "--publisher", fmt.Sprint(other), "--bundle-id", simBundle, "--environments", "Sandbox")
	if r := f.ctl("apple", "backfill", "--publisher", fmt.Sprint(other), "--since", "1h"); r.code != exitFailed || !strings.Contains(r.stderr, "no App Store Connect key") {
		t.Errorf("without a key: %v", r)
	}
}

// test-notification: Apple (the stand-in) posts a signed TEST to the publisher's endpoint,
// which records it; the command reports it arrived. A URL that refuses it is reported too.
func TestAppleTestNotification(t *testing.T) {
	f := newAppleAPIFixture(t, 555000024)
	var shown testNotificationView
	f.okJSON(&shown, "apple", "test-notification", "--publisher", fmt.Sprint(f.pid), "--wait", "30s")
	if !shown.Arrived || shown.NotificationUUID == "" || len(shown.Attempts) != 1 || shown.Attempts[0] != "SUCCESS" {
		t.Fatalf("test-notification = %+v", shown)
	}
	// The endpoint recorded it: a backfill would find it already seen.
	if !f.recorded(shown.NotificationUUID) {
		t.Error("the endpoint has no record of the test notification")
	}

	f.sim.SetNotificationURL(fmt.Sprintf("%s/apple/notifications/%d", f.endpoint, 999999999)) // no such publisher: 404
	r := f.ctl("apple", "test-notification", "--publisher", fmt.Sprint(f.pid), "--wait", "30s")
	if r.code != exitFailed || !strings.Contains(r.stdout, "did not arrive") || !strings.Contains(r.stdout, "UNSUCCESSFUL_HTTP_RESPONSE_CODE") {
		t.Errorf("to a refusing URL: %v", r)
	}
}

// recorded tells whether the table holds the record of a notification.
func (f *appleAPIFixture) recorded(uuid string) bool {
	f.t.Helper()
	return strings.Contains(f.tableDump(), uuid)
}

// TestAppleBackfillRate measures a backfill of BACKFILL_RATE_N (default 200) notifications, each
// a renewal of its own chain, against DynamoDB Local; it logs the rate and asserts only counts.
//
//	BACKFILL_RATE_N=1000 go test -count=1 -run TestAppleBackfillRate -v ./cmd/transferctl/
func TestAppleBackfillRate(t *testing.T) {
	n := 200
	if v := os.Getenv("BACKFILL_RATE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("BACKFILL_RATE_N=%q", v)
		}
	}
	f := newAppleAPIFixture(t, 555000025)
	now := time.Now()
	for i := range n {
		tx := apple.TransactionInfo{TransactionID: fmt.Sprintf("4%015d", i), OriginalTransactionID: fmt.Sprintf("4%015d", i), ProductID: "com.example.monthly",
			Type: apple.ProductAutoRenewable, PurchaseDate: now.Add(-time.Hour).UnixMilli(), ExpiresDate: now.Add(720 * time.Hour).UnixMilli()}
		f.sim.AddTransaction(tx)
		if _, err := f.sim.AddNotification(apple.TypeDidRenew, "", tx.TransactionID, now.Add(-time.Hour).Add(time.Duration(i)*time.Millisecond), false); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	rep := f.backfill("--since", "2h")
	took := time.Since(began)
	if rep.Seen != n || rep.Applied != n {
		t.Fatalf("report = %+v, want %d applied", rep, n)
	}
	t.Logf("backfill of %d notifications (%d pages): %v, %.0f notifications/s", n, rep.BackfillReport.Pages, took.Round(time.Millisecond), float64(n)/took.Seconds())
}

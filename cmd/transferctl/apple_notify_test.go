package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/runenv"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// appleFixture adds what make run has for Apple: a local test root written
// as PEM files, the notifications endpoint trusting it, a publisher whose
// app it is, and the APPLE_* settings in run.env.
func newAppleFixture(t *testing.T) (*fixture, transfer.PublisherID, string) {
	t.Helper()
	f := newFixture(t)
	root, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "root.pem"), filepath.Join(dir, "root-key.pem")
	if err := root.WritePEM(cert, key); err != nil {
		t.Fatal(err)
	}
	f.svc.Config.Apple.Roots = root.Pool()
	handler, err := f.svc.AppleNotificationHandler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)

	pub, token := f.createPublisher()
	app := &transfer.AppleApp{BundleID: "com.example.ctl", AppAppleID: 55, Environments: []string{transfer.EnvironmentSandbox}, Offers: map[string]string{"monthly": "S1_M"}}
	if err := f.svc.Stores.Operator.PutPublisher(context.Background(), transfer.Publisher{ID: pub, Name: "ctl", StoreKit2Active: true, Apple: app}); err != nil {
		t.Fatal(err)
	}
	env, err := runenv.Read(f.envFile)
	if err != nil {
		t.Fatal(err)
	}
	env[settingAppleRootCert], env[settingAppleRootKey] = cert, key
	env[settingAppleURL] = fmt.Sprintf("%s/apple/notifications/%d", srv.URL, pub)
	env[settingAppleBundle], env[settingAppleAppID], env[settingAppleProduct] = "com.example.ctl", "55", "monthly"
	if err := runenv.Write(f.envFile, env); err != nil {
		t.Fatal(err)
	}
	return f, pub, token
}

func TestAppleNotifyRenewalThenRefund(t *testing.T) {
	f, pub, token := newAppleFixture(t)
	f.startProcessor(nil)
	customers := []transfer.CustomerID{7001, 7002}
	if err := f.svc.Stores.Operator.PutCustomers(context.Background(), pub, customers...); err != nil {
		t.Fatal(err)
	}
	p := transfer.Purchase{PublisherID: pub, OriginalTransactionID: "otx-1", TransactionIDs: []string{"otx-1"}, Owner: customers[0],
		OfferID: "S1_M", ProductID: "monthly", Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: time.Now().Add(time.Minute)}
	if err := f.svc.Stores.Operator.PutPurchase(context.Background(), p); err != nil {
		t.Fatal(err)
	}

	r := f.ok("apple", "notify", "--type", "DID_RENEW", "--transaction-id", "tx-renewed", "--original-transaction-id", "otx-1")
	if !strings.Contains(r.stdout, "HTTP 200") || !strings.Contains(r.stdout, `"applied"`) {
		t.Fatalf("notify printed %q", r.stdout)
	}
	got, err := f.svc.Stores.Operator.Purchase(context.Background(), pub, "otx-1")
	if err != nil || !slices.Contains(got.TransactionIDs, "tx-renewed") || !got.ExpiresAt.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("after the renewal: %+v %v", got, err)
	}
	if res := f.waitFinalized(token, f.transfer(token, int64(customers[1]), "tx-renewed")); res != string(transfer.ResultTransferred) {
		t.Fatalf("transfer of the renewed transactionId: %s", res)
	}

	var out struct {
		Status   int            `json:"status"`
		Response map[string]any `json:"response"`
	}
	f.okJSON(&out, "apple", "notify", "--type", "REFUND", "--transaction-id", "tx-renewed", "--original-transaction-id", "otx-1")
	if out.Status != 200 || out.Response["outcome"] != "applied" {
		t.Fatalf("refund: %+v", out)
	}
	if res := f.waitFinalized(token, f.transfer(token, int64(customers[0]), "otx-1")); res != string(transfer.ResultExpired) {
		t.Errorf("transfer after the refund: %s, want RECEIVED_EXPIRED_PURCHASE", res)
	}
}

func TestAppleNotifyRefusals(t *testing.T) {
	f, _, _ := newAppleFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"apple", "notify", "--transaction-id", "t"}, exitUsage, "--type"},
		{[]string{"apple", "notify", "--type", "DID_RENEW"}, exitUsage, "--transaction-id"},
		{[]string{"apple", "notify", "--type", "DID_RENEW", "--transaction-id", "t", "--environment", "Xcode"}, exitUsage, "--environment"},
		{[]string{"apple", "notify", "--type", "DID_RENEW", "--transaction-id", "t", "--expires", "soon"}, exitUsage, "--expires"},
		// The publisher's app accepts Sandbox only.
		{[]string{"apple", "notify", "--type", "DID_RENEW", "--transaction-id", "t", "--environment", "Production"}, exitFailed, "HTTP 400"},
	} {
		r := f.ctl(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%v: %v, want exit %d mentioning %q", tc.args, r, tc.code, tc.want)
		}
	}
}

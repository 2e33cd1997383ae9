package httpapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestSignedTransactions: the adapter verifies under the verifier's root,
// checks bundleId and environment against the publisher's app, and tells
// "another app" (transfer.ErrSignedTransactionOtherApp) from "does not verify".
func TestSignedTransactions(t *testing.T) {
	t.Parallel()
	a, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	v, err := apple.NewVerifier(apple.WithRoots(a.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	adapter := httpapi.SignedTransactions{Verifier: v}
	app := transfer.AppleApp{BundleID: "com.example.app", Environments: []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox}}
	now := time.Now().UnixMilli()
	info := func(bundle, env string) apple.TransactionInfo {
		return apple.TransactionInfo{TransactionID: "2000000000000002", OriginalTransactionID: "2000000000000001",
			BundleID: bundle, ProductID: "p", SignedDate: now, Environment: env}
	}
	sign := func(i apple.TransactionInfo) string {
		jws, err := a.Sign(i)
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}

	got, err := adapter.VerifySignedTransaction(context.Background(), sign(info("com.example.app", apple.EnvironmentSandbox)), app)
	if err != nil {
		t.Fatalf("a valid transaction: %v", err)
	}
	if want := (transfer.SignedTransaction{TransactionID: "2000000000000002", OriginalTransactionID: "2000000000000001"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	production := transfer.AppleApp{BundleID: "com.example.app"} // no environments: Production only
	for name, tc := range map[string]struct {
		jws      string
		app      transfer.AppleApp
		otherApp bool
	}{
		"another bundleId":                  {sign(info("com.example.other", apple.EnvironmentProduction)), app, true},
		"Sandbox for a Production-only app": {sign(info("com.example.app", apple.EnvironmentSandbox)), production, true},
		"not a JWS":                         {"a.b.c", app, false},
		"unsigned":                          {"", app, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := adapter.VerifySignedTransaction(context.Background(), tc.jws, tc.app)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if got != (transfer.SignedTransaction{}) {
				t.Errorf("returned %+v with an error", got)
			}
			if errors.Is(err, transfer.ErrSignedTransactionOtherApp) != tc.otherApp {
				t.Errorf("err = %v; another app: %v, want %v", err, !tc.otherApp, tc.otherApp)
			}
		})
	}
}

package operator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/transfer"
)

func TestAppleAppRules(t *testing.T) {
	app, err := AppleApp{BundleID: " com.example.app ", AppAppleID: 1234567890}.App()
	if err != nil {
		t.Fatal(err)
	}
	if app.BundleID != "com.example.app" || app.AppAppleID != 1234567890 ||
		!slices.Equal(app.Environments, []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox}) || app.Offers != nil {
		t.Errorf("defaults: %+v", app)
	}
	// Sandbox alone needs no appAppleId; spelling is Apple's whatever was typed.
	app, err = AppleApp{BundleID: "com.example.app", Environments: []string{"sandbox", "SANDBOX"}}.App()
	if err != nil || !slices.Equal(app.Environments, []string{transfer.EnvironmentSandbox}) || !app.Accepts("Sandbox") || app.Accepts("Production") {
		t.Errorf("sandbox only: %+v %v", app, err)
	}
	app, err = AppleApp{BundleID: "a", AppAppleID: 1, Environments: []string{"Sandbox", "production"},
		Offers: []string{"com.example.monthly=S1_US", "com.example.yearly = S2_US", "com.example.monthly=S1_US"}}.App()
	if err != nil || !slices.Equal(app.Environments, []string{"Production", "Sandbox"}) ||
		len(app.Offers) != 2 || app.Offers["com.example.monthly"] != "S1_US" || app.Offers["com.example.yearly"] != "S2_US" {
		t.Errorf("both, with offers: %+v %v", app, err)
	}

	for want, given := range map[string]AppleApp{
		"bundleId is required":           {AppAppleID: 1},
		"bundleId \"com example\"":       {BundleID: "com example", AppAppleID: 1},
		"at most 155 characters":         {BundleID: strings.Repeat("a", 156), AppAppleID: 1},
		"appAppleId is required":         {BundleID: "a"},
		"appAppleId is required when":    {BundleID: "a", Environments: []string{"Production"}},
		"appAppleId must be a positive":  {BundleID: "a", AppAppleID: -1, Environments: []string{"Sandbox"}},
		`environment "Test"`:             {BundleID: "a", AppAppleID: 1, Environments: []string{"Test"}},
		`environment ""`:                 {BundleID: "a", AppAppleID: 1, Environments: []string{""}},
		`offer "monthly"`:                {BundleID: "a", AppAppleID: 1, Offers: []string{"monthly"}},
		`offer "=S1"`:                    {BundleID: "a", AppAppleID: 1, Offers: []string{"=S1"}},
		`offer "p="`:                     {BundleID: "a", AppAppleID: 1, Offers: []string{"p="}},
		"is given two offers: S1 and S2": {BundleID: "a", AppAppleID: 1, Offers: []string{"p=S1", "p=S2"}},
		"at most 256 characters each":    {BundleID: "a", AppAppleID: 1, Offers: []string{"p=" + strings.Repeat("o", 257)}},
	} {
		if _, err := given.App(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error containing %q", given, err, want)
		}
	}
}

// appleStore records what SetApple was given.
type appleStore struct {
	known map[transfer.PublisherID]bool
	app   transfer.AppleApp
	sw    AppleSwitches
	calls int
}

func (s *appleStore) SetApple(_ context.Context, id transfer.PublisherID, app transfer.AppleApp, sw AppleSwitches) error {
	s.calls++
	if !s.known[id] {
		return ErrPublisherNotFound
	}
	s.app, s.sw = app, sw
	return nil
}

func (s *appleStore) SetAppleSwitches(_ context.Context, id transfer.PublisherID, sw AppleSwitches) error {
	s.calls++
	if !s.known[id] {
		return ErrPublisherNotFound
	}
	s.sw = sw
	return nil
}

func TestAppleSetStoresOnlyAValidApp(t *testing.T) {
	store := &appleStore{known: map[transfer.PublisherID]bool{7: true}}
	apple := NewApple(store)
	ctx := context.Background()
	if _, err := apple.Set(ctx, 7, AppleApp{BundleID: "a"}, AppleSwitches{}); err == nil || store.calls != 0 {
		t.Fatalf("an invalid app reached the store: %v, %d calls", err, store.calls)
	}
	yes := true
	app, err := apple.Set(ctx, 7, AppleApp{BundleID: "a", Environments: []string{"Sandbox"}, Offers: []string{"p=o"}}, AppleSwitches{RequireSignedTransaction: &yes})
	if err != nil || store.app.BundleID != "a" || store.app.Offers["p"] != "o" || store.sw.RequireSignedTransaction == nil || !*store.sw.RequireSignedTransaction || store.sw.VerifyWithApple != nil || app.BundleID != "a" {
		t.Fatalf("set: %+v %v; stored %+v %+v", app, err, store.app, store.sw)
	}
	if _, err := apple.Set(ctx, 8, AppleApp{BundleID: "a", AppAppleID: 1}, AppleSwitches{}); !errors.Is(err, ErrPublisherNotFound) {
		t.Fatalf("unknown publisher: %v", err)
	}
}

func TestAppleSwitchesAloneKeepTheApp(t *testing.T) {
	store := &appleStore{known: map[transfer.PublisherID]bool{7: true}, app: transfer.AppleApp{BundleID: "kept"}}
	apple := NewApple(store)
	ctx := context.Background()
	if err := apple.SetSwitches(ctx, 7, AppleSwitches{}); err == nil || store.calls != 0 {
		t.Fatalf("no switch reached the store: %v, %d calls", err, store.calls)
	}
	yes := true
	if err := apple.SetSwitches(ctx, 7, AppleSwitches{VerifyWithApple: &yes}); err != nil || store.app.BundleID != "kept" || store.sw.VerifyWithApple == nil || !*store.sw.VerifyWithApple {
		t.Fatalf("switches: %v; stored %+v %+v", err, store.app, store.sw)
	}
	if err := apple.SetSwitches(ctx, 8, AppleSwitches{VerifyWithApple: &yes}); !errors.Is(err, ErrPublisherNotFound) {
		t.Fatalf("unknown publisher: %v", err)
	}
}

func TestAppleInfoListsNoOffersAsEmpty(t *testing.T) {
	info := AppleInfo(transfer.AppleApp{BundleID: "a", Environments: []string{"Sandbox"}})
	if info.Offers == nil || len(info.Offers) != 0 {
		t.Fatalf("offers %v", info.Offers)
	}
}

package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// A publisher's App Store app: what the service must know to trust what
// Apple says about the publisher's purchases (transfer.AppleApp), and whether
// a customer-JWT transfer must prove possession with a signed transaction.

// AppleAppInfo is a stored Apple app, as an operator sees it.
type AppleAppInfo struct {
	BundleID     string            `json:"bundleId"`
	AppAppleID   int64             `json:"appAppleId,omitempty"`
	Environments []string          `json:"environments"`
	Offers       map[string]string `json:"offers"`
}

// AppleInfo is the operator's view of an app.
func AppleInfo(a transfer.AppleApp) AppleAppInfo {
	offers := a.Offers
	if offers == nil {
		offers = map[string]string{}
	}
	return AppleAppInfo{BundleID: a.BundleID, AppAppleID: a.AppAppleID, Environments: a.Environments, Offers: offers}
}

// AppleStore is the storage of a publisher's Apple app.
type AppleStore interface {
	// SetApple replaces the publisher's app and the switches that are not
	// nil; ErrPublisherNotFound when the publisher is unknown.
	SetApple(ctx context.Context, id transfer.PublisherID, app transfer.AppleApp, sw AppleSwitches) error
	// SetAppleSwitches changes only the switches that are not nil, keeping
	// the app; ErrPublisherNotFound when the publisher is unknown.
	SetAppleSwitches(ctx context.Context, id transfer.PublisherID, sw AppleSwitches) error
}

// AppleSwitches are the publisher's settings that go with its Apple app;
// a nil one is left as it is.
type AppleSwitches struct {
	// RequireSignedTransaction: a customer-JWT transfer must prove
	// possession with the StoreKit 2 signed transaction.
	RequireSignedTransaction *bool
	// VerifyWithApple: the processor asks the App Store Server API for the
	// purchase's current state before deciding a transfer.
	VerifyWithApple *bool
}

// Limits of an Apple app's settings.
const (
	// maxBundleIDLength is Apple's limit of a bundle id.
	maxBundleIDLength = 155
	maxOffers         = 1000
)

// AppleApp is the app as a command line gives it, before the rules.
type AppleApp struct {
	BundleID   string
	AppAppleID int64
	// Environments default to both when empty.
	Environments []string
	// Offers are "productId=offerId", each once.
	Offers []string
}

// App applies the rules of an Apple app: a bundle id is required; the
// environments are Production and/or Sandbox (both when none is given),
// spelt as Apple spells them whatever the case typed; an appAppleId is
// required when Production is accepted (Apple's Production payloads carry
// it); each offer maps one productId to one offerId.
func (a AppleApp) App() (transfer.AppleApp, error) {
	bundle := strings.TrimSpace(a.BundleID)
	if bundle == "" {
		return transfer.AppleApp{}, errors.New("bundleId is required (e.g. com.example.app)")
	}
	if !validBundleID(bundle) {
		return transfer.AppleApp{}, fmt.Errorf("bundleId %q: at most %d characters of [A-Za-z0-9.-]", bundle, maxBundleIDLength)
	}
	envs, err := environments(a.Environments)
	if err != nil {
		return transfer.AppleApp{}, err
	}
	if a.AppAppleID < 0 {
		return transfer.AppleApp{}, fmt.Errorf("appAppleId must be a positive integer, got %d", a.AppAppleID)
	}
	if a.AppAppleID == 0 && slices.Contains(envs, transfer.EnvironmentProduction) {
		return transfer.AppleApp{}, errors.New("appAppleId is required when Production is accepted (App Store Connect: App Information, Apple ID)")
	}
	offers, err := ParseOffers(a.Offers)
	if err != nil {
		return transfer.AppleApp{}, err
	}
	return transfer.AppleApp{BundleID: bundle, AppAppleID: a.AppAppleID, Environments: envs, Offers: offers}, nil
}

func validBundleID(s string) bool {
	if len(s) > maxBundleIDLength {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// environments spells each environment as Apple does, once each, in the
// order Production, Sandbox; both when none is given.
func environments(given []string) ([]string, error) {
	if len(given) == 0 {
		return []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox}, nil
	}
	seen := map[string]bool{}
	for _, e := range given {
		switch {
		case strings.EqualFold(strings.TrimSpace(e), transfer.EnvironmentProduction):
			seen[transfer.EnvironmentProduction] = true
		case strings.EqualFold(strings.TrimSpace(e), transfer.EnvironmentSandbox):
			seen[transfer.EnvironmentSandbox] = true
		default:
			return nil, fmt.Errorf("environment %q: must be %s or %s", e, transfer.EnvironmentProduction, transfer.EnvironmentSandbox)
		}
	}
	var out []string
	for _, e := range []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox} {
		if seen[e] {
			out = append(out, e)
		}
	}
	return out, nil
}

// ParseOffers reads "productId=offerId" pairs; nil when there are none. A
// productId given twice is refused unless with the same offerId.
func ParseOffers(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	if len(pairs) > maxOffers {
		return nil, fmt.Errorf("offers: at most %d", maxOffers)
	}
	out := make(map[string]string, len(pairs))
	for _, pair := range pairs {
		product, offer, ok := strings.Cut(pair, "=")
		product, offer = strings.TrimSpace(product), strings.TrimSpace(offer)
		if !ok || product == "" || offer == "" {
			return nil, fmt.Errorf("offer %q: must be productId=offerId", pair)
		}
		if len(product) > maxOfferOrProductSize || len(offer) > maxOfferOrProductSize {
			return nil, fmt.Errorf("offer %q: productId and offerId are at most %d characters each", pair, maxOfferOrProductSize)
		}
		if prev, dup := out[product]; dup && prev != offer {
			return nil, fmt.Errorf("productId %s is given two offers: %s and %s", product, prev, offer)
		}
		out[product] = offer
	}
	return out, nil
}

// Apple manages publishers' Apple apps.
type Apple struct{ store AppleStore }

// NewApple wires the Apple app rules to their storage.
func NewApple(s AppleStore) *Apple { return &Apple{store: s} }

// Set validates the app and stores it in place of the publisher's current
// one, as a whole: a setting not given is not kept from the previous app
// (offers included). A nil switch of sw is kept as it is.
func (a *Apple) Set(ctx context.Context, id transfer.PublisherID, given AppleApp, sw AppleSwitches) (transfer.AppleApp, error) {
	app, err := given.App()
	if err != nil {
		return transfer.AppleApp{}, err
	}
	if err := a.store.SetApple(ctx, id, app, sw); err != nil {
		return transfer.AppleApp{}, fmt.Errorf("set the Apple app of publisher %d: %w", id, err)
	}
	return app, nil
}

// SetSwitches changes the switches of sw that are not nil, nothing else.
func (a *Apple) SetSwitches(ctx context.Context, id transfer.PublisherID, sw AppleSwitches) error {
	if sw.RequireSignedTransaction == nil && sw.VerifyWithApple == nil {
		return errors.New("no switch to set")
	}
	if err := a.store.SetAppleSwitches(ctx, id, sw); err != nil {
		return fmt.Errorf("set the Apple switches of publisher %d: %w", id, err)
	}
	return nil
}

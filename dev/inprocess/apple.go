package inprocess

import (
	"crypto/x509"
	"net/http"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// AppleConfig is what the Apple notifications function needs beyond the table
// (config.AppleNotifications), plus the one thing a Lambda never takes from
// its configuration: the roots it trusts.
type AppleConfig struct {
	Retention time.Duration // NOTIFICATION_RETENTION_DAYS (appstore.DefaultRetention when zero)
	// Roots replace Apple Root CA - G3: the local test root of `make run`
	// and of the tests. Nil trusts Apple's root, as in AWS.
	Roots *x509.CertPool
	// BackfillWindow is the scheduled backfill's BACKFILL_WINDOW_HOURS
	// (appstore.DefaultBackfillWindow when zero).
	BackfillWindow time.Duration
	// APIBaseURL replaces Apple's hosts of the App Store Server API
	// (APPLE_API_BASE_URL: the stand-in of `make run` and of the tests): the
	// processor's live check, the scheduled backfill and transferctl reach it
	// there. The deployed processor has no such setting: it talks to Apple.
	APIBaseURL string
}

// AppleVerifier verifies what Apple signs, under Config.Apple.Roots.
func (s *Service) AppleVerifier() (*apple.Verifier, error) {
	var opts []apple.Option
	if s.Config.Apple.Roots != nil {
		opts = append(opts, apple.WithRoots(s.Config.Apple.Roots))
	}
	return apple.NewVerifier(opts...)
}

// AppleReceiver is the Apple notifications use case.
func (s *Service) AppleReceiver() (*appstore.Receiver, error) {
	v, err := s.AppleVerifier()
	if err != nil {
		return nil, err
	}
	return appstore.NewReceiver(v, s.Directory, dynamo.NewNotificationStore(s.Stores.Table, s.Config.Apple.Retention)), nil
}

// AppleNotificationHandler serves POST /apple/notifications/{publisherId}.
func (s *Service) AppleNotificationHandler() (http.Handler, error) {
	r, err := s.AppleReceiver()
	if err != nil {
		return nil, err
	}
	return httpapi.NewAppleNotificationHandler(r, s.observed("applenotifications")...), nil
}

// AppleCheck is the processor's live check of verifyWithApple publishers, as
// functions/processor wires it: publishers' App Store Connect keys opened
// with the webhook sealing keys (Config.Webhook.SealingKeys); nil without
// them, and the processor then retries such transfers.
func (s *Service) AppleCheck() (transfer.AppleCheck, error) {
	if s.Config.Webhook.SealingKeys == nil {
		return nil, nil
	}
	v, err := s.AppleVerifier()
	if err != nil {
		return nil, err
	}
	keys := appstoreapi.NewKeys(s.Stores.Operator, webhook.NewRotatingSealer(s.Config.Webhook.SealingKeys))
	clients := appstoreapi.NewClients(appstoreapi.NewConnector(keys, v, s.Config.Apple.APIBaseURL), appstoreapi.DefaultClientTTL)
	return appstore.NewLiveCheck(s.Directory, dynamo.NewNotificationStore(s.Stores.Table, s.Config.Apple.Retention), clients), nil
}

// AppleBackfill is the scheduled backfill's job, wired as
// functions/applebackfill wires it: publishers' keys opened with
// Config.Webhook.SealingKeys, the App Store Server API at
// Config.Apple.APIBaseURL, notifications applied as the endpoint applies them
// (with the uncached directory, as the function: a run an hour apart has no
// use for a cache).
func (s *Service) AppleBackfill() (*appstore.ScheduledBackfill, error) {
	v, err := s.AppleVerifier()
	if err != nil {
		return nil, err
	}
	window := s.Config.Apple.BackfillWindow
	if window == 0 {
		window = appstore.DefaultBackfillWindow
	}
	keys := appstoreapi.NewKeys(s.Stores.Operator, webhook.NewRotatingSealer(s.Config.Webhook.SealingKeys))
	receiver := appstore.NewReceiver(v, s.Stores.Directory, dynamo.NewNotificationStore(s.Stores.Table, s.Config.Apple.Retention))
	return appstore.NewScheduledBackfill(receiver, s.Stores.Operator, appstore.HistoriesOf(appstoreapi.NewConnector(keys, v, s.Config.Apple.APIBaseURL)), window), nil
}

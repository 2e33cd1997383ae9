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
	// APIBaseURL is APPLE_API_BASE_URL: the App Store Server API stand-in
	// (dev/appstoresim) instead of Apple's hosts.
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

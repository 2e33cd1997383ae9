package config

import (
	"fmt"
	"net/url"
	"time"

	"github.com/acme/purchase-transfer/internal/appstore"
)

// AppleBackfill is the configuration of the scheduled Apple backfill
// function. Like the notifications function it has no setting for trusted
// roots: what Apple's API returns must chain to Apple Root CA - G3.
type AppleBackfill struct {
	TableName string // TABLE_NAME
	// SealingKeySecretID names the Secrets Manager secret of the sealing key
	// that opens publishers' App Store Connect keys (the webhook function's).
	SealingKeySecretID string // WEBHOOK_SEALING_KEY_SECRET_ID
	// Window is how far back each run replays Apple's failures.
	Window time.Duration // BACKFILL_WINDOW_HOURS
	// Retention is how long a replayed notification's record is kept, as
	// the notifications function keeps those it receives.
	Retention time.Duration // NOTIFICATION_RETENTION_DAYS
	// AppleAPIBaseURL replaces Apple's hosts when set: a local stand-in of
	// the App Store Server API (tests, sam local). Empty in AWS.
	AppleAPIBaseURL string // APPLE_API_BASE_URL
	Endpoints
}

// ReadAppleBackfill reads the scheduled Apple backfill's configuration.
func ReadAppleBackfill(getenv func(string) string) (AppleBackfill, error) {
	r := envReader{getenv: getenv}
	c := AppleBackfill{
		TableName:          r.required("TABLE_NAME"),
		SealingKeySecretID: r.required("WEBHOOK_SEALING_KEY_SECRET_ID"),
		Window:             time.Duration(r.integer("BACKFILL_WINDOW_HOURS", int(appstore.DefaultBackfillWindow/time.Hour))) * time.Hour,
		Retention:          r.days("NOTIFICATION_RETENTION_DAYS", appstore.DefaultRetention),
		AppleAPIBaseURL:    r.getenv("APPLE_API_BASE_URL"),
		Endpoints:          r.endpointsWithSecrets(),
	}
	if c.Window < time.Hour || c.Window > appstore.MaxHistory {
		r.errs = append(r.errs, fmt.Errorf("BACKFILL_WINDOW_HOURS must be from 1 to %d (Apple keeps 180 days of history)", int(appstore.MaxHistory/time.Hour)))
	}
	if c.AppleAPIBaseURL != "" {
		if err := checkAppleAPIURL(c.AppleAPIBaseURL); err != nil {
			r.errs = append(r.errs, err)
		}
	}
	return c, r.err()
}

// checkAppleAPIURL refuses an override that would send publishers' bearer
// tokens in clear anywhere but to this machine.
func checkAppleAPIURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("APPLE_API_BASE_URL %q is not an absolute URL", raw)
	case u.User != nil:
		return fmt.Errorf("APPLE_API_BASE_URL must not carry credentials")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1"):
		return nil
	}
	return fmt.Errorf("APPLE_API_BASE_URL %q must be https (plain http only on a loopback host)", u.Redacted())
}

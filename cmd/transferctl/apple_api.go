package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// `apple backfill` and `apple test-notification`: the App Store Server API,
// with the publisher's App Store Connect key.

// settingAppleAPIURL overrides Apple's hosts (the stand-in of `make run`, or
// another implementation of the API put behind it).
const settingAppleAPIURL = "APPLE_API_BASE_URL"

// appStore is what a command needs to talk to Apple for one publisher.
type appStore struct {
	publisher transfer.PublisherID
	app       transfer.AppleApp
	client    *appstoreapi.Client
	verifier  *apple.Verifier
	receiver  *appstore.Receiver
}

// appStoreFor opens the publisher's key and builds a client of the API in
// env ("" picks Production when the app accepts it, else Sandbox).
func (a *app) appStoreFor(ctx context.Context, publisherFlag int64, env string) (*appStore, error) {
	store, p, err := a.storeFor(ctx, publisherFlag)
	if err != nil {
		return nil, err
	}
	info, err := store.operator.PublisherInfo(ctx, p)
	if err != nil {
		return nil, err
	}
	if info == nil || info.Apple == nil {
		return nil, fmt.Errorf("publisher %d has no Apple app (transferctl publisher apple set)", p)
	}
	app := transfer.AppleApp{BundleID: info.Apple.BundleID, AppAppleID: info.Apple.AppAppleID, Environments: info.Apple.Environments, Offers: info.Apple.Offers}
	switch {
	case env == "":
		env = appstoreapi.DefaultEnvironment(app)
	case env != transfer.EnvironmentProduction && env != transfer.EnvironmentSandbox:
		return nil, usage("--environment must be Production or Sandbox")
	}
	sealer, err := a.sealer(ctx)
	if err != nil {
		return nil, err
	}
	v, err := a.appleVerifier()
	if err != nil {
		return nil, err
	}
	c := a.conn
	client, err := appstoreapi.NewConnector(appstoreapi.NewKeys(store.operator, sealer), v, c.setting(settingAppleAPIURL)).Client(ctx, p, app, env)
	if err != nil {
		return nil, err
	}
	name, err := c.require(settingTable)
	if err != nil {
		return nil, err
	}
	table := dynamo.NewTable(c.db, name)
	return &appStore{
		publisher: p,
		app:       app,
		client:    client,
		verifier:  v,
		receiver:  appstore.NewReceiver(v, dynamo.NewDirectory(table), dynamo.NewNotificationStore(table, appstore.DefaultRetention)),
	}, nil
}

// appleVerifier trusts Apple Root CA - G3; with --local, the local test root
// of `make run` instead (APPLE_TEST_ROOT_CERT of its run.env), as the local
// API does. Nothing else can add a root.
func (a *app) appleVerifier() (*apple.Verifier, error) {
	if a.localFile == "" {
		return apple.NewVerifier()
	}
	path, err := a.conn.require(settingAppleRootCert)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return apple.NewVerifier(apple.WithRoots(pool))
}

func newAppleBackfillCommand(a *app) *cobra.Command {
	var (
		publisherFlag int64
		since, env    string
		onlyFailures  bool
	)
	cmd := &cobra.Command{
		Use:   "backfill --publisher ID --since DURATION|TIME [--only-failures] [--environment Production|Sandbox]",
		Short: "Replay the notifications Apple sent (or failed to send) since a time, through the endpoint's rules",
		Long: `backfill asks the App Store Server API for the publisher's notification
history (Get Notification History) since --since and applies each
notification exactly as POST /apple/notifications would: verified, for the
publisher's app, once per notificationUUID, in signedDate order per purchase.
Running it again changes nothing: what it applied is then "already seen".

  --since          how far back: a duration (24h, 72h) or an RFC 3339 time;
                   at most 180 days (Apple keeps 30 days of Sandbox history)
  --only-failures  only what Apple could not deliver
  --environment    Apple's Production or Sandbox host (default Production
                   when the app accepts it); APPLE_API_BASE_URL overrides

It uses the publisher's App Store Connect key (publisher apple set --issuer
--key-id --private-key-file). Counts: applied, recorded (new, nothing to
apply), already seen, out of order (older than what the purchase reflects),
failed (refused or not stored; exit 1). On a terminal a progress line is
redrawn as it goes.`,
		Example: `  transferctl --local apple backfill --since 24h
  transferctl --stack NAME apple backfill --publisher 555000001 --since 2026-11-01T00:00:00Z --only-failures`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			from, err := parseSince(since, now)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := a.appStoreFor(ctx, publisherFlag, env)
			if err != nil {
				return err
			}
			// A progress line redrawn in place, on a terminal only: in a log
			// or a pipe the final counts say it all.
			terminal := isTerminal(a.stdout) && !a.jsonOutput
			began, lastDraw, drawn := time.Now(), time.Time{}, false
			progress := func(r appstore.BackfillReport) {
				if terminal && time.Since(lastDraw) >= redrawEvery {
					lastDraw, drawn = time.Now(), true
					fmt.Fprintf(a.stdout, "\r\033[K%s", backfillLine(r, time.Since(began)))
				}
			}
			rep, runErr := s.receiver.Backfill(ctx, s.publisher, s.client, appstore.BackfillRequest{Since: from, Until: now, OnlyFailures: onlyFailures}, progress)
			if drawn {
				fmt.Fprint(a.stdout, "\r\033[K")
			}
			took := time.Since(began)
			if a.jsonOutput {
				if err := a.printJSON(backfillView{BackfillReport: rep, PublisherID: s.publisher, Since: from.UTC(), Until: now.UTC(), Seconds: took.Seconds()}); err != nil {
					return err
				}
			} else {
				a.out("Backfill of publisher %d since %s: %s", s.publisher, from.UTC().Format(time.RFC3339), backfillLine(rep, took))
				for _, e := range rep.Errors {
					a.out("  failed: %s", e)
				}
			}
			switch {
			case runErr != nil:
				return runErr
			case rep.Failed > 0:
				return fmt.Errorf("%d notification(s) failed; run it again once fixed (what was applied is then already seen)", rep.Failed)
			}
			return nil
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "replay from `DURATION` ago (24h) or an RFC 3339 TIME (required)")
	f.BoolVar(&onlyFailures, "only-failures", false, "only the notifications Apple could not deliver")
	f.StringVar(&env, "environment", "", "Apple's `ENVIRONMENT`: Production or Sandbox")
	return cmd
}

// backfillView is backfill --json.
type backfillView struct {
	PublisherID transfer.PublisherID `json:"publisherId"`
	Since       time.Time            `json:"since"`
	Until       time.Time            `json:"until"`
	Seconds     float64              `json:"seconds"`
	appstore.BackfillReport
}

func backfillLine(r appstore.BackfillReport, took time.Duration) string {
	rate := ""
	if s := took.Seconds(); s > 0 && r.Seen > 0 {
		rate = fmt.Sprintf(", %.0f/s", float64(r.Seen)/s)
	}
	return fmt.Sprintf("%s notification(s) in %d page(s): %s applied, %s recorded, %s already seen, %s out of order, %s failed%s",
		thousands(int64(r.Seen)), r.Pages, thousands(int64(r.Applied)), thousands(int64(r.Recorded)), thousands(int64(r.AlreadySeen)),
		thousands(int64(r.OutOfOrder)), thousands(int64(r.Failed)), rate)
}

// parseSince reads --since: a duration back from now or an RFC 3339 time,
// within Apple's 180 days of history.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, usage("--since is required (e.g. 24h, or 2026-11-01T00:00:00Z)")
	}
	var from time.Time
	if d, err := time.ParseDuration(s); err == nil {
		from = now.Add(-d.Abs())
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		from = t
	} else {
		return time.Time{}, usage("--since %q: a duration (24h) or an RFC 3339 time", s)
	}
	switch {
	case !from.Before(now):
		return time.Time{}, usage("--since must be in the past")
	case now.Sub(from) > appstore.MaxHistory:
		return time.Time{}, usage("--since: Apple keeps 180 days of notification history")
	}
	return from, nil
}

func newAppleTestNotificationCommand(a *app) *cobra.Command {
	var (
		publisherFlag int64
		env           string
		wait          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "test-notification --publisher ID [--wait 60s] [--environment Production|Sandbox]",
		Short: "Ask Apple to send a test notification and report whether it arrived",
		Long: `test-notification asks the App Store Server API to send a TEST notification to
the app's App Store Server Notifications URL (Request a Test Notification),
then polls Get Test Notification Status until Apple reports the outcome or
--wait passes: a check of the App Store Connect URL end to end. Exit 0 when
it arrived (Apple's sendAttemptResult SUCCESS), 1 otherwise.`,
		Example: `  transferctl --local apple test-notification
  transferctl --stack NAME apple test-notification --publisher 555000001 --environment Sandbox`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wait <= 0 {
				return usage("--wait must be positive")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			s, err := a.appStoreFor(ctx, publisherFlag, env)
			if err != nil {
				return err
			}
			token, err := s.client.RequestTestNotification(ctx)
			if err != nil {
				return err
			}
			status, err := pollTestNotification(ctx, s.client, token)
			view := testNotificationView{PublisherID: s.publisher, Token: token, Arrived: status.Delivered()}
			if n := status.Notification.Payload; n.NotificationUUID != "" {
				view.NotificationUUID = n.NotificationUUID
			}
			for _, at := range status.SendAttempts {
				view.Attempts = append(view.Attempts, at.SendAttemptResult)
			}
			if a.jsonOutput {
				if err := a.printJSON(view); err != nil {
					return err
				}
			} else {
				a.out("Test notification %s (token %s): %s", view.NotificationUUID, token, view.verdict(wait))
			}
			switch {
			case view.Arrived:
				return nil
			case err != nil:
				return err
			}
			return fmt.Errorf("the test notification did not arrive: check the App Store Server Notifications URL of the app in App Store Connect")
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	f := cmd.Flags()
	f.StringVar(&env, "environment", "", "Apple's `ENVIRONMENT`: Production or Sandbox")
	f.DurationVar(&wait, "wait", time.Minute, "how long to wait for Apple's verdict")
	return cmd
}

// testNotificationView is test-notification --json.
type testNotificationView struct {
	PublisherID      transfer.PublisherID `json:"publisherId"`
	Token            string               `json:"testNotificationToken"`
	NotificationUUID string               `json:"notificationUUID,omitempty"`
	Arrived          bool                 `json:"arrived"`
	Attempts         []string             `json:"sendAttempts"`
}

func (v testNotificationView) verdict(wait time.Duration) string {
	switch {
	case v.Arrived:
		return "arrived"
	case len(v.Attempts) > 0:
		return fmt.Sprintf("did not arrive (Apple's attempts: %v)", v.Attempts)
	}
	return fmt.Sprintf("no attempt reported within %s", wait)
}

// pollEvery spaces the status polls: Apple sends within seconds.
const pollEvery = time.Second

// pollTestNotification asks for the status until an attempt is reported or
// ctx ends; it returns the last status read.
func pollTestNotification(ctx context.Context, c *appstoreapi.Client, token string) (appstoreapi.TestNotificationStatus, error) {
	var last appstoreapi.TestNotificationStatus
	for {
		// The client retried what is worth retrying: an error is final.
		s, err := c.TestNotificationStatus(ctx, token)
		if err != nil {
			return last, err
		}
		if last = s; len(s.SendAttempts) > 0 {
			return s, nil
		}
		t := time.NewTimer(pollEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, fmt.Errorf("no verdict from Apple: %w", ctx.Err())
		case <-t.C:
		}
	}
}

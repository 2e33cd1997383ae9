package apple_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/apple"
)

func TestAppCheck(t *testing.T) {
	app := apple.App{BundleID: "com.acme.video", AppAppleID: 1234567890,
		Environments: []string{apple.EnvironmentProduction, apple.EnvironmentSandbox}}
	// n builds a notification for env with appAppleId id and a matching nested transaction and
	// renewal; edit then breaks one thing.
	n := func(env string, id int64, edit func(*apple.Notification)) apple.Notification {
		n := apple.Notification{
			Payload: apple.NotificationPayload{NotificationType: apple.TypeDidRenew, NotificationUUID: "u",
				Data: &apple.NotificationData{BundleID: "com.acme.video", Environment: env, AppAppleID: id}},
			Transaction: &apple.TransactionInfo{TransactionID: "2", OriginalTransactionID: "1", BundleID: "com.acme.video", Environment: env},
			Renewal:     &apple.RenewalInfo{OriginalTransactionID: "1", Environment: env},
		}
		if edit != nil {
			edit(&n)
		}
		return n
	}
	var summary apple.NotificationPayload
	fixture.DecodeStrict(t, "summary.json", fixture.Read(t, "summary.json"), &summary)

	cases := []struct {
		name  string
		app   apple.App
		n     apple.Notification
		field string // "" means accepted
	}{
		{"production, matching appAppleId", app, n(apple.EnvironmentProduction, 1234567890, nil), ""},
		{"sandbox without appAppleId is fine", app, n(apple.EnvironmentSandbox, 0, nil), ""},
		{"sandbox with this appAppleId", app, n(apple.EnvironmentSandbox, 1234567890, nil), ""},
		{"TEST notification without nested JWS", app, n(apple.EnvironmentSandbox, 0, func(n *apple.Notification) { n.Transaction, n.Renewal = nil, nil }), ""},
		{"summary notification", app, apple.Notification{Payload: summary}, ""},
		{"bundleId mismatch", app, n(apple.EnvironmentProduction, 1234567890, func(n *apple.Notification) { n.Payload.Data.BundleID = "com.other.app" }), "data.bundleId"},
		{"environment not accepted", apple.App{BundleID: "com.acme.video", AppAppleID: 1234567890, Environments: []string{apple.EnvironmentProduction}},
			n(apple.EnvironmentSandbox, 0, nil), "data.environment"},
		{"no environments configured means Production only", apple.App{BundleID: "com.acme.video"}, n(apple.EnvironmentSandbox, 0, nil), "data.environment"},
		{"Xcode environment refused", app, n(apple.EnvironmentXcode, 0, nil), "data.environment"},
		{"production appAppleId mismatch", app, n(apple.EnvironmentProduction, 987, nil), "data.appAppleId"},
		{"production appAppleId missing", app, n(apple.EnvironmentProduction, 0, nil), "data.appAppleId"},
		{"sandbox naming another appAppleId", app, n(apple.EnvironmentSandbox, 987, nil), "data.appAppleId"},
		{"nested transaction of another app", app, n(apple.EnvironmentProduction, 1234567890, func(n *apple.Notification) { n.Transaction.BundleID = "com.other.app" }), "transaction.bundleId"},
		{"nested transaction of another environment", app, n(apple.EnvironmentProduction, 1234567890, func(n *apple.Notification) { n.Transaction.Environment = apple.EnvironmentSandbox }), "signedTransactionInfo.environment"},
		{"nested renewal of another environment", app, n(apple.EnvironmentProduction, 1234567890, func(n *apple.Notification) { n.Renewal.Environment = apple.EnvironmentSandbox }), "signedRenewalInfo.environment"},
		{"renewal of another purchase", app, n(apple.EnvironmentProduction, 1234567890, func(n *apple.Notification) { n.Renewal.OriginalTransactionID = "9" }), "signedRenewalInfo.originalTransactionId"},
		{"summary of another app", app, func() apple.Notification {
			s := *summary.Summary
			s.BundleID = "com.other.app"
			p := summary
			p.Summary = &s
			return apple.Notification{Payload: p}
		}(), "summary.bundleId"},
		{"neither data nor summary", app, apple.Notification{Payload: apple.NotificationPayload{NotificationType: apple.TypeTest}}, "neither data nor summary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.app.Check(c.n)
			if c.field == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, apple.ErrWrongApp) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Check = %v, want ErrWrongApp naming %s", err, c.field)
			}
		})
	}
}

func TestAppCheckTransaction(t *testing.T) {
	app := apple.App{BundleID: "com.acme.video", Environments: []string{apple.EnvironmentSandbox}}
	tx := apple.TransactionInfo{BundleID: "com.acme.video", Environment: apple.EnvironmentSandbox}
	if err := app.CheckTransaction(tx); err != nil {
		t.Fatalf("CheckTransaction = %v", err)
	}
	for field, edit := range map[string]func(*apple.TransactionInfo){
		"transaction.bundleId":    func(t *apple.TransactionInfo) { t.BundleID = "com.other.app" },
		"transaction.environment": func(t *apple.TransactionInfo) { t.Environment = apple.EnvironmentProduction },
	} {
		bad := tx
		edit(&bad)
		if err := app.CheckTransaction(bad); !errors.Is(err, apple.ErrWrongApp) || !strings.Contains(err.Error(), field) {
			t.Errorf("CheckTransaction = %v, want ErrWrongApp naming %s", err, field)
		}
	}
}

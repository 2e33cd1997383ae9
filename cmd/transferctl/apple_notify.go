package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// Settings of `make run`'s Apple stand-in, by their run.env names.
const (
	settingAppleRootCert = "APPLE_TEST_ROOT_CERT"
	settingAppleRootKey  = "APPLE_TEST_ROOT_KEY"
	settingAppleURL      = "APPLE_NOTIFICATIONS_URL"
	settingAppleBundle   = "APPLE_BUNDLE_ID"
	settingAppleAppID    = "APPLE_APP_APPLE_ID"
	settingAppleProduct  = "APPLE_PRODUCT_ID"
)

func newAppleCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apple",
		Short: "Work with App Store Server Notifications and the App Store Server API",
	}
	cmd.AddCommand(newAppleNotifyCommand(a), newAppleBackfillCommand(a), newAppleTestNotificationCommand(a))
	return cmd
}

type notifyFlags struct {
	typ, subtype, tx, otx, product, environment, expires string
	url, bundleID, rootCert, rootKey                     string
	appAppleID                                           int64
}

func newAppleNotifyCommand(a *app) *cobra.Command {
	var f notifyFlags
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Sign a notification under the local test root and post it (a development aid)",
		Long: `notify plays Apple for the local stack: it signs an App Store Server
Notification V2 under the test root ` + "`make run`" + ` made (APPLE_TEST_ROOT_CERT and
APPLE_TEST_ROOT_KEY in .local/run.env) and posts it to APPLE_NOTIFICATIONS_URL, so
you can watch a renewal add a transactionId or a refund end a transfer as
RECEIVED_EXPIRED_PURCHASE. A deployed stack trusts Apple's root alone and
refuses what this command signs (APL0002).`,
		Example: `  transferctl --local apple notify --type DID_RENEW --transaction-id 2000000000000501 --original-transaction-id 2000000000000001
  transferctl --local apple notify --type REFUND --transaction-id 2000000000000002
  transferctl --local apple notify --type DID_FAIL_TO_RENEW --subtype GRACE_PERIOD --transaction-id 2000000000000001 --expires 72h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.appleNotify(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.typ, "type", "", "notificationType, e.g. DID_RENEW, REFUND, EXPIRED, TEST (required)")
	fl.StringVar(&f.subtype, "subtype", "", "subtype, e.g. GRACE_PERIOD, UPGRADE")
	fl.StringVar(&f.tx, "transaction-id", "", "the transaction's transactionId (required unless --type TEST)")
	fl.StringVar(&f.otx, "original-transaction-id", "", "its chain (default: the transactionId itself)")
	fl.StringVar(&f.product, "product-id", "", "productId (default: APPLE_PRODUCT_ID)")
	fl.StringVar(&f.environment, "environment", apple.EnvironmentSandbox, "Sandbox or Production")
	fl.StringVar(&f.expires, "expires", "720h", "expiresDate: a duration from now (720h, -1h) or an RFC 3339 time")
	fl.StringVar(&f.url, "url", "", "where to post (default: APPLE_NOTIFICATIONS_URL)")
	fl.StringVar(&f.bundleID, "bundle-id", "", "bundleId (default: APPLE_BUNDLE_ID)")
	fl.Int64Var(&f.appAppleID, "app-apple-id", 0, "appAppleId (default: APPLE_APP_APPLE_ID)")
	fl.StringVar(&f.rootCert, "root-cert", "", "PEM of the test root (default: APPLE_TEST_ROOT_CERT)")
	fl.StringVar(&f.rootKey, "root-key", "", "PEM of its key (default: APPLE_TEST_ROOT_KEY)")
	return cmd
}

func (a *app) appleNotify(ctx context.Context, f notifyFlags) error {
	if f.typ == "" {
		return usage("--type is required")
	}
	if f.tx == "" && f.typ != apple.TypeTest {
		return usage("--transaction-id is required")
	}
	if f.environment != apple.EnvironmentSandbox && f.environment != apple.EnvironmentProduction {
		return usage("--environment must be Sandbox or Production")
	}
	now := time.Now().UTC()
	expires, err := parseWhen(f.expires, now)
	if err != nil {
		return usage("--expires: %v", err)
	}
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	pick := func(flag, setting string) (string, error) {
		if flag != "" {
			return flag, nil
		}
		return c.require(setting)
	}
	var settings [5]string
	for i, p := range [][2]string{{f.url, settingAppleURL}, {f.bundleID, settingAppleBundle}, {f.rootCert, settingAppleRootCert}, {f.rootKey, settingAppleRootKey}, {f.product, settingAppleProduct}} {
		if settings[i], err = pick(p[0], p[1]); err != nil {
			return err
		}
	}
	url, bundleID, certPath, keyPath, product := settings[0], settings[1], settings[2], settings[3], settings[4]
	if f.appAppleID == 0 {
		if v := c.setting(settingAppleAppID); v != "" {
			if f.appAppleID, err = strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("%s %q is not a number", settingAppleAppID, v)
			}
		}
	}
	root, err := localroot.Load(certPath, keyPath)
	if err != nil {
		return err
	}
	p, t, r := notification(f, bundleID, product, now, expires)
	signed, err := localroot.SignNotification(root, p, t, r)
	if err != nil {
		return err
	}
	status, body, err := postNotification(ctx, url, signed)
	if err != nil {
		return err
	}
	if a.jsonOutput {
		return a.printJSON(map[string]any{"notificationUUID": p.NotificationUUID, "status": status, "response": json.RawMessage(body)})
	}
	a.out("%s %s %s -> HTTP %d %s", p.NotificationType, p.Subtype, p.NotificationUUID, status, strings.TrimSpace(string(body)))
	if status != http.StatusOK {
		return fmt.Errorf("the endpoint refused the notification (HTTP %d)", status)
	}
	return nil
}

// notification builds what Apple would send for f: the payload, and the
// transaction and renewal info it signs into it (nil for TEST).
func notification(f notifyFlags, bundleID, product string, now, expires time.Time) (apple.NotificationPayload, *apple.TransactionInfo, *apple.RenewalInfo) {
	p := apple.NotificationPayload{
		NotificationType: f.typ,
		Subtype:          f.subtype,
		NotificationUUID: newUUID(),
		Version:          "2.0",
		SignedDate:       now.UnixMilli(),
		Data:             &apple.NotificationData{AppAppleID: f.appAppleID, BundleID: bundleID, Environment: f.environment},
	}
	if f.typ == apple.TypeTest {
		return p, nil, nil
	}
	otx := f.otx
	if otx == "" {
		otx = f.tx
	}
	t := &apple.TransactionInfo{
		TransactionID:         f.tx,
		OriginalTransactionID: otx,
		BundleID:              bundleID,
		ProductID:             product,
		PurchaseDate:          now.UnixMilli(),
		OriginalPurchaseDate:  now.UnixMilli(),
		ExpiresDate:           expires.UnixMilli(),
		Quantity:              1,
		Type:                  apple.ProductAutoRenewable,
		InAppOwnershipType:    "PURCHASED",
		SignedDate:            now.UnixMilli(),
		Environment:           f.environment,
	}
	r := &apple.RenewalInfo{
		OriginalTransactionID: otx,
		AutoRenewProductID:    product,
		ProductID:             product,
		AutoRenewStatus:       1,
		SignedDate:            now.UnixMilli(),
		Environment:           f.environment,
	}
	p.Data.Status = apple.StatusActive
	switch f.typ {
	case apple.TypeRefund, apple.TypeRevoke:
		reason := apple.RevocationOther
		t.RevocationDate, t.RevocationReason = now.UnixMilli(), &reason
		p.Data.Status = apple.StatusRevoked
	case apple.TypeExpired, apple.TypeGracePeriodExpired:
		p.Data.Status = apple.StatusExpired
		r.AutoRenewStatus = 0
	case apple.TypeDidFailToRenew:
		p.Data.Status = apple.StatusBillingRetry
		if f.subtype == apple.SubtypeGracePeriod {
			p.Data.Status = apple.StatusBillingGracePeriod
			r.GracePeriodExpiresDate = expires.UnixMilli()
		}
	}
	return p, t, r
}

func postNotification(ctx context.Context, url, signed string) (int, []byte, error) {
	body, err := json.Marshal(localroot.SignedPayload{SignedPayload: signed})
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post the notification: %w", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, got, err
}

// parseWhen reads a duration from now or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	return time.Parse(time.RFC3339, s)
}

// newUUID is a random (version 4) UUID, as Apple's notificationUUIDs are.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// `publisher apple set|show`: a publisher's App Store app.

func (a *app) publisherAppleCommand() *cobra.Command {
	return group("apple", "Configure and show a publisher's App Store app (bundle id, environments, offers) and App Store Connect key",
		a.appleSetCommand(),
		a.appleShowCommand(),
	)
}

func (a *app) appleSetCommand() *cobra.Command {
	var (
		publisherFlag int64
		given         operator.AppleApp
		requireSigned bool
		verifyApple   bool
		key           keyFlags
	)
	cmd := &cobra.Command{
		Use:   "set --publisher ID --bundle-id BUNDLE_ID [--app-apple-id ID] [--environments Production,Sandbox] [--offer productId=offerId]... [--require-signed-transaction=true|false] [--verify-with-apple=true|false] [--issuer ISSUER_ID --key-id KEY_ID --private-key-file FILE.p8]",
		Short: "Set a publisher's App Store app (replacing the whole app) and its App Store Connect key",
		Long: `Set the App Store app whose notifications and signed transactions the service
trusts for a publisher.

set REPLACES THE WHOLE APP: whatever is not given now is not kept from the
app stored before. Give every --offer each time; an app set without --offer
has no offers.

  --bundle-id      required: the app's bundle id (e.g. com.example.app)
  --app-apple-id   Apple's numeric id of the app (App Store Connect, App
                   Information, Apple ID); required when Production is accepted
  --environments   the Apple environments whose notifications apply:
                   Production, Sandbox or both (default both)
  --offer          productId=offerId, repeatable: the offerId the status
                   endpoint and the webhook report for an App Store product
  --require-signed-transaction
                   customer-JWT transfers must prove possession with the
                   StoreKit 2 signed transaction; not given: left as it is
  --verify-with-apple
                   before deciding a transfer, the processor asks the App
                   Store Server API for the purchase's current state and
                   applies it (Get All Subscription Statuses, or Get
                   Transaction Info); needs the App Store Connect key below.
                   Off by default; not given: left as it is

The switches alone (without --bundle-id) change only themselves: the app
stored is kept.

The App Store Connect in-app purchase key, for the App Store Server API
(transferctl apple backfill, apple test-notification), all three together:
  --issuer            the Issuer ID (App Store Connect, Users and Access,
                      Integrations, In-App Purchase)
  --key-id            the key's Key ID
  --private-key-file  the .p8 file downloaded for it
It is stored sealed (AES-256-GCM under the sealing key in Secrets Manager,
WEBHOOK_SEALING_KEY_SECRET_ID) and never printed back. The key alone may be
set without --bundle-id: the app is then left as it is; an app set without
the key flags keeps the stored key.

The publisher must exist. The API caches publisher settings for up to
AUTH_CACHE_TTL_SECONDS (10 s) per container.`,
		Example: `  transferctl --local publisher apple set --publisher 555000001 --bundle-id com.example.app \
    --app-apple-id 1234567890 --offer com.example.premium.monthly=S123456789_US
  transferctl --local publisher apple set --publisher 555000001 --bundle-id com.example.app \
    --environments Sandbox --require-signed-transaction=true
  transferctl --local publisher apple set --publisher 555000001 --verify-with-apple
  transferctl --local publisher apple set --publisher 555000001 \
    --issuer 57246542-96fe-1a63-e053-0824d011072a --key-id 2X9R4HXF34 --private-key-file SubscriptionKey_2X9R4HXF34.p8`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The rules are the operator's and appstoreapi's; broken, they are
			// a wrong command line (exit 2), found before anything is read.
			p8, err := key.read(cmd)
			if err != nil {
				return err
			}
			var sw operator.AppleSwitches
			if cmd.Flags().Changed("require-signed-transaction") {
				sw.RequireSignedTransaction = &requireSigned
			}
			if cmd.Flags().Changed("verify-with-apple") {
				sw.VerifyWithApple = &verifyApple
			}
			switchesOnly := !cmd.Flags().Changed("bundle-id") && (sw.RequireSignedTransaction != nil || sw.VerifyWithApple != nil)
			setApp := !switchesOnly && (p8 == nil || cmd.Flags().Changed("bundle-id"))
			if setApp {
				if _, err := given.App(); err != nil {
					return usage("%v", err)
				}
			}
			ctx := cmd.Context()
			store, p, err := a.storeFor(ctx, publisherFlag)
			if err != nil {
				return err
			}
			notFound := func(err error) error {
				if errors.Is(err, operator.ErrPublisherNotFound) {
					return fmt.Errorf("%w (create it first: transferctl publisher create)", err)
				}
				return err
			}
			if p8 != nil {
				// Sealed first: the sealing key is the one thing that may be
				// missing, and then nothing is changed.
				sealer, err := a.sealer(ctx)
				if err != nil {
					return err
				}
				if _, err := appstoreapi.NewKeys(store.operator, sealer).Set(ctx, p, key.issuer, key.keyID, p8); err != nil {
					return notFound(err)
				}
			}
			if verifyApple && p8 == nil {
				// Checked before anything is written: turned on without a key,
				// every transfer of the publisher would retry until it fails.
				k, err := appstoreapi.NewKeys(store.operator, nil).Info(ctx, p)
				if err != nil {
					return err
				}
				if k == nil {
					return fmt.Errorf("--verify-with-apple needs the publisher's App Store Connect key: give --issuer, --key-id and --private-key-file")
				}
			}
			apple := operator.NewApple(store.operator)
			switch {
			case setApp:
				if _, err := apple.Set(ctx, p, given, sw); err != nil {
					return notFound(err)
				}
			case switchesOnly:
				if err := apple.SetSwitches(ctx, p, sw); err != nil {
					return notFound(err)
				}
			}
			return a.showApple(ctx, p)
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	f := cmd.Flags()
	f.StringVar(&given.BundleID, "bundle-id", "", "the app's `BUNDLE_ID` (required)")
	f.Int64Var(&given.AppAppleID, "app-apple-id", 0, "Apple's numeric `ID` of the app (required with Production)")
	f.StringSliceVar(&given.Environments, "environments", nil, "`ENVIRONMENTS` whose notifications apply: Production, Sandbox (default both)")
	f.StringArrayVar(&given.Offers, "offer", nil, "`productId=offerId`, repeatable")
	f.BoolVar(&requireSigned, "require-signed-transaction", false, "customer-JWT transfers must present the signed transaction (default: left as it is)")
	f.BoolVar(&verifyApple, "verify-with-apple", false, "ask the App Store Server API before deciding each transfer (default: left as it is)")
	f.StringVar(&key.issuer, "issuer", "", "the App Store Connect `ISSUER_ID` of the in-app purchase key")
	f.StringVar(&key.keyID, "key-id", "", "the in-app purchase key's `KEY_ID`")
	f.StringVar(&key.file, "private-key-file", "", "the key's `FILE` (.p8), stored sealed, never shown")
	return cmd
}

// keyFlags are the App Store Connect key of `publisher apple set`.
type keyFlags struct{ issuer, keyID, file string }

// read checks the key flags: none, or all three and a valid key. It returns
// the .p8 (nil when no key is given); its errors never quote the file.
func (k keyFlags) read(cmd *cobra.Command) ([]byte, error) {
	f := cmd.Flags()
	n := 0
	for _, name := range []string{"issuer", "key-id", "private-key-file"} {
		if f.Changed(name) {
			n++
		}
	}
	switch n {
	case 0:
		return nil, nil
	case 3:
	default:
		return nil, usage("--issuer, --key-id and --private-key-file go together")
	}
	p8, err := os.ReadFile(k.file)
	if err != nil {
		return nil, usage("--private-key-file: %v", err)
	}
	if err := appstoreapi.CheckKey(k.issuer, k.keyID, p8); err != nil {
		return nil, usage("%v", err)
	}
	return p8, nil
}

func (a *app) appleShowCommand() *cobra.Command {
	var publisherFlag int64
	cmd := &cobra.Command{
		Use:   "show [--publisher ID]",
		Short: "Show a publisher's App Store app and requireSignedTransaction",
		Example: `  transferctl --local publisher apple show --publisher 555000001
  transferctl --local --json publisher apple show`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			p, err := a.publisher(ctx, publisherFlag)
			if err != nil {
				return err
			}
			return a.showApple(ctx, p)
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	return cmd
}

// appleView is what apple show prints with --json.
type appleView struct {
	PublisherID              transfer.PublisherID   `json:"publisherId"`
	RequireSignedTransaction bool                   `json:"requireSignedTransaction"`
	VerifyWithApple          bool                   `json:"verifyWithApple"`
	Apple                    *operator.AppleAppInfo `json:"apple"`
	// AppStoreConnectKey is null until a key is set; never the key itself.
	AppStoreConnectKey *keyView `json:"appStoreConnectKey"`
}

// keyView is a stored App Store Connect key as operators see it: which key,
// never its secret.
type keyView struct {
	IssuerID string    `json:"issuerId"`
	KeyID    string    `json:"keyId"`
	SetAt    time.Time `json:"setAt"`
}

func (a *app) showApple(ctx context.Context, p transfer.PublisherID) error {
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	store, err := c.store()
	if err != nil {
		return err
	}
	info, err := store.operator.PublisherInfo(ctx, p)
	if err != nil {
		return err
	}
	if info == nil {
		return fmt.Errorf("publisher %d: %w", p, operator.ErrPublisherNotFound)
	}
	key, err := appstoreapi.NewKeys(store.operator, nil).Info(ctx, p)
	if err != nil {
		return err
	}
	var kv *keyView
	keyLine := "none (transferctl publisher apple set --issuer --key-id --private-key-file)"
	if key != nil {
		kv = &keyView{IssuerID: key.IssuerID, KeyID: key.KeyID, SetAt: key.SetAt}
		keyLine = fmt.Sprintf("set: key %s of issuer %s (since %s)", key.KeyID, key.IssuerID, key.SetAt.Format(time.RFC3339))
	}
	if a.jsonOutput {
		return a.printJSON(appleView{PublisherID: info.ID, RequireSignedTransaction: info.RequireSignedTransaction, VerifyWithApple: info.VerifyWithApple, Apple: info.Apple, AppStoreConnectKey: kv})
	}
	t := a.table()
	fmt.Fprintf(t, "Publisher\t%d\n", info.ID)
	fmt.Fprintf(t, "Require signed transaction\t%s\n", yesNo(info.RequireSignedTransaction))
	fmt.Fprintf(t, "Verify with Apple\t%s\n", yesNo(info.VerifyWithApple))
	fmt.Fprintf(t, "App Store Connect key\t%s\n", keyLine)
	app := info.Apple
	if app == nil {
		fmt.Fprintf(t, "Apple app\tnone (transferctl publisher apple set)\n")
		return t.Flush()
	}
	fmt.Fprintf(t, "Bundle id\t%s\n", app.BundleID)
	fmt.Fprintf(t, "App Apple id\t%s\n", appleID(app.AppAppleID))
	fmt.Fprintf(t, "Environments\t%s\n", strings.Join(app.Environments, ", "))
	fmt.Fprintf(t, "Offers\t%d\n", len(app.Offers))
	if err := t.Flush(); err != nil {
		return err
	}
	if len(app.Offers) == 0 {
		return nil
	}
	a.out("")
	t = a.table()
	fmt.Fprintln(t, "PRODUCT ID\tOFFER ID")
	for _, product := range slices.Sorted(maps.Keys(app.Offers)) {
		fmt.Fprintf(t, "%s\t%s\n", product, app.Offers[product])
	}
	return t.Flush()
}

func appleID(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

// appleSummary is the Apple app on one line, for publisher show.
func appleSummary(app *operator.AppleAppInfo) string {
	if app == nil {
		return "none"
	}
	return fmt.Sprintf("%s (appAppleId %s; %s; %d offer(s))", app.BundleID, appleID(app.AppAppleID), strings.Join(app.Environments, ", "), len(app.Offers))
}

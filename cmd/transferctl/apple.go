package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// `publisher apple set|show`: a publisher's App Store app.

func (a *app) publisherAppleCommand() *cobra.Command {
	return group("apple", "Configure and show a publisher's App Store app (bundle id, environments, offers)",
		a.appleSetCommand(),
		a.appleShowCommand(),
	)
}

func (a *app) appleSetCommand() *cobra.Command {
	var (
		publisherFlag int64
		given         operator.AppleApp
		requireSigned bool
	)
	cmd := &cobra.Command{
		Use:   "set --publisher ID --bundle-id BUNDLE_ID [--app-apple-id ID] [--environments Production,Sandbox] [--offer productId=offerId]... [--require-signed-transaction=true|false]",
		Short: "Set a publisher's App Store app, replacing the whole app",
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

The publisher must exist. The API caches publisher settings for up to
AUTH_CACHE_TTL_SECONDS (10 s) per container.`,
		Example: `  transferctl --local publisher apple set --publisher 555000001 --bundle-id com.example.app \
    --app-apple-id 1234567890 --offer com.example.premium.monthly=S123456789_US
  transferctl --local publisher apple set --publisher 555000001 --bundle-id com.example.app \
    --environments Sandbox --require-signed-transaction=true`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The rules are the operator package's; broken, they are a wrong
			// command line (exit 2), found before anything is read.
			if _, err := given.App(); err != nil {
				return usage("%v", err)
			}
			ctx := cmd.Context()
			store, p, err := a.storeFor(ctx, publisherFlag)
			if err != nil {
				return err
			}
			var signed *bool
			if cmd.Flags().Changed("require-signed-transaction") {
				signed = &requireSigned
			}
			if _, err := operator.NewApple(store.operator).Set(ctx, p, given, signed); errors.Is(err, operator.ErrPublisherNotFound) {
				return fmt.Errorf("%w (create it first: transferctl publisher create)", err)
			} else if err != nil {
				return err
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
	return cmd
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
	Apple                    *operator.AppleAppInfo `json:"apple"`
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
	if a.jsonOutput {
		return a.printJSON(appleView{PublisherID: info.ID, RequireSignedTransaction: info.RequireSignedTransaction, Apple: info.Apple})
	}
	t := a.table()
	fmt.Fprintf(t, "Publisher\t%d\n", info.ID)
	fmt.Fprintf(t, "Require signed transaction\t%s\n", yesNo(info.RequireSignedTransaction))
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

// Package demoseed seeds the data `make run` starts with: publishers in each
// state, customers, and purchases in each state, with fixed ids so the
// README's walk-through reads the same on every machine.
package demoseed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Fixed ids of the demo data.
const (
	PublisherID          transfer.PublisherID = 100000001
	OtherPublisherID     transfer.PublisherID = 100000002
	InactivePublisherID  transfer.PublisherID = 100000003
	MigratingPublisherID transfer.PublisherID = 100000004

	CustomerA transfer.CustomerID = 900000001
	CustomerB transfer.CustomerID = 900000002
	CustomerC transfer.CustomerID = 900000003
	// OtherCustomer belongs to the other active publisher.
	OtherCustomer transfer.CustomerID = 900000101

	TxActive   = "2000000000000001"
	TxActive2  = "2000000000000002"
	TxChain1   = "2000000000000011"
	TxChain2   = "2000000000000012"
	TxExpired  = "2000000000000021"
	TxUnknown  = "2000000000000099"
	TxOther    = "2000000000000101"
	OfferID    = "S123456789_US"
	OtherOffer = "S987654321_US"

	// The demo publisher's Apple app (its notifications are signed under the
	// run's local test root).
	AppleBundleID   = "com.example.streaming"
	AppleAppAppleID = 1234567890
	ProductID       = "com.example.premium.monthly"
)

// demoApp accepts both environments, so that `transferctl apple notify` can
// send either.
var demoApp = &transfer.AppleApp{
	BundleID:     AppleBundleID,
	AppAppleID:   AppleAppAppleID,
	Environments: []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox},
	Offers:       map[string]string{ProductID: OfferID},
}

// Seeded is what a user needs to call the demo API. Tokens are new on every
// seed and exist nowhere but here.
type Seeded struct {
	PublisherToken          string
	OtherPublisherToken     string
	InactivePublisherToken  string
	MigratingPublisherToken string
}

// Seed writes the demo data through the operator's code paths: publishers
// and tokens as `transferctl publisher create` makes them, customers and
// purchases as JSON Lines through the importer of `transferctl import`.
func Seed(ctx context.Context, s *dynamo.OperatorStore, now time.Time) (Seeded, error) {
	var out Seeded
	publishers := []struct {
		pub   transfer.Publisher
		token *string
	}{
		{transfer.Publisher{ID: PublisherID, Name: "Demo Streaming", StoreKit2Active: true, Apple: demoApp}, &out.PublisherToken},
		{transfer.Publisher{ID: OtherPublisherID, Name: "Other Publisher", StoreKit2Active: true}, &out.OtherPublisherToken},
		{transfer.Publisher{ID: InactivePublisherID, Name: "StoreKit 2 not active"}, &out.InactivePublisherToken},
		{transfer.Publisher{ID: MigratingPublisherID, Name: "Migrating", StoreKit2Active: true, MigrationInProgress: true}, &out.MigratingPublisherToken},
	}
	admin := operator.NewPublishers(s)
	for _, p := range publishers {
		issued, err := admin.Create(ctx, p.pub, "demo")
		if err != nil {
			return out, fmt.Errorf("seed: %w", err)
		}
		*p.token = issued.Token
	}
	imports := map[transfer.PublisherID][]operator.Line{
		PublisherID: {
			operator.CustomerLine(CustomerA),
			operator.CustomerLine(CustomerB),
			operator.CustomerLine(CustomerC),
			operator.PurchaseLine(purchase(PublisherID, CustomerA, TxActive, transfer.StateActive, now.AddDate(0, 1, 0), TxActive)),
			operator.PurchaseLine(purchase(PublisherID, CustomerA, TxActive2, transfer.StateActive, now.AddDate(1, 0, 0), TxActive2)),
			operator.PurchaseLine(purchase(PublisherID, CustomerA, TxChain1, transfer.StateActive, now.AddDate(0, 1, 0), TxChain1, TxChain2)),
			operator.PurchaseLine(purchase(PublisherID, CustomerA, TxExpired, transfer.StateExpired, now.AddDate(0, -1, 0), TxExpired)),
		},
		OtherPublisherID: {
			operator.PurchaseLine(purchase(OtherPublisherID, OtherCustomer, TxOther, transfer.StateActive, now.AddDate(0, 1, 0), TxOther)),
		},
	}
	for p, lines := range imports {
		var jsonl bytes.Buffer
		enc := json.NewEncoder(&jsonl)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return out, fmt.Errorf("seed: encode: %w", err)
			}
		}
		report, err := operator.NewImporter(s).Import(ctx, p, &jsonl, int64(jsonl.Len()))
		if err != nil {
			return out, fmt.Errorf("seed import for %d: %w", p, err)
		}
		if len(report.Invalid) > 0 {
			return out, fmt.Errorf("seed import for %d: line %d: %s", p, report.Invalid[0].Line, report.Invalid[0].Reason)
		}
	}
	return out, nil
}

func purchase(p transfer.PublisherID, owner transfer.CustomerID, otx string, state transfer.PurchaseState, expires time.Time, txs ...string) transfer.Purchase {
	offer := OfferID
	if p != PublisherID {
		offer = OtherOffer
	}
	return transfer.Purchase{
		PublisherID:           p,
		OriginalTransactionID: otx,
		TransactionIDs:        txs,
		Owner:                 owner,
		OfferID:               offer,
		ProductID:             ProductID,
		Kind:                  transfer.KindAutoRenewable,
		State:                 state,
		ExpiresAt:             expires.UTC().Truncate(time.Second),
	}
}

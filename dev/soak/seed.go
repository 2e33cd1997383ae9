package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// The soak's publisher and its Apple app.
const (
	publisherID = transfer.PublisherID(300000001)
	bundleID    = "com.example.soak"
	appAppleID  = 1234500001
	productID   = "com.example.soak.monthly"
	offerID     = "S300000001_US"
)

// purchase is one seeded chain as the workload knows it.
type purchase struct {
	otx     string
	txs     []string // the chain's transactionIds; renewals add to it (under world.mu)
	hot     bool
	expired bool
	owner0  transfer.CustomerID // its owner when seeded
	renewed time.Time           // the signedDate of its last notification
	revoked bool
}

// seed writes the publisher, its customers and purchases (through the
// importer, as `transferctl import` does) and subscribes one endpoint of
// each receiver kind.
func (e *env) seed(ctx context.Context, w *world, opt Options, receivers []*receiver) error {
	issued, err := operator.NewPublishers(e.checkSvc.Stores.Operator).Create(ctx, transfer.Publisher{
		ID: publisherID, Name: "Soak", StoreKit2Active: true,
		Apple: &transfer.AppleApp{BundleID: bundleID, AppAppleID: appAppleID,
			Environments: []string{transfer.EnvironmentProduction}, Offers: map[string]string{productID: offerID}},
	}, "soak")
	if err != nil {
		return fmt.Errorf("seed publisher: %w", err)
	}
	w.pub, w.token = publisherID, issued.Token
	rnd := rand.New(rand.NewPCG(opt.Seed, 1))
	var lines []operator.Line
	for i := range opt.Customers {
		c := transfer.CustomerID(800000001 + i)
		w.customers = append(w.customers, c)
		lines = append(lines, operator.CustomerLine(c))
	}
	now := time.Now().UTC().Truncate(time.Second)
	n := 0
	for i := range opt.Purchases {
		p := &purchase{otx: txID(&n), hot: i < opt.HotPurchases, expired: i >= opt.HotPurchases && rnd.IntN(20) == 0}
		p.txs = []string{p.otx}
		// Subscription chains: up to three transactionIds, any of which names it.
		for range rnd.IntN(3) {
			p.txs = append(p.txs, txID(&n))
		}
		p.owner0 = w.customers[rnd.IntN(len(w.customers))]
		state, expires := transfer.StateActive, now.AddDate(0, 1, 0)
		if p.expired {
			state, expires = transfer.StateExpired, now.AddDate(0, -1, 0)
		}
		lines = append(lines, operator.PurchaseLine(transfer.Purchase{
			PublisherID: publisherID, OriginalTransactionID: p.otx, TransactionIDs: p.txs, Owner: p.owner0,
			OfferID: offerID, ProductID: productID, Kind: transfer.KindAutoRenewable, State: state, ExpiresAt: expires,
		}))
		w.purchases = append(w.purchases, p)
		w.byOTX[p.otx] = p
	}
	w.nextTx = n
	var jsonl bytes.Buffer
	enc := json.NewEncoder(&jsonl)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	report, err := operator.NewImporter(e.checkSvc.Stores.Operator).Import(ctx, publisherID, &jsonl, int64(jsonl.Len()))
	if err != nil {
		return fmt.Errorf("seed import: %w", err)
	}
	if len(report.Invalid) > 0 {
		return fmt.Errorf("seed import: line %d: %s", report.Invalid[0].Line, report.Invalid[0].Reason)
	}
	endpoints := e.checkSvc.WebhookEndpoints(egress.Local)
	for _, r := range receivers {
		_, secret, err := endpoints.Subscribe(ctx, publisherID, r.url, []string{webhook.TopicSyncResult})
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", r.kind, err)
		}
		if err := r.setSecret(secret); err != nil {
			return err
		}
	}
	return nil
}

// txID is a fresh numeric transactionId, as Apple's look.
func txID(n *int) string {
	*n++
	return fmt.Sprintf("4%015d", *n)
}

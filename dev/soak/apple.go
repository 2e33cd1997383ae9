package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// notifier plays Apple during the load: renewals that add a transactionId to
// a chain (which the clients then transfer by), refunds, and redeliveries of
// a notification already sent, all signed under the run's local test root
// and posted to POST /apple/notifications/{publisherId}.
type notifier struct {
	client *client
	root   *localroot.Authority
	every  time.Duration
	sent   []string // signed payloads, for redeliveries
}

func (n *notifier) run(ctx context.Context) {
	w := n.client.w
	refunds := 0
	for time.Now().Before(w.loadEnd) && ctx.Err() == nil {
		n.client.pause(ctx, n.every)
		if len(n.sent) > 0 && n.client.rnd.IntN(10) == 0 {
			n.post(ctx, "apple (redelivery)", n.sent[n.client.rnd.IntN(len(n.sent))])
			continue
		}
		refund := refunds < len(w.purchases)/50 && n.client.rnd.IntN(20) == 0
		signed, ok, err := n.next(refund)
		if err != nil {
			w.stats.violation("the soak could not sign a notification", err.Error())
			return
		}
		if !ok {
			continue
		}
		if refund {
			refunds++
		}
		n.sent = append(n.sent, signed)
		n.post(ctx, "apple", signed)
	}
}

// next signs a DID_RENEW (a new transactionId of a random active chain) or
// a REFUND of a chain that is not hot.
func (n *notifier) next(refund bool) (string, bool, error) {
	w, rnd := n.client.w, n.client.rnd
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.purchases[rnd.IntN(len(w.purchases))]
	if p.expired || p.revoked || (refund && p.hot) {
		return "", false, nil
	}
	now := time.Now()
	if !now.After(p.renewed) {
		now = p.renewed.Add(time.Millisecond)
	}
	p.renewed = now
	typ, tx := apple.TypeDidRenew, txID(&w.nextTx)
	expires := now.AddDate(0, 1, 0)
	status := int32(1)
	if refund {
		typ, tx, status = apple.TypeRefund, p.txs[len(p.txs)-1], apple.StatusRevoked
	}
	payload := apple.NotificationPayload{
		NotificationType: typ, NotificationUUID: fmt.Sprintf("soak-%d-%d", now.UnixNano(), rnd.IntN(1_000_000)), Version: "2.0",
		SignedDate: now.UnixMilli(),
		Data:       &apple.NotificationData{AppAppleID: appAppleID, BundleID: bundleID, Environment: apple.EnvironmentProduction, Status: status},
	}
	info := &apple.TransactionInfo{
		TransactionID: tx, OriginalTransactionID: p.otx, BundleID: bundleID, ProductID: productID, Type: apple.ProductAutoRenewable,
		SignedDate: now.UnixMilli(), Environment: apple.EnvironmentProduction, PurchaseDate: now.UnixMilli(), ExpiresDate: expires.UnixMilli(),
	}
	if refund {
		info.RevocationDate = now.UnixMilli()
	}
	renewal := &apple.RenewalInfo{OriginalTransactionID: p.otx, ProductID: productID, SignedDate: now.UnixMilli(), Environment: apple.EnvironmentProduction}
	signed, err := localroot.SignNotification(n.root, payload, info, renewal)
	if err != nil {
		return "", false, err
	}
	if refund {
		p.revoked = true
	} else {
		// Transferable by its new transactionId once Apple's word is in;
		// until then a transfer by it is TRANSACTION_ID_NOT_FOUND, which is
		// as good a result.
		p.txs = append(p.txs, tx)
	}
	return signed, true, nil
}

func (n *notifier) post(ctx context.Context, op, signed string) {
	body, _ := json.Marshal(map[string]string{"signedPayload": signed})
	a := n.client.send(ctx, op, http.MethodPost, fmt.Sprintf("/apple/notifications/%d", n.client.w.pub), map[string]string{"Content-Type": "application/json"}, string(body))
	if a.err == nil && a.status != http.StatusOK && a.status < 500 {
		n.client.w.stats.violation("an Apple notification refused", fmt.Sprintf("%d %s", a.status, a.code))
	}
}

// newRand is a seeded source for one goroutine.
func newRand(seed uint64, stream int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(stream)+2))
}

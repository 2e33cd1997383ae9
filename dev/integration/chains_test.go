package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// A purchase's originalTransactionId has no transaction→chain mapping: the
// purchase item is keyed by it. These tests prove that every way a
// transactionId is resolved (the accept path, the processor, the operator's
// reads, the importer's conflict rules) finds a chain by either kind of id,
// and that data written with a mapping for the originalTransactionId (before
// that rule) still works.

// importLines imports JSON Lines through the importer of `transferctl import`.
func (e *env) importLines(p publisher, lines ...string) operator.Report {
	e.t.Helper()
	in := strings.Join(lines, "\n")
	report, err := operator.NewImporter(e.svc.Stores.Operator).Import(context.Background(), p.id, strings.NewReader(in), int64(len(in)))
	if err != nil {
		e.t.Fatalf("import: %v", err)
	}
	return report
}

func purchaseLine(owner transfer.CustomerID, otx string, txs ...string) string {
	quoted := make([]string, len(txs))
	for i, tx := range txs {
		quoted[i] = fmt.Sprintf("%q", tx)
	}
	return fmt.Sprintf(`{"type":"purchase","cleengCustomerId":%d,"originalTransactionId":%q,"transactionIds":[%s],`+
		`"offerId":"S123456789_US","kind":"auto-renewable","state":"active","expiresAt":%q}`,
		owner, otx, strings.Join(quoted, ","), time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
}

// putOldStyleMapping writes a transaction→chain mapping of an
// originalTransactionId to itself, as imports wrote before.
func (e *env) putOldStyleMapping(p publisher, otx string) {
	e.t.Helper()
	item, err := attributevalue.MarshalMap(map[string]string{
		"pk": fmt.Sprintf("PUB#%d#TX#%s", p.id, otx), "sk": "TX", "originalTransactionId": otx,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.res.Table, Item: item}); err != nil {
		e.t.Fatal(err)
	}
}

// chainAtAccept is what the accept path's lookup answers for tx.
func (e *env) chainAtAccept(p publisher, tx string) string {
	e.t.Helper()
	got, err := e.svc.Stores.Directory.Lookup(context.Background(), transfer.LookupKeys{Publisher: p.id, TransactionID: tx})
	if err != nil {
		e.t.Fatal(err)
	}
	return got.OriginalTransactionID
}

// recordedChain is the originalTransactionId a synchronization record holds.
func (e *env) recordedChain(p publisher, syncID string) string {
	e.t.Helper()
	rec, ok, err := e.svc.Stores.Syncs.Get(context.Background(), p.id, syncID)
	if err != nil || !ok {
		e.t.Fatalf("synchronization %s: found %v, %v", syncID, ok, err)
	}
	return rec.OriginalTransactionID
}

func (e *env) purchaseByTransaction(p publisher, tx string) *transfer.Purchase {
	e.t.Helper()
	got, err := e.svc.Stores.Operator.PurchaseByTransaction(context.Background(), p.id, tx)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// TestTransferByEitherTransactionIdAfterImport imports a chain named by its
// originalTransactionId and one more transactionId: only the second gets a
// mapping, and a transfer by each moves the purchase.
func TestTransferByEitherTransactionIdAfterImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	a, b, c := cs[0], cs[1], cs[2]
	otx, tx := newTxID(), newTxID()
	if r := e.importLines(pub, purchaseLine(a, otx, tx)); r.PurchasesCreated != 1 || len(r.Invalid) != 0 {
		t.Fatalf("import: %+v", r)
	}
	if m := e.items()["TX"]; len(m) != 1 || m[0]["pk"] != fmt.Sprintf("PUB#%d#TX#%s", pub.id, tx) {
		t.Fatalf("mappings = %v, want only the one of %s", m, tx)
	}
	for _, id := range []string{otx, tx} {
		if got := e.chainAtAccept(pub, id); got != otx {
			t.Errorf("lookup of %s = %q, want %s", id, got, otx)
		}
		if got := e.purchaseByTransaction(pub, id); got == nil || got.OriginalTransactionID != otx {
			t.Errorf("purchase by %s = %+v, want %s", id, got, otx)
		}
	}

	// Both ids name one chain, so they contend for one chain lock.
	counts := race(e, []func(string) response{
		func(id string) response {
			return e.transfer(withCorrelationID(tokenHeader(pub), id), transferBody(b, otx))
		},
		func(id string) response {
			return e.transfer(withCorrelationID(tokenHeader(pub), id), transferBody(b, tx))
		},
	})
	if counts["Accepted"] != 1 || counts[string(transfer.CodePurchaseLocked)] != 1 {
		t.Fatalf("concurrent transfers by both ids: %v, want 1 Accepted and 1 %s", counts, transfer.CodePurchaseLocked)
	}
	e.startProcessor()
	testkit.Eventually(t, "the racing transfer to finish", 20*time.Second, func() bool { return len(e.items()["LOCK"]) == 0 })

	for i, step := range []struct {
		tx string
		to transfer.CustomerID
	}{{otx, c}, {tx, a}} {
		r := e.transfer(tokenHeader(pub), transferBody(step.to, step.tx))
		if r.status != http.StatusAccepted {
			t.Fatalf("transfer by %s: %d %s", step.tx, r.status, r.raw)
		}
		s := e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
		assertFinal(t, s, transfer.ResultTransferred, true, "S123456789_US")
		if got := e.recordedChain(pub, r.str("synchronizationId")); got != otx {
			t.Errorf("transfer by %s: originalTransactionId %q, want %s", step.tx, got, otx)
		}
		if got := e.purchase(pub, otx); got.Owner != step.to || got.Version != int64(i+2) {
			t.Errorf("after the transfer by %s: owner %d version %d, want %d version %d", step.tx, got.Owner, got.Version, step.to, i+2)
		}
	}
	if h := e.history(pub, otx); len(h) != 3 {
		t.Errorf("history = %+v, want three entries", h)
	}
}

// TestProcessorFindsAPurchaseByItsOriginalTransactionId: a transfer accepted
// while its transactionId named nothing (so without a chain lock), of a
// purchase imported before the processor reads it, keyed by that very id.
func TestProcessorFindsAPurchaseByItsOriginalTransactionId(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	otx := newTxID()

	r := e.transfer(tokenHeader(pub), transferBody(cs[1], otx))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")
	if got := e.recordedChain(pub, id); got != "" {
		t.Fatalf("the chain must be unknown at accept time, the record has %q", got)
	}
	if rep := e.importLines(pub, purchaseLine(cs[0], otx)); rep.PurchasesCreated != 1 {
		t.Fatalf("import: %+v", rep)
	}
	if m := e.items()["TX"]; len(m) != 0 {
		t.Fatalf("a purchase named only by its originalTransactionId got mappings: %v", m)
	}

	e.startProcessor()
	s := e.waitFinalized(tokenHeader(pub), id)
	assertFinal(t, s, transfer.ResultTransferred, true, "S123456789_US")
	if got := e.recordedChain(pub, id); got != otx {
		t.Errorf("originalTransactionId %q, want %s", got, otx)
	}
	if got := e.purchase(pub, otx); got.Owner != cs[1] || got.Version != 1 {
		t.Errorf("purchase owner %d version %d, want %d version 1", got.Owner, got.Version, cs[1])
	}
	if locks := e.items()["LOCK"]; len(locks) != 0 {
		t.Errorf("locks left: %v", locks)
	}
}

// TestOldStyleMappingStillResolves: data imported before originalTransactionIds
// lost their mapping (a mapping of the originalTransactionId to itself) is
// found by every reader, and neither the importer nor a transfer trips on it.
func TestOldStyleMappingStillResolves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	a, b, c := cs[0], cs[1], cs[2]
	old := e.seedPurchase(pub, a, transfer.StateActive, time.Now().Add(24*time.Hour), newTxID())
	otx := old.OriginalTransactionID
	e.putOldStyleMapping(pub, otx)

	for _, id := range []string{otx, old.TransactionIDs[0]} {
		if got := e.chainAtAccept(pub, id); got != otx {
			t.Errorf("lookup of %s = %q, want %s", id, got, otx)
		}
		if got := e.purchaseByTransaction(pub, id); got == nil || got.OriginalTransactionID != otx {
			t.Errorf("purchase by %s = %+v, want %s", id, got, otx)
		}
	}

	// Re-importing the purchase finds it there; claiming its
	// originalTransactionId for another chain is refused.
	rep := e.importLines(pub, purchaseLine(a, otx, old.TransactionIDs[0]), purchaseLine(a, newTxID(), otx))
	if rep.PurchasesUnchanged != 1 || rep.PurchasesCreated != 0 || len(rep.Invalid) != 1 || rep.Invalid[0].Line != 2 {
		t.Fatalf("re-import: %+v", rep)
	}

	// A transfer accepted while its transactionId named nothing, of a
	// purchase then stored the old way: the processor resolves it through the
	// mapping and reads the purchase in the same round trip.
	late := newTxID()
	r := e.transfer(tokenHeader(pub), transferBody(c, late))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	lateSync := r.str("synchronizationId")
	e.putOldStyleMapping(pub, late)
	if err := e.svc.Stores.Operator.PutPurchase(context.Background(), transfer.Purchase{PublisherID: pub.id, OriginalTransactionID: late,
		TransactionIDs: []string{late}, Owner: a, OfferID: "S1_US", Kind: transfer.KindNonConsumable, State: transfer.StateActive}); err != nil {
		t.Fatal(err)
	}

	e.startProcessor()
	s := e.waitFinalized(tokenHeader(pub), lateSync)
	assertFinal(t, s, transfer.ResultTransferred, true, "S1_US")
	if got := e.purchase(pub, late); got.Owner != c {
		t.Errorf("owner %d, want %d", got.Owner, c)
	}

	r = e.transfer(tokenHeader(pub), transferBody(b, otx))
	s = e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
	assertFinal(t, s, transfer.ResultTransferred, true, old.OfferID)
	if got := e.purchase(pub, otx); got.Owner != b {
		t.Errorf("owner %d, want %d", got.Owner, b)
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// putUnowned stores a purchase as an Apple notification for an unknown
// chain leaves it: no owner, out of the byOwner index, at some version.
func (f *fixture) putUnowned(p transfer.PublisherID, otx string, txs ...string) {
	f.t.Helper()
	err := f.svc.Stores.Operator.PutPurchase(context.Background(), transfer.Purchase{
		PublisherID: p, OriginalTransactionID: otx, TransactionIDs: append([]string{otx}, txs...),
		OfferID: "S1_US", ProductID: "com.example.monthly", Kind: transfer.KindAutoRenewable, State: transfer.StateActive,
		ExpiresAt: time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Second), AppleSignedAt: time.Now().UTC().Truncate(time.Millisecond), Version: 2,
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// TestPurchaseAssign: an unowned purchase (no transfer can take it) gets its
// first owner by any transactionId of its chain, in one transaction, without
// a history entry; then it transfers like any other. An owner is never
// changed, an unknown customer or purchase is refused, and a refusal writes
// nothing.
func TestPurchaseAssign(t *testing.T) {
	f := newFixture(t)
	f.startProcessor(nil)
	id, token := f.createPublisher()
	pid := fmt.Sprint(id)
	ctx := context.Background()
	customers := "{\"type\":\"customer\",\"cleengCustomerId\":930000001}\n{\"type\":\"customer\",\"cleengCustomerId\":930000002}\n"
	f.importJSON(id, f.writeFile("customers.jsonl", customers), exitOK)
	f.putUnowned(id, "4300000000000001", "4300000000000002")
	f.putUnowned(id, "4300000000000011")

	if out := f.ok("purchase", "show", "--publisher", pid, "4300000000000002").stdout; !hasRow(out, "Owner (cleengCustomerId)", "none", "(unowned:", "transferctl", "purchase", "assign)") {
		t.Errorf("purchase show of an unowned purchase:\n%s", out)
	}
	// No transfer takes an unowned purchase.
	if res := f.waitFinalized(token, f.transfer(token, 930000002, "4300000000000002")); res != string(transfer.ResultNotFound) {
		t.Fatalf("transfer of an unowned purchase: %s", res)
	}

	// Usage mistakes: exit 2.
	for _, args := range [][]string{
		{"--publisher", pid, "--customer", "930000001"},
		{"--publisher", pid, "--transaction-id", "4300000000000002"},
		{"--publisher", pid, "--transaction-id", "bad id", "--customer", "930000001"},
		{"--publisher", pid, "--transaction-id", "4300000000000002", "--customer", "-1"},
	} {
		if r := f.ctl(append([]string{"purchase", "assign"}, args...)...); r.code != exitUsage {
			t.Errorf("purchase assign %s: want exit 2, got %v", strings.Join(args, " "), r)
		}
	}
	// Refusals: exit 1, nothing written.
	for args, want := range map[[2]string]string{
		{"4300000000000009", "930000001"}: "no purchase of the publisher has this transactionId",
		{"4300000000000011", "930000009"}: "customer 930000009: the customer does not exist",
	} {
		r := f.ctl("purchase", "assign", "--publisher", pid, "--transaction-id", args[0], "--customer", args[1])
		if r.code != exitFailed || !strings.Contains(r.stderr, want) {
			t.Errorf("purchase assign %v: want exit 1 saying %q, got %v", args, want, r)
		}
	}
	if item := f.rawItem(fmt.Sprintf("PUB#%d#PURCHASE#4300000000000011", id), "PURCHASE"); item["ownerCustomerId"] != nil || item["ownerPk"] != nil {
		t.Errorf("a refused assignment wrote an owner: %v", item)
	}
	if got, err := f.svc.Stores.Operator.Purchase(ctx, id, "4300000000000011"); err != nil || got.Owned() || got.Version != 2 {
		t.Errorf("a refused assignment changed the purchase: %+v %v", got, err)
	}

	// By a transactionId other than the originalTransactionId.
	var assigned struct {
		purchaseView
		Assigned bool `json:"assigned"`
	}
	f.okJSON(&assigned, "purchase", "assign", "--publisher", pid, "--transaction-id", "4300000000000002", "--customer", "930000001")
	if !assigned.Assigned || assigned.Owner != 930000001 || assigned.OriginalTransactionID != "4300000000000001" || assigned.Version != 3 {
		t.Fatalf("purchase assign --json: %+v", assigned)
	}
	stored, err := f.svc.Stores.Operator.Purchase(ctx, id, "4300000000000001")
	if err != nil || stored.Owner != 930000001 || stored.Version != 3 || stored.AppleSignedAt.IsZero() || stored.State != transfer.StateActive {
		t.Fatalf("stored after assign: %+v %v", stored, err)
	}
	item := f.rawItem(fmt.Sprintf("PUB#%d#PURCHASE#4300000000000001", id), "PURCHASE")
	if !strings.Contains(fmt.Sprint(item["ownerPk"]), fmt.Sprintf("PUB#%d#CUSTOMER#930000001", id)) || !strings.Contains(fmt.Sprint(item["ownerSk"]), "PURCHASE#4300000000000001") {
		t.Errorf("byOwner keys after assign: %v", item)
	}
	if history, err := f.svc.Stores.Operator.History(ctx, id, "4300000000000001"); err != nil || len(history) != 0 {
		t.Errorf("assign wrote history: %+v %v", history, err)
	}
	testkit.Eventually(t, "customer show to list the assigned purchase", 10*time.Second, func() bool {
		return strings.Contains(f.ok("customer", "show", "--publisher", pid, "930000001").stdout, "4300000000000001")
	})

	// Again to the same customer: nothing changes.
	if r := f.ok("purchase", "assign", "--publisher", pid, "--transaction-id", "4300000000000001", "--customer", "930000001"); !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("repeated assignment: %v", r)
	}
	// Never to another owner.
	r := f.ctl("purchase", "assign", "--publisher", pid, "--transaction-id", "4300000000000001", "--customer", "930000002")
	if r.code != exitFailed || !strings.Contains(r.stderr, "already owned by customer 930000001") {
		t.Errorf("assigning an owned purchase: %v", r)
	}
	if got, _ := f.svc.Stores.Operator.Purchase(ctx, id, "4300000000000001"); got.Owner != 930000001 || got.Version != 3 {
		t.Errorf("after the refusals: %+v", got)
	}
	// Another tenant sees nothing.
	if r := f.ctl("purchase", "assign", "--publisher", "42", "--transaction-id", "4300000000000011", "--customer", "930000001"); r.code != exitFailed {
		t.Errorf("assign from another publisher: %v", r)
	}

	// Owned now, it transfers.
	if res := f.waitFinalized(token, f.transfer(token, 930000002, "4300000000000002")); res != string(transfer.ResultTransferred) {
		t.Fatalf("transfer after assign: %s", res)
	}
}

package operator

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

func storedPurchase() transfer.Purchase {
	return transfer.Purchase{
		PublisherID: 1, OriginalTransactionID: "o1", TransactionIDs: []string{"o1", "t2"}, Owner: 5,
		OfferID: "S1", ProductID: "p.monthly", Kind: transfer.KindAutoRenewable, State: transfer.StateActive,
		ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), RevokedAt: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC),
		AppleSignedAt: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), Version: 7,
	}
}

func TestReconcileChangesNothingALineAlreadySays(t *testing.T) {
	stored := storedPurchase()
	line := stored
	line.Owner = 6 // another owner on the line: a transfer moved it since
	line.TransactionIDs = []string{"o1"}
	line.ExpiresAt = stored.ExpiresAt.In(time.FixedZone("x", 3600)) // the same instant
	for _, update := range []bool{false, true} {
		if r := Reconcile(stored, line, update); r.Changed() || r.Next.Owner != 5 || r.Next.Version != 7 {
			t.Errorf("update=%v: %+v", update, r)
		}
	}
}

func TestReconcileWithoutUpdateOnlyAssigns(t *testing.T) {
	stored := storedPurchase()
	line := stored
	line.State, line.OfferID, line.TransactionIDs = transfer.StateRevoked, "S2", []string{"o1", "t3"}
	if r := Reconcile(stored, line, false); r.Changed() {
		t.Errorf("an owned purchase without update: %+v", r)
	}
	stored.Owner = 0
	line.Owner = 9
	r := Reconcile(stored, line, false)
	if !r.Assign || r.Update || r.Next.Owner != 9 || r.Next.State != transfer.StateActive || r.Next.OfferID != "S1" ||
		len(r.NewTransactionIDs) != 0 || !slices.Equal(r.Next.TransactionIDs, []string{"o1", "t2"}) {
		t.Errorf("an unowned purchase without update: %+v", r)
	}
}

func TestReconcileWithUpdateTakesTheLinesAppleFields(t *testing.T) {
	stored := storedPurchase()
	line := transfer.Purchase{
		PublisherID: 1, OriginalTransactionID: "o1", TransactionIDs: []string{"o1", "t3", "t2", "t4"}, Owner: 6,
		OfferID: "S2", Kind: transfer.KindNonRenewing, State: transfer.StateExpired,
	}
	r := Reconcile(stored, line, true)
	n := r.Next
	if r.Assign || !r.Update || n.Owner != 5 || n.OfferID != "S2" || n.ProductID != "" || n.Kind != transfer.KindNonRenewing ||
		n.State != transfer.StateExpired || !n.ExpiresAt.IsZero() || n.Version != 7 ||
		!n.RevokedAt.Equal(stored.RevokedAt) || !n.AppleSignedAt.Equal(stored.AppleSignedAt) ||
		!slices.Equal(n.TransactionIDs, []string{"o1", "t2", "t3", "t4"}) || !slices.Equal(r.NewTransactionIDs, []string{"t3", "t4"}) {
		t.Errorf("update: %+v", r)
	}
	if !slices.Equal(stored.TransactionIDs, []string{"o1", "t2"}) {
		t.Errorf("Reconcile changed the stored purchase's transactionIds: %v", stored.TransactionIDs)
	}
	// Each field alone is a change.
	for name, change := range map[string]func(*transfer.Purchase){
		"state":          func(p *transfer.Purchase) { p.State = transfer.StateRevoked },
		"expiresAt":      func(p *transfer.Purchase) { p.ExpiresAt = p.ExpiresAt.Add(time.Second) },
		"no expiresAt":   func(p *transfer.Purchase) { p.ExpiresAt = time.Time{} },
		"productId":      func(p *transfer.Purchase) { p.ProductID = "p.yearly" },
		"offerId":        func(p *transfer.Purchase) { p.OfferID = "S9" },
		"kind":           func(p *transfer.Purchase) { p.Kind = transfer.KindNonConsumable },
		"transactionIds": func(p *transfer.Purchase) { p.TransactionIDs = append(p.TransactionIDs, "t9") },
	} {
		line := storedPurchase()
		change(&line)
		if r := Reconcile(storedPurchase(), line, true); !r.Update || r.Assign {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// Unowned, with update: both.
	unowned := storedPurchase()
	unowned.Owner = 0
	if r := Reconcile(unowned, line, true); !r.Assign || !r.Update || r.Next.Owner != 6 {
		t.Errorf("unowned with update: %+v", r)
	}
}

func TestImportCountsUpdatesAndAssignments(t *testing.T) {
	store := newMemoryStore()
	store.purchases["u1"] = transfer.Purchase{OriginalTransactionID: "u1", TransactionIDs: []string{"u1"}, OfferID: "o",
		Kind: transfer.KindAutoRenewable, State: transfer.StateActive, Version: 2}
	first := strings.Join([]string{purchaseJSON(1, "p1", "t1"), purchaseJSON(2, "p2")}, "\n")
	if _, err := NewImporter(store).Import(context.Background(), 1, strings.NewReader(first), 0); err != nil {
		t.Fatal(err)
	}
	// p1 revoked, p2 with another owner and a new transactionId, u1 unowned
	// (its line assigns it), p3 new.
	second := strings.Join([]string{
		strings.Replace(purchaseJSON(1, "p1", "t1"), `"active"`, `"revoked"`, 1),
		purchaseJSON(3, "p2", "t2"),
		purchaseJSON(4, "u1"),
		purchaseJSON(4, "p3"),
		`{"type":"bogus"}`,
	}, "\n")
	plain, err := NewImporter(store).Import(context.Background(), 1, strings.NewReader(second), 0)
	if err != nil || plain.PurchasesCreated != 1 || plain.PurchasesAssigned != 1 || plain.PurchasesUpdated != 0 || plain.PurchasesUnchanged != 2 ||
		plain.Skipped != 1 || len(plain.Invalid) != 1 {
		t.Fatalf("without update: %+v %v", plain, err)
	}
	if store.purchases["p1"].State != transfer.StateActive || store.purchases["u1"].Owner != 4 || store.purchases["u1"].Version != 3 {
		t.Fatalf("without update the import changed %+v", store.purchases)
	}
	updated, err := NewImporter(store, WithUpdate(true)).Import(context.Background(), 1, strings.NewReader(second), 0)
	if err != nil || updated.PurchasesCreated != 0 || updated.PurchasesAssigned != 0 || updated.PurchasesUpdated != 2 || updated.PurchasesUnchanged != 2 {
		t.Fatalf("with update: %+v %v", updated, err)
	}
	if p2 := store.purchases["p2"]; p2.Owner != 2 || !slices.Equal(p2.TransactionIDs, []string{"p2", "t2"}) || store.purchases["p1"].State != transfer.StateRevoked {
		t.Fatalf("with update: %+v", store.purchases)
	}
	again, err := NewImporter(store, WithUpdate(true)).Import(context.Background(), 1, strings.NewReader(second), 0)
	if err != nil || again.PurchasesUpdated != 0 || again.PurchasesAssigned != 0 || again.PurchasesUnchanged != 4 {
		t.Fatalf("the same file again: %+v %v", again, err)
	}
}

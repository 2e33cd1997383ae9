package operator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// assignStore holds one purchase, named by its transactionIds; changes
// makes that many writes find another version first (as concurrent Apple
// notifications would).
type assignStore struct {
	purchase  *transfer.Purchase
	customers map[transfer.CustomerID]bool
	changes   int
	writes    int
}

func (s *assignStore) PurchaseByTransaction(_ context.Context, _ transfer.PublisherID, tx string) (*transfer.Purchase, error) {
	if s.purchase == nil {
		return nil, nil
	}
	for _, t := range s.purchase.TransactionIDs {
		if t == tx {
			cp := *s.purchase
			return &cp, nil
		}
	}
	return nil, nil
}

func (s *assignStore) AssignOwner(_ context.Context, _ transfer.PublisherID, otx string, version int64, to transfer.CustomerID) error {
	s.writes++
	if !s.customers[to] {
		return ErrCustomerNotFound
	}
	if s.changes > 0 {
		s.changes--
		s.purchase.Version++
	}
	if s.purchase == nil || s.purchase.OriginalTransactionID != otx || s.purchase.Owned() || s.purchase.Version != version {
		return ErrPurchaseChanged
	}
	s.purchase.Owner = to
	s.purchase.Version++
	return nil
}

func unowned() *transfer.Purchase {
	return &transfer.Purchase{OriginalTransactionID: "o1", TransactionIDs: []string{"o1", "t2"}, Version: 3}
}

func TestAssignGivesAnUnownedPurchaseItsFirstOwner(t *testing.T) {
	s := &assignStore{purchase: unowned(), customers: map[transfer.CustomerID]bool{5: true, 6: true}}
	got, err := Assign(context.Background(), s, 1, "t2", 5)
	if err != nil || got.Unchanged || got.Purchase.Owner != 5 || got.Purchase.Version != 4 || s.purchase.Owner != 5 {
		t.Fatalf("assign by another transactionId of the chain: %+v %v (stored %+v)", got, err, s.purchase)
	}
	// Again to the same customer: nothing to do, nothing written.
	got, err = Assign(context.Background(), s, 1, "o1", 5)
	if err != nil || !got.Unchanged || s.writes != 1 {
		t.Fatalf("repeated assignment: %+v %v, %d writes", got, err, s.writes)
	}
	// Never another owner.
	_, err = Assign(context.Background(), s, 1, "o1", 6)
	var owned *OwnedError
	if !errors.As(err, &owned) || owned.Owner != 5 || !errors.Is(err, ErrPurchaseOwned) || !strings.Contains(err.Error(), "already owned by customer 5") || s.writes != 1 {
		t.Fatalf("assigning an owned purchase: %v, %d writes", err, s.writes)
	}
}

func TestAssignRefusals(t *testing.T) {
	ctx := context.Background()
	s := &assignStore{purchase: unowned(), customers: map[transfer.CustomerID]bool{5: true}}
	if _, err := Assign(ctx, s, 1, "nope", 5); !errors.Is(err, ErrPurchaseNotFound) {
		t.Errorf("unknown transactionId: %v", err)
	}
	if _, err := Assign(ctx, s, 1, "o1", 7); !errors.Is(err, ErrCustomerNotFound) || s.purchase.Owned() {
		t.Errorf("unknown customer: %v (stored %+v)", err, s.purchase)
	}
	if _, err := Assign(ctx, s, 1, "o1", 0); err == nil || s.writes != 1 {
		t.Errorf("customer 0: %v", err)
	}
}

func TestAssignRereadsAPurchaseThatChanged(t *testing.T) {
	s := &assignStore{purchase: unowned(), customers: map[transfer.CustomerID]bool{5: true}, changes: 2}
	got, err := Assign(context.Background(), s, 1, "o1", 5)
	if err != nil || got.Purchase.Owner != 5 || got.Purchase.Version != 6 || s.writes != 3 {
		t.Fatalf("after two concurrent changes: %+v %v, %d writes", got, err, s.writes)
	}
	s = &assignStore{purchase: unowned(), customers: map[transfer.CustomerID]bool{5: true}, changes: assignAttempts}
	if _, err := Assign(context.Background(), s, 1, "o1", 5); !errors.Is(err, ErrPurchaseChanged) || s.writes != assignAttempts {
		t.Fatalf("a purchase that keeps changing: %v, %d writes", err, s.writes)
	}
}

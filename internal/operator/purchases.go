package operator

import (
	"context"
	"errors"
	"fmt"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Giving an unowned purchase its first owner. A purchase Apple told the
// service of before anyone claimed it has no owner, and no transfer can
// take it; an operator assigns it (`transferctl purchase assign`, or an
// import line naming it). An owner is never changed here: that is a
// transfer's job, with its history entry.

var (
	ErrPurchaseNotFound = errors.New("no purchase of the publisher has this transactionId")
	ErrPurchaseOwned    = errors.New("the purchase already has an owner")
	ErrCustomerNotFound = errors.New("the customer does not exist")
	// ErrPurchaseChanged means a conditional write found another version
	// than the one it was decided on.
	ErrPurchaseChanged = errors.New("the purchase changed since it was read")
)

// OwnedError is a refused assignment: the purchase has an owner already.
type OwnedError struct {
	OriginalTransactionID string
	Owner                 transfer.CustomerID
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("purchase %s is already owned by customer %d (an owner is never changed by assign: a transfer moves it)", e.OriginalTransactionID, e.Owner)
}

func (e *OwnedError) Unwrap() error { return ErrPurchaseOwned }

// AssignStore is what an assignment reads and writes.
type AssignStore interface {
	// PurchaseByTransaction reads the purchase any transactionId of its
	// chain names; nil when none.
	PurchaseByTransaction(ctx context.Context, p transfer.PublisherID, tx string) (*transfer.Purchase, error)
	// AssignOwner gives the purchase its owner and bumps its version,
	// provided it is still unowned at version and the customer exists, in
	// one transaction: ErrPurchaseChanged or ErrCustomerNotFound otherwise.
	AssignOwner(ctx context.Context, p transfer.PublisherID, otx string, version int64, to transfer.CustomerID) error
}

// assignAttempts bounds the re-reads when the purchase keeps changing
// (Apple notifications) between the read and the write.
const assignAttempts = 5

// Assigned is the outcome of an assignment.
type Assigned struct {
	Purchase transfer.Purchase
	// Unchanged is true when the customer owned the purchase already.
	Unchanged bool
}

// Assign gives the unowned purchase that tx names its first owner. A
// purchase owned by someone else is refused (*OwnedError); one owned by
// the customer already is left as it is (Unchanged), so a repeated
// assignment is harmless.
func Assign(ctx context.Context, s AssignStore, p transfer.PublisherID, tx string, to transfer.CustomerID) (Assigned, error) {
	if to <= 0 {
		return Assigned{}, fmt.Errorf("cleengCustomerId must be positive, got %d", to)
	}
	for attempt := 1; ; attempt++ {
		pur, err := s.PurchaseByTransaction(ctx, p, tx)
		if err != nil {
			return Assigned{}, fmt.Errorf("read purchase %s: %w", tx, err)
		}
		if pur == nil {
			return Assigned{}, fmt.Errorf("transactionId %s: %w", tx, ErrPurchaseNotFound)
		}
		switch pur.Owner {
		case 0:
		case to:
			return Assigned{Purchase: *pur, Unchanged: true}, nil
		default:
			return Assigned{}, &OwnedError{OriginalTransactionID: pur.OriginalTransactionID, Owner: pur.Owner}
		}
		err = s.AssignOwner(ctx, p, pur.OriginalTransactionID, pur.Version, to)
		switch {
		case err == nil:
			pur.Owner = to
			pur.Version++
			return Assigned{Purchase: *pur}, nil
		case errors.Is(err, ErrCustomerNotFound):
			return Assigned{}, fmt.Errorf("customer %d: %w (import it first: a customer line)", to, ErrCustomerNotFound)
		case errors.Is(err, ErrPurchaseChanged) && attempt < assignAttempts:
			continue
		default:
			return Assigned{}, fmt.Errorf("assign purchase %s: %w", pur.OriginalTransactionID, err)
		}
	}
}

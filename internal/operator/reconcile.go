package operator

import (
	"slices"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Reconciled is what an import line changes in a purchase that is stored
// already.
type Reconciled struct {
	// Next is the stored purchase with the line's changes applied; its
	// Version is still the one read (the write bumps it).
	Next transfer.Purchase
	// Assign: the purchase has no owner, and the line's customer becomes it.
	Assign bool
	// Update: with --update, fields other than the owner differ from the line.
	Update bool
	// NewTransactionIDs are the line's transactionIds the chain lacks, in the
	// line's order: appended to the chain (Update is then true).
	NewTransactionIDs []string
}

// Changed tells whether anything is to be written.
func (r Reconciled) Changed() bool { return r.Assign || r.Update }

// Reconcile decides what a line does to the purchase stored under its
// originalTransactionId:
//
//   - an unowned purchase (known from Apple, claimed by nobody) gets the
//     line's customer as its first owner, with or without update;
//   - with update, the Apple-side fields become the line's: state, expiresAt
//     (absent: never expires), productId (absent: none), offerId, kind; and
//     the line's transactionIds the chain lacks are appended to it (the
//     chain's own are never removed);
//   - an owner is never changed: since it was imported, a transfer may have
//     moved the purchase, and that is what the owner says now.
//
// Nothing else (revokedAt, the signedDate of Apple's last notification)
// changes. A line that says what is stored changes nothing, so running the
// same file again bumps no version.
func Reconcile(stored, line transfer.Purchase, update bool) Reconciled {
	r := Reconciled{Next: stored}
	r.Next.TransactionIDs = slices.Clone(stored.TransactionIDs)
	if !stored.Owned() && line.Owner != 0 {
		r.Next.Owner = line.Owner
		r.Assign = true
	}
	if !update {
		return r
	}
	for _, tx := range line.TransactionIDs {
		if !slices.Contains(r.Next.TransactionIDs, tx) {
			r.Next.TransactionIDs = append(r.Next.TransactionIDs, tx)
			r.NewTransactionIDs = append(r.NewTransactionIDs, tx)
		}
	}
	r.Next.State = line.State
	r.Next.ExpiresAt = line.ExpiresAt
	r.Next.ProductID = line.ProductID
	r.Next.OfferID = line.OfferID
	r.Next.Kind = line.Kind
	r.Update = len(r.NewTransactionIDs) > 0 ||
		stored.State != line.State || !stored.ExpiresAt.Equal(line.ExpiresAt) ||
		stored.ProductID != line.ProductID || stored.OfferID != line.OfferID || stored.Kind != line.Kind
	return r
}

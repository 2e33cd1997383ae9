package appstore

import (
	"slices"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// effect is what a notification says of the purchase's entitlement.
type effect struct {
	state     transfer.PurchaseState
	expiresAt time.Time // zero: as the transaction says
	revokedAt time.Time
}

// Apply decides what n does to the purchase before (nil when the chain is
// unknown). It returns nil when nothing changes, with the outcome to record.
// The owner is never touched: a notification tells what Apple knows of the
// purchase, never who owns it here.
func Apply(before *transfer.Purchase, n apple.Notification, app transfer.AppleApp, now time.Time) (*Change, Outcome) {
	if out, skip := skipped(before, n); skip {
		return nil, out
	}
	eff, ok := effectOf(n)
	if !ok {
		if before != nil {
			return nil, OutcomeRecorded
		}
		// Nothing from Apple is dropped: an unknown chain is created from
		// what the notification shows, whatever its type.
		eff = stateOf(n, now)
	}
	return changeOf(before, n, app, eff)
}

// Current decides what an answer of the App Store Server API does to the
// purchase before, the chain's state as Apple signed it at the moment it was
// asked: n carries the transaction (and the renewal and the status, for a
// subscription) in a notification's shape with no type. Unlike a
// notification, which tells what happened, it is the state itself, so it
// always applies, unless it is older than what the purchase reflects or it
// leaves the purchase as it is (nil, nothing to write).
func Current(before *transfer.Purchase, n apple.Notification, app transfer.AppleApp, now time.Time) (*Change, Outcome) {
	if out, skip := skipped(before, n); skip {
		return nil, out
	}
	change, outcome := changeOf(before, n, app, stateOf(n, now))
	if before != nil && sameState(*before, change.After) {
		return nil, OutcomeRecorded
	}
	return change, outcome
}

// skipped tells whether n can change nothing of before, and the outcome to
// record then: it names no transaction, or a consumable (used up, not owned:
// nothing to keep true); or Apple signed it before the last of its words the
// purchase reflects, so it could only roll it back.
func skipped(before *transfer.Purchase, n apple.Notification) (Outcome, bool) {
	switch t := n.Transaction; {
	case t == nil || t.Type == apple.ProductConsumable:
		return OutcomeRecorded, true
	case before != nil && time.UnixMilli(n.Payload.SignedDate).UTC().Before(before.AppleSignedAt):
		return OutcomeOutOfOrder, true
	}
	return "", false
}

// changeOf is the purchase before with the effect eff of n applied.
func changeOf(before *transfer.Purchase, n apple.Notification, app transfer.AppleApp, eff effect) (*Change, Outcome) {
	t := n.Transaction
	var after transfer.Purchase
	outcome := OutcomeApplied
	if before == nil {
		outcome = OutcomeCreated
		after = transfer.Purchase{
			OriginalTransactionID: t.OriginalTransactionID,
			TransactionIDs:        []string{t.OriginalTransactionID},
		}
	} else {
		after = *before
		after.TransactionIDs = slices.Clone(before.TransactionIDs)
	}
	after.Version++

	newTx := ""
	if !slices.Contains(after.TransactionIDs, t.TransactionID) {
		after.TransactionIDs = append(after.TransactionIDs, t.TransactionID)
		newTx = t.TransactionID
	}
	if t.ProductID != "" {
		if offer, ok := app.Offers[t.ProductID]; ok {
			after.OfferID = offer
		} else if t.ProductID != after.ProductID {
			// An unmapped product: better no offerId than the old product's.
			after.OfferID = ""
		}
		after.ProductID = t.ProductID
	}
	if k := kindOf(t.Type); k != "" {
		after.Kind = k
	}
	after.State = eff.state
	switch {
	case !eff.expiresAt.IsZero():
		after.ExpiresAt = eff.expiresAt
	case t.ExpiresDate != 0:
		after.ExpiresAt = time.UnixMilli(t.ExpiresDate).UTC()
	}
	after.RevokedAt = eff.revokedAt
	after.AppleSignedAt = time.UnixMilli(n.Payload.SignedDate).UTC()
	return &Change{Before: before, After: after, NewTransactionID: newTx}, outcome
}

// sameState tells whether b states of the purchase what a does: everything
// but the version and when Apple last said it.
func sameState(a, b transfer.Purchase) bool {
	return slices.Equal(a.TransactionIDs, b.TransactionIDs) && a.Owner == b.Owner && a.OfferID == b.OfferID &&
		a.ProductID == b.ProductID && a.Kind == b.Kind && a.State == b.State &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.RevokedAt.Equal(b.RevokedAt)
}

// effectOf is the entitlement a notification type states, per Apple's
// documentation of each type; false for the types that state none.
func effectOf(n apple.Notification) (effect, bool) {
	p, t := n.Payload, n.Transaction
	switch p.NotificationType {
	case apple.TypeSubscribed, apple.TypeDidRenew, apple.TypeOfferRedeemed,
		apple.TypeRenewalExtended, apple.TypeRefundReversed:
		return effect{state: transfer.StateActive}, true
	case apple.TypeDidChangeRenewalPref:
		// An upgrade takes effect at once; a downgrade only at renewal.
		if p.Subtype == apple.SubtypeUpgrade {
			return effect{state: transfer.StateActive}, true
		}
		return effect{}, false
	case apple.TypeDidFailToRenew:
		if p.Subtype == apple.SubtypeGracePeriod {
			return graceOrExpired(n), true
		}
		return fromStatus(n), true
	case apple.TypeExpired, apple.TypeGracePeriodExpired:
		return effect{state: transfer.StateExpired}, true
	case apple.TypeRefund, apple.TypeRevoke:
		at := time.UnixMilli(t.RevocationDate).UTC()
		if t.RevocationDate == 0 {
			at = time.UnixMilli(p.SignedDate).UTC()
		}
		return effect{state: transfer.StateRevoked, revokedAt: at}, true
	}
	return effect{}, false
}

// graceOrExpired: active until the grace period ends, when Apple says when.
func graceOrExpired(n apple.Notification) effect {
	if r := n.Renewal; r != nil && r.GracePeriodExpiresDate != 0 {
		return effect{state: transfer.StateActive, expiresAt: time.UnixMilli(r.GracePeriodExpiresDate).UTC()}
	}
	return effect{state: transfer.StateExpired}
}

// fromStatus follows the subscription status Apple sends with the
// notification; without one, a failed renewal is not entitled.
func fromStatus(n apple.Notification) effect {
	status := int32(0)
	if n.Payload.Data != nil {
		status = n.Payload.Data.Status
	}
	switch status {
	case apple.StatusActive:
		return effect{state: transfer.StateActive}
	case apple.StatusBillingGracePeriod:
		return graceOrExpired(n)
	case apple.StatusRevoked:
		return effect{state: transfer.StateRevoked, revokedAt: time.UnixMilli(n.Payload.SignedDate).UTC()}
	}
	return effect{state: transfer.StateExpired}
}

// stateOf is the state of a chain seen for the first time through a
// notification that states none: Apple's status if sent, else what the
// transaction shows.
func stateOf(n apple.Notification, now time.Time) effect {
	if n.Payload.Data != nil && n.Payload.Data.Status != 0 {
		return fromStatus(n)
	}
	t := n.Transaction
	switch {
	case t.RevocationDate != 0:
		return effect{state: transfer.StateRevoked, revokedAt: time.UnixMilli(t.RevocationDate).UTC()}
	case t.ExpiresDate != 0 && !now.Before(time.UnixMilli(t.ExpiresDate)):
		return effect{state: transfer.StateExpired}
	}
	return effect{state: transfer.StateActive}
}

func kindOf(productType string) transfer.PurchaseKind {
	switch productType {
	case apple.ProductAutoRenewable:
		return transfer.KindAutoRenewable
	case apple.ProductNonRenewing:
		return transfer.KindNonRenewing
	case apple.ProductNonConsumable:
		return transfer.KindNonConsumable
	}
	return ""
}

// Package appstore keeps purchases true to what Apple says: it takes an App
// Store Server Notification V2, trusts it only once verified and meant for the
// publisher's app, records it, and applies it to the purchase it names —
// idempotently (by notificationUUID) and in order (by signedDate), never
// changing an owner. It is to Apple's side what package transfer is to the
// API's: rules and ports, no storage code.
package appstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// staleRetries bounds how often one notification re-reads its purchase after
// a concurrent change (a transfer, another notification) before giving up;
// Apple then retries the delivery. Every round lets one writer win, so this
// covers a burst of that many writers on one purchase.
const staleRetries = 10

// DefaultRetention is how long a notification record is kept: longer than
// Apple's retry window (three days) and than its notification history (180
// days), so a redelivery or a backfill is always recognised.
const DefaultRetention = 190 * 24 * time.Hour

// Verifier verifies a signedPayload; *apple.Verifier is one.
type Verifier interface {
	VerifyNotification(ctx context.Context, signedPayload string) (apple.Notification, error)
}

// Store records notifications and applies their changes.
type Store interface {
	// Purchase reads a chain, strongly consistent; nil when unknown.
	Purchase(ctx context.Context, publisher transfer.PublisherID, originalTransactionID string) (*transfer.Purchase, error)
	// Record writes the notification record and, when change is not nil, the
	// change, all or nothing. It fails with ErrDuplicate when the
	// notificationUUID was recorded before (nothing is written), with
	// transfer.ErrStale when the purchase is no longer change.Before, and
	// with ErrForeignTransaction when the transactionId belongs to another chain.
	Record(ctx context.Context, rec Record, change *Change) error
}

var (
	// ErrDuplicate: this notificationUUID was recorded before.
	ErrDuplicate = errors.New("notification already recorded")
	// ErrForeignTransaction: the notification's transactionId is mapped to
	// another chain, which Apple never does; the notification is recorded,
	// not applied, and logged for an operator.
	ErrForeignTransaction = errors.New("transactionId belongs to another chain")
)

// Outcome is what a notification did, as recorded.
type Outcome string

const (
	// OutcomeApplied: the purchase changed.
	OutcomeApplied Outcome = "applied"
	// OutcomeCreated: the chain was unknown; it now exists, unowned.
	OutcomeCreated Outcome = "created-unowned"
	// OutcomeOutOfOrder: older than the last notification applied to the
	// purchase; recorded, changes nothing.
	OutcomeOutOfOrder Outcome = "out-of-order"
	// OutcomeRecorded: a type with no effect on ownership or entitlement.
	OutcomeRecorded Outcome = "recorded"
	// OutcomeConflict: the transactionId belongs to another chain.
	OutcomeConflict Outcome = "conflict"
	// OutcomeDuplicate is never recorded: it is the answer to a redelivery.
	OutcomeDuplicate Outcome = "duplicate"
)

// Record is the audit and deduplication record of one accepted notification.
type Record struct {
	PublisherID           transfer.PublisherID
	NotificationUUID      string
	Type, Subtype         string
	Environment           string
	SignedAt              time.Time
	TransactionID         string
	OriginalTransactionID string
	Outcome               Outcome
	ReceivedAt            time.Time
}

// Change is a purchase as a notification leaves it.
type Change struct {
	// Before is the purchase as read; nil when the chain is created.
	Before *transfer.Purchase
	// After is the purchase to store; its Version is Before's + 1.
	After transfer.Purchase
	// NewTransactionID joins the chain: its transaction → chain mapping is
	// written ("" when it is already part of the chain).
	NewTransactionID string
}

// Directory tells the publisher and its Apple app; transfer.Directory (and
// its cache) is one.
type Directory interface {
	Lookup(ctx context.Context, keys transfer.LookupKeys) (transfer.Lookup, error)
}

// Receiver is the endpoint's whole logic.
type Receiver struct {
	verifier  Verifier
	directory Directory
	store     Store
	now       func() time.Time
}

// NewReceiver wires the rules to their ports.
func NewReceiver(v Verifier, d Directory, s Store) *Receiver {
	return &Receiver{verifier: v, directory: d, store: s, now: time.Now}
}

// Receive verifies, records and applies one signedPayload for a publisher.
// The checks run in the documented order: the signature first, so nothing
// unverified costs a read; then the publisher and its app. A refusal is a
// *transfer.Error with an APL code and writes nothing. A nil error means the
// notification is durable (applied, or recorded as a duplicate's original).
func (r *Receiver) Receive(ctx context.Context, publisher transfer.PublisherID, signedPayload string) (Outcome, error) {
	n, err := r.verifier.VerifyNotification(ctx, signedPayload)
	if err != nil {
		slog.InfoContext(ctx, "apple notification refused", "publisherId", publisher, "error", err)
		return "", transfer.Refuse(transfer.CodeAppleUnverified, "The signedPayload does not verify.")
	}
	app, err := r.app(ctx, publisher)
	if err != nil {
		return "", err
	}
	if err := appCheck(app).Check(n); err != nil {
		slog.InfoContext(ctx, "apple notification for another app", "publisherId", publisher, "error", err)
		return "", transfer.Refuse(transfer.CodeAppleWrongApp, "The notification is not for this publisher's app.")
	}
	out, err := r.apply(ctx, publisher, *app, n)
	if err != nil {
		return "", transfer.Internal(transfer.CodeStorageFailure, err)
	}
	slog.InfoContext(ctx, "apple notification received", "publisherId", publisher,
		"notificationUUID", n.Payload.NotificationUUID, "type", n.Payload.NotificationType,
		"subtype", n.Payload.Subtype, "outcome", out)
	return out, nil
}

func (r *Receiver) app(ctx context.Context, publisher transfer.PublisherID) (*transfer.AppleApp, error) {
	unknown := transfer.Refuse(transfer.CodeAppleUnknownPublisher, "No publisher with an Apple app has this id.")
	if publisher <= 0 {
		return nil, unknown
	}
	look, err := r.directory.Lookup(ctx, transfer.LookupKeys{Publisher: publisher})
	if err != nil {
		return nil, transfer.Internal(transfer.CodeStorageFailure, fmt.Errorf("look up publisher: %w", err))
	}
	if look.Publisher == nil || look.Publisher.Apple == nil {
		return nil, unknown
	}
	return look.Publisher.Apple, nil
}

func appCheck(a *transfer.AppleApp) apple.App {
	return apple.App{BundleID: a.BundleID, AppAppleID: a.AppAppleID, Environments: a.Environments}
}

// apply records n and applies its effect, re-reading the purchase while a
// concurrent writer keeps changing it.
func (r *Receiver) apply(ctx context.Context, publisher transfer.PublisherID, app transfer.AppleApp, n apple.Notification) (Outcome, error) {
	rec := newRecord(publisher, n, r.now().UTC())
	if n.Transaction == nil {
		rec.Outcome = OutcomeRecorded
		return r.record(ctx, rec, nil)
	}
	for range staleRetries {
		before, err := r.store.Purchase(ctx, publisher, n.Transaction.OriginalTransactionID)
		if err != nil {
			return "", fmt.Errorf("read purchase: %w", err)
		}
		change, outcome := Apply(before, n, app, rec.ReceivedAt)
		if change != nil {
			change.After.PublisherID = publisher
		}
		rec.Outcome = outcome
		out, err := r.record(ctx, rec, change)
		switch {
		case errors.Is(err, transfer.ErrStale):
			continue
		case errors.Is(err, ErrForeignTransaction):
			slog.ErrorContext(ctx, "apple notification names a transactionId of another chain; recorded, not applied",
				"publisherId", publisher, "notificationUUID", rec.NotificationUUID, "transactionId", rec.TransactionID)
			rec.Outcome = OutcomeConflict
			return r.record(ctx, rec, nil)
		}
		return out, err
	}
	return "", errors.New("purchase kept changing while applying the notification")
}

func (r *Receiver) record(ctx context.Context, rec Record, change *Change) (Outcome, error) {
	err := r.store.Record(ctx, rec, change)
	if errors.Is(err, ErrDuplicate) {
		return OutcomeDuplicate, nil
	}
	if err != nil {
		return "", err
	}
	return rec.Outcome, nil
}

func newRecord(publisher transfer.PublisherID, n apple.Notification, now time.Time) Record {
	p := n.Payload
	rec := Record{
		PublisherID:      publisher,
		NotificationUUID: p.NotificationUUID,
		Type:             p.NotificationType,
		Subtype:          p.Subtype,
		SignedAt:         time.UnixMilli(p.SignedDate).UTC(),
		ReceivedAt:       now,
	}
	switch {
	case p.Data != nil:
		rec.Environment = p.Data.Environment
	case p.Summary != nil:
		rec.Environment = p.Summary.Environment
	}
	if t := n.Transaction; t != nil {
		rec.TransactionID = t.TransactionID
		rec.OriginalTransactionID = t.OriginalTransactionID
	}
	return rec
}

package appstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The live check (transfer.AppleCheck): before a transfer of a publisher with
// verifyWithApple is decided, the chain's state is asked of the App Store
// Server API (Get All Subscription Statuses for a subscription, Get
// Transaction Info otherwise) and applied to the stored purchase by the
// rules of a notification (Current), recorded like one. The processor then
// reads the purchase again and decides on what Apple said a moment ago.

// TypeLiveCheck is the type of the record a live check leaves when it
// changed a purchase; Apple never sends it.
const TypeLiveCheck = "LIVE_CHECK"

// DefaultLiveCheckDeadline bounds one live check, retries included: well
// inside the processor's timeout, so that an Apple that does not answer makes
// the job retried (status retrying) rather than the function time out.
const DefaultLiveCheckDeadline = 10 * time.Second

// Clients gives the API client of a publisher's app in an environment;
// *appstoreapi.Clients is one.
type Clients interface {
	Client(ctx context.Context, publisher transfer.PublisherID, app transfer.AppleApp, environment string) (*appstoreapi.Client, error)
}

// LiveCheck asks Apple about a purchase and stores what it says.
type LiveCheck struct {
	directory Directory
	store     Store
	clients   Clients
	deadline  time.Duration
	now       func() time.Time
}

// NewLiveCheck wires the live check to the publishers' directory, the
// notifications' store and the API clients.
func NewLiveCheck(d Directory, s Store, c Clients) *LiveCheck {
	return &LiveCheck{directory: d, store: s, clients: c, deadline: DefaultLiveCheckDeadline, now: time.Now}
}

// Refresh implements transfer.AppleCheck.
func (l *LiveCheck) Refresh(ctx context.Context, p transfer.Purchase) (bool, error) {
	look, err := l.directory.Lookup(ctx, transfer.LookupKeys{Publisher: p.PublisherID})
	if err != nil {
		return false, fmt.Errorf("look up publisher %d: %w", p.PublisherID, err)
	}
	if look.Publisher == nil || look.Publisher.Apple == nil {
		return false, fmt.Errorf("publisher %d has no Apple app to ask about", p.PublisherID)
	}
	app := *look.Publisher.Apple
	ctx, cancel := context.WithTimeout(ctx, l.deadline)
	defer cancel()
	n, err := l.ask(ctx, p, app)
	if err != nil {
		return false, err
	}
	if err := appCheck(&app).Check(n); err != nil {
		return false, fmt.Errorf("the answer of Apple about chain %s: %w", p.OriginalTransactionID, err)
	}
	return l.apply(ctx, p, app, n)
}

// ask asks Apple in each environment the app accepts, Production first, as
// Apple advises: a transaction it does not know there may be a Sandbox one.
func (l *LiveCheck) ask(ctx context.Context, p transfer.Purchase, app transfer.AppleApp) (apple.Notification, error) {
	var tried []string
	for _, env := range []string{apple.EnvironmentProduction, apple.EnvironmentSandbox} {
		if !app.Accepts(env) {
			continue
		}
		tried = append(tried, env)
		client, err := l.clients.Client(ctx, p.PublisherID, app, env)
		if err != nil {
			return apple.Notification{}, err
		}
		n, err := askOne(ctx, client, p, app)
		if errors.Is(err, appstoreapi.ErrNotFound) {
			continue
		}
		return n, err
	}
	return apple.Notification{}, fmt.Errorf("the App Store Server API (%v) knows no chain %s: %w", tried, p.OriginalTransactionID, appstoreapi.ErrNotFound)
}

// askOne asks one environment, and shapes the answer as a notification
// with no type, so that the notification rules (Current) and the app check
// apply to it unchanged.
func askOne(ctx context.Context, c *appstoreapi.Client, p transfer.Purchase, app transfer.AppleApp) (apple.Notification, error) {
	id := askedTransaction(p)
	if !subscription(p) {
		t, err := c.TransactionInfo(ctx, id)
		if err != nil {
			return apple.Notification{}, err
		}
		if t.OriginalTransactionID != p.OriginalTransactionID {
			return apple.Notification{}, fmt.Errorf("%w: Get Transaction Info of %s answered chain %s, not %s", apple.ErrUnverified, id, t.OriginalTransactionID, p.OriginalTransactionID)
		}
		return apple.Notification{
			Payload:     apple.NotificationPayload{SignedDate: t.SignedDate, Data: &apple.NotificationData{BundleID: t.BundleID, Environment: t.Environment, AppAppleID: app.AppAppleID}},
			Transaction: &t,
		}, nil
	}
	st, err := c.SubscriptionStatuses(ctx, id)
	if err != nil {
		return apple.Notification{}, err
	}
	for _, s := range st.Subscriptions {
		if s.OriginalTransactionID != p.OriginalTransactionID {
			continue
		}
		t, r := s.Transaction, s.Renewal
		return apple.Notification{
			Payload: apple.NotificationPayload{SignedDate: t.SignedDate,
				Data: &apple.NotificationData{BundleID: st.BundleID, Environment: st.Environment, AppAppleID: st.AppAppleID, Status: s.Status}},
			Transaction: &t,
			Renewal:     &r,
		}, nil
	}
	return apple.Notification{}, fmt.Errorf("the subscription statuses of %s list no such chain: %w", p.OriginalTransactionID, appstoreapi.ErrNotFound)
}

// askedTransaction is the transactionId Apple is asked about: the chain's
// latest known, which Apple knows whatever it made the original one of an
// imported chain.
func askedTransaction(p transfer.Purchase) string {
	if n := len(p.TransactionIDs); n > 0 {
		return p.TransactionIDs[n-1]
	}
	return p.OriginalTransactionID
}

// subscription tells which endpoint knows the purchase's state: an imported
// purchase of no known kind that expires is taken for a subscription.
func subscription(p transfer.Purchase) bool {
	return p.Kind == transfer.KindAutoRenewable || p.Kind == "" && !p.ExpiresAt.IsZero()
}

// apply applies Apple's answer to the purchase first read as p, reading it
// again while a concurrent writer changes it; it tells whether the stored
// purchase changed.
func (l *LiveCheck) apply(ctx context.Context, p transfer.Purchase, app transfer.AppleApp, n apple.Notification) (bool, error) {
	before := &p
	for range staleRetries {
		change, outcome := Current(before, n, app, l.now().UTC())
		if change == nil {
			// Apple agrees with what is stored (or said it before): nothing
			// to write, and the purchase read stands.
			return before != &p, nil
		}
		change.After.PublisherID = p.PublisherID
		rec := liveRecord(p, n, outcome, l.now().UTC())
		err := l.store.Record(ctx, rec, change)
		switch {
		case err == nil:
			slog.InfoContext(ctx, "live check: Apple's state applied", "publisherId", p.PublisherID,
				"originalTransactionId", p.OriginalTransactionID, "state", change.After.State, "expiresAt", change.After.ExpiresAt)
			return true, nil
		case errors.Is(err, ErrDuplicate):
			// An earlier delivery applied this very answer.
			return true, nil
		case errors.Is(err, transfer.ErrStale):
			if before, err = l.store.Purchase(ctx, p.PublisherID, p.OriginalTransactionID); err != nil {
				return false, fmt.Errorf("read purchase: %w", err)
			}
			if before == nil {
				return false, fmt.Errorf("purchase %s disappeared during the live check", p.OriginalTransactionID)
			}
			continue
		case errors.Is(err, ErrForeignTransaction):
			return false, fmt.Errorf("transaction %s of chain %s, as Apple says, belongs to another chain here: %w", n.Transaction.TransactionID, p.OriginalTransactionID, err)
		default:
			return false, fmt.Errorf("store Apple's state: %w", err)
		}
	}
	return false, errors.New("purchase kept changing while applying Apple's state")
}

// liveRecord is the audit record of a live check that changed a purchase.
// Its id is derived from what Apple signed, so that a redelivery applying
// the same answer is a duplicate.
func liveRecord(p transfer.Purchase, n apple.Notification, outcome Outcome, now time.Time) Record {
	return Record{
		PublisherID:           p.PublisherID,
		NotificationUUID:      "live-" + p.OriginalTransactionID + "-" + strconv.FormatInt(n.Payload.SignedDate, 10),
		Type:                  TypeLiveCheck,
		Environment:           n.Payload.Data.Environment,
		SignedAt:              time.UnixMilli(n.Payload.SignedDate).UTC(),
		TransactionID:         n.Transaction.TransactionID,
		OriginalTransactionID: p.OriginalTransactionID,
		Outcome:               outcome,
		ReceivedAt:            now,
	}
}

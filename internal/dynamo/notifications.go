package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// NotificationStore records App Store notifications and applies them to
// purchases (appstore.Store).
type NotificationStore struct {
	*Table
	retention time.Duration
}

// NewNotificationStore is the NotificationStore on t; records live for
// retention (appstore.DefaultRetention when zero).
func NewNotificationStore(t *Table, retention time.Duration) *NotificationStore {
	if retention <= 0 {
		retention = appstore.DefaultRetention
	}
	return &NotificationStore{Table: t, retention: retention}
}

type notificationItem struct {
	key
	PublisherID           int64     `dynamodbav:"publisherId"`
	NotificationUUID      string    `dynamodbav:"notificationUUID"`
	Type                  string    `dynamodbav:"notificationType"`
	Subtype               string    `dynamodbav:"subtype,omitempty"`
	Environment           string    `dynamodbav:"environment,omitempty"`
	SignedAt              int64     `dynamodbav:"signedDate"` // Unix ms, as Apple sends it
	TransactionID         string    `dynamodbav:"transactionId,omitempty"`
	OriginalTransactionID string    `dynamodbav:"originalTransactionId,omitempty"`
	Outcome               string    `dynamodbav:"outcome"`
	ReceivedAt            time.Time `dynamodbav:"receivedAt"`
	TTL                   int64     `dynamodbav:"ttl"`
}

// Purchase reads a chain by its originalTransactionId, strongly consistent.
func (s *NotificationStore) Purchase(ctx context.Context, p transfer.PublisherID, otx string) (*transfer.Purchase, error) {
	return s.purchase(ctx, p, otx)
}

// Record writes the record and the change in one transaction: the record only
// if its notificationUUID is new, the purchase only if it is still the
// version read (or, created, still absent), the new transactionId's mapping
// only if it is new or already names this chain.
func (s *NotificationStore) Record(ctx context.Context, rec appstore.Record, change *appstore.Change) error {
	items := make([]types.TransactWriteItem, 0, 3)
	recordItem, err := s.put(notificationItem{
		key:                   notificationKey(rec.PublisherID, rec.NotificationUUID),
		PublisherID:           int64(rec.PublisherID),
		NotificationUUID:      rec.NotificationUUID,
		Type:                  rec.Type,
		Subtype:               rec.Subtype,
		Environment:           rec.Environment,
		SignedAt:              rec.SignedAt.UnixMilli(),
		TransactionID:         rec.TransactionID,
		OriginalTransactionID: rec.OriginalTransactionID,
		Outcome:               string(rec.Outcome),
		ReceivedAt:            rec.ReceivedAt,
		TTL:                   rec.ReceivedAt.Add(s.retention).Unix(),
	}, expression.AttributeNotExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	items = append(items, recordItem)
	if change != nil {
		purchase, err := s.putPurchase(change)
		if err != nil {
			return err
		}
		items = append(items, purchase)
		if tx := change.NewTransactionID; tx != "" && tx != change.After.OriginalTransactionID {
			otx := change.After.OriginalTransactionID
			mapping, err := s.put(transactionItem{key: transactionKey(rec.PublisherID, tx), OriginalTransactionID: otx},
				expression.Or(expression.AttributeNotExists(expression.Name(attrPK)),
					expression.Name("originalTransactionId").Equal(expression.Value(otx))))
			if err != nil {
				return err
			}
			items = append(items, mapping)
		}
	}
	reasons, err := s.transact(ctx, items)
	switch {
	case failedCheck(reasons, 0):
		// Checked first: a redelivery is a duplicate whatever else changed.
		return appstore.ErrDuplicate
	case failedCheck(reasons, 1):
		return transfer.ErrStale
	case failedCheck(reasons, 2):
		return appstore.ErrForeignTransaction
	}
	return err
}

func (s *NotificationStore) putPurchase(c *appstore.Change) (types.TransactWriteItem, error) {
	item := newPurchaseItem(c.After, s.now().UTC())
	if c.Before == nil {
		return s.put(item, expression.AttributeNotExists(expression.Name(attrPK)))
	}
	// The whole item is written, owner included as read: the version
	// condition makes that safe against a transfer committing in between.
	return s.put(item, expression.Name("version").Equal(expression.Value(c.Before.Version)))
}

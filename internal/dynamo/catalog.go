package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// The catalog is what operators manage: publishers, their tokens, customers
// and purchases. These writes are not on the request path.

// PutPublisher creates or replaces a publisher's settings.
func (s *Store) PutPublisher(ctx context.Context, p transfer.Publisher) error {
	return s.putItem(ctx, publisherItem{
		key:                 publisherKey(p.ID),
		PublisherID:         int64(p.ID),
		Name:                p.Name,
		StoreKit2Active:     p.StoreKit2Active,
		MigrationInProgress: p.MigrationInProgress,
		CreatedAt:           s.now().UTC(),
	})
}

// PutToken stores a publisher token by its hash; the token itself is never stored.
func (s *Store) PutToken(ctx context.Context, p transfer.PublisherID, hash, label string) error {
	return s.putItem(ctx, tokenItem{
		key:         tokenKey(p, hash),
		PublisherID: int64(p),
		TokenHash:   hash,
		Label:       label,
		CreatedAt:   s.now().UTC(),
	})
}

// RevokeToken makes a token unusable from now on (within the API's
// credential cache TTL).
func (s *Store) RevokeToken(ctx context.Context, p transfer.PublisherID, hash string) error {
	err := s.updateIf(ctx, tokenKey(p, hash),
		expression.Set(expression.Name("revokedAt"), expression.Value(s.now().UTC())),
		expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// PutCustomers creates customers of a publisher.
func (s *Store) PutCustomers(ctx context.Context, p transfer.PublisherID, ids ...transfer.CustomerID) error {
	items := make([]any, len(ids))
	for i, id := range ids {
		items[i] = customerItem{key: customerKey(p, id), PublisherID: int64(p), CustomerID: int64(id)}
	}
	return s.batchPut(ctx, items)
}

// PutPurchase creates or replaces a purchase chain and maps each of its
// transactionIds to it, except its originalTransactionId: the purchase item
// itself is keyed by that one.
func (s *Store) PutPurchase(ctx context.Context, p transfer.Purchase) error {
	items := []any{newPurchaseItem(p, s.now().UTC())}
	for _, tx := range p.TransactionIDs {
		if tx != p.OriginalTransactionID {
			items = append(items, transactionItem{key: transactionKey(p.PublisherID, tx), OriginalTransactionID: p.OriginalTransactionID})
		}
	}
	return s.batchPut(ctx, items)
}

func (s *Store) putItem(ctx context.Context, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("encode item: %w", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: av}); err != nil {
		return fmt.Errorf("put item: %w", err)
	}
	return nil
}

// batchWriteSize is DynamoDB's limit of items per BatchWriteItem.
const batchWriteSize = 25

// batchPut writes items in batches, retrying unprocessed items with backoff.
func (s *Store) batchPut(ctx context.Context, items []any) error {
	for start := 0; start < len(items); start += batchWriteSize {
		chunk := items[start:min(start+batchWriteSize, len(items))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, item := range chunk {
			av, err := attributevalue.MarshalMap(item)
			if err != nil {
				return fmt.Errorf("encode item: %w", err)
			}
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: av}}
		}
		if err := s.batchWrite(ctx, reqs); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{s.table: reqs}
	for attempt := 0; len(pending[s.table]) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return errors.New("batch write: items still unprocessed after retries")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(25*time.Millisecond) << min(attempt, 6)))):
			}
		}
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		pending = out.UnprocessedItems
	}
	return nil
}

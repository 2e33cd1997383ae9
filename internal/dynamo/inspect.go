package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Reads for operators and tests: strongly consistent, off the request path.

// Customer is a stored customer.
type Customer struct {
	PublisherID    transfer.PublisherID `json:"publisherId"`
	ID             transfer.CustomerID  `json:"cleengCustomerId"`
	LastIPAddress  string               `json:"lastIpAddress,omitempty"`
	LastActivityAt *time.Time           `json:"lastActivityAt,omitempty"`
}

// Customer reads a customer; nil when unknown.
func (s *Store) Customer(ctx context.Context, p transfer.PublisherID, id transfer.CustomerID) (*Customer, error) {
	var item customerItem
	ok, err := s.getItem(ctx, customerKey(p, id), &item)
	if err != nil || !ok {
		return nil, err
	}
	return &Customer{PublisherID: p, ID: id, LastIPAddress: item.LastIPAddress, LastActivityAt: item.LastActivityAt}, nil
}

// PurchaseByTransaction reads the purchase a transactionId belongs to; nil
// when no purchase of the publisher has it. Its mapping and a purchase keyed
// by it (an originalTransactionId) are read together; a second read follows
// only when a mapping names another chain.
func (s *Store) PurchaseByTransaction(ctx context.Context, p transfer.PublisherID, tx string) (*transfer.Purchase, error) {
	got, err := s.batchGet(ctx, chainKeys(p, tx), true)
	if err != nil {
		return nil, err
	}
	otx, item, err := chainOf(got, p, tx)
	switch {
	case err != nil || otx == "":
		return nil, err
	case item != nil:
		return item.purchase(), nil
	case otx == tx:
		return nil, nil
	}
	return s.Purchase(ctx, p, otx)
}

// Purchase reads a purchase by its originalTransactionId; nil when unknown.
func (s *Store) Purchase(ctx context.Context, p transfer.PublisherID, otx string) (*transfer.Purchase, error) {
	var item purchaseItem
	ok, err := s.getItem(ctx, purchaseKey(p, otx), &item)
	if err != nil || !ok {
		return nil, err
	}
	return item.purchase(), nil
}

// History lists the ownership changes of a purchase, oldest first.
func (s *Store) History(ctx context.Context, p transfer.PublisherID, otx string) ([]HistoryEntry, error) {
	var items []historyItem
	if err := s.queryPrefix(ctx, purchasePK(p, otx), prefixHistory, &items); err != nil {
		return nil, fmt.Errorf("query history: %w", err)
	}
	out := make([]HistoryEntry, len(items))
	for i, it := range items {
		out[i] = it.HistoryEntry
	}
	return out, nil
}

// queryPrefix reads every item of a partition whose sort key starts with
// prefix, strongly consistently, into out (a pointer to a slice of items).
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string, out any) error {
	cond := expression.Key(attrPK).Equal(expression.Value(pk)).And(expression.Key(attrSK).BeginsWith(prefix))
	e, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build expression: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    e.KeyCondition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	var all []map[string]types.AttributeValue
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		all = append(all, page.Items...)
	}
	return attributevalue.UnmarshalListOfMaps(all, out)
}

func (s *Store) getItem(ctx context.Context, k key, out any) (bool, error) {
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: k.av(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get %s: %w", k.PK, err)
	}
	if len(got.Item) == 0 {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(got.Item, out); err != nil {
		return false, fmt.Errorf("decode %s: %w", k.PK, err)
	}
	return true, nil
}

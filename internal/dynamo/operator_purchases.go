package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Customers and purchases, as transferctl imports and inspects them
// (OperatorStore); strongly consistent reads, off the request path.

// Customer is a stored customer.
type Customer struct {
	PublisherID    transfer.PublisherID `json:"publisherId"`
	ID             transfer.CustomerID  `json:"cleengCustomerId"`
	LastIPAddress  string               `json:"lastIpAddress,omitempty"`
	LastActivityAt *time.Time           `json:"lastActivityAt,omitempty"`
}

// Customer reads a customer; nil when unknown.
func (s *OperatorStore) Customer(ctx context.Context, p transfer.PublisherID, id transfer.CustomerID) (*Customer, error) {
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
func (s *OperatorStore) PurchaseByTransaction(ctx context.Context, p transfer.PublisherID, tx string) (*transfer.Purchase, error) {
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
	return s.purchase(ctx, p, otx)
}

// CustomerPurchases lists the purchases a customer owns now, from the byOwner
// index (eventually consistent: a transfer of the last second may be missing).
func (s *OperatorStore) CustomerPurchases(ctx context.Context, p transfer.PublisherID, c transfer.CustomerID) ([]transfer.Purchase, error) {
	cond := expression.Key(attrOwnerPK).Equal(expression.Value(customerPK(p, c)))
	e, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build expression: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexByOwner),
		KeyConditionExpression:    e.KeyCondition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var out []transfer.Purchase
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query purchases of customer: %w", err)
		}
		var items []purchaseItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("decode purchases: %w", err)
		}
		for _, it := range items {
			out = append(out, *it.purchase())
		}
	}
	return out, nil
}

// History lists the ownership changes of a purchase, oldest first.
func (s *OperatorStore) History(ctx context.Context, p transfer.PublisherID, otx string) ([]HistoryEntry, error) {
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

// PutCustomers creates customers of a publisher.
func (s *OperatorStore) PutCustomers(ctx context.Context, p transfer.PublisherID, ids ...transfer.CustomerID) error {
	items := make([]any, len(ids))
	for i, id := range ids {
		items[i] = customerItem{key: customerKey(p, id), PublisherID: int64(p), CustomerID: int64(id)}
	}
	return s.batchPut(ctx, items)
}

// PutPurchase creates or replaces a purchase chain and maps each of its
// transactionIds to it, except its originalTransactionId: the purchase item
// itself is keyed by that one.
func (s *OperatorStore) PutPurchase(ctx context.Context, p transfer.Purchase) error {
	items := []any{newPurchaseItem(p, s.now().UTC())}
	for _, tx := range p.TransactionIDs {
		if tx != p.OriginalTransactionID {
			items = append(items, transactionItem{key: transactionKey(p.PublisherID, tx), OriginalTransactionID: p.OriginalTransactionID})
		}
	}
	return s.batchPut(ctx, items)
}

// Purchase reads a purchase by its originalTransactionId; nil when unknown.
func (s *OperatorStore) Purchase(ctx context.Context, p transfer.PublisherID, otx string) (*transfer.Purchase, error) {
	return s.purchase(ctx, p, otx)
}

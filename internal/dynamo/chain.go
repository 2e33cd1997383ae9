package dynamo

import (
	"context"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Resolving a transactionId to its chain (its originalTransactionId) and
// reading a purchase: shared by the directory, the processor and operators.

// chainKeys are the two keys that can name a transactionId's chain: its
// transaction→chain mapping, and the purchase keyed by it when it is the
// chain's originalTransactionId (which has no mapping). They are always read
// in the same round trip.
func chainKeys(p transfer.PublisherID, tx string) []key {
	return []key{transactionKey(p, tx), purchaseKey(p, tx)}
}

// chainOf resolves tx from the items read at chainKeys: the mapping's chain
// if there is a mapping (also the old-style mapping of an
// originalTransactionId to itself), else tx itself if a purchase is keyed by
// it, else "" (unknown). purchase is the purchase item when it was among
// the items read, i.e. when the chain is tx itself.
func chainOf(got map[key]map[string]types.AttributeValue, p transfer.PublisherID, tx string) (otx string, purchase *purchaseItem, err error) {
	var mapping transactionItem
	mapped, err := unmarshalFound(got, transactionKey(p, tx), &mapping)
	if err != nil {
		return "", nil, err
	}
	if mapped && mapping.OriginalTransactionID != tx {
		return mapping.OriginalTransactionID, nil, nil
	}
	var item purchaseItem
	found, err := unmarshalFound(got, purchaseKey(p, tx), &item)
	switch {
	case err != nil:
		return "", nil, err
	case found:
		return tx, &item, nil
	case mapped:
		// An old-style mapping whose purchase is missing: an import cut short
		// before writing the purchase.
		return tx, nil, nil
	}
	return "", nil, nil
}

// purchase reads a purchase by its originalTransactionId; nil when unknown.
func (s *Table) purchase(ctx context.Context, p transfer.PublisherID, otx string) (*transfer.Purchase, error) {
	var item purchaseItem
	ok, err := s.getItem(ctx, purchaseKey(p, otx), &item)
	if err != nil || !ok {
		return nil, err
	}
	return item.purchase(), nil
}

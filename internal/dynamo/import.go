package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/acme/purchase-transfer/internal/catalog"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// InsertMissing stores the entries of an import that are not stored yet and
// leaves every existing item untouched (catalog.Importer explains why).
//
// BatchWriteItem has no conditions, so "only if absent" is decided by a
// strongly consistent read of every key just before the writes. Items of
// the service only come into existence through an import, so the one way a
// write could still overwrite something is two imports of the same purchase
// running at once, with a transfer of it completing in the milliseconds
// between one's read and its write; the README asks not to run the same
// file twice at the same time.
//
// Writes go in two rounds: customers and transactionId mappings first, the
// purchase last. A purchase is therefore only ever stored complete, and an
// import cut short is finished by running it again (a stored purchase means
// its mappings are stored too).
func (s *Store) InsertMissing(ctx context.Context, p transfer.PublisherID, entries []catalog.Entry) ([]catalog.Outcome, error) {
	var keys []key
	wanted := map[key]bool{}
	want := func(k key) {
		if !wanted[k] {
			wanted[k] = true
			keys = append(keys, k)
		}
	}
	for _, e := range entries {
		if e.Customer != 0 {
			want(customerKey(p, e.Customer))
		}
		if e.Purchase != nil {
			want(purchaseKey(p, e.Purchase.OriginalTransactionID))
			for _, tx := range e.Purchase.TransactionIDs {
				want(transactionKey(p, tx))
			}
		}
	}
	// stored are the keys that exist; chainOf is what a stored transactionId maps to.
	stored := map[key]bool{}
	chainOf := map[key]string{}
	for start := 0; start < len(keys); start += batchGetSize {
		got, err := s.batchGet(ctx, keys[start:min(start+batchGetSize, len(keys))], true)
		if err != nil {
			return nil, err
		}
		for k, item := range got {
			stored[k] = true
			if k.SK == skTransaction {
				var mapping transactionItem
				if err := attributevalue.UnmarshalMap(item, &mapping); err != nil {
					return nil, fmt.Errorf("decode %s: %w", k.PK, err)
				}
				chainOf[k] = mapping.OriginalTransactionID
			}
		}
	}

	now := s.now().UTC()
	out := make([]catalog.Outcome, len(entries))
	var first, last []any
	// queued guards against writing one key twice in a batch, which
	// BatchWriteItem refuses as a whole.
	queued := map[key]bool{}
	for i, e := range entries {
		if k := customerKey(p, e.Customer); e.Customer != 0 && !stored[k] && !queued[k] {
			queued[k] = true
			first = append(first, customerItem{key: k, PublisherID: int64(p), CustomerID: int64(e.Customer)})
			out[i].CustomerCreated = true
		}
		if e.Purchase == nil {
			continue
		}
		pur := *e.Purchase
		pur.PublisherID = p
		pk := purchaseKey(p, pur.OriginalTransactionID)
		if stored[pk] || queued[pk] {
			continue
		}
		var mappings []transactionItem
		for _, tx := range pur.TransactionIDs {
			k := transactionKey(p, tx)
			if stored[k] {
				if otx := chainOf[k]; otx != pur.OriginalTransactionID {
					out[i].Refused = fmt.Sprintf("transactionId %s already belongs to stored purchase %s", tx, otx)
					break
				}
				continue
			}
			if !queued[k] {
				mappings = append(mappings, transactionItem{key: k, OriginalTransactionID: pur.OriginalTransactionID})
			}
		}
		if out[i].Refused != "" {
			continue
		}
		for _, m := range mappings {
			queued[m.key] = true
			first = append(first, m)
		}
		queued[pk] = true
		last = append(last, newPurchaseItem(pur, now))
		out[i].PurchaseCreated = true
	}
	if err := s.batchPut(ctx, first); err != nil {
		return nil, err
	}
	if err := s.batchPut(ctx, last); err != nil {
		return nil, err
	}
	return out, nil
}

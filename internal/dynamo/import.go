package dynamo

import (
	"context"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The bulk import of customers and purchases (OperatorStore).

// InsertMissing stores the entries of an import that are not stored yet and
// leaves every existing item untouched (operator.Importer explains why).
//
// BatchWriteItem has no conditions, so "only if absent" is decided by a
// strongly consistent read of the keys just before the writes. Items of
// the service only come into existence through an import, so the one way a
// write could still overwrite something is two imports of the same purchase
// running at once, with a transfer of it completing in the milliseconds
// between one's read and its write; the README asks not to run the same
// file twice at the same time.
//
// The reads go in two rounds, so that what exists already costs one key:
// first the customers and the purchases themselves; then, only for the
// purchases that are missing, the keys that could make one conflict with a
// stored purchase of another chain: the mapping of its originalTransactionId
// (another chain's transactionId), and for each of its other transactionIds
// the mapping (another chain's) and the purchase keyed by it (another
// chain's originalTransactionId). A re-run of a file therefore reads about
// one key per line, and a new purchase no more than it must. Both rounds are
// BatchGetItems of up to 100 keys, as one round would be: a chunk of new
// purchases makes at most one request more than one round of all its keys.
//
// Writes go in two rounds too: customers and transactionId mappings first,
// the purchase last. A purchase's originalTransactionId gets no mapping (the
// purchase item is keyed by it). A purchase is therefore only ever stored
// complete, and an import cut short is finished by running it again (a
// stored purchase means its mappings are stored too).
func (s *OperatorStore) InsertMissing(ctx context.Context, p transfer.PublisherID, entries []operator.Entry) ([]operator.Outcome, error) {
	// stored holds the keys read and found, with their items.
	stored := map[key]map[string]types.AttributeValue{}
	read := func(keys []key) error {
		for start := 0; start < len(keys); start += batchGetSize {
			got, err := s.batchGet(ctx, keys[start:min(start+batchGetSize, len(keys))], true)
			if err != nil {
				return err
			}
			maps.Copy(stored, got)
		}
		return nil
	}
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
		}
	}
	if err := read(keys); err != nil {
		return nil, err
	}
	keys = keys[:0]
	for _, e := range entries {
		if e.Purchase == nil {
			continue
		}
		otx := e.Purchase.OriginalTransactionID
		if _, ok := stored[purchaseKey(p, otx)]; ok {
			continue
		}
		want(transactionKey(p, otx))
		for _, tx := range e.Purchase.TransactionIDs {
			if tx != otx {
				want(transactionKey(p, tx))
				want(purchaseKey(p, tx))
			}
		}
	}
	if err := read(keys); err != nil {
		return nil, err
	}
	// mappedTo is the chain a stored transactionId mapping names ("" if none).
	mappedTo := func(tx string) (string, error) {
		var mapping transactionItem
		_, err := unmarshalFound(stored, transactionKey(p, tx), &mapping)
		return mapping.OriginalTransactionID, err
	}

	now := s.now().UTC()
	out := make([]operator.Outcome, len(entries))
	var first, last []any
	// queued guards against writing one key twice in a batch, which
	// BatchWriteItem refuses as a whole.
	queued := map[key]bool{}
	for i, e := range entries {
		if k := customerKey(p, e.Customer); e.Customer != 0 && stored[k] == nil && !queued[k] {
			queued[k] = true
			first = append(first, customerItem{key: k, PublisherID: int64(p), CustomerID: int64(e.Customer)})
			out[i].CustomerCreated = true
		}
		if e.Purchase == nil {
			continue
		}
		pur := *e.Purchase
		pur.PublisherID = p
		otx := pur.OriginalTransactionID
		pk := purchaseKey(p, otx)
		if stored[pk] != nil || queued[pk] {
			continue
		}
		// The originalTransactionId must not be another chain's transactionId
		// (a mapping to itself is data written before mappings of
		// originalTransactionIds were left out).
		if other, err := mappedTo(otx); err != nil {
			return nil, err
		} else if other != "" && other != otx {
			out[i].Refused = fmt.Sprintf("originalTransactionId %s already belongs to stored purchase %s", otx, other)
			continue
		}
		var mappings []transactionItem
		for _, tx := range pur.TransactionIDs {
			if tx == otx {
				continue
			}
			if stored[purchaseKey(p, tx)] != nil {
				out[i].Refused = fmt.Sprintf("transactionId %s already belongs to stored purchase %s (its originalTransactionId)", tx, tx)
				break
			}
			k := transactionKey(p, tx)
			other, err := mappedTo(tx)
			if err != nil {
				return nil, err
			}
			if stored[k] != nil {
				if other != otx {
					out[i].Refused = fmt.Sprintf("transactionId %s already belongs to stored purchase %s", tx, other)
					break
				}
				continue
			}
			if !queued[k] {
				mappings = append(mappings, transactionItem{key: k, OriginalTransactionID: otx})
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

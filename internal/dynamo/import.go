package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The bulk import of customers and purchases (OperatorStore).

// ImportChunk stores the entries of an import that are not stored yet and,
// for purchases that are, writes only what operator.Reconcile decides: the
// first owner of an unowned purchase, and with update the line's Apple-side
// fields and the transactionIds the chain lacks. Customers that exist are
// never rewritten.
//
// BatchWriteItem has no conditions, so "only if absent" is decided by a
// strongly consistent read of the keys just before the writes. Items of
// the service only come into existence through an import (or, for
// purchases, an Apple notification that writes them conditionally), so the
// one way a write could still overwrite something is two imports of the same
// purchase running at once, with a transfer of it completing in the
// milliseconds between one's read and its write; the README asks not to run
// the same file twice at the same time. Changes to stored purchases are not
// batched: each is one conditional write on the version read (see
// reconcile), so they never overwrite a concurrent change.
//
// The reads go in two rounds, so that what exists already costs one key:
// first the customers and the purchases themselves; then, only for the
// purchases that are missing, the keys that could make one conflict with a
// stored purchase of another chain: the mapping of its originalTransactionId
// (another chain's transactionId), and for each of its other transactionIds
// the mapping (another chain's) and the purchase keyed by it (another
// chain's originalTransactionId). For a stored purchase the second round
// reads the same two keys of each transactionId an update adds to its chain,
// and the owner an assignment gives it when the first round did not read
// that customer. A re-run of a file therefore reads about one key per line,
// and a new purchase no more than it must. Both rounds are BatchGetItems of
// up to 100 keys, as one round would be.
//
// Writes go in rounds too: customers and transactionId mappings first, the
// new purchases next, the changes to stored purchases last. A purchase's
// originalTransactionId gets no mapping (the purchase item is keyed by it).
// A purchase is therefore only ever stored complete, a transactionId only
// joins a chain once its mapping is stored, and an import cut short is
// finished by running it again (a stored purchase means its mappings are
// stored too).
func (s *OperatorStore) ImportChunk(ctx context.Context, p transfer.PublisherID, entries []operator.Entry, update bool) ([]operator.Outcome, error) {
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
	// current is each stored purchase an entry names, as read.
	current := make([]*transfer.Purchase, len(entries))
	for i, e := range entries {
		if e.Purchase == nil {
			continue
		}
		otx := e.Purchase.OriginalTransactionID
		var item purchaseItem
		if ok, err := unmarshalFound(stored, purchaseKey(p, otx), &item); err != nil {
			return nil, err
		} else if ok {
			current[i] = item.purchase()
			rec := operator.Reconcile(*current[i], *e.Purchase, update)
			if rec.Assign {
				want(customerKey(p, rec.Next.Owner))
			}
			for _, tx := range rec.NewTransactionIDs {
				want(transactionKey(p, tx))
				want(purchaseKey(p, tx))
			}
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
	// queued guards against writing one key twice in a batch, which
	// BatchWriteItem refuses as a whole.
	queued := map[key]bool{}
	// mappingsOf checks that txs (transactionIds joining chain otx) belong to
	// no other chain, and returns the mappings still to write; refused says
	// why not.
	mappingsOf := func(otx string, txs []string) (mappings []transactionItem, refused string, err error) {
		for _, tx := range txs {
			if tx == otx {
				continue
			}
			if stored[purchaseKey(p, tx)] != nil {
				return nil, fmt.Sprintf("transactionId %s already belongs to stored purchase %s (its originalTransactionId)", tx, tx), nil
			}
			k := transactionKey(p, tx)
			other, err := mappedTo(tx)
			if err != nil {
				return nil, "", err
			}
			if stored[k] != nil {
				if other != otx {
					return nil, fmt.Sprintf("transactionId %s already belongs to stored purchase %s", tx, other), nil
				}
				continue
			}
			if !queued[k] {
				mappings = append(mappings, transactionItem{key: k, OriginalTransactionID: otx})
			}
		}
		return mappings, "", nil
	}

	now := s.now().UTC()
	out := make([]operator.Outcome, len(entries))
	var first, last []any
	// changes are the entries whose stored purchase a line changes.
	var changes []int
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
		if cur := current[i]; cur != nil {
			rec := operator.Reconcile(*cur, pur, update)
			if !rec.Changed() {
				continue
			}
			mappings, refused, err := mappingsOf(otx, rec.NewTransactionIDs)
			if err != nil {
				return nil, err
			}
			if refused != "" {
				out[i].Refused = refused
				continue
			}
			for _, m := range mappings {
				queued[m.key] = true
				first = append(first, m)
			}
			// The owner an assignment gives must exist. It is this line's
			// customer, created above when missing, unless an earlier line
			// named it (Customer is then 0); that line's chunk may not be
			// stored yet, so it is written here too (not counted again).
			if k := customerKey(p, rec.Next.Owner); rec.Assign && stored[k] == nil && !queued[k] {
				queued[k] = true
				first = append(first, customerItem{key: k, PublisherID: int64(p), CustomerID: int64(rec.Next.Owner)})
			}
			changes = append(changes, i)
			continue
		}
		if queued[pk] {
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
		mappings, refused, err := mappingsOf(otx, pur.TransactionIDs)
		if err != nil {
			return nil, err
		}
		if refused != "" {
			out[i].Refused = refused
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
	for _, i := range changes {
		line := *entries[i].Purchase
		line.PublisherID = p
		if err := s.reconcile(ctx, *current[i], line, update, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reconcileAttempts bounds the re-reads of a purchase that keeps changing
// (transfers, Apple notifications) between the read and the write.
const reconcileAttempts = 5

// reconcile writes what operator.Reconcile decides for a stored purchase,
// conditioned on the version read and bumping it: with an assignment, in
// one transaction with the check that the owner exists (AssignOwner's);
// else one UpdateItem. A purchase that changed meanwhile is read again and
// decided anew. Only the attributes a line may change are written.
func (s *OperatorStore) reconcile(ctx context.Context, cur, line transfer.Purchase, update bool, out *operator.Outcome) error {
	p, otx := line.PublisherID, line.OriginalTransactionID
	for attempt := 1; ; attempt++ {
		rec := operator.Reconcile(cur, line, update)
		if !rec.Changed() {
			return nil
		}
		var fields expression.UpdateBuilder
		if rec.Update {
			next := newPurchaseItem(rec.Next, s.now().UTC())
			fields = fields.
				Set(expression.Name("transactionIds"), expression.Value(next.TransactionIDs)).
				Set(expression.Name("state"), expression.Value(next.State)).
				Set(expression.Name("offerId"), expression.Value(next.OfferID)).
				Set(expression.Name("kind"), expression.Value(next.Kind))
			if next.ProductID != "" {
				fields = fields.Set(expression.Name("productId"), expression.Value(next.ProductID))
			} else {
				fields = fields.Remove(expression.Name("productId"))
			}
			if next.ExpiresAt != nil {
				fields = fields.Set(expression.Name("expiresAt"), expression.Value(*next.ExpiresAt))
			} else {
				fields = fields.Remove(expression.Name("expiresAt"))
			}
		}
		var err error
		if rec.Assign {
			var items []types.TransactWriteItem
			if items, err = s.assignItems(p, otx, cur.Version, rec.Next.Owner, fields); err != nil {
				return err
			}
			err = assignOutcome(s.transact(ctx, items))
		} else {
			fields = fields.
				Set(expression.Name("version"), expression.Value(cur.Version+1)).
				Set(expression.Name("updatedAt"), expression.Value(s.now().UTC()))
			err = s.updateIf(ctx, purchaseKey(p, otx), fields, expression.Name("version").Equal(expression.Value(cur.Version)))
			if errors.Is(err, errConditionFailed) {
				err = operator.ErrPurchaseChanged
			}
		}
		switch {
		case err == nil:
			out.PurchaseAssigned, out.PurchaseUpdated = rec.Assign, rec.Update
			return nil
		case errors.Is(err, operator.ErrCustomerNotFound):
			out.Refused = fmt.Sprintf("customer %d, the owner to assign, does not exist", rec.Next.Owner)
			return nil
		case errors.Is(err, operator.ErrPurchaseChanged) && attempt < reconcileAttempts:
			fresh, err := s.purchase(ctx, p, otx)
			if err != nil {
				return err
			}
			if fresh == nil {
				out.Refused = fmt.Sprintf("purchase %s disappeared while it was imported", otx)
				return nil
			}
			cur = *fresh
		case errors.Is(err, operator.ErrPurchaseChanged):
			out.Refused = fmt.Sprintf("purchase %s kept changing while it was imported; run the import again", otx)
			return nil
		default:
			return fmt.Errorf("update purchase %s: %w", otx, err)
		}
	}
}

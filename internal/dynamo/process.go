package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Processing a job: the consistent snapshot it is decided on, and the one
// transaction that applies the decision with its webhook event (WorkStore).

// Load reads the record of a job and what that record names (its
// transaction lock, and the purchase and chain lock of its chain) in one
// consistent BatchGetItem, with the job's hint standing in for the record
// it is read with. Only the stored record decides: when the hint is missing
// or names anything but the record's transactionId and chain (a message sent
// before jobs carried one, or a forged or stale one), what it prefetched is
// discarded and a second BatchGetItem reads what the record names. When the
// chain was unknown at accept time, both chainKeys are read instead: a
// purchase keyed by the transactionId is read right there, and one more
// read is needed only when a mapping names another chain. The Finalize
// transaction's conditions (record unfinished, locks owned, purchase
// version) are what make the decision safe, as they always were.
func (s *WorkStore) Load(ctx context.Context, job transfer.Job) (transfer.Snapshot, error) {
	p := job.PublisherID
	recordKey := syncKey(p, job.SynchronizationID)
	want := []key{recordKey}
	if tx, otx, ok := job.Hint(); ok {
		want = append(want, namedBy(p, tx, otx)...)
	}
	got, err := s.batchGet(ctx, want, true)
	if err != nil {
		return transfer.Snapshot{}, err
	}
	var snap transfer.Snapshot
	var rec syncItem
	if ok, err := unmarshalFound(got, recordKey, &rec); err != nil || !ok {
		return snap, err
	}
	sync := rec.synchronization()
	snap.Sync = &sync
	tx, otx := sync.TransactionID, sync.OriginalTransactionID
	named := namedBy(p, tx, otx)
	if !job.HintMatches(sync) {
		if got, err = s.batchGet(ctx, named, true); err != nil {
			return snap, err
		}
	}

	held := func(k key, l transfer.LockKey) error {
		var lock lockItem
		ok, err := unmarshalFound(got, k, &lock)
		if ok && lock.SynchronizationID == sync.ID {
			snap.HeldLocks = append(snap.HeldLocks, l)
		}
		return err
	}
	if err := held(named[0], transfer.LockKey{PublisherID: p, TransactionID: tx}); err != nil {
		return snap, err
	}

	var purchase purchaseItem
	if otx != "" {
		snap.OriginalTransactionID = otx
		if err := held(chainLockKey(p, otx), transfer.LockKey{PublisherID: p, OriginalTransactionID: otx}); err != nil {
			return snap, err
		}
		ok, err := unmarshalFound(got, purchaseKey(p, otx), &purchase)
		if err != nil {
			return snap, err
		}
		if ok {
			snap.Purchase = purchase.purchase()
		}
		return snap, nil
	}

	otx, item, err := chainOf(got, p, tx)
	if err != nil || otx == "" {
		return snap, err
	}
	snap.OriginalTransactionID = otx
	if otx == tx {
		// The purchase keyed by the transactionId was read above (nil if
		// missing): no second read.
		if item != nil {
			snap.Purchase = item.purchase()
		}
		return snap, nil
	}
	// A consistent BatchGetItem of one key, like every read of the
	// processor: its role needs no GetItem.
	got, err = s.batchGet(ctx, []key{purchaseKey(p, otx)}, true)
	if err != nil {
		return snap, err
	}
	ok, err := unmarshalFound(got, purchaseKey(p, otx), &purchase)
	if err != nil || !ok {
		return snap, err
	}
	snap.Purchase = purchase.purchase()
	return snap, nil
}

// namedBy are the keys a record of tx (and of chain otx, when it was known
// at accept time) names, the transaction lock first: the purchase and the
// chain lock, or both chainKeys when the chain is unknown.
func namedBy(p transfer.PublisherID, tx, otx string) []key {
	if otx != "" {
		return []key{transactionLockKey(p, tx), purchaseKey(p, otx), chainLockKey(p, otx)}
	}
	return append([]key{transactionLockKey(p, tx)}, chainKeys(p, tx)...)
}

// Finalize applies a decided result in one transaction: the record becomes
// finalized, the purchase changes owner (with its history entry and the
// target's activity) when it was transferred, the locks are released, the
// webhook event is recorded, and the synchronization is uncounted.
// The first item's condition makes a redelivered job a no-op.
func (s *WorkStore) Finalize(ctx context.Context, f transfer.Finalization) error {
	sync := f.Sync
	p := sync.PublisherID
	set := expression.Set(expression.Name("status"), expression.Value(string(sync.Status))).
		Set(expression.Name("result"), expression.Value(string(sync.Result))).
		Set(expression.Name("updatedAt"), expression.Value(sync.UpdatedAt)).
		Set(expression.Name("finalizedAt"), expression.Value(sync.FinalizedAt)).
		Remove(expression.Name(attrOpenShard)).
		Remove(expression.Name(attrOpenSince))
	if sync.OfferID != "" {
		set = set.Set(expression.Name("offerId"), expression.Value(sync.OfferID))
	}
	if sync.PreviousOwner != 0 {
		set = set.Set(expression.Name("previousCustomerId"), expression.Value(int64(sync.PreviousOwner)))
	}
	if sync.OriginalTransactionID != "" {
		set = set.Set(expression.Name("originalTransactionId"), expression.Value(sync.OriginalTransactionID))
	}
	record, err := s.update(syncKey(p, sync.ID), set, unfinished())
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{record}

	otx := sync.OriginalTransactionID
	versionIs := func(v int64) expression.ConditionBuilder {
		return expression.Name("version").Equal(expression.Value(v))
	}
	switch {
	case f.Change != nil:
		move := expression.Set(expression.Name("ownerCustomerId"), expression.Value(int64(f.Change.To))).
			Set(expression.Name(attrOwnerPK), expression.Value(customerPK(p, f.Change.To))).
			Set(expression.Name("version"), expression.Value(f.Change.FromVersion+1)).
			Set(expression.Name("updatedAt"), expression.Value(sync.UpdatedAt))
		purchase, err := s.update(purchaseKey(p, otx), move,
			versionIs(f.Change.FromVersion).And(expression.Name("ownerCustomerId").Equal(expression.Value(int64(f.Change.From)))))
		if err != nil {
			return err
		}
		at := sync.FinalizedAt.UTC()
		history, err := s.put(historyItem{
			key:         historyKey(p, otx, at.Format(historyTimeLayout), sync.ID),
			PublisherID: int64(p),
			HistoryEntry: HistoryEntry{OriginalTransactionID: otx, From: int64(f.Change.From), To: int64(f.Change.To),
				SynchronizationID: sync.ID, At: at},
		}, expression.AttributeNotExists(expression.Name(attrPK)))
		if err != nil {
			return err
		}
		items = append(items, purchase, history)
		if sync.IPAddress != "" {
			activity, err := s.update(customerKey(p, sync.Target),
				expression.Set(expression.Name("lastIpAddress"), expression.Value(sync.IPAddress)).
					Set(expression.Name("lastActivityAt"), expression.Value(at)),
				expression.AttributeExists(expression.Name(attrPK)))
			if err != nil {
				return err
			}
			items = append(items, activity)
		}
	case f.ReadVersion != nil:
		unchanged, err := s.check(purchaseKey(p, otx), versionIs(*f.ReadVersion))
		if err != nil {
			return err
		}
		items = append(items, unchanged)
	}
	for _, l := range f.ReleaseLocks {
		release, err := s.delete(lockKey(l), ownedBy(sync.ID))
		if err != nil {
			return err
		}
		items = append(items, release)
	}
	if f.EventID != "" {
		outbox, err := s.outboxEvent(f)
		if err != nil {
			return err
		}
		items = append(items, outbox)
	}
	// Only the delivery whose transaction finalizes the record uncounts it.
	uncount, err := s.uncount(sync)
	if err != nil {
		return err
	}
	items = append(items, uncount...)

	reasons, err := s.transact(ctx, items)
	if reasons == nil {
		return err
	}
	if aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
		return transfer.ErrAlreadyFinalized
	}
	for _, r := range reasons[1:] {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed", "TransactionConflict":
			return fmt.Errorf("%w: %w", transfer.ErrStale, err)
		}
	}
	return err
}

// unfinished guards writes that must not touch a finalized record.
func unfinished() expression.ConditionBuilder {
	return expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Name("status").NotEqual(expression.Value(string(transfer.StatusFinalized))))
}

// MarkRetrying shows a failed attempt on a record that is still unfinished.
func (s *WorkStore) MarkRetrying(ctx context.Context, job transfer.Job, attempts int, at time.Time) error {
	upd := expression.Set(expression.Name("status"), expression.Value(string(transfer.StatusRetrying))).
		Set(expression.Name("attempts"), expression.Value(attempts)).
		Set(expression.Name("updatedAt"), expression.Value(at))
	err := s.updateIf(ctx, syncKey(job.PublisherID, job.SynchronizationID), upd, unfinished())
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark retrying: %w", err)
	}
	return nil
}

// outboxEvent is the transactional outbox: the webhook event of a
// finalization, written in the finalizing transaction itself, so that there
// is no finalization without its event and no event without its
// finalization (package webhook delivers it from there). Unconditional: the
// record's condition already makes it once per synchronization, and it
// replaces a namesake left by an expired one.
func (s *WorkStore) outboxEvent(f transfer.Finalization) (types.TransactWriteItem, error) {
	event, err := attributevalue.MarshalMap(newEventItem(f, s.webhookRetention()))
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode event: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: event}}, nil
}

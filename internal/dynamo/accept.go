package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Accepting a transfer: the record, its locks, the target customer's check
// and its counts (counts.go), written in one transaction (AcceptStore).

// Open writes the record, the locks, the customer check and the counts in
// one transaction.
func (s *AcceptStore) Open(ctx context.Context, sync transfer.Synchronization, leaseUntil time.Time, limits transfer.Limits) error {
	now := s.now()
	record, err := s.put(newSyncItem(sync, s.retention), expression.AttributeNotExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	// A lock is free when absent or when its lease ran out: an orphan's lock
	// is taken over rather than blocking the purchase forever.
	free := expression.AttributeNotExists(expression.Name(attrPK)).
		Or(expression.Name("leaseUntil").LessThan(expression.Value(now.UnixMilli())))
	lock := func(k key) (types.TransactWriteItem, error) {
		return s.put(lockItem{key: k, SynchronizationID: sync.ID, LeaseUntil: leaseUntil.UnixMilli(),
			TTL: leaseUntil.Add(24 * time.Hour).Unix()}, free)
	}
	const (
		roleRecord = iota
		roleTxLock
		roleChainLock
		roleCustomer
		roleCustomerCount
		rolePublisherCount
	)
	roles := []int{roleRecord, roleTxLock}
	txLock, err := lock(transactionLockKey(sync.PublisherID, sync.TransactionID))
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{record, txLock}
	if sync.OriginalTransactionID != "" {
		chainLock, err := lock(chainLockKey(sync.PublisherID, sync.OriginalTransactionID))
		if err != nil {
			return err
		}
		items = append(items, chainLock)
		roles = append(roles, roleChainLock)
	}
	customer, err := s.check(customerKey(sync.PublisherID, sync.Target), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	items = append(items, customer)
	roles = append(roles, roleCustomer)
	if sync.Counted {
		keys := counters(sync)
		byCustomer, err := s.countUp(keys[0], limits.PerCustomer)
		if err != nil {
			return err
		}
		byPublisher, err := s.countUp(keys[1], shareOf(limits.PerPublisher))
		if err != nil {
			return err
		}
		items = append(items, byCustomer, byPublisher)
		roles = append(roles, roleCustomerCount, rolePublisherCount)
	}

	reasons, err := s.transact(ctx, items)
	if reasons == nil {
		return err
	}
	conflict := &transfer.OpenConflict{}
	for i, r := range reasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" {
			continue
		}
		switch roles[i] {
		case roleRecord:
			existing, err := s.existing(ctx, sync, r.Item)
			if err != nil {
				return err
			}
			conflict.Existing = existing
		case roleTxLock:
			conflict.TransactionLocked = true
		case roleChainLock:
			conflict.PurchaseLocked = true
		case roleCustomer:
			conflict.CustomerMissing = true
		case roleCustomerCount:
			conflict.CustomerAtLimit = true
		case rolePublisherCount:
			conflict.PublisherAtLimit = true
		}
	}
	if *conflict == (transfer.OpenConflict{}) {
		return err
	}
	return conflict
}

// existing decodes the record that stood in the way of Open, as returned with
// the cancellation, or reads it when the cancellation did not carry it.
func (s *AcceptStore) existing(ctx context.Context, sync transfer.Synchronization, item map[string]types.AttributeValue) (*transfer.Synchronization, error) {
	if len(item) == 0 {
		found, ok, err := s.Get(ctx, sync.PublisherID, sync.ID)
		if err != nil || !ok {
			return nil, err
		}
		return &found, nil
	}
	var rec syncItem
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		return nil, fmt.Errorf("decode synchronization: %w", err)
	}
	found := rec.synchronization()
	return &found, nil
}

// Abandon removes what Open wrote, and uncounts it, as long as it is still
// this attempt's.
func (s *AcceptStore) Abandon(ctx context.Context, sync transfer.Synchronization) error {
	record, err := s.delete(syncKey(sync.PublisherID, sync.ID),
		expression.Name("status").Equal(expression.Value(string(transfer.StatusProcessing))).
			And(expression.Name("requestHash").Equal(expression.Value(sync.RequestHash))))
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{record}
	for _, l := range ownLocks(sync) {
		del, err := s.delete(lockKey(l), ownedBy(sync.ID))
		if err != nil {
			return err
		}
		items = append(items, del)
	}
	// The record's condition makes this the one rollback of an Open.
	uncount, err := s.uncount(sync)
	if err != nil {
		return err
	}
	_, err = s.transact(ctx, append(items, uncount...))
	return err
}

// ownLocks are the locks Open took for a synchronization.
func ownLocks(sync transfer.Synchronization) []transfer.LockKey {
	locks := []transfer.LockKey{{PublisherID: sync.PublisherID, TransactionID: sync.TransactionID}}
	if sync.OriginalTransactionID != "" {
		locks = append(locks, transfer.LockKey{PublisherID: sync.PublisherID, OriginalTransactionID: sync.OriginalTransactionID})
	}
	return locks
}

func ownedBy(syncID string) expression.ConditionBuilder {
	return expression.Name("synchronizationId").Equal(expression.Value(syncID))
}

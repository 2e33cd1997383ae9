package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// API is the part of the DynamoDB client the adapter uses; *dynamodb.Client
// implements it, and tests may wrap it to inject faults.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DefaultRetention is how long a synchronization record is kept (DynamoDB
// TTL): its status can be polled and its Correlation-Id replayed until then.
const DefaultRetention = 30 * 24 * time.Hour

// conflictRetries bounds the retries of a transaction that collided with a
// concurrent one on the same item; such a collision decides nothing, so the
// transaction is tried again until its conditions give an answer.
const conflictRetries = 8

// Store implements the domain's Directory, SynchronizationStore and WorkStore.
type Store struct {
	db        API
	table     string
	now       func() time.Time
	retention time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRetention sets how long synchronization records live.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// New returns a Store on one table.
func New(db API, table string, opts ...Option) *Store {
	s := &Store{db: db, table: table, now: time.Now, retention: DefaultRetention}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

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

// Lookup reads the publisher, the token and the transaction's chain (both
// chainKeys) in one BatchGetItem. Eventually consistent reads suffice: these
// change rarely and are cached by the caller anyway.
func (s *Store) Lookup(ctx context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	want := []key{publisherKey(keys.Publisher)}
	if keys.TokenHash != "" {
		want = append(want, tokenKey(keys.Publisher, keys.TokenHash))
	}
	if keys.TransactionID != "" {
		want = append(want, chainKeys(keys.Publisher, keys.TransactionID)...)
	}
	got, err := s.batchGet(ctx, want, false)
	if err != nil {
		return transfer.Lookup{}, err
	}
	var out transfer.Lookup
	var pub publisherItem
	if ok, err := unmarshalFound(got, want[0], &pub); err != nil {
		return out, err
	} else if ok {
		out.Publisher = pub.publisher()
	}
	if keys.TokenHash != "" {
		var tok tokenItem
		ok, err := unmarshalFound(got, tokenKey(keys.Publisher, keys.TokenHash), &tok)
		if err != nil {
			return out, err
		}
		out.TokenValid = ok && tok.liveAt(s.now())
	}
	if keys.TransactionID != "" {
		otx, _, err := chainOf(got, keys.Publisher, keys.TransactionID)
		if err != nil {
			return out, err
		}
		out.OriginalTransactionID = otx
	}
	return out, nil
}

// Open writes the record, the locks and the customer check in one transaction.
func (s *Store) Open(ctx context.Context, sync transfer.Synchronization, leaseUntil time.Time) error {
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
		}
	}
	if *conflict == (transfer.OpenConflict{}) {
		return err
	}
	return conflict
}

// existing decodes the record that stood in the way of Open, as returned with
// the cancellation, or reads it when the cancellation did not carry it.
func (s *Store) existing(ctx context.Context, sync transfer.Synchronization, item map[string]types.AttributeValue) (*transfer.Synchronization, error) {
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

// Abandon removes what Open wrote, as long as it is still this attempt's.
func (s *Store) Abandon(ctx context.Context, sync transfer.Synchronization) error {
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
	_, err = s.transact(ctx, items)
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

// Get reads a synchronization strongly consistently, so that a client polling
// right after its 202 never sees a 404.
func (s *Store) Get(ctx context.Context, publisher transfer.PublisherID, id string) (transfer.Synchronization, bool, error) {
	var rec syncItem
	ok, err := s.getItem(ctx, syncKey(publisher, id), &rec)
	if err != nil || !ok {
		return transfer.Synchronization{}, false, err
	}
	return rec.synchronization(), true, nil
}

// Load reads the record, the locks and the purchase of a job in one
// consistent BatchGetItem. When the chain was unknown at accept time it reads
// both chainKeys instead: a purchase keyed by the transactionId is read right
// there, and a second read is needed only when a mapping names another chain.
func (s *Store) Load(ctx context.Context, job transfer.Job) (transfer.Snapshot, error) {
	p := job.PublisherID
	want := []key{syncKey(p, job.SynchronizationID), transactionLockKey(p, job.TransactionID)}
	if job.OriginalTransactionID != "" {
		want = append(want, purchaseKey(p, job.OriginalTransactionID), chainLockKey(p, job.OriginalTransactionID))
	} else {
		want = append(want, chainKeys(p, job.TransactionID)...)
	}
	got, err := s.batchGet(ctx, want, true)
	if err != nil {
		return transfer.Snapshot{}, err
	}
	var snap transfer.Snapshot
	var rec syncItem
	if ok, err := unmarshalFound(got, want[0], &rec); err != nil || !ok {
		return snap, err
	}
	sync := rec.synchronization()
	snap.Sync = &sync

	held := func(k key, l transfer.LockKey) error {
		var lock lockItem
		ok, err := unmarshalFound(got, k, &lock)
		if ok && lock.SynchronizationID == job.SynchronizationID {
			snap.HeldLocks = append(snap.HeldLocks, l)
		}
		return err
	}
	if err := held(want[1], transfer.LockKey{PublisherID: p, TransactionID: job.TransactionID}); err != nil {
		return snap, err
	}

	var purchase purchaseItem
	if job.OriginalTransactionID != "" {
		snap.OriginalTransactionID = job.OriginalTransactionID
		if err := held(chainLockKey(p, job.OriginalTransactionID), transfer.LockKey{PublisherID: p, OriginalTransactionID: job.OriginalTransactionID}); err != nil {
			return snap, err
		}
		ok, err := unmarshalFound(got, purchaseKey(p, job.OriginalTransactionID), &purchase)
		if err != nil {
			return snap, err
		}
		if ok {
			snap.Purchase = purchase.purchase()
		}
		return snap, nil
	}

	otx, item, err := chainOf(got, p, job.TransactionID)
	if err != nil || otx == "" {
		return snap, err
	}
	snap.OriginalTransactionID = otx
	if otx == job.TransactionID {
		// The purchase keyed by the transactionId was read above (nil if
		// missing): no second read.
		if item != nil {
			snap.Purchase = item.purchase()
		}
		return snap, nil
	}
	snap.Purchase, err = s.Purchase(ctx, p, otx)
	return snap, err
}

// Finalize applies a decided result in one transaction: the record becomes
// finalized, the purchase changes owner (with its history entry and the
// target's activity) when it was transferred, the locks are released, and
// the webhook event is recorded.
// The first item's condition makes a redelivered job a no-op.
func (s *Store) Finalize(ctx context.Context, f transfer.Finalization) error {
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
		// The webhook event, in the same transaction (see package webhook).
		// Unconditional: the record's condition already makes it once per
		// synchronization, and it replaces a namesake left by an expired one.
		event, err := attributevalue.MarshalMap(newEventItem(f, s.webhookRetention()))
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: event}})
	}

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
func (s *Store) MarkRetrying(ctx context.Context, job transfer.Job, attempts int, at time.Time) error {
	upd := expression.Set(expression.Name("status"), expression.Value(string(transfer.StatusRetrying))).
		Set(expression.Name("attempts"), expression.Value(attempts)).
		Set(expression.Name("updatedAt"), expression.Value(at))
	err := s.updateIf(ctx, syncKey(job.PublisherID, job.SynchronizationID), upd, unfinished())
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark retrying: %w", err)
	}
	return nil
}

// errConditionFailed is updateIf's answer when its condition does not hold.
var errConditionFailed = errors.New("condition does not hold")

// updateIf updates one item if cond holds, else answers errConditionFailed.
func (s *Store) updateIf(ctx context.Context, k key, upd expression.UpdateBuilder, cond expression.ConditionBuilder) error {
	e, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build expression: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       k.av(),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return errConditionFailed
	}
	return err
}

// transact runs a transaction, retrying it while it only collided with
// concurrent transactions. On a cancellation it returns the reasons, one per
// item, together with the error.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) ([]types.CancellationReason, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			return nil, fmt.Errorf("transact write: %w", err)
		}
		reasons := canceled.CancellationReasons
		if attempt >= conflictRetries || !onlyConflicts(reasons) {
			if len(reasons) != len(items) {
				return nil, fmt.Errorf("transact write: %d cancellation reasons for %d items: %w", len(reasons), len(items), err)
			}
			return reasons, fmt.Errorf("transact write: %w", err)
		}
		// Full jitter keeps colliding writers from colliding again in step.
		backoff := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(attempt, 4)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func onlyConflicts(reasons []types.CancellationReason) bool {
	conflict := false
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}

func (s *Store) put(item any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode item: %w", err)
	}
	e, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build expression: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                           &s.table,
		Item:                                av,
		ConditionExpression:                 e.Condition(),
		ExpressionAttributeNames:            e.Names(),
		ExpressionAttributeValues:           e.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

func (s *Store) update(k key, upd expression.UpdateBuilder, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build expression: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 &s.table,
		Key:                       k.av(),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}, nil
}

func (s *Store) delete(k key, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build expression: %w", err)
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName:                 &s.table,
		Key:                       k.av(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}, nil
}

func (s *Store) check(k key, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build expression: %w", err)
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 &s.table,
		Key:                       k.av(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}, nil
}

// batchGet reads keys of this table, retrying unprocessed keys with backoff.
func (s *Store) batchGet(ctx context.Context, keys []key, consistent bool) (map[key]map[string]types.AttributeValue, error) {
	req := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		req[i] = k.av()
	}
	pending := map[string]types.KeysAndAttributes{s.table: {Keys: req, ConsistentRead: aws.Bool(consistent)}}
	found := make(map[key]map[string]types.AttributeValue, len(keys))
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 5 {
				return nil, errors.New("batch get: keys still unprocessed after retries")
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(20*time.Millisecond) << attempt))):
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, fmt.Errorf("batch get: %w", err)
		}
		for _, item := range out.Responses[s.table] {
			var k key
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return nil, fmt.Errorf("decode key: %w", err)
			}
			found[k] = item
		}
		pending = out.UnprocessedKeys
	}
	return found, nil
}

// unmarshalFound decodes the item at k, if it was found.
func unmarshalFound(found map[key]map[string]types.AttributeValue, k key, out any) (bool, error) {
	item, ok := found[k]
	if !ok {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(item, out); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", k.PK, k.SK, err)
	}
	return true, nil
}

// Stale lists unfinished synchronizations whose openSince (opened, or last
// swept) is before the given time, reading the sparse openSyncs index shard by
// shard and then the records themselves.
func (s *Store) Stale(ctx context.Context, before time.Time, limit int) ([]transfer.Synchronization, error) {
	var keys []key
	if err := s.queryShards(ctx, shardedIndex{IndexOpenSyncs, attrOpenShard, "OPEN#", attrOpenSince}, before, limit, &keys); err != nil {
		return nil, fmt.Errorf("query open synchronizations: %w", err)
	}
	var stale []transfer.Synchronization
	for start := 0; start < len(keys); start += batchGetSize {
		got, err := s.batchGet(ctx, keys[start:min(start+batchGetSize, len(keys))], true)
		if err != nil {
			return nil, err
		}
		for _, item := range got {
			var rec syncItem
			if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
				return nil, fmt.Errorf("decode synchronization: %w", err)
			}
			// The index is eventually consistent: skip what was finalized since.
			if rec.OpenShard != "" {
				stale = append(stale, rec.synchronization())
			}
		}
	}
	return stale, nil
}

// shardedIndex is a sparse index whose partition key spreads its items over
// openShards shards (prefix + shardOf(id)) and whose sort key is a time.
type shardedIndex struct {
	name, shardAttr, shardPrefix, sinceAttr string
}

// queryShards reads, shard by shard, up to limit items of a sharded index
// whose time is before the given one, into out (a pointer to a slice).
func (s *Store) queryShards(ctx context.Context, ix shardedIndex, before time.Time, limit int, out any) error {
	var items []map[string]types.AttributeValue
	for shard := 0; shard < openShards && len(items) < limit; shard++ {
		cond := expression.Key(ix.shardAttr).Equal(expression.Value(ix.shardPrefix + strconv.Itoa(shard))).
			And(expression.Key(ix.sinceAttr).LessThan(expression.Value(before.UnixMilli())))
		e, err := expression.NewBuilder().WithKeyCondition(cond).Build()
		if err != nil {
			return fmt.Errorf("build expression: %w", err)
		}
		page, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 aws.String(ix.name),
			KeyConditionExpression:    e.KeyCondition(),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
			Limit:                     aws.Int32(int32(limit - len(items))),
		})
		if err != nil {
			return err
		}
		items = append(items, page.Items...)
	}
	if err := attributevalue.UnmarshalListOfMaps(items, out); err != nil {
		return fmt.Errorf("decode %s: %w", ix.name, err)
	}
	return nil
}

// batchGetSize is DynamoDB's limit of keys per BatchGetItem.
const batchGetSize = 100

// Requeued moves an unfinished synchronization to the back of the openSyncs
// index, restarting its grace period.
func (s *Store) Requeued(ctx context.Context, sync transfer.Synchronization, at time.Time) error {
	err := s.updateIf(ctx, syncKey(sync.PublisherID, sync.ID),
		expression.Set(expression.Name(attrOpenSince), expression.Value(at.UnixMilli())),
		expression.AttributeExists(expression.Name(attrOpenShard)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark requeued: %w", err)
	}
	return nil
}

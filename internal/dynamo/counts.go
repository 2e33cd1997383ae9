package dynamo

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// The counts of unfinished synchronizations that transfer.Limits bound
// (docs/contract.md §1.6, REQ0007): one counter item per target customer, in
// the customer's partition, and countShards per publisher, each in a
// partition of its own. A counted synchronization is added to its two
// counters by the transaction that opens it, under the bound, and taken off
// them by the one transaction that finalizes it (or by its rollback), so a
// count never leaks and never drops twice: no extra round trip, and no
// condition on the way down.

const (
	attrUnfinished = "unfinished"
	skUnfinished   = "UNFINISHED"
)

// countShards is how many counters hold a publisher's count. Every open and
// finalization of a publisher writes one of them inside a transaction, so
// one counter would serialize the publisher's transfers (a transaction
// conflicts with any other in flight on the same item) and cap them at
// about 250/s (1,000 WRU/s per partition, 2 WRU for each transactional
// write, one up and one down per transfer). With 16, about 4,000/s.
//
// Changing it strands the counts of synchronizations open at the time
// (their shards are derived, not stored): change it only while none is.
const countShards = openShards

func customerCountKey(p transfer.PublisherID, c transfer.CustomerID) key {
	return key{customerPK(p, c), skUnfinished}
}

func publisherCountKey(p transfer.PublisherID, shard int) key {
	return key{publisherPK(p) + "#UNFINISHED#" + strconv.Itoa(shard), skUnfinished}
}

// publisherShard is the counter a synchronization is counted in: derived
// from its id and its creation time to the nanosecond, which the record
// keeps, so that every path that uncounts it finds the same one; and which no
// client controls (a Correlation-Id alone could be chosen to pile a
// publisher's synchronizations onto one counter).
func publisherShard(s transfer.Synchronization) int {
	return shardOf(s.ID + "\x00" + strconv.FormatInt(s.CreatedAt.UnixNano(), 10))
}

// shareOf is the bound of each of a publisher's counters: its share of the
// publisher's limit, rounded up. A publisher is refused when the counter its
// new synchronization falls in is full, so with traffic spread evenly it is
// refused close to its limit, and never above limit + countShards - 1.
func shareOf(limit int) int { return (limit + countShards - 1) / countShards }

// counters are the keys a synchronization is counted under, customer first.
func counters(s transfer.Synchronization) [2]key {
	return [2]key{customerCountKey(s.PublisherID, s.Target), publisherCountKey(s.PublisherID, publisherShard(s))}
}

// countUp adds one to a counter, creating it, provided it stays within
// bound (no condition when bound is 0: unbounded).
func (t *Table) countUp(k key, bound int) (types.TransactWriteItem, error) {
	b := expression.NewBuilder().WithUpdate(expression.Add(expression.Name(attrUnfinished), expression.Value(1)))
	if bound > 0 {
		b = b.WithCondition(expression.AttributeNotExists(expression.Name(attrUnfinished)).
			Or(expression.Name(attrUnfinished).LessThan(expression.Value(bound))))
	}
	return t.counterUpdate(k, b)
}

// countDown takes one off a counter. Unconditional on purpose: it rides in
// the transactions that finalize or roll back a synchronization, which a
// failed condition here would block for good; that the synchronization is
// counted once is what their own conditions already ensure.
func (t *Table) countDown(k key) (types.TransactWriteItem, error) {
	return t.counterUpdate(k, expression.NewBuilder().WithUpdate(expression.Add(expression.Name(attrUnfinished), expression.Value(-1))))
}

func (t *Table) counterUpdate(k key, b expression.Builder) (types.TransactWriteItem, error) {
	e, err := b.Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build expression: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 &t.table,
		Key:                       k.av(),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}, nil
}

// uncount is the countDown of both counters of a counted synchronization,
// nothing for one that is not.
func (t *Table) uncount(s transfer.Synchronization) ([]types.TransactWriteItem, error) {
	if !s.Counted {
		return nil, nil
	}
	var items []types.TransactWriteItem
	for _, k := range counters(s) {
		down, err := t.countDown(k)
		if err != nil {
			return nil, err
		}
		items = append(items, down)
	}
	return items, nil
}

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// Finding unfinished synchronizations past their grace period (SweepStore).

// Stale lists unfinished synchronizations whose openSince (opened, or last
// swept) is before the given time, reading the sparse openSyncs index shard by
// shard and then the records themselves.
func (s *SweepStore) Stale(ctx context.Context, before time.Time, limit int) ([]transfer.Synchronization, error) {
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

// Requeued moves an unfinished synchronization to the back of the openSyncs
// index, restarting its grace period.
func (s *SweepStore) Requeued(ctx context.Context, sync transfer.Synchronization, at time.Time) error {
	err := s.updateIf(ctx, syncKey(sync.PublisherID, sync.ID),
		expression.Set(expression.Name(attrOpenSince), expression.Value(at.UnixMilli())),
		expression.AttributeExists(expression.Name(attrOpenShard)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark requeued: %w", err)
	}
	return nil
}

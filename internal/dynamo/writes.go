package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Unconditional writes, for operators' puts and the import: single items and
// batches with retries of unprocessed items.

func (s *Table) putItem(ctx context.Context, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("encode item: %w", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: av}); err != nil {
		return fmt.Errorf("put item: %w", err)
	}
	return nil
}

// batchWriteSize is DynamoDB's limit of items per BatchWriteItem.
const batchWriteSize = 25

// batchPut writes items in batches, retrying unprocessed items with backoff.
func (s *Table) batchPut(ctx context.Context, items []any) error {
	for start := 0; start < len(items); start += batchWriteSize {
		chunk := items[start:min(start+batchWriteSize, len(items))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, item := range chunk {
			av, err := attributevalue.MarshalMap(item)
			if err != nil {
				return fmt.Errorf("encode item: %w", err)
			}
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: av}}
		}
		if err := s.batchWrite(ctx, reqs); err != nil {
			return err
		}
	}
	return nil
}

func (s *Table) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{s.table: reqs}
	for attempt := 0; len(pending[s.table]) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return errors.New("batch write: items still unprocessed after retries")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(25*time.Millisecond) << min(attempt, 6)))):
			}
		}
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		pending = out.UnprocessedItems
	}
	return nil
}

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
)

// The read helpers every store uses: batched gets with retries of
// unprocessed keys, single gets, partition and sharded-index queries.

// batchGetSize is DynamoDB's limit of keys per BatchGetItem.
const batchGetSize = 100

// batchGet reads keys of this table, retrying unprocessed keys with backoff.
func (s *Table) batchGet(ctx context.Context, keys []key, consistent bool) (map[key]map[string]types.AttributeValue, error) {
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

func (s *Table) getItem(ctx context.Context, k key, out any) (bool, error) {
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: k.av(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get %s: %w", k.PK, err)
	}
	if len(got.Item) == 0 {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(got.Item, out); err != nil {
		return false, fmt.Errorf("decode %s: %w", k.PK, err)
	}
	return true, nil
}

// queryPrefix reads every item of a partition whose sort key starts with
// prefix, strongly consistently, into out (a pointer to a slice of items).
func (s *Table) queryPrefix(ctx context.Context, pk, prefix string, out any) error {
	cond := expression.Key(attrPK).Equal(expression.Value(pk)).And(expression.Key(attrSK).BeginsWith(prefix))
	e, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build expression: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    e.KeyCondition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	var all []map[string]types.AttributeValue
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		all = append(all, page.Items...)
	}
	return attributevalue.UnmarshalListOfMaps(all, out)
}

// shardedIndex is a sparse index whose partition key spreads its items over
// openShards shards (prefix + shardOf(id)) and whose sort key is a time.
type shardedIndex struct {
	name, shardAttr, shardPrefix, sinceAttr string
}

// queryShards reads, shard by shard, up to limit items of a sharded index
// whose time is before the given one, into out (a pointer to a slice).
func (s *Table) queryShards(ctx context.Context, ix shardedIndex, before time.Time, limit int, out any) error {
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

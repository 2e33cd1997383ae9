package bench

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// FakeDynamo is an in-memory table behind the adapter's dynamo.API. While
// seeding it stores what is written (PutItem, BatchWriteItem, the puts of a
// TransactWriteItems); once Frozen it stores nothing more and every write
// succeeds, so a benchmark can repeat one request forever on the same data
// with a flat heap. Conditions are never evaluated: the benchmarks measure
// the adapter's cost on the happy path, not DynamoDB's semantics.
type FakeDynamo struct {
	mu     sync.RWMutex
	items  map[itemKey]map[string]types.AttributeValue
	frozen atomic.Bool
}

type itemKey struct{ pk, sk string }

// NewFakeDynamo returns an empty table.
func NewFakeDynamo() *FakeDynamo {
	return &FakeDynamo{items: map[itemKey]map[string]types.AttributeValue{}}
}

// Freeze stops storing writes.
func (f *FakeDynamo) Freeze() { f.frozen.Store(true) }

func keyOf(item map[string]types.AttributeValue) itemKey {
	s := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	return itemKey{s("pk"), s("sk")}
}

func (f *FakeDynamo) store(item map[string]types.AttributeValue) {
	if f.frozen.Load() {
		return
	}
	f.mu.Lock()
	f.items[keyOf(item)] = item
	f.mu.Unlock()
}

// Item returns the stored item at key, to adjust seeded data.
func (f *FakeDynamo) Item(pk, sk string) map[string]types.AttributeValue {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.items[itemKey{pk, sk}]
}

// Find returns the first stored item whose sort key is sk and whose
// partition key satisfies match.
func (f *FakeDynamo) Find(sk string, match func(pk string) bool) map[string]types.AttributeValue {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for k, v := range f.items {
		if k.sk == sk && match(k.pk) {
			return v
		}
	}
	return nil
}

func (f *FakeDynamo) get(key map[string]types.AttributeValue) map[string]types.AttributeValue {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.items[keyOf(key)]
}

// GetItem implements dynamo.API.
func (f *FakeDynamo) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: f.get(in.Key)}, nil
}

// PutItem implements dynamo.API.
func (f *FakeDynamo) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.store(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

// UpdateItem implements dynamo.API; it changes nothing.
func (f *FakeDynamo) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, nil
}

// Query implements dynamo.API; it finds nothing.
func (f *FakeDynamo) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}

// BatchGetItem implements dynamo.API.
func (f *FakeDynamo) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		found := make([]map[string]types.AttributeValue, 0, len(ka.Keys))
		for _, k := range ka.Keys {
			if item := f.get(k); item != nil {
				found = append(found, item)
			}
		}
		out.Responses[table] = found
	}
	return out, nil
}

// BatchWriteItem implements dynamo.API.
func (f *FakeDynamo) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				f.store(r.PutRequest.Item)
			}
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

// TransactWriteItems implements dynamo.API: it stores the puts.
func (f *FakeDynamo) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil {
			f.store(it.Put.Item)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// FakeSQS accepts every message, as queue.API.
type FakeSQS struct{ sent atomic.Int64 }

// Sent is the number of messages sent so far.
func (q *FakeSQS) Sent() int64 { return q.sent.Load() }

// SendMessage implements queue.API, answering what SQS answers.
func (q *FakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	n := q.sent.Add(1)
	sum := md5.Sum([]byte(*in.MessageBody))
	md5hex, id := hex.EncodeToString(sum[:]), strconv.FormatInt(n, 10)
	return &sqs.SendMessageOutput{MD5OfMessageBody: &md5hex, MessageId: &id}, nil
}

// ReceiveMessage implements queue.API; there is never anything to receive.
func (q *FakeSQS) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return &sqs.ReceiveMessageOutput{}, nil
}

// DeleteMessageBatch implements queue.API.
func (q *FakeSQS) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return &sqs.DeleteMessageBatchOutput{}, nil
}

package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Webhook events, recorded by the processor's outbox, and their fan-out into
// deliveries (EventStore).

// Event reads a synchronization's event; nil when there is none.
func (s *EventStore) Event(ctx context.Context, k webhook.EventKey) (*webhook.Event, error) {
	var item eventItem
	ok, err := s.getItem(ctx, eventKey(k.PublisherID, k.SynchronizationID, webhook.TopicSyncResult), &item)
	if err != nil || !ok {
		return nil, err
	}
	ev := item.event()
	return &ev, nil
}

// OpenDeliveries creates the missing deliveries of an event (concurrently:
// a publisher has few endpoints) and returns the endpoints whose delivery
// was never attempted.
func (s *EventStore) OpenDeliveries(ctx context.Context, ev webhook.Event, endpointIDs []string, at time.Time) ([]string, error) {
	var (
		mu   sync.Mutex
		todo []string
		errs []error
		wg   sync.WaitGroup
	)
	for _, id := range endpointIDs {
		wg.Go(func() {
			fresh, err := s.openDelivery(ctx, ev, id, at)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if fresh {
				todo = append(todo, id)
			}
		})
	}
	wg.Wait()
	return todo, errors.Join(errs...)
}

// openDelivery creates one delivery, or tells whether the existing one was
// never attempted.
func (s *EventStore) openDelivery(ctx context.Context, ev webhook.Event, endpointID string, at time.Time) (bool, error) {
	item, err := attributevalue.MarshalMap(deliveryItem{
		key:               deliveryKey(ev.PublisherID, ev.SynchronizationID, endpointID),
		PublisherID:       int64(ev.PublisherID),
		SynchronizationID: ev.SynchronizationID,
		EndpointID:        endpointID,
		EventID:           ev.ID,
		State:             string(webhook.StatePending),
		CreatedAt:         at,
		UpdatedAt:         at,
		TTL:               ev.CreatedAt.Add(s.webhookRetention()).Unix(),
	})
	if err != nil {
		return false, fmt.Errorf("encode delivery: %w", err)
	}
	cond := "attribute_not_exists(pk)"
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                item,
		ConditionExpression:                 &cond,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) {
		var old deliveryItem
		if err := attributevalue.UnmarshalMap(exists.Item, &old); err != nil {
			return false, fmt.Errorf("decode delivery: %w", err)
		}
		return old.State == string(webhook.StatePending) && old.Attempts == 0 && old.LeaseUntil == 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("create delivery: %w", err)
	}
	return true, nil
}

// MarkDispatched takes the event out of the pendingEvents index.
func (s *EventStore) MarkDispatched(ctx context.Context, ev webhook.Event, at time.Time) error {
	err := s.updateIf(ctx, eventKey(ev.PublisherID, ev.SynchronizationID, ev.Topic),
		expression.Set(expression.Name("dispatchedAt"), expression.Value(at)).
			Remove(expression.Name(attrPendingShard)).
			Remove(expression.Name(attrPendingSince)),
		expression.AttributeExists(expression.Name(attrPK)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark dispatched: %w", err)
	}
	return nil
}

// PendingEvents lists events not dispatched since before, shard by shard,
// then reads them (one consistent BatchGetItem): the index is eventually
// consistent, and an event dispatched or re-dispatched a moment ago, still
// listed there, would cost a needless dispatch message; the read also gives
// when each event was recorded, which the index does not hold.
func (s *EventStore) PendingEvents(ctx context.Context, before time.Time, limit int) ([]webhook.PendingEvent, error) {
	var listed []eventItem
	if err := s.queryShards(ctx, shardedIndex{IndexPendingEvents, attrPendingShard, pendingShardPrefix, attrPendingSince}, before, limit, &listed); err != nil {
		return nil, fmt.Errorf("query pending events: %w", err)
	}
	var out []webhook.PendingEvent
	for start := 0; start < len(listed); start += batchGetSize {
		chunk := listed[start:min(start+batchGetSize, len(listed))]
		keys := make([]key, len(chunk))
		for i, it := range chunk {
			keys[i] = eventKey(transfer.PublisherID(it.PublisherID), it.SynchronizationID, webhook.TopicSyncResult)
		}
		got, err := s.batchGet(ctx, keys, true)
		if err != nil {
			return nil, fmt.Errorf("read pending events: %w", err)
		}
		for _, k := range keys {
			var ev eventItem
			if ok, err := unmarshalFound(got, k, &ev); err != nil {
				return nil, err
			} else if !ok || ev.PendingShard == "" || ev.PendingSince >= before.UnixMilli() {
				continue
			}
			out = append(out, webhook.PendingEvent{
				EventKey:  webhook.EventKey{PublisherID: transfer.PublisherID(ev.PublisherID), SynchronizationID: ev.SynchronizationID},
				CreatedAt: ev.CreatedAt,
			})
		}
	}
	return out, nil
}

// Redispatched moves a pending event in the index to since.
func (s *EventStore) Redispatched(ctx context.Context, k webhook.EventKey, since time.Time) error {
	err := s.updateIf(ctx, eventKey(k.PublisherID, k.SynchronizationID, webhook.TopicSyncResult),
		expression.Set(expression.Name(attrPendingSince), expression.Value(since.UnixMilli())),
		expression.AttributeExists(expression.Name(attrPendingShard)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark redispatched: %w", err)
	}
	return nil
}

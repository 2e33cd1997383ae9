package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The webhook path's items: endpoints in their publisher's partition; a
// synchronization's event and its deliveries (one per endpoint) in the
// synchronization's partition, so an operator reads them with it.

type endpointItem struct {
	key
	PublisherID    int64        `dynamodbav:"publisherId"`
	EndpointID     string       `dynamodbav:"endpointId"`
	URL            string       `dynamodbav:"url"`
	Topics         []string     `dynamodbav:"topics"`
	Enabled        bool         `dynamodbav:"enabled"`
	DisabledReason string       `dynamodbav:"disabledReason,omitempty"`
	Secrets        []secretItem `dynamodbav:"secrets"`
	CreatedAt      time.Time    `dynamodbav:"createdAt"`
	UpdatedAt      time.Time    `dynamodbav:"updatedAt"`
	Version        int64        `dynamodbav:"version"`
}

// secretItem holds a signing secret sealed (AES-256-GCM), never in clear.
type secretItem struct {
	Sealed    []byte     `dynamodbav:"sealed"`
	CreatedAt time.Time  `dynamodbav:"createdAt"`
	ExpiresAt *time.Time `dynamodbav:"expiresAt,omitempty"`
}

func newEndpointItem(e webhook.Endpoint) endpointItem {
	item := endpointItem{
		key:            endpointKey(e.PublisherID, e.ID),
		PublisherID:    int64(e.PublisherID),
		EndpointID:     e.ID,
		URL:            e.URL,
		Topics:         e.Topics,
		Enabled:        e.Enabled,
		DisabledReason: e.DisabledReason,
		CreatedAt:      e.CreatedAt,
		UpdatedAt:      e.UpdatedAt,
		Version:        e.Version,
	}
	for _, s := range e.Secrets {
		si := secretItem{Sealed: s.Sealed, CreatedAt: s.CreatedAt}
		if !s.ExpiresAt.IsZero() {
			at := s.ExpiresAt
			si.ExpiresAt = &at
		}
		item.Secrets = append(item.Secrets, si)
	}
	return item
}

func (i endpointItem) endpoint() webhook.Endpoint {
	e := webhook.Endpoint{
		PublisherID:    transfer.PublisherID(i.PublisherID),
		ID:             i.EndpointID,
		URL:            i.URL,
		Topics:         i.Topics,
		Enabled:        i.Enabled,
		DisabledReason: i.DisabledReason,
		CreatedAt:      i.CreatedAt,
		UpdatedAt:      i.UpdatedAt,
		Version:        i.Version,
	}
	for _, s := range i.Secrets {
		ss := webhook.SealedSecret{Sealed: s.Sealed, CreatedAt: s.CreatedAt}
		if s.ExpiresAt != nil {
			ss.ExpiresAt = *s.ExpiresAt
		}
		e.Secrets = append(e.Secrets, ss)
	}
	return e
}

// eventItem records a finalization's webhook event. pendingShard and
// pendingSince exist until it is dispatched: they put it in the sparse
// pendingEvents index the sweeper reads.
type eventItem struct {
	key
	PublisherID       int64      `dynamodbav:"publisherId"`
	SynchronizationID string     `dynamodbav:"synchronizationId"`
	EventID           string     `dynamodbav:"eventId"`
	Topic             string     `dynamodbav:"topic"`
	CreatedAt         time.Time  `dynamodbav:"createdAt"`
	DispatchedAt      *time.Time `dynamodbav:"dispatchedAt,omitempty"`
	PendingShard      string     `dynamodbav:"pendingShard,omitempty"`
	PendingSince      int64      `dynamodbav:"pendingSince,omitempty"`
	TTL               int64      `dynamodbav:"ttl"`
}

const pendingShardPrefix = "PENDING#"

func pendingShard(id string) string { return pendingShardPrefix + strconv.Itoa(shardOf(id)) }

// webhookRetention is how long events and deliveries are kept: as long as
// synchronization records. A store configured without a retention (the
// processor and the webhook function do not read SYNC_RETENTION_DAYS) keeps
// them the default time rather than letting TTL take them at once.
func (s *Store) webhookRetention() time.Duration {
	if s.retention > 0 {
		return s.retention
	}
	return DefaultRetention
}

// newEventItem is the event a finalization records; it lives as long as
// the synchronization record.
func newEventItem(f transfer.Finalization, retention time.Duration) eventItem {
	s := f.Sync
	return eventItem{
		key:               eventKey(s.PublisherID, s.ID, webhook.TopicSyncResult),
		PublisherID:       int64(s.PublisherID),
		SynchronizationID: s.ID,
		EventID:           f.EventID,
		Topic:             webhook.TopicSyncResult,
		CreatedAt:         s.FinalizedAt.UTC(),
		PendingShard:      pendingShard(s.ID),
		PendingSince:      s.FinalizedAt.UnixMilli(),
		TTL:               s.CreatedAt.Add(retention).Unix(),
	}
}

func (i eventItem) event() webhook.Event {
	return webhook.Event{
		PublisherID:       transfer.PublisherID(i.PublisherID),
		SynchronizationID: i.SynchronizationID,
		ID:                i.EventID,
		Topic:             i.Topic,
		CreatedAt:         i.CreatedAt,
		Dispatched:        i.PendingShard == "",
	}
}

// deliveryItem is the state of one (event, endpoint) pair. leaseUntil is in
// Unix milliseconds so that the claim condition compares numbers.
type deliveryItem struct {
	key
	PublisherID       int64      `dynamodbav:"publisherId"`
	SynchronizationID string     `dynamodbav:"synchronizationId"`
	EndpointID        string     `dynamodbav:"endpointId"`
	EventID           string     `dynamodbav:"eventId"`
	State             string     `dynamodbav:"state"`
	Attempts          int        `dynamodbav:"attempts"`
	LastStatus        int        `dynamodbav:"lastStatus,omitempty"`
	LastError         string     `dynamodbav:"lastError,omitempty"`
	LastAttemptAt     *time.Time `dynamodbav:"lastAttemptAt,omitempty"`
	NextAttemptAt     *time.Time `dynamodbav:"nextAttemptAt,omitempty"`
	DeliveredAt       *time.Time `dynamodbav:"deliveredAt,omitempty"`
	ParkedAt          *time.Time `dynamodbav:"parkedAt,omitempty"`
	LeaseUntil        int64      `dynamodbav:"leaseUntil,omitempty"`
	CreatedAt         time.Time  `dynamodbav:"createdAt"`
	UpdatedAt         time.Time  `dynamodbav:"updatedAt"`
	TTL               int64      `dynamodbav:"ttl"`
}

func (i deliveryItem) delivery() webhook.Delivery {
	d := webhook.Delivery{
		DeliveryKey: webhook.DeliveryKey{PublisherID: transfer.PublisherID(i.PublisherID),
			SynchronizationID: i.SynchronizationID, EndpointID: i.EndpointID},
		EventID:    i.EventID,
		State:      webhook.DeliveryState(i.State),
		Attempts:   i.Attempts,
		LastStatus: i.LastStatus,
		LastError:  i.LastError,
		CreatedAt:  i.CreatedAt,
	}
	for _, t := range []struct {
		from *time.Time
		to   *time.Time
	}{{i.LastAttemptAt, &d.LastAttemptAt}, {i.NextAttemptAt, &d.NextAttemptAt}, {i.DeliveredAt, &d.DeliveredAt}, {i.ParkedAt, &d.ParkedAt}} {
		if t.from != nil {
			*t.to = *t.from
		}
	}
	if i.LeaseUntil != 0 {
		d.LeaseUntil = time.UnixMilli(i.LeaseUntil).UTC()
	}
	return d
}

// --- endpoints (webhook.EndpointStore) ---

// CreateEndpoint stores a new endpoint, provided its publisher exists.
func (s *Store) CreateEndpoint(ctx context.Context, e webhook.Endpoint) error {
	publisher, err := s.check(publisherKey(e.PublisherID), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	put, err := s.put(newEndpointItem(e), expression.AttributeNotExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{publisher, put})
	if failedCheck(reasons, 0) {
		return webhook.ErrUnknownPublisher
	}
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// ReplaceEndpoint stores e if the stored endpoint is still at fromVersion.
func (s *Store) ReplaceEndpoint(ctx context.Context, e webhook.Endpoint, fromVersion int64) error {
	put, err := s.put(newEndpointItem(e), expression.Name("version").Equal(expression.Value(fromVersion)))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{put})
	if failedCheck(reasons, 0) {
		if len(reasons[0].Item) == 0 {
			return webhook.ErrUnknownEndpoint
		}
		return webhook.ErrEndpointChanged
	}
	if err != nil {
		return fmt.Errorf("replace endpoint: %w", err)
	}
	return nil
}

// Endpoint reads one endpoint; nil when unknown.
func (s *Store) Endpoint(ctx context.Context, p transfer.PublisherID, id string) (*webhook.Endpoint, error) {
	var item endpointItem
	ok, err := s.getItem(ctx, endpointKey(p, id), &item)
	if err != nil || !ok {
		return nil, err
	}
	e := item.endpoint()
	return &e, nil
}

// Endpoints lists a publisher's endpoints, strongly consistently (a
// subscription made just before a finalization is served).
func (s *Store) Endpoints(ctx context.Context, p transfer.PublisherID) ([]webhook.Endpoint, error) {
	var items []endpointItem
	if err := s.queryPrefix(ctx, publisherPK(p), prefixEndpoint, &items); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	out := make([]webhook.Endpoint, len(items))
	for i, it := range items {
		out[i] = it.endpoint()
	}
	return out, nil
}

// DeleteEndpoint removes an endpoint.
func (s *Store) DeleteEndpoint(ctx context.Context, p transfer.PublisherID, id string) error {
	del, err := s.delete(endpointKey(p, id), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{del})
	if failedCheck(reasons, 0) {
		return webhook.ErrUnknownEndpoint
	}
	if err != nil {
		return fmt.Errorf("delete endpoint: %w", err)
	}
	return nil
}

// --- events and deliveries (webhook.Store) ---

// Event reads a synchronization's event; nil when there is none.
func (s *Store) Event(ctx context.Context, k webhook.EventKey) (*webhook.Event, error) {
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
func (s *Store) OpenDeliveries(ctx context.Context, ev webhook.Event, endpointIDs []string, at time.Time) ([]string, error) {
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
func (s *Store) openDelivery(ctx context.Context, ev webhook.Event, endpointID string, at time.Time) (bool, error) {
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
func (s *Store) MarkDispatched(ctx context.Context, ev webhook.Event, at time.Time) error {
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

// PendingEvents lists events not dispatched since before, shard by shard.
// The index is eventually consistent: an event dispatched a moment ago may
// still be listed, which costs one idempotent dispatch.
func (s *Store) PendingEvents(ctx context.Context, before time.Time, limit int) ([]webhook.EventKey, error) {
	var items []eventItem
	if err := s.queryShards(ctx, shardedIndex{IndexPendingEvents, attrPendingShard, pendingShardPrefix, attrPendingSince}, before, limit, &items); err != nil {
		return nil, fmt.Errorf("query pending events: %w", err)
	}
	out := make([]webhook.EventKey, len(items))
	for i, it := range items {
		out[i] = webhook.EventKey{PublisherID: transfer.PublisherID(it.PublisherID), SynchronizationID: it.SynchronizationID}
	}
	return out, nil
}

// Redispatched moves a pending event to the back of the index.
func (s *Store) Redispatched(ctx context.Context, k webhook.EventKey, at time.Time) error {
	err := s.updateIf(ctx, eventKey(k.PublisherID, k.SynchronizationID, webhook.TopicSyncResult),
		expression.Set(expression.Name(attrPendingSince), expression.Value(at.UnixMilli())),
		expression.AttributeExists(expression.Name(attrPendingShard)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark redispatched: %w", err)
	}
	return nil
}

// LoadAttempt reads the delivery, its endpoint and the synchronization in
// one consistent BatchGetItem.
func (s *Store) LoadAttempt(ctx context.Context, k webhook.DeliveryKey) (webhook.Attempt, error) {
	dk := deliveryKey(k.PublisherID, k.SynchronizationID, k.EndpointID)
	ek := endpointKey(k.PublisherID, k.EndpointID)
	sk := syncKey(k.PublisherID, k.SynchronizationID)
	got, err := s.batchGet(ctx, []key{dk, ek, sk}, true)
	if err != nil {
		return webhook.Attempt{}, err
	}
	var a webhook.Attempt
	var d deliveryItem
	if ok, err := unmarshalFound(got, dk, &d); err != nil || !ok {
		return a, err
	}
	delivery := d.delivery()
	a.Delivery = &delivery
	var e endpointItem
	if ok, err := unmarshalFound(got, ek, &e); err != nil {
		return a, err
	} else if ok {
		endpoint := e.endpoint()
		a.Endpoint = &endpoint
	}
	var rec syncItem
	if ok, err := unmarshalFound(got, sk, &rec); err != nil {
		return a, err
	} else if ok {
		sync := rec.synchronization()
		a.Sync = &sync
	}
	return a, nil
}

// attemptIs holds while the delivery is pending at the attempt d knows.
func attemptIs(d webhook.Delivery) expression.ConditionBuilder {
	return expression.Name("state").Equal(expression.Value(string(webhook.StatePending))).
		And(expression.Name("attempts").Equal(expression.Value(d.Attempts)))
}

// leaseFree holds when no attempt is in flight at the given time.
func leaseFree(at time.Time) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name("leaseUntil")).
		Or(expression.Name("leaseUntil").LessThan(expression.Value(at.UnixMilli())))
}

// Claim starts attempt d.Attempts+1.
func (s *Store) Claim(ctx context.Context, d webhook.Delivery, at, leaseUntil time.Time) error {
	err := s.updateIf(ctx, deliveryKey(d.PublisherID, d.SynchronizationID, d.EndpointID),
		expression.Set(expression.Name("attempts"), expression.Value(d.Attempts+1)).
			Set(expression.Name("leaseUntil"), expression.Value(leaseUntil.UnixMilli())).
			Set(expression.Name("updatedAt"), expression.Value(at)),
		attemptIs(d).And(leaseFree(at)))
	if errors.Is(err, errConditionFailed) {
		return webhook.ErrClaimLost
	}
	if err != nil {
		return fmt.Errorf("claim attempt: %w", err)
	}
	return nil
}

// Record stores the outcome of the claimed attempt d.Attempts.
func (s *Store) Record(ctx context.Context, d webhook.Delivery) error {
	upd := expression.Set(expression.Name("state"), expression.Value(string(d.State))).
		Set(expression.Name("lastAttemptAt"), expression.Value(d.LastAttemptAt)).
		Set(expression.Name("updatedAt"), expression.Value(s.now().UTC())).
		Remove(expression.Name("leaseUntil"))
	optional := func(name string, set bool, v any) {
		if set {
			upd = upd.Set(expression.Name(name), expression.Value(v))
		} else {
			upd = upd.Remove(expression.Name(name))
		}
	}
	optional("lastStatus", d.LastStatus != 0, d.LastStatus)
	optional("lastError", d.LastError != "", d.LastError)
	optional("nextAttemptAt", d.State == webhook.StatePending && !d.NextAttemptAt.IsZero(), d.NextAttemptAt)
	if !d.DeliveredAt.IsZero() {
		upd = upd.Set(expression.Name("deliveredAt"), expression.Value(d.DeliveredAt))
	}
	err := s.updateIf(ctx, deliveryKey(d.PublisherID, d.SynchronizationID, d.EndpointID), upd, attemptIs(d))
	if errors.Is(err, errConditionFailed) {
		return webhook.ErrClaimLost
	}
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	return nil
}

// Cancel ends a pending delivery that can no longer be made.
func (s *Store) Cancel(ctx context.Context, d webhook.Delivery, reason string, at time.Time) error {
	err := s.updateIf(ctx, deliveryKey(d.PublisherID, d.SynchronizationID, d.EndpointID),
		expression.Set(expression.Name("state"), expression.Value(string(webhook.StateCancelled))).
			Set(expression.Name("lastError"), expression.Value(reason)).
			Set(expression.Name("updatedAt"), expression.Value(at)).
			Remove(expression.Name("nextAttemptAt")),
		attemptIs(d).And(leaseFree(at)))
	if errors.Is(err, errConditionFailed) {
		return webhook.ErrClaimLost
	}
	if err != nil {
		return fmt.Errorf("cancel delivery: %w", err)
	}
	return nil
}

// MarkParked notes that a failed delivery is in the dead-letter queue.
func (s *Store) MarkParked(ctx context.Context, k webhook.DeliveryKey, at time.Time) error {
	err := s.updateIf(ctx, deliveryKey(k.PublisherID, k.SynchronizationID, k.EndpointID),
		expression.Set(expression.Name("parkedAt"), expression.Value(at)),
		expression.AttributeExists(expression.Name(attrPK)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark parked: %w", err)
	}
	return nil
}

// Reopen makes a failed delivery pending again, its attempts counted anew.
func (s *Store) Reopen(ctx context.Context, k webhook.DeliveryKey, at time.Time) error {
	err := s.updateIf(ctx, deliveryKey(k.PublisherID, k.SynchronizationID, k.EndpointID),
		expression.Set(expression.Name("state"), expression.Value(string(webhook.StatePending))).
			Set(expression.Name("attempts"), expression.Value(0)).
			Set(expression.Name("updatedAt"), expression.Value(at)).
			Remove(expression.Name("parkedAt")).
			Remove(expression.Name("nextAttemptAt")).
			Remove(expression.Name("leaseUntil")),
		expression.Name("state").Equal(expression.Value(string(webhook.StateFailed))))
	if errors.Is(err, errConditionFailed) {
		return webhook.ErrClaimLost
	}
	if err != nil {
		return fmt.Errorf("reopen delivery: %w", err)
	}
	return nil
}

// Deliveries lists a synchronization's deliveries, strongly consistently.
func (s *Store) Deliveries(ctx context.Context, p transfer.PublisherID, syncID string) ([]webhook.Delivery, error) {
	var items []deliveryItem
	if err := s.queryPrefix(ctx, syncKey(p, syncID).PK, prefixDelivery, &items); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]webhook.Delivery, len(items))
	for i, it := range items {
		out[i] = it.delivery()
	}
	return out, nil
}

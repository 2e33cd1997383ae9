package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// Deliveries of an event to each endpoint: claimed per attempt under a lease,
// recorded, cancelled, parked and reopened (DeliveryStore).

// LoadAttempt reads the delivery, its endpoint and the synchronization in
// one consistent BatchGetItem.
func (s *DeliveryStore) LoadAttempt(ctx context.Context, k webhook.DeliveryKey) (webhook.Attempt, error) {
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
func (s *DeliveryStore) Claim(ctx context.Context, d webhook.Delivery, at, leaseUntil time.Time) error {
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
func (s *DeliveryStore) Record(ctx context.Context, d webhook.Delivery) error {
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
func (s *DeliveryStore) Cancel(ctx context.Context, d webhook.Delivery, reason string, at time.Time) error {
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
func (s *DeliveryStore) MarkParked(ctx context.Context, k webhook.DeliveryKey, at time.Time) error {
	err := s.updateIf(ctx, deliveryKey(k.PublisherID, k.SynchronizationID, k.EndpointID),
		expression.Set(expression.Name("parkedAt"), expression.Value(at)),
		expression.AttributeExists(expression.Name(attrPK)))
	if err != nil && !errors.Is(err, errConditionFailed) {
		return fmt.Errorf("mark parked: %w", err)
	}
	return nil
}

// Reopen makes a failed delivery pending again, its attempts counted anew.
func (s *DeliveryStore) Reopen(ctx context.Context, k webhook.DeliveryKey, at time.Time) error {
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
func (s *DeliveryStore) Deliveries(ctx context.Context, p transfer.PublisherID, syncID string) ([]webhook.Delivery, error) {
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

package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/webhook"
)

// pendingStore is one event that stays pending: its dispatch messages wait
// in a backlog and are never consumed.
type pendingStore struct {
	ev    webhook.PendingEvent
	since time.Time
}

func (p *pendingStore) PendingEvents(_ context.Context, before time.Time, _ int) ([]webhook.PendingEvent, error) {
	if p.since.Before(before) {
		return []webhook.PendingEvent{p.ev}, nil
	}
	return nil, nil
}

func (p *pendingStore) Redispatched(_ context.Context, _ webhook.EventKey, since time.Time) error {
	p.since = since
	return nil
}

type dispatchQueue struct {
	clock *time.Time
	sent  []time.Duration // the event's age at each dispatch
	from  time.Time
}

func (q *dispatchQueue) Dispatch(context.Context, webhook.EventKey) error {
	q.sent = append(q.sent, q.clock.Sub(q.from))
	return nil
}

// TestRedispatchBacksOff: an event that stays pending (its dispatch stuck
// in a backlog) is sent again after the grace, then each time it has waited
// as long again, never more than MaxRedispatchInterval apart: a few copies
// however long the backlog lasts, instead of one per grace.
func TestRedispatchBacksOff(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Minute
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store := &pendingStore{ev: webhook.PendingEvent{EventKey: webhook.EventKey{PublisherID: 1, SynchronizationID: "S1"}, CreatedAt: created}, since: created}
	now := created
	q := &dispatchQueue{clock: &now, from: created}
	r := webhook.NewRedispatcher(store, q, grace, webhook.WithClock(func() time.Time { return now }))
	// The sweeper runs every minute, for a day.
	for now.Before(created.Add(24 * time.Hour)) {
		now = now.Add(time.Minute)
		if _, err := r.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(q.sent) == 0 || q.sent[0] < grace || q.sent[0] > grace+2*time.Minute {
		t.Fatalf("dispatched at ages %v; want the first one at the grace (%v)", q.sent, grace)
	}
	for i := 1; i < len(q.sent); i++ {
		// As long again as it had waited (up to a sweep's tick late).
		gap, wait := q.sent[i]-q.sent[i-1], min(q.sent[i-1], webhook.MaxRedispatchInterval)
		if gap < wait || gap > wait+2*time.Minute {
			t.Fatalf("dispatched at ages %v: %v after the one at %v, want about %v", q.sent, gap, q.sent[i-1], wait)
		}
	}
	// One a grace apart for a day would be 288.
	if n := len(q.sent); n < 20 || n > 30 {
		t.Errorf("%d dispatches of one event in a day (ages %v)", n, q.sent)
	}
}

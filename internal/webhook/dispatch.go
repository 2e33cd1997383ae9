package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Announcer is the processor's transfer.Notifier: once a finalization is
// committed, it asks for the event's dispatch. It never fails the transfer
// and waits at most its timeout: the event is recorded already, so a lost
// announcement only delays the webhook until the sweeper's next run.
type Announcer struct {
	queue   DispatchQueue
	timeout time.Duration
}

// DefaultAnnounceTimeout bounds the processor's wait for the webhook queue.
const DefaultAnnounceTimeout = 2 * time.Second

// NewAnnouncer announces through queue.
func NewAnnouncer(q DispatchQueue, timeout time.Duration) *Announcer {
	return &Announcer{queue: q, timeout: timeout}
}

// Finalized implements transfer.Notifier.
func (a *Announcer) Finalized(ctx context.Context, s transfer.Synchronization) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.queue.Dispatch(ctx, EventKey{PublisherID: s.PublisherID, SynchronizationID: s.ID}); err != nil {
		slog.WarnContext(ctx, "could not hand the webhook event to its queue; the sweeper will dispatch it",
			"synchronizationId", s.ID, "publisherId", s.PublisherID, "error", err)
	}
}

// Dispatcher fans an event out to the publisher's endpoints: one delivery
// per (event, endpoint), each with its own message, so that endpoints never
// wait for one another.
type Dispatcher struct {
	store     FanoutStore
	endpoints EndpointLister
	queue     DeliverQueue
	now       func() time.Time
}

// DispatcherOption configures a Dispatcher (WithClock).
type DispatcherOption interface {
	applyDispatcher(*Dispatcher)
}

// NewDispatcher wires the fan-out to its ports.
func NewDispatcher(s FanoutStore, e EndpointLister, q DeliverQueue, opts ...DispatcherOption) *Dispatcher {
	d := &Dispatcher{store: s, endpoints: e, queue: q, now: time.Now}
	for _, o := range opts {
		o.applyDispatcher(d)
	}
	return d
}

// Dispatch fans one event out. It is idempotent: a repeated dispatch creates
// no second delivery, and re-sends only deliveries never attempted (whose
// message a crash may have lost).
func (d *Dispatcher) Dispatch(ctx context.Context, k EventKey) error {
	log := slog.With("synchronizationId", k.SynchronizationID, "publisherId", k.PublisherID)
	var (
		wg        sync.WaitGroup
		ev        *Event
		endpoints []Endpoint
		evErr     error
		epErr     error
	)
	wg.Go(func() { ev, evErr = d.store.Event(ctx, k) })
	wg.Go(func() { endpoints, epErr = d.endpoints.Endpoints(ctx, k.PublisherID) })
	wg.Wait()
	if err := errors.Join(evErr, epErr); err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	if ev == nil {
		log.WarnContext(ctx, "no webhook event recorded for this synchronization; nothing to dispatch")
		return nil
	}
	if ev.Dispatched {
		return nil
	}
	var targets []string
	for _, e := range endpoints {
		if e.Enabled && e.Subscribed(ev.Topic) {
			targets = append(targets, e.ID)
		}
	}
	now := d.now().UTC()
	todo, err := d.store.OpenDeliveries(ctx, *ev, targets, now)
	if err != nil {
		return fmt.Errorf("open deliveries: %w", err)
	}
	keys := make([]DeliveryKey, len(todo))
	for i, id := range todo {
		keys[i] = DeliveryKey{PublisherID: k.PublisherID, SynchronizationID: k.SynchronizationID, EndpointID: id}
	}
	if len(keys) > 0 {
		if err := d.queue.Deliver(ctx, keys); err != nil {
			return fmt.Errorf("enqueue deliveries: %w", err)
		}
	}
	if err := d.store.MarkDispatched(ctx, *ev, now); err != nil {
		return fmt.Errorf("mark dispatched: %w", err)
	}
	log.InfoContext(ctx, "webhook event dispatched", "eventId", ev.ID, "endpoints", len(targets), "enqueued", len(keys))
	return nil
}

// Redispatcher is the sweeper's part of the webhook path: it dispatches the
// events whose announcement was lost (the processor crashed after its
// commit, or the queue refused the message).
type Redispatcher struct {
	store PendingEventStore
	queue DispatchQueue
	grace time.Duration
	now   func() time.Time
	batch int
}

// RedispatcherOption configures a Redispatcher (WithClock).
type RedispatcherOption interface {
	applyRedispatcher(*Redispatcher)
}

// NewRedispatcher dispatches events still pending grace after they were
// recorded (or last re-dispatched).
func NewRedispatcher(s PendingEventStore, q DispatchQueue, grace time.Duration, opts ...RedispatcherOption) *Redispatcher {
	r := &Redispatcher{store: s, queue: q, grace: grace, now: time.Now, batch: 100}
	for _, o := range opts {
		o.applyRedispatcher(r)
	}
	return r
}

// MaxRedispatchInterval bounds the wait between two re-dispatches of an
// event that stays pending (see Redispatcher.next).
const MaxRedispatchInterval = time.Hour

// next is the place in the index of an event re-dispatched now: it is found
// again once it has waited as long again as it has so far (at most
// MaxRedispatchInterval more). An event stays pending while its dispatch
// message waits in the queue, and the sweeper cannot tell that from a
// hand-off that was lost: at a fixed interval, a backlog older than the
// grace would get one more dispatch message per event per interval, each
// one growing the backlog that caused it (the 10-minute soak's webhook queue
// grew by ten thousand messages after its load had stopped). Doubling the
// wait bounds those copies to a few per event however long the backlog
// lasts, and still sends a lost hand-off again after the grace.
func (r *Redispatcher) next(e PendingEvent, now time.Time) time.Time {
	waited := max(now.Sub(e.CreatedAt), r.grace)
	// Listed again when since is older than the grace: since + grace is
	// when the next re-dispatch is due.
	return now.Add(min(waited, MaxRedispatchInterval) - r.grace)
}

// Sweep re-dispatches every pending event past its grace (or past the
// longer wait after its last re-dispatch) and says how many.
func (r *Redispatcher) Sweep(ctx context.Context) (int, error) {
	swept := 0
	for {
		now := r.now().UTC()
		pending, err := r.store.PendingEvents(ctx, now.Add(-r.grace), r.batch)
		if err != nil {
			return swept, err
		}
		var errs []error
		for _, e := range pending {
			k := e.EventKey
			// The wait restarts before the message is sent: a failed send is
			// found again next time, never retried in a loop.
			if err := r.store.Redispatched(ctx, k, r.next(e, now)); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := r.queue.Dispatch(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			slog.WarnContext(ctx, "re-dispatched a pending webhook event", "synchronizationId", k.SynchronizationID,
				"publisherId", k.PublisherID)
			swept++
		}
		if err := errors.Join(errs...); err != nil {
			return swept, err
		}
		if len(pending) < r.batch {
			return swept, nil
		}
	}
}

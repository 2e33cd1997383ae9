package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Outcome tells the queue what to do with a message after it was handled.
type Outcome struct {
	// RetryIn, when positive, asks for the message again after this long
	// (SQS: ChangeMessageVisibility, and the message is reported failed).
	RetryIn time.Duration
}

// AttemptSender makes one HTTP attempt; *Sender implements it.
type AttemptSender interface {
	Send(ctx context.Context, url, id string, at time.Time, body []byte, keys [][]byte) Answer
}

// dueSlack lets a message that comes back a little before its delivery's
// next attempt is due (clocks of two containers differ by milliseconds; SQS
// delays are whole seconds) make the attempt instead of waiting again.
const dueSlack = time.Second

// recordTimeout bounds the recording of an attempt's outcome.
const recordTimeout = 5 * time.Second

// leaseMargin is how much longer than one attempt's timeout its lease lasts:
// the claim, the record and the queue calls around the request.
const leaseMargin = 30 * time.Second

// AttemptLease is how long an attempt with this timeout holds its
// delivery. The webhook queue's visibility timeout must be longer, lest the
// message being worked on come back while its attempt is leased (the
// template test checks it).
func AttemptLease(attemptTimeout time.Duration) time.Duration { return attemptTimeout + leaseMargin }

// Deliverer makes the attempts of deliveries, one per deliver message, and
// decides what follows each.
type Deliverer struct {
	store     DelivererStore
	queue     Parker
	endpoints *Endpoints
	sealer    *Sealer
	sender    AttemptSender
	retry     RetryPolicy
	lease     time.Duration
	now       func() time.Time
}

// DelivererOption configures a Deliverer (WithRetryPolicy,
// WithAttemptTimeout, WithClock).
type DelivererOption interface {
	applyDeliverer(*Deliverer)
}

type delivererOption func(*Deliverer)

func (o delivererOption) applyDeliverer(d *Deliverer) { o(d) }

// WithRetryPolicy sets what follows a failed attempt (DefaultRetryPolicy
// otherwise).
func WithRetryPolicy(p RetryPolicy) DelivererOption {
	return delivererOption(func(d *Deliverer) { d.retry = p })
}

// WithAttemptTimeout tells the Deliverer the sender's timeout
// (DefaultAttemptTimeout otherwise): an attempt's lease lasts that long plus
// leaseMargin, so that a copy of its message does not start another one
// while it may still get an answer. A non-positive timeout is ignored.
func WithAttemptTimeout(timeout time.Duration) DelivererOption {
	return delivererOption(func(d *Deliverer) {
		if timeout > 0 {
			d.lease = AttemptLease(timeout)
		}
	})
}

// NewDeliverer wires the attempts to their ports: DefaultRetryPolicy,
// DefaultAttemptTimeout and time.Now unless opts say otherwise.
func NewDeliverer(store DelivererStore, queue Parker, endpoints *Endpoints, sealer *Sealer, sender AttemptSender, opts ...DelivererOption) *Deliverer {
	d := &Deliverer{store: store, queue: queue, endpoints: endpoints, sealer: sealer, sender: sender,
		retry: DefaultRetryPolicy(), lease: AttemptLease(DefaultAttemptTimeout), now: time.Now}
	for _, o := range opts {
		o.applyDeliverer(d)
	}
	return d
}

// Deliver handles one deliver message. A nil error with a zero Outcome means
// the message is done with (delivered, given up, cancelled, or a duplicate).
func (d *Deliverer) Deliver(ctx context.Context, k DeliveryKey) (Outcome, error) {
	log := slog.With("synchronizationId", k.SynchronizationID, "publisherId", k.PublisherID, "endpointId", k.EndpointID)
	a, err := d.store.LoadAttempt(ctx, k)
	if err != nil {
		return Outcome{}, fmt.Errorf("load delivery: %w", err)
	}
	dl := a.Delivery
	if dl == nil {
		log.WarnContext(ctx, "deliver message names no delivery; dropping it")
		return Outcome{}, nil
	}
	log = log.With("eventId", dl.EventID)
	now := d.now().UTC()
	switch dl.State {
	case StatePending:
	case StateFailed:
		if dl.ParkedAt.IsZero() {
			// Given up by an attempt whose parking did not complete.
			return Outcome{}, d.park(ctx, log, *dl)
		}
		return Outcome{}, nil
	default:
		return Outcome{}, nil
	}
	if due := dl.NextAttemptAt.Add(-dueSlack); now.Before(due) {
		return Outcome{RetryIn: dl.NextAttemptAt.Sub(now)}, nil
	}
	if now.Before(dl.LeaseUntil) {
		// Another copy of this message is making the attempt. This one is
		// kept, and looks again once the lease has run out (see keepCopy).
		log.InfoContext(ctx, "attempt already in flight elsewhere; this copy looks again after its lease", "attempts", dl.Attempts)
		return Outcome{RetryIn: dl.LeaseUntil.Sub(now) + dueSlack}, nil
	}
	switch {
	case a.Endpoint == nil:
		return Outcome{}, d.cancel(ctx, log, *dl, "endpoint removed", now)
	case !a.Endpoint.Enabled:
		return Outcome{}, d.cancel(ctx, log, *dl, "endpoint disabled", now)
	case a.Sync == nil:
		return Outcome{}, d.cancel(ctx, log, *dl, "synchronization expired", now)
	}
	keys, err := d.signingKeys(ctx, *a.Endpoint, now)
	if err != nil {
		return Outcome{}, err
	}
	body, err := SyncResultPayload(*a.Sync)
	if err != nil {
		return Outcome{}, fmt.Errorf("payload: %w", err)
	}

	switch err := d.store.Claim(ctx, *dl, now, now.Add(d.lease)); {
	case errors.Is(err, ErrClaimLost):
		log.InfoContext(ctx, "attempt claimed elsewhere; this copy looks again after a lease", "attempts", dl.Attempts)
		return d.keepCopy(), nil
	case err != nil:
		return Outcome{}, err
	}
	dl.Attempts++
	answer := d.sender.Send(ctx, a.Endpoint.URL, dl.EventID, now, body, keys)
	finished := d.now().UTC()
	return d.conclude(ctx, log, *dl, answer, now, finished)
}

// conclude records an attempt's answer and acts on it.
func (d *Deliverer) conclude(ctx context.Context, log *slog.Logger, dl Delivery, answer Answer, started, finished time.Time) (Outcome, error) {
	dl.LastStatus = answer.Status
	dl.LastAttemptAt = started
	dl.LeaseUntil = time.Time{}
	dl.LastError = ""
	verdict := answer.Verdict()
	if verdict != Delivered {
		dl.LastError = answer.Description()
	}
	wait, again := d.retry.Next(dl.Attempts, answer)
	switch {
	case verdict == Delivered:
		dl.State = StateDelivered
		dl.DeliveredAt = finished
	case verdict == Gone:
		dl.State = StateCancelled
	case again:
		dl.NextAttemptAt = finished.Add(wait)
	default:
		dl.State = StateFailed
	}
	attrs := []any{"attempt", dl.Attempts, "status", answer.Status, "durationMs", finished.Sub(started).Milliseconds(), "state", dl.State}
	if dl.LastError != "" {
		attrs = append(attrs, "error", dl.LastError)
	}
	if again {
		attrs = append(attrs, "nextAttemptIn", wait.Round(time.Millisecond).String())
	}
	// The request was made: its outcome is recorded even if the caller gave
	// up meanwhile, lest the attempt be repeated after its lease.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := d.store.Record(recordCtx, dl); err != nil {
		if errors.Is(err, ErrClaimLost) {
			log.WarnContext(ctx, "webhook attempt outlived its lease; its outcome is not recorded", attrs...)
			return d.keepCopy(), nil
		}
		return Outcome{}, err
	}
	switch {
	case verdict == Delivered:
		log.InfoContext(ctx, "webhook delivered", attrs...)
	case verdict == Gone:
		log.WarnContext(ctx, "webhook endpoint answered 410 Gone; disabling it", attrs...)
		reason := "the receiver answered 410 Gone on " + finished.Format(time.RFC3339)
		if _, err := d.endpoints.Disable(ctx, dl.PublisherID, dl.EndpointID, reason); err != nil && !errors.Is(err, ErrUnknownEndpoint) {
			return Outcome{}, fmt.Errorf("disable endpoint: %w", err)
		}
	case again:
		log.WarnContext(ctx, "webhook attempt failed; retrying later", attrs...)
		return Outcome{RetryIn: wait}, nil
	default:
		log.ErrorContext(ctx, "webhook delivery given up; parking it in the dead-letter queue", attrs...)
		return Outcome{}, d.park(ctx, log, dl)
	}
	return Outcome{}, nil
}

// keepCopy is the outcome of a copy of a deliver message that found another
// copy making (or having taken) the attempt: it is not deleted, but hidden
// for a lease, and then finds the delivery done, due again, or leased by
// nobody (the other copy died) and acts on that. Dropping it would leave the
// delivery to the other copy's message, and there may be none of its own:
// SQS delivers a message twice under two receipt handles, and deleting it
// through either one deletes it (the 10-minute soak lost deliveries that
// way, the attempt's holder then killed or its retry's hiding refused). A
// deliver message is deleted only once its delivery needs no more attempts.
func (d *Deliverer) keepCopy() Outcome { return Outcome{RetryIn: d.lease} }

// Redrive starts a given-up delivery over, as an operator asked by moving
// its parked message back to the webhook queue: the full schedule again.
func (d *Deliverer) Redrive(ctx context.Context, k DeliveryKey) (Outcome, error) {
	switch err := d.store.Reopen(ctx, k, d.now().UTC()); {
	case err == nil:
		slog.InfoContext(ctx, "webhook delivery redriven; its retries start over",
			"synchronizationId", k.SynchronizationID, "publisherId", k.PublisherID, "endpointId", k.EndpointID)
	case !errors.Is(err, ErrClaimLost):
		return Outcome{}, err
	}
	return d.Deliver(ctx, k)
}

func (d *Deliverer) cancel(ctx context.Context, log *slog.Logger, dl Delivery, reason string, at time.Time) error {
	if err := d.store.Cancel(ctx, dl, reason, at); err != nil && !errors.Is(err, ErrClaimLost) {
		return err
	}
	log.InfoContext(ctx, "webhook delivery cancelled", "reason", reason, "attempts", dl.Attempts)
	return nil
}

func (d *Deliverer) park(ctx context.Context, log *slog.Logger, dl Delivery) error {
	if err := d.queue.Park(ctx, dl); err != nil {
		return fmt.Errorf("park delivery: %w", err)
	}
	if err := d.store.MarkParked(ctx, dl.DeliveryKey, d.now().UTC()); err != nil {
		// Parked twice at worst, if the message comes back.
		log.WarnContext(ctx, "could not note the parking of a delivery", "error", err)
	}
	return nil
}

// signingKeys opens the endpoint's active secrets.
func (d *Deliverer) signingKeys(ctx context.Context, e Endpoint, now time.Time) ([][]byte, error) {
	active := e.ActiveSecrets(now)
	keys := make([][]byte, 0, len(active))
	for _, s := range active {
		key, err := d.sealer.Open(ctx, s.Sealed, sealContext(e.PublisherID, e.ID))
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("endpoint %s has no active signing secret", e.ID)
	}
	return keys, nil
}

// Worker handles every message of the webhook queue.
type Worker struct {
	dispatcher *Dispatcher
	deliverer  *Deliverer
}

// NewWorker handles dispatch messages with dispatcher and deliver messages
// with deliverer.
func NewWorker(dispatcher *Dispatcher, deliverer *Deliverer) *Worker {
	return &Worker{dispatcher: dispatcher, deliverer: deliverer}
}

// Handle handles one message.
func (w *Worker) Handle(ctx context.Context, m Message) (Outcome, error) {
	switch {
	case m.Kind == KindDispatch:
		return Outcome{}, w.dispatcher.Dispatch(ctx, m.EventKey())
	case m.Kind == KindDeliver && m.Parked:
		return w.deliverer.Redrive(ctx, m.DeliveryKey())
	case m.Kind == KindDeliver:
		return w.deliverer.Deliver(ctx, m.DeliveryKey())
	}
	return Outcome{}, fmt.Errorf("unknown webhook message kind %q", m.Kind)
}

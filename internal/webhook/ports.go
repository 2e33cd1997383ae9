package webhook

import (
	"context"
	"errors"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// DeliveryState is where a delivery of an event to one endpoint stands.
type DeliveryState string

const (
	// StatePending: not yet delivered; attempts continue.
	StatePending DeliveryState = "pending"
	// StateDelivered: the receiver answered 2xx in time.
	StateDelivered DeliveryState = "delivered"
	// StateFailed: retries exhausted, or refused too often; parked in the
	// dead-letter queue.
	StateFailed DeliveryState = "failed"
	// StateCancelled: the endpoint was disabled (by an operator, or by a 410)
	// or removed before the delivery succeeded.
	StateCancelled DeliveryState = "cancelled"
)

// DeliveryKey names the delivery of a synchronization's event to one endpoint.
type DeliveryKey struct {
	PublisherID       transfer.PublisherID
	SynchronizationID string
	EndpointID        string
}

// Delivery is the state of one (event, endpoint) pair, visible per
// synchronization to operators.
type Delivery struct {
	DeliveryKey
	EventID  string
	State    DeliveryState
	Attempts int
	// LastStatus is the HTTP status of the last attempt, 0 without a response.
	LastStatus int
	// LastError describes the last failed attempt (never a response body).
	LastError     string
	LastAttemptAt time.Time
	// NextAttemptAt is when a pending delivery's next attempt is due.
	NextAttemptAt time.Time
	DeliveredAt   time.Time
	// ParkedAt is when a failed delivery was put in the dead-letter queue.
	ParkedAt time.Time
	// LeaseUntil marks an attempt in flight; another copy of the delivery's
	// message does not start one before it runs out.
	LeaseUntil time.Time
	CreatedAt  time.Time
}

// Attempt is what one attempt of a delivery needs, read at once.
type Attempt struct {
	// Delivery is nil when unknown (expired, or never created).
	Delivery *Delivery
	// Endpoint is nil when it was removed.
	Endpoint *Endpoint
	// Sync is the finalized synchronization the event announces; nil when
	// the record expired.
	Sync *transfer.Synchronization
}

// ErrClaimLost means another copy of a delivery's message took the attempt
// (or the delivery moved on).
var ErrClaimLost = errors.New("the attempt was claimed elsewhere")

// FanoutStore is what the Dispatcher reads and writes of an event: the
// event, its deliveries, and the mark that takes it off the sweeper's list.
type FanoutStore interface {
	// Event reads a synchronization's event; nil when there is none.
	Event(ctx context.Context, k EventKey) (*Event, error)
	// OpenDeliveries creates a pending delivery of ev for each endpoint that
	// has none yet, and returns the endpoints whose delivery has never been
	// attempted: those need a deliver message (again, after a crash).
	OpenDeliveries(ctx context.Context, ev Event, endpointIDs []string, at time.Time) ([]string, error)
	// MarkDispatched takes the event off the sweeper's list.
	MarkDispatched(ctx context.Context, ev Event, at time.Time) error
}

// PendingEventStore is what the Redispatcher needs: the events whose
// dispatch may have been lost, and the restart of their grace.
type PendingEventStore interface {
	// PendingEvents lists events still pending whose place in the index
	// (their finalization, or what the last re-dispatch set) is before
	// before.
	PendingEvents(ctx context.Context, before time.Time, limit int) ([]PendingEvent, error)
	// Redispatched moves an event's place in the index to since, if it is
	// still pending: it is listed again once since is older than the grace.
	Redispatched(ctx context.Context, k EventKey, since time.Time) error
}

// PendingEvent is an event the sweeper may have to dispatch again.
type PendingEvent struct {
	EventKey
	// CreatedAt is when the event was recorded (its finalization).
	CreatedAt time.Time
}

// EventStore is the storage of events and their fan-out.
type EventStore interface {
	FanoutStore
	PendingEventStore
}

// AttemptStore is what one attempt of a delivery reads and writes: the
// Deliverer's state machine.
type AttemptStore interface {
	// LoadAttempt reads a delivery, its endpoint and its synchronization.
	LoadAttempt(ctx context.Context, k DeliveryKey) (Attempt, error)
	// Claim starts attempt number d.Attempts+1, if the delivery is still
	// pending, due, not leased, and still at d.Attempts (ErrClaimLost).
	Claim(ctx context.Context, d Delivery, at, leaseUntil time.Time) error
	// Record stores the outcome of the claimed attempt d.Attempts and ends
	// its lease (ErrClaimLost if the attempt is no longer ours).
	Record(ctx context.Context, d Delivery) error
	// Cancel ends a pending delivery that can no longer be made.
	Cancel(ctx context.Context, d Delivery, reason string, at time.Time) error
	// MarkParked notes that a failed delivery is in the dead-letter queue.
	MarkParked(ctx context.Context, k DeliveryKey, at time.Time) error
}

// Reopener starts a given-up delivery over.
type Reopener interface {
	// Reopen makes a failed delivery pending again with no attempts, for a
	// redrive (ErrClaimLost if it is not failed).
	Reopen(ctx context.Context, k DeliveryKey, at time.Time) error
}

// DelivererStore is what the Deliverer needs: the attempts, and the reopening
// of a delivery an operator redrove from the dead-letter queue. It never
// lists deliveries.
type DelivererStore interface {
	AttemptStore
	Reopener
}

// DeliveryLister reads deliveries for operators.
type DeliveryLister interface {
	// Deliveries lists a synchronization's deliveries.
	Deliveries(ctx context.Context, p transfer.PublisherID, syncID string) ([]Delivery, error)
}

// DeliveryStore is the storage of deliveries and their attempts.
type DeliveryStore interface {
	DelivererStore
	DeliveryLister
}

// DispatchQueue asks for an event's fan-out: the Announcer and the
// Redispatcher send nothing else.
type DispatchQueue interface {
	// Dispatch asks for an event's fan-out.
	Dispatch(ctx context.Context, k EventKey) error
}

// DeliverQueue asks for the first attempts of deliveries: all the Dispatcher
// sends.
type DeliverQueue interface {
	// Deliver asks for the first attempt of deliveries.
	Deliver(ctx context.Context, keys []DeliveryKey) error
}

// Parker puts given-up deliveries aside: all the Deliverer sends (its
// retries are the queue's redelivery of the message it handles).
type Parker interface {
	// Park puts a delivery that will not be attempted again in the
	// dead-letter queue, for an operator.
	Park(ctx context.Context, d Delivery) error
}

// Queue carries the webhook path's messages.
type Queue interface {
	DispatchQueue
	DeliverQueue
	Parker
}

// MessageKind tells the webhook queue's two messages apart.
type MessageKind string

const (
	KindDispatch MessageKind = "dispatch"
	KindDeliver  MessageKind = "deliver"
)

// Message is what the webhook queue carries: keys only, never a payload or a
// secret.
type Message struct {
	Kind              MessageKind          `json:"kind"`
	PublisherID       transfer.PublisherID `json:"publisherId"`
	SynchronizationID string               `json:"synchronizationId"`
	EndpointID        string               `json:"endpointId,omitempty"`
	// Parked marks the copy of a given-up delivery in the dead-letter queue:
	// redriven by an operator, it starts the delivery's retries over.
	Parked bool `json:"parked,omitempty"`
}

// DispatchMessage asks for an event's fan-out.
func DispatchMessage(k EventKey) Message {
	return Message{Kind: KindDispatch, PublisherID: k.PublisherID, SynchronizationID: k.SynchronizationID}
}

// DeliverMessage asks for an attempt of a delivery.
func DeliverMessage(k DeliveryKey) Message {
	return Message{Kind: KindDeliver, PublisherID: k.PublisherID, SynchronizationID: k.SynchronizationID, EndpointID: k.EndpointID}
}

// ParkedMessage is the dead-letter queue's copy of a given-up delivery.
func ParkedMessage(k DeliveryKey) Message {
	m := DeliverMessage(k)
	m.Parked = true
	return m
}

// Valid tells a well-formed message from one nobody can act on.
func (m Message) Valid() bool {
	if m.PublisherID <= 0 || m.SynchronizationID == "" {
		return false
	}
	switch m.Kind {
	case KindDispatch:
		return m.EndpointID == "" && !m.Parked
	case KindDeliver:
		return m.EndpointID != ""
	}
	return false
}

// DeliveryKey is the delivery a deliver message names.
func (m Message) DeliveryKey() DeliveryKey {
	return DeliveryKey{PublisherID: m.PublisherID, SynchronizationID: m.SynchronizationID, EndpointID: m.EndpointID}
}

// EventKey is the event a message names.
func (m Message) EventKey() EventKey {
	return EventKey{PublisherID: m.PublisherID, SynchronizationID: m.SynchronizationID}
}

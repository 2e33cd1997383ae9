package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// Endpoint is where a publisher receives webhooks.
type Endpoint struct {
	PublisherID transfer.PublisherID
	ID          string
	URL         string
	Topics      []string
	Enabled     bool
	// DisabledReason says why an endpoint was disabled (an operator, or the
	// receiver answering 410 Gone).
	DisabledReason string
	// Secrets are the sealed signing secrets, newest first: one, or two while
	// a rotation's overlap runs.
	Secrets   []SealedSecret
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increases with every change; writes are conditioned on it.
	Version int64
}

// SealedSecret is a signing secret as stored.
type SealedSecret struct {
	Sealed    []byte
	CreatedAt time.Time
	// ExpiresAt is set on the old secret of a rotation: it signs until then.
	ExpiresAt time.Time
}

// ActiveAt tells whether a secret still signs.
func (s SealedSecret) ActiveAt(now time.Time) bool {
	return s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt)
}

// Subscribed tells whether the endpoint wants a topic.
func (e Endpoint) Subscribed(topic string) bool { return slices.Contains(e.Topics, topic) }

// ActiveSecrets are the secrets that sign at a time, newest first.
func (e Endpoint) ActiveSecrets(now time.Time) []SealedSecret {
	var out []SealedSecret
	for _, s := range e.Secrets {
		if s.ActiveAt(now) {
			out = append(out, s)
		}
	}
	return out
}

// sealContext binds a sealed secret to its endpoint.
func sealContext(p transfer.PublisherID, endpointID string) string {
	return "webhook-secret/" + strconv.FormatInt(int64(p), 10) + "/" + endpointID
}

// Errors of endpoint management.
var (
	ErrUnknownPublisher = errors.New("no such publisher")
	ErrUnknownEndpoint  = errors.New("no such webhook endpoint")
	// ErrEndpointChanged means a concurrent change won; read and try again.
	ErrEndpointChanged = errors.New("the webhook endpoint changed concurrently")
	ErrUnknownTopic    = errors.New("unknown topic")
)

// EndpointLister lists endpoints: all the Dispatcher reads of them.
type EndpointLister interface {
	// Endpoints lists a publisher's endpoints.
	Endpoints(ctx context.Context, p transfer.PublisherID) ([]Endpoint, error)
}

// EndpointStore keeps publishers' endpoints; every method is scoped by
// publisher.
type EndpointStore interface {
	// CreateEndpoint stores a new endpoint of an existing publisher
	// (ErrUnknownPublisher otherwise).
	CreateEndpoint(ctx context.Context, e Endpoint) error
	// ReplaceEndpoint stores e if the stored version is still fromVersion
	// (ErrEndpointChanged otherwise, ErrUnknownEndpoint if it is gone).
	ReplaceEndpoint(ctx context.Context, e Endpoint, fromVersion int64) error
	// Endpoint reads one endpoint; nil when unknown.
	Endpoint(ctx context.Context, p transfer.PublisherID, id string) (*Endpoint, error)
	EndpointLister
	// DeleteEndpoint removes an endpoint (ErrUnknownEndpoint if there is none).
	DeleteEndpoint(ctx context.Context, p transfer.PublisherID, id string) error
}

// DefaultRotationOverlap is how long the old secret keeps signing after a
// rotation, so receivers can switch without missing a delivery.
const DefaultRotationOverlap = 24 * time.Hour

// Endpoints is the operator's management of webhook endpoints.
type Endpoints struct {
	store  EndpointStore
	sealer *Sealer
	policy egress.Policy
	now    func() time.Time
}

// NewEndpoints manages endpoints in store, sealing secrets with sealer and
// refusing URLs the policy refuses.
func NewEndpoints(store EndpointStore, sealer *Sealer, policy egress.Policy) *Endpoints {
	return &Endpoints{store: store, sealer: sealer, policy: policy, now: time.Now}
}

// Subscribe creates an enabled endpoint and returns it with its signing
// secret, which exists in clear nowhere else: show it once.
func (m *Endpoints) Subscribe(ctx context.Context, p transfer.PublisherID, url string, topics []string) (Endpoint, string, error) {
	if len(topics) == 0 {
		topics = []string{TopicSyncResult}
	}
	for _, t := range topics {
		if !slices.Contains(Topics, t) {
			return Endpoint{}, "", fmt.Errorf("%w %q (known: %v)", ErrUnknownTopic, t, Topics)
		}
	}
	if err := m.policy.Resolve(ctx, url); err != nil {
		return Endpoint{}, "", err
	}
	now := m.now().UTC()
	e := Endpoint{
		PublisherID: p,
		ID:          "ep_" + rand.Text(),
		URL:         url,
		Topics:      slices.Compact(slices.Sorted(slices.Values(topics))),
		Enabled:     true,
		CreatedAt:   now,
		UpdatedAt:   now,
		Version:     1,
	}
	shown, key := NewSecret()
	sealed, err := m.sealer.Seal(ctx, key, sealContext(p, e.ID))
	if err != nil {
		return Endpoint{}, "", err
	}
	e.Secrets = []SealedSecret{{Sealed: sealed, CreatedAt: now}}
	if err := m.store.CreateEndpoint(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	return e, shown, nil
}

// List returns a publisher's endpoints (secrets stay sealed).
func (m *Endpoints) List(ctx context.Context, p transfer.PublisherID) ([]Endpoint, error) {
	return m.store.Endpoints(ctx, p)
}

// Rotate adds a new signing secret and lets the current one sign for overlap
// more. A secret whose overlap already ran out is dropped, and so is the
// older one of an unfinished previous rotation: at most two secrets sign.
func (m *Endpoints) Rotate(ctx context.Context, p transfer.PublisherID, id string, overlap time.Duration) (Endpoint, string, error) {
	// Sealed first: the sealing key may need a fetch, which the change's
	// read-modify-write should not wait for.
	shown, key := NewSecret()
	sealed, err := m.sealer.Seal(ctx, key, sealContext(p, id))
	if err != nil {
		return Endpoint{}, "", err
	}
	e, err := m.change(ctx, p, id, func(e *Endpoint, now time.Time) {
		var current *SealedSecret
		for _, s := range e.Secrets {
			if s.ExpiresAt.IsZero() {
				current = &s
				break
			}
		}
		e.Secrets = []SealedSecret{{Sealed: sealed, CreatedAt: now}}
		if current != nil && overlap > 0 {
			current.ExpiresAt = now.Add(overlap)
			e.Secrets = append(e.Secrets, *current)
		}
	})
	if err != nil {
		return e, "", err
	}
	return e, shown, nil
}

// Disable stops deliveries to an endpoint; pending ones are cancelled at
// their next attempt.
func (m *Endpoints) Disable(ctx context.Context, p transfer.PublisherID, id, reason string) (Endpoint, error) {
	return m.change(ctx, p, id, func(e *Endpoint, _ time.Time) {
		e.Enabled = false
		e.DisabledReason = reason
	})
}

// Enable resumes deliveries to an endpoint (for events finalized from now on).
func (m *Endpoints) Enable(ctx context.Context, p transfer.PublisherID, id string) (Endpoint, error) {
	return m.change(ctx, p, id, func(e *Endpoint, _ time.Time) {
		e.Enabled = true
		e.DisabledReason = ""
	})
}

// Remove deletes an endpoint.
func (m *Endpoints) Remove(ctx context.Context, p transfer.PublisherID, id string) error {
	return m.store.DeleteEndpoint(ctx, p, id)
}

// change applies edit to the stored endpoint, retrying when a concurrent
// change won.
func (m *Endpoints) change(ctx context.Context, p transfer.PublisherID, id string, edit func(*Endpoint, time.Time)) (Endpoint, error) {
	for range 3 {
		e, err := m.store.Endpoint(ctx, p, id)
		if err != nil {
			return Endpoint{}, err
		}
		if e == nil {
			return Endpoint{}, ErrUnknownEndpoint
		}
		from := e.Version
		now := m.now().UTC()
		edit(e, now)
		e.UpdatedAt = now
		e.Version = from + 1
		err = m.store.ReplaceEndpoint(ctx, *e, from)
		if errors.Is(err, ErrEndpointChanged) {
			continue
		}
		return *e, err
	}
	return Endpoint{}, ErrEndpointChanged
}

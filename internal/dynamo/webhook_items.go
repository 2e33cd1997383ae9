package dynamo

import (
	"strconv"
	"time"

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
func (s *Table) webhookRetention() time.Duration {
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

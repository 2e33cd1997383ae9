// Package webhook announces finalized synchronizations to publishers: the
// inappPurchaseSyncResult webhook of docs/contract.md §4, signed per Standard Webhooks,
// retried for about three days, one delivery per (event, endpoint).
//
// The path of an event:
//
//  1. The processor's transaction that finalizes a synchronization also
//     records its event (transfer.Finalization.EventID): no finalization
//     without its event, no event without its finalization.
//  2. After the commit, the Announcer sends a dispatch message to the webhook
//     queue. If that fails, the event is still pending in the store and the
//     sweeper dispatches it later (Redispatcher).
//  3. The Dispatcher fans the event out: one delivery record and one deliver
//     message per enabled endpoint subscribed to the topic.
//  4. The Deliverer makes one attempt per deliver message and decides what
//     follows (RetryPolicy): done, again after a delay (the queue hides the
//     message that long), or given up and parked in the dead-letter queue.
package webhook

import (
	"encoding/json"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// TopicSyncResult is the topic of a finalized synchronization (docs/contract.md §4).
const TopicSyncResult = "inappPurchaseSyncResult"

// Topics are the topics an endpoint may subscribe to.
var Topics = []string{TopicSyncResult}

// Event is a recorded inappPurchaseSyncResult event.
type Event struct {
	PublisherID       transfer.PublisherID
	SynchronizationID string
	// ID is the webhook-id of every delivery of the event.
	ID        string
	Topic     string
	CreatedAt time.Time
	// Dispatched is set once every delivery of the event has been handed to
	// the queue; until then the sweeper finds the event.
	Dispatched bool
}

// Key names the event.
func (e Event) Key() EventKey {
	return EventKey{PublisherID: e.PublisherID, SynchronizationID: e.SynchronizationID}
}

// EventKey names the event of a synchronization (there is one per topic, and
// one topic).
type EventKey struct {
	PublisherID       transfer.PublisherID
	SynchronizationID string
}

// Payload is the body of docs/contract.md §4. Field order is the documented one.
type Payload struct {
	BroadcasterID transfer.PublisherID `json:"broadcasterId"`
	Topic         string               `json:"topic"`
	Data          PayloadData          `json:"data"`
}

// PayloadData is the synchronization's outcome.
type PayloadData struct {
	SynchronizationID     string              `json:"synchronizationId"`
	TransactionID         string              `json:"transactionId"`
	OriginalTransactionID string              `json:"originalTransactionId,omitempty"`
	CleengCustomerID      transfer.CustomerID `json:"cleengCustomerId"`
	AccessGranted         bool                `json:"accessGranted"`
	OfferID               string              `json:"offerId,omitempty"`
	Result                transfer.Result     `json:"result"`
	// PreviousCleengCustomerID is set only when the owner changed.
	PreviousCleengCustomerID transfer.CustomerID `json:"previousCleengCustomerId,omitempty"`
}

// SyncResultPayload is the webhook body of a finalized synchronization. It
// depends only on the finalized record, which never changes again, so every
// attempt of every delivery sends the same bytes.
func SyncResultPayload(s transfer.Synchronization) ([]byte, error) {
	p := Payload{
		BroadcasterID: s.PublisherID,
		Topic:         TopicSyncResult,
		Data: PayloadData{
			SynchronizationID:     s.ID,
			TransactionID:         s.TransactionID,
			OriginalTransactionID: s.OriginalTransactionID,
			CleengCustomerID:      s.Target,
			AccessGranted:         s.AccessGranted(),
			OfferID:               s.OfferID,
			Result:                s.Result,
		},
	}
	if s.Result == transfer.ResultTransferred {
		p.Data.PreviousCleengCustomerID = s.PreviousOwner
	}
	return json.Marshal(p)
}

// Package dynamo is the DynamoDB adapter: one table, the publisher in every
// partition key, and the transactions that keep the guarantees of docs/design.md (G1–G5).
// docs/data-model.md describes the items and access patterns.
package dynamo

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Attribute names of the table's keys and indexes, as declared in template.yaml.
const (
	attrPK         = "pk"
	attrSK         = "sk"
	attrOwnerPK    = "ownerPk"
	attrOwnerSK    = "ownerSk"
	attrOpenShard  = "openShard"
	attrOpenSince  = "openSince"
	attrTTL        = "ttl"
	IndexByOwner   = "byOwner"
	IndexOpenSyncs = "openSyncs"

	attrPendingShard   = "pendingShard"
	attrPendingSince   = "pendingSince"
	IndexPendingEvents = "pendingEvents"
)

// Sort keys of the singleton items of a partition.
const (
	skPublisher   = "PUBLISHER"
	skCustomer    = "CUSTOMER"
	skTransaction = "TX"
	skPurchase    = "PURCHASE"
	skLock        = "LOCK"
	skSync        = "SYNC"
	skAppleNotice = "NOTIFICATION"
	skAppStoreKey = "APPSTORE_KEY"

	prefixToken   = "TOKEN#"
	prefixHistory = "HISTORY#"

	prefixEndpoint = "WEBHOOK#"
	prefixEvent    = "EVENT#"
	prefixDelivery = "DELIVERY#"
)

// key is the primary key of an item.
type key struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

func (k key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: k.PK},
		attrSK: &types.AttributeValueMemberS{Value: k.SK},
	}
}

func publisherPK(p transfer.PublisherID) string {
	return "PUB#" + strconv.FormatInt(int64(p), 10)
}

func publisherKey(p transfer.PublisherID) key { return key{publisherPK(p), skPublisher} }

// appStoreKeyKey is the publisher's App Store Connect key, beside the
// publisher item rather than in it: the API reads the publisher on every
// request and has no use for a sealed private key.
func appStoreKeyKey(p transfer.PublisherID) key { return key{publisherPK(p), skAppStoreKey} }

func tokenKey(p transfer.PublisherID, hash string) key {
	return key{publisherPK(p), prefixToken + hash}
}

func customerPK(p transfer.PublisherID, c transfer.CustomerID) string {
	return publisherPK(p) + "#CUSTOMER#" + strconv.FormatInt(int64(c), 10)
}

func customerKey(p transfer.PublisherID, c transfer.CustomerID) key {
	return key{customerPK(p, c), skCustomer}
}

func transactionPK(p transfer.PublisherID, tx string) string {
	return publisherPK(p) + "#TX#" + tx
}

// transactionKey maps a transactionId to its chain; it never changes. A
// chain's own originalTransactionId has no such item (data written before
// that rule may have one): the purchase item, keyed by it, names the chain.
// Whoever resolves a transactionId reads both keys together (see chainOf).
func transactionKey(p transfer.PublisherID, tx string) key {
	return key{transactionPK(p, tx), skTransaction}
}

func transactionLockKey(p transfer.PublisherID, tx string) key {
	return key{transactionPK(p, tx), skLock}
}

func purchasePK(p transfer.PublisherID, otx string) string {
	return publisherPK(p) + "#PURCHASE#" + otx
}

func purchaseKey(p transfer.PublisherID, otx string) key {
	return key{purchasePK(p, otx), skPurchase}
}

func chainLockKey(p transfer.PublisherID, otx string) key {
	return key{purchasePK(p, otx), skLock}
}

func historyKey(p transfer.PublisherID, otx, at, syncID string) key {
	return key{purchasePK(p, otx), prefixHistory + at + "#" + syncID}
}

func syncKey(p transfer.PublisherID, id string) key {
	return key{publisherPK(p) + "#SYNC#" + id, skSync}
}

func lockKey(l transfer.LockKey) key {
	if l.OriginalTransactionID != "" {
		return chainLockKey(l.PublisherID, l.OriginalTransactionID)
	}
	return transactionLockKey(l.PublisherID, l.TransactionID)
}

// endpointKey is a webhook endpoint, in its publisher's partition.
func endpointKey(p transfer.PublisherID, id string) key {
	return key{publisherPK(p), prefixEndpoint + id}
}

// eventKey is the webhook event of a synchronization, in its partition.
func eventKey(p transfer.PublisherID, syncID, topic string) key {
	return key{syncKey(p, syncID).PK, prefixEvent + topic}
}

// deliveryKey is the delivery of a synchronization's event to one endpoint,
// in the synchronization's partition.
func deliveryKey(p transfer.PublisherID, syncID, endpointID string) key {
	return key{syncKey(p, syncID).PK, prefixDelivery + endpointID}
}

// notificationKey is an App Store notification's record, in a partition of
// its own (the notificationUUID is Apple's, so it is random and unique).
func notificationKey(p transfer.PublisherID, uuid string) key {
	return key{publisherPK(p) + "#APPLE#" + uuid, skAppleNotice}
}

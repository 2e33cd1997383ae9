package dynamo

import (
	"hash/fnv"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// The item structs mirror what is stored, attribute for attribute.

type publisherItem struct {
	key
	PublisherID         int64  `dynamodbav:"publisherId"`
	Name                string `dynamodbav:"name"`
	StoreKit2Active     bool   `dynamodbav:"storeKit2Active"`
	MigrationInProgress bool   `dynamodbav:"migrationInProgress"`
	// RequireSignedTransaction and Apple are set by `transferctl publisher
	// apple set`; PutPublisher and UpdatePublisher leave them alone.
	RequireSignedTransaction bool          `dynamodbav:"requireSignedTransaction,omitempty"`
	VerifyWithApple          bool          `dynamodbav:"verifyWithApple,omitempty"`
	Apple                    *appleAppItem `dynamodbav:"apple,omitempty"`
	CreatedAt                time.Time     `dynamodbav:"createdAt"`
}

// appleAppItem is the publisher's App Store app, a map inside the publisher item.
type appleAppItem struct {
	BundleID     string            `dynamodbav:"bundleId"`
	AppAppleID   int64             `dynamodbav:"appAppleId,omitempty"`
	Environments []string          `dynamodbav:"environments"`
	Offers       map[string]string `dynamodbav:"offers,omitempty"`
}

func newAppleAppItem(a *transfer.AppleApp) *appleAppItem {
	if a == nil {
		return nil
	}
	return &appleAppItem{BundleID: a.BundleID, AppAppleID: a.AppAppleID, Environments: a.Environments, Offers: a.Offers}
}

func (i publisherItem) publisher() *transfer.Publisher {
	p := &transfer.Publisher{
		ID:                       transfer.PublisherID(i.PublisherID),
		Name:                     i.Name,
		StoreKit2Active:          i.StoreKit2Active,
		MigrationInProgress:      i.MigrationInProgress,
		RequireSignedTransaction: i.RequireSignedTransaction,
		VerifyWithApple:          i.VerifyWithApple,
	}
	if a := i.Apple; a != nil {
		p.Apple = &transfer.AppleApp{BundleID: a.BundleID, AppAppleID: a.AppAppleID, Environments: a.Environments, Offers: a.Offers}
	}
	return p
}

type tokenItem struct {
	key
	PublisherID int64      `dynamodbav:"publisherId"`
	TokenHash   string     `dynamodbav:"tokenHash"`
	Label       string     `dynamodbav:"label,omitempty"`
	CreatedAt   time.Time  `dynamodbav:"createdAt"`
	RevokedAt   *time.Time `dynamodbav:"revokedAt,omitempty"`
	// ExpiresAt lets a rotated-out token keep working for a grace period.
	ExpiresAt *time.Time `dynamodbav:"expiresAt,omitempty"`
}

func (i tokenItem) liveAt(now time.Time) bool {
	return i.RevokedAt == nil && (i.ExpiresAt == nil || now.Before(*i.ExpiresAt))
}

type customerItem struct {
	key
	PublisherID    int64      `dynamodbav:"publisherId"`
	CustomerID     int64      `dynamodbav:"customerId"`
	LastIPAddress  string     `dynamodbav:"lastIpAddress,omitempty"`
	LastActivityAt *time.Time `dynamodbav:"lastActivityAt,omitempty"`
}

type transactionItem struct {
	key
	OriginalTransactionID string `dynamodbav:"originalTransactionId"`
}

type purchaseItem struct {
	key
	PublisherID           int64    `dynamodbav:"publisherId"`
	OriginalTransactionID string   `dynamodbav:"originalTransactionId"`
	TransactionIDs        []string `dynamodbav:"transactionIds"`
	// Owner and its index keys are absent on an unowned purchase, which so
	// stays out of the byOwner index.
	Owner     int64      `dynamodbav:"ownerCustomerId,omitempty"`
	OwnerPK   string     `dynamodbav:"ownerPk,omitempty"`
	OwnerSK   string     `dynamodbav:"ownerSk,omitempty"`
	OfferID   string     `dynamodbav:"offerId"`
	ProductID string     `dynamodbav:"productId,omitempty"`
	Kind      string     `dynamodbav:"kind"`
	State     string     `dynamodbav:"state"`
	ExpiresAt *time.Time `dynamodbav:"expiresAt,omitempty"`
	RevokedAt *time.Time `dynamodbav:"revokedAt,omitempty"`
	// AppleSignedAt (Unix ms) is the signedDate of the last notification applied.
	AppleSignedAt int64     `dynamodbav:"appleSignedAt,omitempty"`
	Version       int64     `dynamodbav:"version"`
	UpdatedAt     time.Time `dynamodbav:"updatedAt"`
}

func newPurchaseItem(p transfer.Purchase, now time.Time) purchaseItem {
	item := purchaseItem{
		key:                   purchaseKey(p.PublisherID, p.OriginalTransactionID),
		PublisherID:           int64(p.PublisherID),
		OriginalTransactionID: p.OriginalTransactionID,
		TransactionIDs:        p.TransactionIDs,
		OfferID:               p.OfferID,
		ProductID:             p.ProductID,
		Kind:                  string(p.Kind),
		State:                 string(p.State),
		Version:               p.Version,
		UpdatedAt:             now,
	}
	if p.Owned() {
		item.Owner = int64(p.Owner)
		item.OwnerPK = customerPK(p.PublisherID, p.Owner)
		item.OwnerSK = ownerSK(p.OriginalTransactionID)
	}
	item.ExpiresAt = optionalTime(p.ExpiresAt)
	item.RevokedAt = optionalTime(p.RevokedAt)
	if !p.AppleSignedAt.IsZero() {
		item.AppleSignedAt = p.AppleSignedAt.UnixMilli()
	}
	return item
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// ownerSK sorts a customer's purchases in the byOwner index.
func ownerSK(otx string) string { return "PURCHASE#" + otx }

func (i purchaseItem) purchase() *transfer.Purchase {
	p := &transfer.Purchase{
		PublisherID:           transfer.PublisherID(i.PublisherID),
		OriginalTransactionID: i.OriginalTransactionID,
		TransactionIDs:        i.TransactionIDs,
		Owner:                 transfer.CustomerID(i.Owner),
		OfferID:               i.OfferID,
		ProductID:             i.ProductID,
		Kind:                  transfer.PurchaseKind(i.Kind),
		State:                 transfer.PurchaseState(i.State),
		Version:               i.Version,
	}
	if i.ExpiresAt != nil {
		p.ExpiresAt = *i.ExpiresAt
	}
	if i.RevokedAt != nil {
		p.RevokedAt = *i.RevokedAt
	}
	if i.AppleSignedAt != 0 {
		p.AppleSignedAt = time.UnixMilli(i.AppleSignedAt).UTC()
	}
	return p
}

type lockItem struct {
	key
	SynchronizationID string `dynamodbav:"synchronizationId"`
	// LeaseUntil is in Unix milliseconds so the take-over condition compares numbers.
	LeaseUntil int64 `dynamodbav:"leaseUntil"`
	TTL        int64 `dynamodbav:"ttl"`
}

// HistoryEntry is one change of a purchase's owner.
type HistoryEntry struct {
	OriginalTransactionID string    `dynamodbav:"originalTransactionId" json:"originalTransactionId"`
	From                  int64     `dynamodbav:"fromCustomerId" json:"fromCustomerId"`
	To                    int64     `dynamodbav:"toCustomerId" json:"toCustomerId"`
	SynchronizationID     string    `dynamodbav:"synchronizationId" json:"synchronizationId"`
	At                    time.Time `dynamodbav:"at" json:"at"`
}

type historyItem struct {
	key
	PublisherID int64 `dynamodbav:"publisherId"`
	HistoryEntry
}

// historyTimeLayout is fixed-width so that history sort keys sort by time.
const historyTimeLayout = "2006-01-02T15:04:05.000000000Z"

type syncItem struct {
	key
	PublisherID           int64      `dynamodbav:"publisherId"`
	SynchronizationID     string     `dynamodbav:"synchronizationId"`
	CorrelationID         string     `dynamodbav:"correlationId,omitempty"`
	RequestHash           string     `dynamodbav:"requestHash"`
	TransactionID         string     `dynamodbav:"transactionId"`
	OriginalTransactionID string     `dynamodbav:"originalTransactionId,omitempty"`
	Target                int64      `dynamodbav:"targetCustomerId"`
	IPAddress             string     `dynamodbav:"ipAddress,omitempty"`
	Status                string     `dynamodbav:"status"`
	Result                string     `dynamodbav:"result,omitempty"`
	OfferID               string     `dynamodbav:"offerId,omitempty"`
	PreviousOwner         int64      `dynamodbav:"previousCustomerId,omitempty"`
	Attempts              int        `dynamodbav:"attempts,omitempty"`
	CreatedAt             time.Time  `dynamodbav:"createdAt"`
	UpdatedAt             time.Time  `dynamodbav:"updatedAt"`
	FinalizedAt           *time.Time `dynamodbav:"finalizedAt,omitempty"`
	// Counted: Open counted it (counts.go); absent on older records.
	Counted bool `dynamodbav:"counted,omitempty"`
	// VerifyWithApple: the processor asks Apple before deciding.
	VerifyWithApple bool `dynamodbav:"verifyWithApple,omitempty"`
	// OpenShard and OpenSince exist only while unfinished: they put the record
	// in the sparse openSyncs index the sweeper reads.
	OpenShard string `dynamodbav:"openShard,omitempty"`
	OpenSince int64  `dynamodbav:"openSince,omitempty"`
	TTL       int64  `dynamodbav:"ttl"`
}

// openShards spreads unfinished records over several index partitions so the
// index never has one hot key.
const openShards = 16

func openShard(id string) string { return "OPEN#" + strconv.Itoa(shardOf(id)) }

// shardOf spreads ids over openShards index partitions (openSyncs, and the
// webhook path's pendingEvents).
func shardOf(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % openShards)
}

func newSyncItem(s transfer.Synchronization, retention time.Duration) syncItem {
	return syncItem{
		key:                   syncKey(s.PublisherID, s.ID),
		PublisherID:           int64(s.PublisherID),
		SynchronizationID:     s.ID,
		CorrelationID:         s.CorrelationID,
		RequestHash:           s.RequestHash,
		TransactionID:         s.TransactionID,
		OriginalTransactionID: s.OriginalTransactionID,
		Target:                int64(s.Target),
		IPAddress:             s.IPAddress,
		Status:                string(s.Status),
		Counted:               s.Counted,
		VerifyWithApple:       s.VerifyWithApple,
		CreatedAt:             s.CreatedAt,
		UpdatedAt:             s.UpdatedAt,
		OpenShard:             openShard(s.ID),
		OpenSince:             s.CreatedAt.UnixMilli(),
		TTL:                   s.CreatedAt.Add(retention).Unix(),
	}
}

func (i syncItem) synchronization() transfer.Synchronization {
	s := transfer.Synchronization{
		PublisherID:           transfer.PublisherID(i.PublisherID),
		ID:                    i.SynchronizationID,
		CorrelationID:         i.CorrelationID,
		RequestHash:           i.RequestHash,
		TransactionID:         i.TransactionID,
		OriginalTransactionID: i.OriginalTransactionID,
		Target:                transfer.CustomerID(i.Target),
		IPAddress:             i.IPAddress,
		Status:                transfer.Status(i.Status),
		Result:                transfer.Result(i.Result),
		OfferID:               i.OfferID,
		PreviousOwner:         transfer.CustomerID(i.PreviousOwner),
		Attempts:              i.Attempts,
		Counted:               i.Counted,
		VerifyWithApple:       i.VerifyWithApple,
		CreatedAt:             i.CreatedAt,
		UpdatedAt:             i.UpdatedAt,
	}
	if i.FinalizedAt != nil {
		s.FinalizedAt = *i.FinalizedAt
	}
	return s
}

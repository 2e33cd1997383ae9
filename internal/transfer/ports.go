package transfer

import (
	"context"
	"errors"
	"time"
)

// Credential is who is calling, as established from the request headers. A
// customer JWT has already been verified (it needs no I/O); a publisher token
// is known only by its hash until the Directory confirms it.
type Credential struct {
	Publisher PublisherID
	// TokenHash is set for a publisher token: it must name a live token of Publisher.
	TokenHash string
	// Customer is set for a customer JWT: the only customer it may act for.
	Customer CustomerID
}

// IsCustomer tells a customer JWT from a publisher token.
func (c Credential) IsCustomer() bool { return c.Customer != 0 }

// LookupKeys names what a request needs to know before it may write anything.
// Empty fields are not looked up.
type LookupKeys struct {
	Publisher     PublisherID
	TokenHash     string
	TransactionID string
}

// Lookup is the answer to LookupKeys.
type Lookup struct {
	// Publisher is nil when the publisher does not exist.
	Publisher *Publisher
	// TokenValid is true when TokenHash names a live token of the publisher.
	TokenValid bool
	// OriginalTransactionID is the chain of TransactionID, "" when unknown.
	OriginalTransactionID string
}

// Directory answers the reads that gate a request. Implementations fetch
// everything that is asked for in one round trip and may cache it briefly.
type Directory interface {
	Lookup(ctx context.Context, keys LookupKeys) (Lookup, error)
}

// Limits bound the unfinished (accepted, not yet finalized) synchronizations
// a new one may join (docs/contract.md §1.6, REQ0007): per target customer,
// so that one customer JWT cannot fill the table and the queues, and per
// publisher, so that one tenant cannot. Zero leaves that count unbounded
// (it is kept all the same, so a bound set later is right at once).
type Limits struct {
	PerCustomer  int
	PerPublisher int
}

// DefaultLimits are a deployment's bounds unless it sets its own (template
// parameters MaxUnfinishedPerCustomer and MaxUnfinishedPerPublisher). Ten
// per customer is more than a person's devices retrying at once; 10,000 per
// publisher is about a minute and a half of the API's default throttle (100
// transfers/s) left unfinished, when a healthy service finalizes each within
// a second.
var DefaultLimits = Limits{PerCustomer: 10, PerPublisher: 10_000}

// OpenConflict is why a synchronization could not be opened. Several fields
// may be set at once; Acceptor decides which one the client is told about.
type OpenConflict struct {
	CustomerMissing   bool
	TransactionLocked bool
	PurchaseLocked    bool
	// CustomerAtLimit and PublisherAtLimit: the synchronization would have
	// gone over Limits.PerCustomer or Limits.PerPublisher.
	CustomerAtLimit  bool
	PublisherAtLimit bool
	// Existing is the synchronization already stored under the requested id.
	Existing *Synchronization
}

func (c *OpenConflict) Error() string { return "synchronization could not be opened" }

// SynchronizationStore persists synchronizations and the locks they hold.
type SynchronizationStore interface {
	// Open writes the synchronization record and takes the transaction lock
	// (and the chain lock when the chain is known), provided the target
	// customer exists, atomically; when s.Counted, it counts s among its
	// customer's and publisher's unfinished synchronizations in the same
	// write, provided neither count would go over limits. The locks free
	// themselves at leaseUntil should their owner never release them. A
	// refusal is an *OpenConflict.
	//
	// A store may keep a publisher's count in parts, each bounding its share
	// of Limits.PerPublisher: it then refuses a little early when the parts
	// fill unevenly, and admits at most as many more as it has parts.
	Open(ctx context.Context, s Synchronization, leaseUntil time.Time, limits Limits) error
	// Abandon undoes Open when the job could not be enqueued: it removes the
	// record and the locks, and uncounts a counted s, but only as long as
	// this synchronization owns them.
	Abandon(ctx context.Context, s Synchronization) error
	SynchronizationReader
}

// SynchronizationReader reads stored synchronizations: the status
// endpoint's whole port, and how Acceptor answers a replay.
type SynchronizationReader interface {
	// Get reads one synchronization of a publisher; found is false when unknown.
	Get(ctx context.Context, publisher PublisherID, id string) (s Synchronization, found bool, err error)
}

// Snapshot is everything the processor needs to decide a job, read at once.
type Snapshot struct {
	// Sync is nil when the record does not exist (rolled back or expired).
	Sync *Synchronization
	// OriginalTransactionID is the chain of the job's transaction, "" if unknown.
	OriginalTransactionID string
	// Purchase is nil when the transaction names no purchase of the publisher.
	Purchase *Purchase
	// HeldLocks are the locks this synchronization still owns.
	HeldLocks []LockKey
}

// LockKey names a lock: on one transactionId, or on a whole chain.
type LockKey struct {
	PublisherID PublisherID
	// Exactly one of the two is set.
	TransactionID         string
	OriginalTransactionID string
}

// OwnershipChange moves a purchase from one customer to another.
type OwnershipChange struct {
	From, To CustomerID
	// FromVersion is the purchase version the decision was made on.
	FromVersion int64
}

// Finalization is a decided result, applied all or nothing.
type Finalization struct {
	// Sync is the record as finalized.
	Sync Synchronization
	// ReadVersion, when Purchase was read, guards the decision against a
	// concurrent change of the purchase (nil when there was no purchase).
	ReadVersion *int64
	// Change is set only for PURCHASE_OWNERSHIP_TRANSFERRED.
	Change *OwnershipChange
	// ReleaseLocks are the locks to release, each only if still owned.
	ReleaseLocks []LockKey
	// EventID names the inappPurchaseSyncResult event (docs/contract.md §4) that the same
	// transaction records: no finalization without its webhook, no webhook
	// without its finalization. Its deliveries carry it as webhook-id.
	EventID string
}

var (
	// ErrAlreadyFinalized means another delivery of the job finished it first.
	ErrAlreadyFinalized = errors.New("synchronization already finalized")
	// ErrStale means what the decision was based on changed; read again.
	ErrStale = errors.New("snapshot is stale")
)

// WorkStore is the storage the processor needs.
type WorkStore interface {
	Load(ctx context.Context, job Job) (Snapshot, error)
	// Finalize applies a finalization in one transaction, which also
	// uncounts a counted f.Sync (Open): so only the delivery that finalizes
	// uncounts it. It fails with ErrAlreadyFinalized or ErrStale when its
	// guards do not hold.
	Finalize(ctx context.Context, f Finalization) error
	// MarkRetrying records a failed attempt on an unfinished synchronization.
	MarkRetrying(ctx context.Context, job Job, attempts int, at time.Time) error
}

// AppleCheck brings a stored purchase up to date with what Apple says of it
// now (the App Store Server API), before a transfer of a publisher with
// VerifyWithApple is decided on it.
type AppleCheck interface {
	// Refresh asks Apple about p's chain and, when Apple's answer differs
	// from p, applies it to the stored purchase the way a notification is
	// applied; changed tells that the purchase must be read again. An error
	// means Apple could not be asked (or its answer not stored): the
	// transfer is not decided on a guess, it is retried.
	Refresh(ctx context.Context, p Purchase) (changed bool, err error)
}

// Queue carries jobs from the transfer endpoint to the processor.
type Queue interface {
	Enqueue(ctx context.Context, job Job) error
}

// Notifier learns of every finalized synchronization once its record is
// committed (the webhook path). It must not block or fail the processor.
type Notifier interface {
	Finalized(ctx context.Context, s Synchronization)
}

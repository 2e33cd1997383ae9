// Package transfer holds what happens to a purchase transfer: the rules that
// accept a request, the rules that decide and apply its result, and the ports
// (small interfaces) through which those rules reach storage and the queue.
// Adapters (DynamoDB, SQS, HTTP) import this package; it imports none of them.
package transfer

import "time"

// PublisherID identifies a tenant. Every key of every record starts with it.
type PublisherID int64

// CustomerID is Cleeng's cleengCustomerId: any positive 64-bit integer.
type CustomerID int64

// Publisher holds the per-tenant switches that gate a transfer.
type Publisher struct {
	ID                  PublisherID
	Name                string
	StoreKit2Active     bool
	MigrationInProgress bool
	// RequireSignedTransaction makes a customer-JWT transfer prove possession
	// of the purchase with the StoreKit 2 signed transaction its device holds.
	RequireSignedTransaction bool
	// VerifyWithApple makes the processor ask the App Store Server API for
	// the purchase's current state before it decides a transfer (AppleCheck).
	// It takes effect for the transfers accepted while it is on.
	VerifyWithApple bool
	// Apple is the publisher's App Store app; nil until it is configured.
	Apple *AppleApp
}

// Apple environments, spelt as Apple's payloads spell them.
const (
	EnvironmentProduction = "Production"
	EnvironmentSandbox    = "Sandbox"
)

// AppleApp is what the service must know of a publisher's app to trust what
// Apple says about it.
type AppleApp struct {
	BundleID string
	// AppAppleID is Apple's numeric id of the app; Production payloads carry it.
	AppAppleID int64
	// Environments are the Apple environments whose notifications apply.
	Environments []string
	// Offers maps an App Store productId to the publisher's offerId, the id
	// the status endpoint and the webhook report.
	Offers map[string]string
}

// Accepts tells whether notifications from an Apple environment apply.
func (a AppleApp) Accepts(environment string) bool {
	for _, e := range a.Environments {
		if e == environment {
			return true
		}
	}
	return false
}

// PurchaseKind is the Apple product type of a purchase.
type PurchaseKind string

const (
	KindAutoRenewable PurchaseKind = "auto-renewable"
	KindNonRenewing   PurchaseKind = "non-renewing"
	KindNonConsumable PurchaseKind = "non-consumable"
)

// PurchaseState is the Apple-side state of a purchase chain.
type PurchaseState string

const (
	StateActive  PurchaseState = "active"
	StateExpired PurchaseState = "expired"
	StateRevoked PurchaseState = "revoked"
)

// Purchase is one Apple subscription chain (or one-off purchase), named by its
// originalTransactionId and owned by at most one customer.
type Purchase struct {
	PublisherID           PublisherID
	OriginalTransactionID string
	TransactionIDs        []string
	// Owner is 0 for a purchase Apple told us of before anyone claimed it: no
	// transfer can take it until an operator assigns it.
	Owner     CustomerID
	OfferID   string
	ProductID string
	Kind      PurchaseKind
	State     PurchaseState
	// ExpiresAt is zero for purchases that never expire (non-consumables).
	ExpiresAt time.Time
	// RevokedAt is when Apple refunded or revoked the purchase.
	RevokedAt time.Time
	// AppleSignedAt is the signedDate of the last App Store notification
	// applied; an older one changes nothing, so delivery order never rolls
	// the state back.
	AppleSignedAt time.Time
	// Version increases with every change (an owner's, or Apple's); every
	// write is conditioned on it, so a decision is never applied to a state
	// it did not see.
	Version int64
}

// Owned tells whether a customer owns the purchase.
func (p Purchase) Owned() bool { return p.Owner != 0 }

// ActiveAt tells whether the purchase entitles its owner at the given time.
func (p Purchase) ActiveAt(now time.Time) bool {
	if p.State != StateActive {
		return false
	}
	return p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt)
}

// Status is the lifecycle of a synchronization as the status endpoint shows it.
type Status string

const (
	StatusProcessing Status = "processing"
	StatusRetrying   Status = "retrying"
	StatusFinalized  Status = "finalized"
)

// Result is the outcome of a finalized synchronization (docs/contract.md §3).
type Result string

const (
	ResultTransferred    Result = "PURCHASE_OWNERSHIP_TRANSFERRED"
	ResultUnchanged      Result = "PURCHASE_OWNERSHIP_UNCHANGED"
	ResultExpired        Result = "RECEIVED_EXPIRED_PURCHASE"
	ResultNotFound       Result = "TRANSACTION_ID_NOT_FOUND"
	ResultTransferFailed Result = "TRANSFER_FAILED"
)

// AccessGranted is true for the results after which the target is entitled.
func (r Result) AccessGranted() bool {
	return r == ResultTransferred || r == ResultUnchanged
}

// Synchronization is the record of one asynchronous transfer.
type Synchronization struct {
	PublisherID PublisherID
	ID          string
	// CorrelationID is set when the client chose the id; it then equals ID.
	CorrelationID string
	// RequestHash fingerprints the request body so a replayed Correlation-Id
	// can be told apart from a reused one.
	RequestHash   string
	TransactionID string
	// OriginalTransactionID is known at accept time when the transaction was
	// already mapped to its chain, and always once finalized on a known purchase.
	OriginalTransactionID string
	Target                CustomerID
	IPAddress             string

	Status        Status
	Result        Result
	OfferID       string
	PreviousOwner CustomerID
	Attempts      int
	// Counted is true when the synchronization was counted, as it was
	// opened, among its target customer's and its publisher's unfinished
	// ones (the bounds of Limits): the transaction that finalizes it, or the
	// rollback that removes it, uncounts it there, once. False only for
	// records opened before the service counted them.
	Counted bool
	// VerifyWithApple is the publisher's setting as the transfer was
	// accepted: the processor asks Apple before deciding. Kept on the record
	// so that a publisher without it costs the processor no extra read.
	VerifyWithApple bool

	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinalizedAt time.Time
}

// AccessGranted reports the accessGranted field of a finalized synchronization.
func (s Synchronization) AccessGranted() bool { return s.Result.AccessGranted() }

// Job is what the transfer queue carries: the key of a synchronization
// record, and a prefetch hint. Everything that decides which purchase moves
// (its transactionId, its chain, the target) is read from the stored record,
// so a message written by anyone who can send to the queue names at most a
// synchronization that exists and moves only what that record says.
//
// The hint is the record's transactionId and chain as the sender saw them
// (JobOf writes them; messages sent before jobs carried a hint have none).
// It only lets the processor read the locks and the purchase in the same
// round trip as the record; the processor uses what it read by the hint only
// when the hint names exactly what the record names, and otherwise reads
// again by the record.
type Job struct {
	PublisherID       PublisherID `json:"publisherId"`
	SynchronizationID string      `json:"synchronizationId"`
	// HintTransactionID and HintOriginalTransactionID are the prefetch hint:
	// never a reason to read or write anything but what the record names.
	HintTransactionID         string `json:"transactionId,omitempty"`
	HintOriginalTransactionID string `json:"originalTransactionId,omitempty"`
}

// JobOf is the queue message that drives a synchronization to its result,
// hinted with the record's own transactionId and chain.
func JobOf(s Synchronization) Job {
	return Job{PublisherID: s.PublisherID, SynchronizationID: s.ID,
		HintTransactionID: s.TransactionID, HintOriginalTransactionID: s.OriginalTransactionID}
}

// Hint is the job's prefetch hint, when it has a usable one: a valid
// transactionId, and a chain that is empty (unknown at accept time) or a
// valid id too. A malformed hint (only a forged message has one) is no hint,
// so that it never reaches a storage key.
func (j Job) Hint() (tx, otx string, ok bool) {
	tx, otx = j.HintTransactionID, j.HintOriginalTransactionID
	if !ValidTransactionID(tx) || (otx != "" && !ValidTransactionID(otx)) {
		return "", "", false
	}
	return tx, otx, true
}

// HintMatches tells whether the job's hint names exactly the transactionId
// and chain of s, its stored record: only then may what was read by the
// hint be used.
func (j Job) HintMatches(s Synchronization) bool {
	tx, otx, ok := j.Hint()
	return ok && tx == s.TransactionID && otx == s.OriginalTransactionID
}

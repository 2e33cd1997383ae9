package transfer

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"
)

// DefaultLockLease is how long a synchronization may hold its locks. It must
// outlast the processor's whole retry budget (receives × visibility timeout),
// so that only an orphan ever loses its locks to the lease.
const DefaultLockLease = 15 * time.Minute

// LimitRetryAfter is the Retry-After of a REQ0007 answer (docs/contract.md
// §1.6). A healthy synchronization is finalized within tens of milliseconds
// of its 202, and the transfer latency alarm fires when the p99 passes 5 s
// (docs/operations.md): 5 s from now, the unfinished synchronizations that
// filled the bound are finalized, unless the processor is failing, and then
// retrying sooner would not help.
const LimitRetryAfter = 5 * time.Second

// Intake is a transfer request as the HTTP layer parsed it. A body that failed
// validation is carried as BodyError, because docs/contract.md §1 reports authentication
// failures before body errors.
type Intake struct {
	Credential    Credential
	Request       Request
	BodyError     *Error
	CorrelationID string
}

// Accepted is the answer to an accepted (or replayed) transfer.
type Accepted struct {
	Synchronization Synchronization
	// Replayed is true when the Correlation-Id named an earlier identical request.
	Replayed bool
}

// Acceptor applies the checks of docs/contract.md §1 in their documented order, opens the
// synchronization and enqueues its job.
type Acceptor struct {
	directory Directory
	store     SynchronizationStore
	queue     Queue
	now       func() time.Time
	newID     func() string
	lease     time.Duration
	signed    SignedTransactionVerifier
	limits    Limits
}

// Option configures an Acceptor or a Processor.
type Option func(*options)

type options struct {
	now         func() time.Time
	newID       func() string
	lease       time.Duration
	maxReceives int
	notifiers   notifiers
	signed      SignedTransactionVerifier
	limits      Limits
	apple       AppleCheck
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithIDGenerator replaces the random synchronizationId generator.
func WithIDGenerator(newID func() string) Option { return func(o *options) { o.newID = newID } }

// WithLockLease sets how long locks live without their owner releasing them.
func WithLockLease(d time.Duration) Option { return func(o *options) { o.lease = d } }

// WithLimits bounds the unfinished synchronizations per customer and per
// publisher (none by default: the functions read theirs from config).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithMaxReceives is the transfer queue's maxReceiveCount: the delivery at
// which a still-failing job is finalized TRANSFER_FAILED.
func WithMaxReceives(n int) Option { return func(o *options) { o.maxReceives = n } }

// WithAppleCheck makes the processor ask Apple before deciding the
// transfers of publishers with VerifyWithApple (without it, such a transfer
// is retried, never decided unchecked).
func WithAppleCheck(c AppleCheck) Option { return func(o *options) { o.apple = c } }

// WithNotifier is told of every finalized synchronization; each notifier of
// several WithNotifier options is, in their order.
func WithNotifier(n Notifier) Option {
	return func(o *options) { o.notifiers = append(o.notifiers, n) }
}

func buildOptions(opts []Option) options {
	o := options{
		now:         time.Now,
		newID:       rand.Text, // 26 base32 characters, 130 random bits
		lease:       DefaultLockLease,
		maxReceives: 5,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// NewAcceptor wires the accept rules to their ports.
func NewAcceptor(d Directory, s SynchronizationStore, q Queue, opts ...Option) *Acceptor {
	o := buildOptions(opts)
	return &Acceptor{directory: d, store: s, queue: q, now: o.now, newID: o.newID, lease: o.lease, signed: o.signed, limits: o.limits}
}

// Accept runs the checks of docs/contract.md §1 in order. Any refusal leaves nothing
// behind: no lock, no record, no message.
func (a *Acceptor) Accept(ctx context.Context, in Intake) (Accepted, error) {
	keys := LookupKeys{Publisher: in.Credential.Publisher, TokenHash: in.Credential.TokenHash}
	if in.BodyError == nil {
		// Read the chain in the same round trip as the credential, so that a
		// request costs one read however cold the caches are.
		keys.TransactionID = in.Request.TransactionID
	}
	found, err := a.directory.Lookup(ctx, keys)
	if err != nil {
		return Accepted{}, Internal(CodeStorageFailure, err)
	}
	if err := authorize(in.Credential, found); err != nil {
		return Accepted{}, err
	}
	if in.BodyError != nil {
		return Accepted{}, in.BodyError
	}
	if in.Credential.IsCustomer() && in.Credential.Customer != in.Request.Target {
		return Accepted{}, Refuse(CodeForbidden, "The customer token may only transfer a purchase to its own customer.",
			FieldError{Field: "cleengCustomerId", Message: "must be the customer of the token"})
	}
	if err := a.checkSignedTransaction(ctx, in.Credential, found.Publisher, in.Request, found.OriginalTransactionID); err != nil {
		return Accepted{}, err
	}
	if !found.Publisher.StoreKit2Active {
		return Accepted{}, Refuse(CodeIntegrationInactive, "The StoreKit 2 integration is not active for this publisher.")
	}
	if found.Publisher.MigrationInProgress {
		return Accepted{}, Refuse(CodeMigrationInProgress, "A migration is in progress for this publisher.")
	}

	now := a.now().UTC()
	sync := Synchronization{
		PublisherID:           in.Credential.Publisher,
		ID:                    in.CorrelationID,
		CorrelationID:         in.CorrelationID,
		RequestHash:           in.Request.Fingerprint(),
		TransactionID:         in.Request.TransactionID,
		OriginalTransactionID: found.OriginalTransactionID,
		Target:                in.Request.Target,
		IPAddress:             in.Request.IPAddress,
		Status:                StatusProcessing,
		Counted:               true,
		VerifyWithApple:       found.Publisher.VerifyWithApple && found.Publisher.Apple != nil,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	if sync.ID == "" {
		sync.ID = a.newID()
	}

	err = a.store.Open(ctx, sync, now.Add(a.lease), a.limits)
	var conflict *OpenConflict
	switch {
	case errors.As(err, &conflict):
		return refuseConflict(conflict, sync)
	case err != nil:
		return Accepted{}, Internal(CodeStorageFailure, err)
	}

	if err := a.queue.Enqueue(ctx, JobOf(sync)); err != nil {
		// The client is told to retry, so nothing of this attempt may stay
		// behind to make that retry a 409.
		rbCtx, cancel := rollbackContext(ctx)
		defer cancel()
		if rbErr := a.store.Abandon(rbCtx, sync); rbErr != nil {
			slog.ErrorContext(ctx, "rollback after failed enqueue failed; the lock lease and the sweeper will clear it",
				"synchronizationId", sync.ID, "error", rbErr)
		}
		return Accepted{}, Internal(CodeQueueFailure, err)
	}
	return Accepted{Synchronization: sync}, nil
}

// RollbackGrace is how long a rollback may run once the request's own
// deadline has passed (the enqueue that failed used it up): a part of the
// margin the HTTP layer keeps to answer (internal/deadline.Margin, 500 ms).
const RollbackGrace = 200 * time.Millisecond

// rollbackContext is ctx while it has time left; once it has ended, a
// context of its values that lasts RollbackGrace.
func rollbackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), RollbackGrace)
}

// authorize turns a lookup into the 401 of docs/contract.md §1: the publisher must exist
// and, for a publisher token, the token must be live.
func authorize(c Credential, found Lookup) error {
	if found.Publisher == nil || (c.TokenHash != "" && !found.TokenValid) {
		return Refuse(CodeUnauthenticated, "The credentials are not valid.")
	}
	return nil
}

// refuseConflict reports the first failed condition in the order of docs/contract.md §1,
// unless the request is a replay of the synchronization stored under its id.
func refuseConflict(c *OpenConflict, attempted Synchronization) (Accepted, error) {
	if c.Existing != nil && c.Existing.RequestHash == attempted.RequestHash {
		return Accepted{Synchronization: *c.Existing, Replayed: true}, nil
	}
	switch {
	case c.CustomerMissing:
		return Accepted{}, Refuse(CodeUnknownCustomer, "The customer does not exist for this publisher.",
			FieldError{Field: "cleengCustomerId", Message: "unknown customer"})
	case c.TransactionLocked:
		return Accepted{}, Refuse(CodeTransactionLocked, "An unfinished synchronization already holds this transaction.",
			FieldError{Field: "transactionId", Message: "already being synchronized"})
	case c.PurchaseLocked:
		return Accepted{}, Refuse(CodePurchaseLocked, "An unfinished synchronization already holds this purchase.",
			FieldError{Field: "transactionId", Message: "its purchase is already being synchronized"})
	case c.Existing != nil:
		return Accepted{}, Refuse(CodeCorrelationIDReused, "The Correlation-Id was already used for a different request.",
			FieldError{Field: "Correlation-Id", Message: "already used for a different request"})
	case c.CustomerAtLimit:
		return Accepted{}, tooMany(Refuse(CodeTooManyUnfinished, "Too many synchronizations of this customer are unfinished; retry later.",
			FieldError{Field: "cleengCustomerId", Message: "has too many unfinished synchronizations"}))
	case c.PublisherAtLimit:
		return Accepted{}, tooMany(Refuse(CodeTooManyUnfinished, "Too many synchronizations of this publisher are unfinished; retry later."))
	}
	return Accepted{}, Internal(CodeStorageFailure, errors.New("open refused without a reason"))
}

func tooMany(e *Error) *Error {
	e.RetryAfter = LimitRetryAfter
	return e
}

// notifiers tells each of its notifiers.
type notifiers []Notifier

func (ns notifiers) Finalized(ctx context.Context, s Synchronization) {
	for _, n := range ns {
		n.Finalized(ctx, s)
	}
}

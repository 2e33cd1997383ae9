// Package memstore is one stateful, in-memory implementation of every
// storage port of package transfer (Directory, SynchronizationStore,
// WorkStore, OpenStore), with the semantics of the DynamoDB adapter: the
// same conditions, the same all-or-nothing writes, the same answers. A
// Queue and a Notifier record what reaches them.
//
// It is for unit tests: seed it like transferctl seeds DynamoDB (PutPublisher,
// PutToken, PutCustomers, PutPurchase...), inspect what the code under test
// left behind (Get, Purchase, History, Locks, Events), and inject faults or
// observe calls with hooks (SetHooks). dev/storecontract holds it to the
// DynamoDB adapter's behaviour.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

var (
	_ transfer.Directory            = (*Store)(nil)
	_ transfer.SynchronizationStore = (*Store)(nil)
	_ transfer.WorkStore            = (*Store)(nil)
	_ transfer.OpenStore            = (*Store)(nil)
)

var (
	// ErrNotOwned is Abandon's answer when the record or a lock it would
	// remove is no longer this synchronization's; nothing was removed.
	ErrNotOwned = errors.New("memstore: not owned by this synchronization")
	// ErrNotFound is RevokeToken's answer for an unknown token.
	ErrNotFound = errors.New("memstore: not found")
)

// Hooks run before the store method of the same name, outside the store's
// lock (a hook may call the store, e.g. to change a purchase under a
// Finalize). A non-nil error is returned instead of running the method,
// which then has no effect. Nil hooks do nothing.
type Hooks struct {
	Lookup       func(ctx context.Context, keys transfer.LookupKeys) error
	Open         func(ctx context.Context, s transfer.Synchronization, leaseUntil time.Time, limits transfer.Limits) error
	Abandon      func(ctx context.Context, s transfer.Synchronization) error
	Get          func(ctx context.Context, p transfer.PublisherID, id string) error
	Load         func(ctx context.Context, job transfer.Job) error
	Finalize     func(ctx context.Context, f transfer.Finalization) error
	MarkRetrying func(ctx context.Context, job transfer.Job, attempts int, at time.Time) error
	Stale        func(ctx context.Context, before time.Time, limit int) error
	Requeued     func(ctx context.Context, s transfer.Synchronization, at time.Time) error
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now: lock leases and token expiry are judged by it.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Lock is a held lock, as Locks reports it.
type Lock struct {
	Key               transfer.LockKey
	SynchronizationID string
	LeaseUntil        time.Time
}

// HistoryEntry is one change of a purchase's owner.
type HistoryEntry struct {
	OriginalTransactionID string
	From, To              transfer.CustomerID
	SynchronizationID     string
	At                    time.Time
}

// Customer is a stored customer and the activity its transfers recorded.
type Customer struct {
	PublisherID    transfer.PublisherID
	ID             transfer.CustomerID
	LastIPAddress  string
	LastActivityAt time.Time
}

// Event is the webhook event a finalization recorded (the outbox).
type Event struct {
	ID   string
	Sync transfer.Synchronization
}

type tokenKey struct {
	p    transfer.PublisherID
	hash string
}

type token struct {
	label     string
	revoked   bool
	expiresAt time.Time
}

type customerKey struct {
	p  transfer.PublisherID
	id transfer.CustomerID
}

// chainKey names a purchase (by its originalTransactionId) or a
// transaction's mapping (by its transactionId), of one publisher.
type chainKey struct {
	p  transfer.PublisherID
	id string
}

type syncKey struct {
	p  transfer.PublisherID
	id string
}

type record struct {
	s transfer.Synchronization
	// open is true while unfinished (DynamoDB's openSyncs index entry);
	// openSince is then the Unix millisecond the grace period started.
	open      bool
	openSince int64
}

type heldLock struct {
	syncID     string
	leaseUntil time.Time
}

// Store is the in-memory table. The zero value is not usable: call New.
type Store struct {
	mu  sync.Mutex
	now func() time.Time

	hooks Hooks
	calls map[string]int

	publishers map[transfer.PublisherID]transfer.Publisher
	tokens     map[tokenKey]token
	customers  map[customerKey]Customer
	purchases  map[chainKey]transfer.Purchase
	mappings   map[chainKey]string
	syncs      map[syncKey]record
	locks      map[transfer.LockKey]heldLock
	history    map[chainKey][]HistoryEntry
	events     map[syncKey]Event
	// The counts of counted unfinished synchronizations, per target customer
	// and per publisher. The publisher's is one exact count: the DynamoDB
	// adapter's parts are allowed by the port, not required.
	customerCounts  map[customerKey]int
	publisherCounts map[transfer.PublisherID]int
}

// New is an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:        time.Now,
		calls:      map[string]int{},
		publishers: map[transfer.PublisherID]transfer.Publisher{},
		tokens:     map[tokenKey]token{},
		customers:  map[customerKey]Customer{},
		purchases:  map[chainKey]transfer.Purchase{},
		mappings:   map[chainKey]string{},
		syncs:      map[syncKey]record{},
		locks:      map[transfer.LockKey]heldLock{},
		history:    map[chainKey][]HistoryEntry{},
		events:     map[syncKey]Event{},

		customerCounts:  map[customerKey]int{},
		publisherCounts: map[transfer.PublisherID]int{},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// SetHooks replaces the hooks.
func (s *Store) SetHooks(h Hooks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = h
}

// Calls is how often the port method of that name ("Open", "Finalize"...)
// was called, whether its hook let it run or not.
func (s *Store) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// enter counts a call and returns the hooks to run before it.
func (s *Store) enter(method string) Hooks {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	return s.hooks
}

// stamp is a time as DynamoDB gives it back: without a monotonic reading.
func stamp(t time.Time) time.Time { return t.Round(0) }

// Lookup answers like the DynamoDB Directory: the publisher, whether the
// token is live, and the transaction's chain.
func (s *Store) Lookup(ctx context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	if h := s.enter("Lookup").Lookup; h != nil {
		if err := h(ctx, keys); err != nil {
			return transfer.Lookup{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out transfer.Lookup
	if p, ok := s.publishers[keys.Publisher]; ok {
		out.Publisher = &p
	}
	if keys.TokenHash != "" {
		tok, ok := s.tokens[tokenKey{keys.Publisher, keys.TokenHash}]
		out.TokenValid = ok && !tok.revoked && (tok.expiresAt.IsZero() || s.now().Before(tok.expiresAt))
	}
	if keys.TransactionID != "" {
		out.OriginalTransactionID, _ = s.chainOf(keys.Publisher, keys.TransactionID)
	}
	return out, nil
}

// chainOf resolves a transactionId like the adapter's chainOf: its mapping,
// else itself when a purchase is keyed by it, else "".
func (s *Store) chainOf(p transfer.PublisherID, tx string) (string, *transfer.Purchase) {
	if otx, ok := s.mappings[chainKey{p, tx}]; ok && otx != tx {
		return otx, nil
	}
	if pur, ok := s.purchases[chainKey{p, tx}]; ok {
		pur := clonePurchase(pur)
		return tx, &pur
	}
	if _, ok := s.mappings[chainKey{p, tx}]; ok {
		return tx, nil
	}
	return "", nil
}

func clonePurchase(p transfer.Purchase) transfer.Purchase {
	p.TransactionIDs = slices.Clone(p.TransactionIDs)
	return p
}

// Open writes the record, takes the locks and counts a counted sync,
// provided the record is new, each lock is free (absent, or its lease ran
// out), the target customer exists and neither count would pass its limit;
// otherwise it writes nothing and reports every failed condition.
func (s *Store) Open(ctx context.Context, sync transfer.Synchronization, leaseUntil time.Time, limits transfer.Limits) error {
	if h := s.enter("Open").Open; h != nil {
		if err := h(ctx, sync, leaseUntil, limits); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMilli()
	free := func(k transfer.LockKey) bool {
		l, ok := s.locks[k]
		return !ok || l.leaseUntil.UnixMilli() < now
	}
	k := syncKey{sync.PublisherID, sync.ID}
	conflict := &transfer.OpenConflict{}
	if rec, ok := s.syncs[k]; ok {
		existing := rec.s
		conflict.Existing = &existing
	}
	locks := ownLocks(sync)
	if !free(locks[0]) {
		conflict.TransactionLocked = true
	}
	if len(locks) > 1 && !free(locks[1]) {
		conflict.PurchaseLocked = true
	}
	target := customerKey{sync.PublisherID, sync.Target}
	if _, ok := s.customers[target]; !ok {
		conflict.CustomerMissing = true
	}
	full := func(count, limit int) bool { return sync.Counted && limit > 0 && count >= limit }
	conflict.CustomerAtLimit = full(s.customerCounts[target], limits.PerCustomer)
	conflict.PublisherAtLimit = full(s.publisherCounts[sync.PublisherID], limits.PerPublisher)
	if *conflict != (transfer.OpenConflict{}) {
		return conflict
	}
	s.count(sync, 1)
	stored := opened(sync)
	s.syncs[k] = record{s: stored, open: true, openSince: stored.CreatedAt.UnixMilli()}
	for _, l := range locks {
		s.locks[l] = heldLock{syncID: sync.ID, leaseUntil: stamp(leaseUntil)}
	}
	return nil
}

// opened is the record as Open stores it: what a synchronization is at
// accept time, nothing of a result.
func opened(s transfer.Synchronization) transfer.Synchronization {
	return transfer.Synchronization{
		PublisherID:           s.PublisherID,
		ID:                    s.ID,
		CorrelationID:         s.CorrelationID,
		RequestHash:           s.RequestHash,
		TransactionID:         s.TransactionID,
		OriginalTransactionID: s.OriginalTransactionID,
		Target:                s.Target,
		IPAddress:             s.IPAddress,
		Status:                s.Status,
		Counted:               s.Counted,
		CreatedAt:             stamp(s.CreatedAt),
		UpdatedAt:             stamp(s.UpdatedAt),
	}
}

// ownLocks are the locks Open takes for a synchronization: the transaction
// lock, then the chain lock when the chain is known.
func ownLocks(s transfer.Synchronization) []transfer.LockKey {
	locks := []transfer.LockKey{{PublisherID: s.PublisherID, TransactionID: s.TransactionID}}
	if s.OriginalTransactionID != "" {
		locks = append(locks, transfer.LockKey{PublisherID: s.PublisherID, OriginalTransactionID: s.OriginalTransactionID})
	}
	return locks
}

// Abandon removes the record and the locks Open took, all or nothing: only
// while the record is still processing with this request's hash and every
// lock is still this synchronization's. Otherwise it removes nothing and
// answers ErrNotOwned.
func (s *Store) Abandon(ctx context.Context, sync transfer.Synchronization) error {
	if h := s.enter("Abandon").Abandon; h != nil {
		if err := h(ctx, sync); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := syncKey{sync.PublisherID, sync.ID}
	rec, ok := s.syncs[k]
	if !ok || rec.s.Status != transfer.StatusProcessing || rec.s.RequestHash != sync.RequestHash {
		return fmt.Errorf("abandon %s: record: %w", sync.ID, ErrNotOwned)
	}
	locks := ownLocks(sync)
	for _, l := range locks {
		if held, ok := s.locks[l]; !ok || held.syncID != sync.ID {
			return fmt.Errorf("abandon %s: lock %+v: %w", sync.ID, l, ErrNotOwned)
		}
	}
	delete(s.syncs, k)
	for _, l := range locks {
		delete(s.locks, l)
	}
	s.count(sync, -1)
	return nil
}

// count adds delta to both counts of a counted sync; the caller holds s.mu.
func (s *Store) count(sync transfer.Synchronization, delta int) {
	if sync.Counted {
		s.customerCounts[customerKey{sync.PublisherID, sync.Target}] += delta
		s.publisherCounts[sync.PublisherID] += delta
	}
}

// Unfinished is how many counted synchronizations are unfinished for a
// target customer of a publisher, and for the whole publisher.
func (s *Store) Unfinished(p transfer.PublisherID, c transfer.CustomerID) (customer, publisher int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.customerCounts[customerKey{p, c}], s.publisherCounts[p]
}

// Get reads one synchronization.
func (s *Store) Get(ctx context.Context, p transfer.PublisherID, id string) (transfer.Synchronization, bool, error) {
	if h := s.enter("Get").Get; h != nil {
		if err := h(ctx, p, id); err != nil {
			return transfer.Synchronization{}, false, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.syncs[syncKey{p, id}]
	return rec.s, ok, nil
}

// Load reads a job's snapshot like the DynamoDB WorkStore: nothing but a nil
// Sync when the record is missing; the chain lock only when the record names
// the chain; otherwise the chain resolved from the record's transactionId.
func (s *Store) Load(ctx context.Context, job transfer.Job) (transfer.Snapshot, error) {
	if h := s.enter("Load").Load; h != nil {
		if err := h(ctx, job); err != nil {
			return transfer.Snapshot{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := job.PublisherID
	var snap transfer.Snapshot
	rec, ok := s.syncs[syncKey{p, job.SynchronizationID}]
	if !ok {
		return snap, nil
	}
	sync := rec.s
	snap.Sync = &sync
	// The transactionId and chain are the record's, as in the DynamoDB
	// adapter: the job's hint only saves that adapter a round trip, and one
	// read of memory needs no prefetch.
	tx, otx := sync.TransactionID, sync.OriginalTransactionID
	held := func(l transfer.LockKey) {
		if lock, ok := s.locks[l]; ok && lock.syncID == sync.ID {
			snap.HeldLocks = append(snap.HeldLocks, l)
		}
	}
	held(transfer.LockKey{PublisherID: p, TransactionID: tx})
	if otx != "" {
		snap.OriginalTransactionID = otx
		held(transfer.LockKey{PublisherID: p, OriginalTransactionID: otx})
		if pur, ok := s.purchases[chainKey{p, otx}]; ok {
			pur := clonePurchase(pur)
			snap.Purchase = &pur
		}
		return snap, nil
	}
	otx, pur := s.chainOf(p, tx)
	snap.OriginalTransactionID = otx
	switch {
	case otx == "":
	case pur != nil:
		snap.Purchase = pur
	default:
		if got, ok := s.purchases[chainKey{p, otx}]; ok {
			got := clonePurchase(got)
			snap.Purchase = &got
		}
	}
	return snap, nil
}

// Finalize applies a finalization all or nothing, with the DynamoDB
// adapter's guards: ErrAlreadyFinalized when the record is missing or
// finalized; ErrStale when the purchase is not as decided on (version, and
// owner for a change), a lock to release is not this synchronization's, or
// the target customer of a transfer with an IP address is missing.
func (s *Store) Finalize(ctx context.Context, f transfer.Finalization) error {
	if h := s.enter("Finalize").Finalize; h != nil {
		if err := h(ctx, f); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sync := f.Sync
	p := sync.PublisherID
	k := syncKey{p, sync.ID}
	rec, ok := s.syncs[k]
	if !ok || rec.s.Status == transfer.StatusFinalized {
		return transfer.ErrAlreadyFinalized
	}
	otx := chainKey{p, sync.OriginalTransactionID}
	pur, purOK := s.purchases[otx]
	at := stamp(sync.FinalizedAt.UTC())
	switch {
	case f.Change != nil:
		if !purOK || pur.Version != f.Change.FromVersion || pur.Owner != f.Change.From {
			return fmt.Errorf("%w: the purchase changed", transfer.ErrStale)
		}
		for _, h := range s.history[otx] {
			if h.At.Equal(at) && h.SynchronizationID == sync.ID {
				return fmt.Errorf("%w: history entry exists", transfer.ErrStale)
			}
		}
		if _, ok := s.customers[customerKey{p, sync.Target}]; sync.IPAddress != "" && !ok {
			return fmt.Errorf("%w: target customer missing", transfer.ErrStale)
		}
	case f.ReadVersion != nil:
		if !purOK || pur.Version != *f.ReadVersion {
			return fmt.Errorf("%w: the purchase changed", transfer.ErrStale)
		}
	}
	for _, l := range f.ReleaseLocks {
		if held, ok := s.locks[l]; !ok || held.syncID != sync.ID {
			return fmt.Errorf("%w: lock %+v is not held", transfer.ErrStale, l)
		}
	}

	r := rec.s
	r.Status = sync.Status
	r.Result = sync.Result
	r.UpdatedAt = stamp(sync.UpdatedAt)
	r.FinalizedAt = stamp(sync.FinalizedAt)
	if sync.OfferID != "" {
		r.OfferID = sync.OfferID
	}
	if sync.PreviousOwner != 0 {
		r.PreviousOwner = sync.PreviousOwner
	}
	if sync.OriginalTransactionID != "" {
		r.OriginalTransactionID = sync.OriginalTransactionID
	}
	s.syncs[k] = record{s: r}
	if f.Change != nil {
		pur.Owner = f.Change.To
		pur.Version = f.Change.FromVersion + 1
		s.purchases[otx] = pur
		s.history[otx] = append(s.history[otx], HistoryEntry{OriginalTransactionID: otx.id, From: f.Change.From,
			To: f.Change.To, SynchronizationID: sync.ID, At: at})
		slices.SortFunc(s.history[otx], func(a, b HistoryEntry) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.SynchronizationID, b.SynchronizationID))
		})
		if sync.IPAddress != "" {
			c := s.customers[customerKey{p, sync.Target}]
			c.LastIPAddress = sync.IPAddress
			c.LastActivityAt = at
			s.customers[customerKey{p, sync.Target}] = c
		}
	}
	for _, l := range f.ReleaseLocks {
		delete(s.locks, l)
	}
	s.count(sync, -1)
	if f.EventID != "" {
		s.events[k] = Event{ID: f.EventID, Sync: sync}
	}
	return nil
}

// MarkRetrying records a failed attempt on an unfinished record; a finalized
// or missing one is left alone, without an error.
func (s *Store) MarkRetrying(ctx context.Context, job transfer.Job, attempts int, at time.Time) error {
	if h := s.enter("MarkRetrying").MarkRetrying; h != nil {
		if err := h(ctx, job, attempts, at); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := syncKey{job.PublisherID, job.SynchronizationID}
	rec, ok := s.syncs[k]
	if !ok || rec.s.Status == transfer.StatusFinalized {
		return nil
	}
	rec.s.Status = transfer.StatusRetrying
	rec.s.Attempts = attempts
	rec.s.UpdatedAt = stamp(at)
	s.syncs[k] = rec
	return nil
}

// Stale lists up to limit unfinished synchronizations opened or requeued
// before the given time (compared in milliseconds, as stored), oldest first.
// The DynamoDB adapter promises no order.
func (s *Store) Stale(ctx context.Context, before time.Time, limit int) ([]transfer.Synchronization, error) {
	if h := s.enter("Stale").Stale; h != nil {
		if err := h(ctx, before, limit); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var open []record
	for _, rec := range s.syncs {
		if rec.open && rec.openSince < before.UnixMilli() {
			open = append(open, rec)
		}
	}
	slices.SortFunc(open, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.openSince, b.openSince), cmp.Compare(a.s.PublisherID, b.s.PublisherID), cmp.Compare(a.s.ID, b.s.ID))
	})
	var out []transfer.Synchronization
	for _, rec := range open[:min(max(limit, 0), len(open))] {
		out = append(out, rec.s)
	}
	return out, nil
}

// Requeued restarts the grace period of an unfinished synchronization; a
// finalized or missing one is left alone, without an error.
func (s *Store) Requeued(ctx context.Context, sync transfer.Synchronization, at time.Time) error {
	if h := s.enter("Requeued").Requeued; h != nil {
		if err := h(ctx, sync, at); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := syncKey{sync.PublisherID, sync.ID}
	if rec, ok := s.syncs[k]; ok && rec.open {
		rec.openSince = at.UnixMilli()
		s.syncs[k] = rec
	}
	return nil
}

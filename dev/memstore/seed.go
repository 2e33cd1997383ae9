package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Seeding and inspection. The methods with a context mirror the DynamoDB
// OperatorStore's (storecontract.Seeder); the others reach state no port
// exposes, for tests.

// PutPublisher creates or replaces a publisher's settings.
func (s *Store) PutPublisher(_ context.Context, p transfer.Publisher) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishers[p.ID] = p
	return nil
}

// PutToken stores (or replaces, live again) a publisher token by its hash.
func (s *Store) PutToken(_ context.Context, p transfer.PublisherID, hash, label string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tokenKey{p, hash}] = token{label: label}
	return nil
}

// RevokeToken makes a token unusable; ErrNotFound when there is no such token.
func (s *Store) RevokeToken(_ context.Context, p transfer.PublisherID, hash string) error {
	return s.changeToken("revoke token", p, hash, func(t *token) { t.revoked = true })
}

// ExpireToken lets a token work until at (a rotated-out token's grace).
func (s *Store) ExpireToken(p transfer.PublisherID, hash string, at time.Time) error {
	return s.changeToken("expire token", p, hash, func(t *token) { t.expiresAt = at })
}

// changeToken applies change to a stored token; ErrNotFound when there is none.
func (s *Store) changeToken(what string, p transfer.PublisherID, hash string, change func(*token)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tokenKey{p, hash}
	tok, ok := s.tokens[k]
	if !ok {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	change(&tok)
	s.tokens[k] = tok
	return nil
}

// PutCustomers creates (or replaces, without activity) customers of a publisher.
func (s *Store) PutCustomers(_ context.Context, p transfer.PublisherID, ids ...transfer.CustomerID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.customers[customerKey{p, id}] = Customer{PublisherID: p, ID: id}
	}
	return nil
}

// PutPurchase creates or replaces a purchase chain and maps each of its
// transactionIds to it, except its originalTransactionId.
func (s *Store) PutPurchase(_ context.Context, p transfer.Purchase) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = clonePurchase(p)
	if !p.ExpiresAt.IsZero() {
		p.ExpiresAt = stamp(p.ExpiresAt.UTC())
	}
	s.purchases[chainKey{p.PublisherID, p.OriginalTransactionID}] = p
	for _, tx := range p.TransactionIDs {
		if tx != p.OriginalTransactionID {
			s.mappings[chainKey{p.PublisherID, tx}] = p.OriginalTransactionID
		}
	}
	return nil
}

// Purchase reads a purchase by its originalTransactionId; nil when unknown.
func (s *Store) Purchase(_ context.Context, p transfer.PublisherID, otx string) (*transfer.Purchase, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pur, ok := s.purchases[chainKey{p, otx}]
	if !ok {
		return nil, nil
	}
	pur = clonePurchase(pur)
	return &pur, nil
}

// History lists the ownership changes of a purchase, oldest first.
func (s *Store) History(_ context.Context, p transfer.PublisherID, otx string) ([]HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history[chainKey{p, otx}]), nil
}

// Customer reads a customer; nil when unknown.
func (s *Store) Customer(_ context.Context, p transfer.PublisherID, id transfer.CustomerID) (*Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[customerKey{p, id}]
	if !ok {
		return nil, nil
	}
	return &c, nil
}

// PutSynchronization stores a record as given, bypassing Open's conditions
// and taking no lock: unfinished unless its status is finalized, its grace
// period starting at CreatedAt, and then counted when sync.Counted.
func (s *Store) PutSynchronization(sync transfer.Synchronization) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sync.CreatedAt = stamp(sync.CreatedAt)
	sync.UpdatedAt = stamp(sync.UpdatedAt)
	sync.FinalizedAt = stamp(sync.FinalizedAt)
	open := sync.Status != transfer.StatusFinalized
	s.syncs[syncKey{sync.PublisherID, sync.ID}] = record{s: sync, open: open, openSince: sync.CreatedAt.UnixMilli()}
	if open {
		s.count(sync, 1) // as Open counts a counted one
	}
}

// PutLock makes synchronization syncID hold lock l until leaseUntil.
func (s *Store) PutLock(l transfer.LockKey, syncID string, leaseUntil time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks[l] = heldLock{syncID: syncID, leaseUntil: stamp(leaseUntil)}
}

// Locks lists the stored locks (expired leases included, as in DynamoDB
// until TTL removes them), transaction locks first, by publisher and id.
func (s *Store) Locks() []Lock {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Lock, 0, len(s.locks))
	for k, l := range s.locks {
		out = append(out, Lock{Key: k, SynchronizationID: l.syncID, LeaseUntil: l.leaseUntil})
	}
	slices.SortFunc(out, func(a, b Lock) int {
		return cmp.Or(cmp.Compare(a.Key.PublisherID, b.Key.PublisherID),
			cmp.Compare(a.Key.OriginalTransactionID, b.Key.OriginalTransactionID),
			cmp.Compare(a.Key.TransactionID, b.Key.TransactionID))
	})
	return out
}

// Events lists the webhook events finalizations recorded, by publisher and
// synchronization id.
func (s *Store) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.events))
	for _, e := range s.events {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.Sync.PublisherID, b.Sync.PublisherID), cmp.Compare(a.Sync.ID, b.Sync.ID))
	})
	return out
}

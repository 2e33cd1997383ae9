// Package storecontract is the behaviour every implementation of package
// transfer's storage ports must have, as a test suite: the DynamoDB adapter
// (the reference) and dev/memstore run it alike.
package storecontract

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Seeder writes what operators manage, as dynamo.OperatorStore does.
type Seeder interface {
	PutPublisher(ctx context.Context, p transfer.Publisher) error
	PutToken(ctx context.Context, p transfer.PublisherID, hash, label string) error
	RevokeToken(ctx context.Context, p transfer.PublisherID, hash string) error
	PutCustomers(ctx context.Context, p transfer.PublisherID, ids ...transfer.CustomerID) error
	PutPurchase(ctx context.Context, p transfer.Purchase) error
	Purchase(ctx context.Context, p transfer.PublisherID, otx string) (*transfer.Purchase, error)
}

// HistoryEntry is one ownership change of a purchase.
type HistoryEntry struct {
	OriginalTransactionID string
	From, To              transfer.CustomerID
	SynchronizationID     string
	At                    time.Time
}

// Stores is one implementation of the ports, on storage of its own (no
// other subtest sees its data). Its clock is the wall clock: leases and
// tokens are judged by time.Now.
type Stores struct {
	Directory transfer.Directory
	Sync      transfer.SynchronizationStore
	Work      transfer.WorkStore
	Sweep     transfer.OpenStore
	Seed      Seeder
	// History lists a purchase's ownership changes, oldest first.
	History func(ctx context.Context, p transfer.PublisherID, otx string) ([]HistoryEntry, error)
}

// Run runs the contract; newStores is called once per subtest.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, w *world)
	}{
		{"Lookup/UnknownPublisher", testLookupUnknownPublisher},
		{"Lookup/Publisher", testLookupPublisher},
		{"Lookup/Tokens", testLookupTokens},
		{"Lookup/Chains", testLookupChains},
		{"Open/WritesRecordAndLocks", testOpenWrites},
		{"Open/WithoutChainTakesTransactionLockOnly", testOpenWithoutChain},
		{"Open/CustomerMissing", testOpenCustomerMissing},
		{"Open/TransactionLocked", testOpenTransactionLocked},
		{"Open/PurchaseLocked", testOpenPurchaseLocked},
		{"Open/ExistingID", testOpenExisting},
		{"Open/AllConflictsAtOnce", testOpenAllConflicts},
		{"Open/ExpiredLeaseIsTakenOver", testOpenTakeOver},
		{"Limits/PerCustomer", testLimitPerCustomer},
		{"Limits/UncountedSyncs", testLimitUncounted},
		{"Limits/PerPublisher", testLimitPerPublisher},
		{"Limits/ExistingAtTheLimit", testLimitExisting},
		{"Get/OtherPublisher", testGetOtherPublisher},
		{"Abandon/RemovesRecordAndLocks", testAbandon},
		{"Abandon/SparesAnotherSyncsLocks", testAbandonSparesOthers},
		{"Abandon/KeepsAFinalizedSync", testAbandonFinalized},
		{"Load/UnknownSync", testLoadUnknown},
		{"Load/ChainResolvedFromTransaction", testLoadResolvesChain},
		{"Load/HintOnlyPrefetches", testLoadHintOnlyPrefetches},
		{"Finalize/Transfer", testFinalizeTransfer},
		{"Finalize/Unchanged", testFinalizeUnchanged},
		{"Finalize/AlreadyFinalized", testFinalizeAlreadyFinalized},
		{"Finalize/StaleReadVersion", testFinalizeStaleVersion},
		{"Finalize/StaleOwner", testFinalizeStaleOwner},
		{"Finalize/LockNotOwnedIsStale", testFinalizeLockNotOwned},
		{"MarkRetrying", testMarkRetrying},
		{"MarkRetrying/Finalized", testMarkRetryingFinalized},
		{"Stale/ListsUnfinishedPastGrace", testStale},
		{"Stale/Limit", testStaleLimit},
		{"Requeued", testRequeued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newWorld(t, newStores(t)))
		})
	}
}

// world is one subtest's data: a fresh publisher with a live token, two
// customers and a purchase chain of owner A.
type world struct {
	Stores
	t        *testing.T
	ctx      context.Context
	p        transfer.PublisherID
	hash     string
	a, b     transfer.CustomerID
	purchase transfer.Purchase
	// tx is a transaction of purchase other than its originalTransactionId.
	tx string
}

func newID() int64 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<52))
	if err != nil {
		panic(err)
	}
	return n.Int64() + 1
}

func newWorld(t *testing.T, s Stores) *world {
	w := &world{Stores: s, t: t, ctx: context.Background(), p: transfer.PublisherID(newID()), hash: "h-" + rand.Text(),
		a: transfer.CustomerID(newID()), b: transfer.CustomerID(newID())}
	w.must(w.Seed.PutPublisher(w.ctx, transfer.Publisher{ID: w.p, Name: "contract", StoreKit2Active: true}))
	w.must(w.Seed.PutToken(w.ctx, w.p, w.hash, "contract"))
	w.must(w.Seed.PutCustomers(w.ctx, w.p, w.a, w.b))
	w.purchase = w.newPurchase(w.a)
	w.tx = w.purchase.TransactionIDs[1]
	return w
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// newPurchase stores an active chain of owner with two transactions.
func (w *world) newPurchase(owner transfer.CustomerID) transfer.Purchase {
	w.t.Helper()
	otx := "otx-" + rand.Text()
	p := transfer.Purchase{
		PublisherID:           w.p,
		OriginalTransactionID: otx,
		TransactionIDs:        []string{otx, "tx-" + rand.Text()},
		Owner:                 owner,
		OfferID:               "S123456789_US",
		ProductID:             "com.example.monthly",
		Kind:                  transfer.KindAutoRenewable,
		State:                 transfer.StateActive,
		ExpiresAt:             time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond),
		Version:               3,
	}
	w.must(w.Seed.PutPurchase(w.ctx, p))
	return p
}

// newSync is an unopened synchronization of tx (and of otx when known) for
// target, counted as the Acceptor counts every new one.
func (w *world) newSync(tx, otx string, target transfer.CustomerID) transfer.Synchronization {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return transfer.Synchronization{
		PublisherID:           w.p,
		ID:                    "sync-" + rand.Text(),
		RequestHash:           "req-" + rand.Text(),
		TransactionID:         tx,
		OriginalTransactionID: otx,
		Target:                target,
		IPAddress:             "192.0.2.7",
		Status:                transfer.StatusProcessing,
		Counted:               true,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
}

func future() time.Time { return time.Now().Add(time.Hour) }
func past() time.Time   { return time.Now().Add(-time.Minute) }

// open opens a synchronization of the world's purchase (chain known) for B.
func (w *world) open() transfer.Synchronization {
	w.t.Helper()
	s := w.newSync(w.tx, w.purchase.OriginalTransactionID, w.b)
	w.mustOpen(s, future())
	return s
}

func (w *world) mustOpen(s transfer.Synchronization, leaseUntil time.Time) {
	w.t.Helper()
	if err := w.Sync.Open(w.ctx, s, leaseUntil, transfer.Limits{}); err != nil {
		w.t.Fatalf("Open(%s): %v", s.ID, err)
	}
}

func (w *world) conflict(s transfer.Synchronization) *transfer.OpenConflict {
	w.t.Helper()
	return w.conflictWithin(s, transfer.Limits{})
}

// conflictWithin is the refusal of an Open under limits.
func (w *world) conflictWithin(s transfer.Synchronization, limits transfer.Limits) *transfer.OpenConflict {
	w.t.Helper()
	err := w.Sync.Open(w.ctx, s, future(), limits)
	var c *transfer.OpenConflict
	if !errors.As(err, &c) {
		w.t.Fatalf("Open(%s) = %v, want an *OpenConflict", s.ID, err)
	}
	return c
}

func (w *world) get(id string) (transfer.Synchronization, bool) {
	w.t.Helper()
	s, ok, err := w.Sync.Get(w.ctx, w.p, id)
	w.must(err)
	return s, ok
}

func (w *world) load(s transfer.Synchronization) transfer.Snapshot {
	w.t.Helper()
	snap, err := w.Work.Load(w.ctx, transfer.JobOf(s))
	w.must(err)
	return snap
}

func (w *world) purchaseNow(otx string) *transfer.Purchase {
	w.t.Helper()
	p, err := w.Seed.Purchase(w.ctx, w.p, otx)
	w.must(err)
	return p
}

func (w *world) history(otx string) []HistoryEntry {
	w.t.Helper()
	h, err := w.History(w.ctx, w.p, otx)
	w.must(err)
	return h
}

func (w *world) txLock(tx string) transfer.LockKey {
	return transfer.LockKey{PublisherID: w.p, TransactionID: tx}
}

func (w *world) chainLock(otx string) transfer.LockKey {
	return transfer.LockKey{PublisherID: w.p, OriginalTransactionID: otx}
}

// normal is a synchronization with its times compared by instant.
func normal(s transfer.Synchronization) transfer.Synchronization {
	for _, t := range []*time.Time{&s.CreatedAt, &s.UpdatedAt, &s.FinalizedAt} {
		if t.IsZero() {
			*t = time.Time{}
		} else {
			*t = t.UTC().Round(0)
		}
	}
	return s
}

func sameSync(t *testing.T, what string, got, want transfer.Synchronization) {
	t.Helper()
	if normal(got) != normal(want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func heldLocks(t *testing.T, what string, snap transfer.Snapshot, want ...transfer.LockKey) {
	t.Helper()
	if len(snap.HeldLocks) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(snap.HeldLocks, want) {
		t.Errorf("%s: held locks %+v, want %+v", what, snap.HeldLocks, want)
	}
}

// decide is the processor's decision on the current snapshot of s.
func (w *world) decide(s transfer.Synchronization) transfer.Finalization {
	w.t.Helper()
	snap := w.load(s)
	if snap.Sync == nil {
		w.t.Fatalf("Load(%s) found no record", s.ID)
	}
	return transfer.Decide(snap, time.Now().UTC())
}

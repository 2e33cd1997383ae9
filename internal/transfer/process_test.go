package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

var (
	procNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	heldTx  = transfer.LockKey{PublisherID: testPublisher, TransactionID: testTx}
	heldOtx = transfer.LockKey{PublisherID: testPublisher, OriginalTransactionID: testChain}
)

func openSync() *transfer.Synchronization {
	return &transfer.Synchronization{
		PublisherID:   testPublisher,
		ID:            "sync-1",
		RequestHash:   "h",
		TransactionID: testTx,
		Target:        testTarget,
		IPAddress:     "192.0.2.1",
		Status:        transfer.StatusProcessing,
		CreatedAt:     procNow.Add(-time.Minute),
		UpdatedAt:     procNow.Add(-time.Minute),
	}
}

func activePurchase(owner transfer.CustomerID) *transfer.Purchase {
	return &transfer.Purchase{
		PublisherID:           testPublisher,
		OriginalTransactionID: testChain,
		TransactionIDs:        []string{testChain, testTx},
		Owner:                 owner,
		OfferID:               "S123456789_US",
		Kind:                  transfer.KindAutoRenewable,
		State:                 transfer.StateActive,
		ExpiresAt:             procNow.Add(24 * time.Hour),
		Version:               4,
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	held := []transfer.LockKey{heldTx, heldOtx}
	withPurchase := func(mod func(*transfer.Purchase)) *transfer.Purchase {
		p := activePurchase(11)
		if mod != nil {
			mod(p)
		}
		return p
	}
	tests := []struct {
		name         string
		purchase     *transfer.Purchase
		locks        []transfer.LockKey
		wantResult   transfer.Result
		wantOffer    string
		wantPrevious transfer.CustomerID
		wantChange   *transfer.OwnershipChange
		wantGranted  bool
	}{
		{
			name:         "active purchase of another customer is transferred",
			purchase:     withPurchase(nil),
			locks:        held,
			wantResult:   transfer.ResultTransferred,
			wantOffer:    "S123456789_US",
			wantPrevious: 11,
			wantChange:   &transfer.OwnershipChange{From: 11, To: testTarget, FromVersion: 4},
			wantGranted:  true,
		},
		{
			name:        "target already owns it",
			purchase:    withPurchase(func(p *transfer.Purchase) { p.Owner = testTarget }),
			locks:       held[:1],
			wantResult:  transfer.ResultUnchanged,
			wantOffer:   "S123456789_US",
			wantGranted: true,
		},
		{
			name:       "expired state",
			purchase:   withPurchase(func(p *transfer.Purchase) { p.State = transfer.StateExpired }),
			locks:      held,
			wantResult: transfer.ResultExpired,
		},
		{
			name:       "revoked state",
			purchase:   withPurchase(func(p *transfer.Purchase) { p.State = transfer.StateRevoked }),
			locks:      held,
			wantResult: transfer.ResultExpired,
		},
		{
			name:       "active but past its expiry",
			purchase:   withPurchase(func(p *transfer.Purchase) { p.ExpiresAt = procNow.Add(-time.Second) }),
			locks:      held,
			wantResult: transfer.ResultExpired,
		},
		{
			name:       "active and expiring exactly now",
			purchase:   withPurchase(func(p *transfer.Purchase) { p.ExpiresAt = procNow }),
			locks:      held,
			wantResult: transfer.ResultExpired,
		},
		{
			name:       "expired and already the target's",
			purchase:   withPurchase(func(p *transfer.Purchase) { p.State = transfer.StateExpired; p.Owner = testTarget }),
			locks:      held,
			wantResult: transfer.ResultExpired,
		},
		{
			name: "non-consumable never expires",
			purchase: withPurchase(func(p *transfer.Purchase) {
				p.Kind = transfer.KindNonConsumable
				p.ExpiresAt = time.Time{}
			}),
			locks:        held,
			wantResult:   transfer.ResultTransferred,
			wantOffer:    "S123456789_US",
			wantPrevious: 11,
			wantChange:   &transfer.OwnershipChange{From: 11, To: testTarget, FromVersion: 4},
			wantGranted:  true,
		},
		{
			name:       "no purchase",
			purchase:   nil,
			locks:      held[:1],
			wantResult: transfer.ResultNotFound,
		},
		{
			name:       "no purchase and no locks left",
			purchase:   nil,
			locks:      nil,
			wantResult: transfer.ResultNotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := openSync()
			before := *in
			fin := transfer.Decide(transfer.Snapshot{Sync: in, Purchase: tc.purchase, HeldLocks: tc.locks, OriginalTransactionID: testChain}, procNow)
			s := fin.Sync
			if *in != before {
				t.Errorf("Decide modified its input: %+v", *in)
			}
			if s.Status != transfer.StatusFinalized {
				t.Errorf("status = %s", s.Status)
			}
			if s.Result != tc.wantResult {
				t.Errorf("result = %s, want %s", s.Result, tc.wantResult)
			}
			if s.AccessGranted() != tc.wantGranted {
				t.Errorf("AccessGranted = %v, want %v", s.AccessGranted(), tc.wantGranted)
			}
			if s.OfferID != tc.wantOffer {
				t.Errorf("offer = %q, want %q", s.OfferID, tc.wantOffer)
			}
			if s.PreviousOwner != tc.wantPrevious {
				t.Errorf("previous owner = %d, want %d", s.PreviousOwner, tc.wantPrevious)
			}
			if !reflect.DeepEqual(fin.Change, tc.wantChange) {
				t.Errorf("change = %+v, want %+v", fin.Change, tc.wantChange)
			}
			if !reflect.DeepEqual(fin.ReleaseLocks, tc.locks) {
				t.Errorf("released %+v, want exactly the held %+v", fin.ReleaseLocks, tc.locks)
			}
			if tc.purchase == nil {
				if fin.ReadVersion != nil {
					t.Errorf("ReadVersion = %d without a purchase", *fin.ReadVersion)
				}
			} else {
				if fin.ReadVersion == nil || *fin.ReadVersion != tc.purchase.Version {
					t.Errorf("ReadVersion = %v, want %d", fin.ReadVersion, tc.purchase.Version)
				}
				if s.OriginalTransactionID != tc.purchase.OriginalTransactionID {
					t.Errorf("OriginalTransactionID = %q", s.OriginalTransactionID)
				}
			}
			if !s.UpdatedAt.Equal(procNow) || !s.FinalizedAt.Equal(procNow) {
				t.Errorf("UpdatedAt %v FinalizedAt %v, want %v", s.UpdatedAt, s.FinalizedAt, procNow)
			}
			if !s.CreatedAt.Equal(before.CreatedAt) || s.ID != before.ID || s.Target != before.Target || s.IPAddress != before.IPAddress {
				t.Errorf("identity fields changed: %+v", s)
			}
		})
	}
}

func TestDecideReadVersionIsACopy(t *testing.T) {
	t.Parallel()
	p := activePurchase(11)
	fin := transfer.Decide(transfer.Snapshot{Sync: openSync(), Purchase: p}, procNow)
	p.Version = 99
	if *fin.ReadVersion != 4 {
		t.Errorf("ReadVersion follows later changes of the purchase: %d", *fin.ReadVersion)
	}
}

func TestResultAccessGranted(t *testing.T) {
	t.Parallel()
	for r, want := range map[transfer.Result]bool{
		transfer.ResultTransferred:    true,
		transfer.ResultUnchanged:      true,
		transfer.ResultExpired:        false,
		transfer.ResultNotFound:       false,
		transfer.ResultTransferFailed: false,
		"SOMETHING_NEW":               false,
		"":                            false,
	} {
		if got := r.AccessGranted(); got != want {
			t.Errorf("%q.AccessGranted() = %v, want %v", r, got, want)
		}
	}
}

type procFixture struct {
	store    *fakeWorkStore
	notifier *fakeNotifier
	proc     *transfer.Processor
}

func newProcFixture(maxReceives int, loads ...loadAnswer) *procFixture {
	f := &procFixture{store: &fakeWorkStore{loads: loads}, notifier: &fakeNotifier{}}
	f.proc = transfer.NewProcessor(f.store,
		transfer.WithClock(func() time.Time { return procNow }),
		transfer.WithMaxReceives(maxReceives),
		transfer.WithNotifier(f.notifier))
	return f
}

var testJob = transfer.Job{PublisherID: testPublisher, SynchronizationID: "sync-1", TransactionID: testTx}

func snapshot(p *transfer.Purchase) loadAnswer {
	return loadAnswer{snap: transfer.Snapshot{Sync: openSync(), Purchase: p, HeldLocks: []transfer.LockKey{heldTx, heldOtx}, OriginalTransactionID: testChain}}
}

func TestProcessorNothingToDo(t *testing.T) {
	t.Parallel()
	finalized := openSync()
	finalized.Status = transfer.StatusFinalized
	finalized.Result = transfer.ResultUnchanged
	for name, snap := range map[string]transfer.Snapshot{
		"missing synchronization":   {Sync: nil, Purchase: activePurchase(11)},
		"finalized synchronization": {Sync: finalized, Purchase: activePurchase(11)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, receive := range []int{1, 5} { // also on the last delivery
				f := newProcFixture(5, loadAnswer{snap: snap})
				if err := f.proc.Handle(context.Background(), testJob, receive); err != nil {
					t.Fatalf("receive %d: Handle = %v, want nil (ack)", receive, err)
				}
				if len(f.store.finalizeCalls) != 0 {
					t.Errorf("receive %d: Finalize called %d times", receive, len(f.store.finalizeCalls))
				}
				if len(f.store.marks) != 0 || len(f.notifier.syncs) != 0 {
					t.Errorf("receive %d: marks %v, notifications %v", receive, f.store.marks, f.notifier.syncs)
				}
			}
		})
	}
}

func TestProcessorSuccessNotifiesOnce(t *testing.T) {
	t.Parallel()
	f := newProcFixture(5, snapshot(activePurchase(11)))
	if err := f.proc.Handle(context.Background(), testJob, 1); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(f.store.finalizeCalls) != 1 {
		t.Fatalf("Finalize called %d times", len(f.store.finalizeCalls))
	}
	fin := f.store.finalizeCalls[0]
	if fin.Sync.Result != transfer.ResultTransferred || fin.Change == nil || fin.Change.From != 11 || fin.Change.To != testTarget {
		t.Errorf("finalization = %+v", fin)
	}
	if len(f.notifier.syncs) != 1 || f.notifier.syncs[0] != fin.Sync {
		t.Errorf("notifications = %+v, want exactly the finalized record", f.notifier.syncs)
	}
	if len(f.store.marks) != 0 {
		t.Errorf("MarkRetrying called on success: %+v", f.store.marks)
	}
}

func TestProcessorAlreadyFinalizedIsDone(t *testing.T) {
	t.Parallel()
	f := newProcFixture(5, snapshot(activePurchase(11)))
	f.store.finalizes = []error{fmt.Errorf("transact: %w", transfer.ErrAlreadyFinalized)}
	if err := f.proc.Handle(context.Background(), testJob, 2); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	if len(f.store.finalizeCalls) != 1 {
		t.Errorf("Finalize called %d times", len(f.store.finalizeCalls))
	}
	if len(f.notifier.syncs) != 0 {
		t.Errorf("notified %d times for a finalization another delivery made", len(f.notifier.syncs))
	}
	if len(f.store.marks) != 0 {
		t.Errorf("marked retrying: %+v", f.store.marks)
	}
}

func TestProcessorStaleReloadsAndRetries(t *testing.T) {
	t.Parallel()
	// The first read sees owner 11; the purchase then moves to 12 under us.
	f := newProcFixture(5, snapshot(activePurchase(11)), snapshot(activePurchase(12)))
	f.store.finalizes = []error{transfer.ErrStale, nil}
	if err := f.proc.Handle(context.Background(), testJob, 1); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if f.store.loadCalls != 2 {
		t.Errorf("Load called %d times, want 2 (reload after stale)", f.store.loadCalls)
	}
	if len(f.store.finalizeCalls) != 2 {
		t.Fatalf("Finalize called %d times, want 2", len(f.store.finalizeCalls))
	}
	second := f.store.finalizeCalls[1]
	if second.Change == nil || second.Change.From != 12 {
		t.Errorf("the retry did not decide on the fresh read: %+v", second.Change)
	}
	if len(f.notifier.syncs) != 1 {
		t.Errorf("notified %d times, want 1", len(f.notifier.syncs))
	}
}

func TestProcessorStaleIsBounded(t *testing.T) {
	t.Parallel()
	f := newProcFixture(5, snapshot(activePurchase(11)))
	f.store.finalizes = []error{transfer.ErrStale}
	err := f.proc.Handle(context.Background(), testJob, 2)
	if err == nil {
		t.Fatal("Handle = nil after the purchase never stopped changing")
	}
	if f.store.loadCalls < 2 || f.store.loadCalls > 10 {
		t.Errorf("Load called %d times, want a small bound", f.store.loadCalls)
	}
	if len(f.store.finalizeCalls) != f.store.loadCalls {
		t.Errorf("Finalize %d times for %d loads", len(f.store.finalizeCalls), f.store.loadCalls)
	}
	if len(f.store.marks) != 1 || f.store.marks[0].attempts != 2 {
		t.Errorf("marks = %+v, want one with attempts 2", f.store.marks)
	}
	if len(f.notifier.syncs) != 0 {
		t.Error("notified without a finalization")
	}
}

func TestProcessorTransientFailureBelowMax(t *testing.T) {
	t.Parallel()
	loadErr := errors.New("dynamodb throttled")
	finErr := errors.New("transaction conflict")
	tests := []struct {
		name      string
		loads     []loadAnswer
		finalizes []error
		markErr   error
		receive   int
		wantCause error
	}{
		{name: "load fails on first receive", loads: []loadAnswer{{err: loadErr}}, receive: 1, wantCause: loadErr},
		{name: "finalize fails one before the last", loads: []loadAnswer{snapshot(activePurchase(11))}, finalizes: []error{finErr}, receive: 4, wantCause: finErr},
		{name: "mark retrying fails too", loads: []loadAnswer{{err: loadErr}}, markErr: errors.New("x"), receive: 3, wantCause: loadErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newProcFixture(5, tc.loads...)
			f.store.finalizes = tc.finalizes
			f.store.markErr = tc.markErr
			err := f.proc.Handle(context.Background(), testJob, tc.receive)
			if !errors.Is(err, tc.wantCause) {
				t.Fatalf("Handle = %v, want it to wrap %v (the message must be delivered again)", err, tc.wantCause)
			}
			if len(f.store.marks) != 1 {
				t.Fatalf("MarkRetrying called %d times, want 1", len(f.store.marks))
			}
			m := f.store.marks[0]
			if m.attempts != tc.receive || m.job != testJob || !m.at.Equal(procNow) {
				t.Errorf("MarkRetrying(%+v, %d, %v), want (%+v, %d, %v)", m.job, m.attempts, m.at, testJob, tc.receive, procNow)
			}
			for _, fin := range f.store.finalizeCalls {
				if fin.Sync.Result == transfer.ResultTransferFailed {
					t.Error("gave up before the last delivery")
				}
			}
			if len(f.notifier.syncs) != 0 {
				t.Error("notified without a finalization")
			}
		})
	}
}

func TestProcessorGivesUpOnLastReceive(t *testing.T) {
	t.Parallel()
	loadErr := errors.New("dynamodb unavailable")
	for _, receive := range []int{5, 6} {
		t.Run(fmt.Sprint("receive ", receive), func(t *testing.T) {
			t.Parallel()
			// The attempt fails at its first read; the give-up read works.
			f := newProcFixture(5, loadAnswer{err: loadErr}, snapshot(activePurchase(11)))
			err := f.proc.Handle(context.Background(), testJob, receive)
			if !errors.Is(err, loadErr) {
				t.Fatalf("Handle = %v, want the failure returned so the message is dead-lettered", err)
			}
			if len(f.store.marks) != 0 {
				t.Errorf("MarkRetrying called on the last delivery: %+v", f.store.marks)
			}
			if len(f.store.finalizeCalls) != 1 {
				t.Fatalf("Finalize called %d times, want 1", len(f.store.finalizeCalls))
			}
			fin := f.store.finalizeCalls[0]
			if fin.Sync.Result != transfer.ResultTransferFailed || fin.Sync.Status != transfer.StatusFinalized {
				t.Errorf("finalized %s/%s, want finalized TRANSFER_FAILED", fin.Sync.Status, fin.Sync.Result)
			}
			if fin.Sync.AccessGranted() {
				t.Error("TRANSFER_FAILED grants access")
			}
			if fin.Change != nil {
				t.Errorf("TRANSFER_FAILED changes the purchase: %+v", fin.Change)
			}
			if fin.Sync.OfferID != "" || fin.Sync.PreviousOwner != 0 {
				t.Errorf("TRANSFER_FAILED carries purchase data: %+v", fin.Sync)
			}
			if !reflect.DeepEqual(fin.ReleaseLocks, []transfer.LockKey{heldTx, heldOtx}) {
				t.Errorf("released %+v, want the held locks", fin.ReleaseLocks)
			}
			if len(f.notifier.syncs) != 1 || f.notifier.syncs[0].Result != transfer.ResultTransferFailed {
				t.Errorf("notifications = %+v, want one TRANSFER_FAILED", f.notifier.syncs)
			}
		})
	}
}

func TestProcessorLastReceiveAfterFinalizeFailure(t *testing.T) {
	t.Parallel()
	finErr := errors.New("transaction canceled")
	f := newProcFixture(3, snapshot(activePurchase(11)))
	f.store.finalizes = []error{finErr, nil}
	err := f.proc.Handle(context.Background(), testJob, 3)
	if !errors.Is(err, finErr) {
		t.Fatalf("Handle = %v, want %v", err, finErr)
	}
	if len(f.store.finalizeCalls) != 2 || f.store.finalizeCalls[1].Sync.Result != transfer.ResultTransferFailed {
		t.Fatalf("finalizations = %+v, want the failed attempt then TRANSFER_FAILED", f.store.finalizeCalls)
	}
	if len(f.notifier.syncs) != 1 {
		t.Errorf("notified %d times, want 1", len(f.notifier.syncs))
	}
}

func TestProcessorGiveUpFindsItDone(t *testing.T) {
	t.Parallel()
	finalized := openSync()
	finalized.Status = transfer.StatusFinalized
	finalized.Result = transfer.ResultTransferred
	// The attempt fails; by the give-up read another delivery has finished it.
	f := newProcFixture(5, loadAnswer{err: errors.New("x")}, loadAnswer{snap: transfer.Snapshot{Sync: finalized}})
	if err := f.proc.Handle(context.Background(), testJob, 5); err == nil {
		t.Fatal("Handle = nil, want the attempt's error")
	}
	if len(f.store.finalizeCalls) != 0 {
		t.Errorf("TRANSFER_FAILED written over a finalized record: %+v", f.store.finalizeCalls)
	}
	if len(f.notifier.syncs) != 0 {
		t.Errorf("notified %+v", f.notifier.syncs)
	}
}

func TestProcessorGiveUpLosingTheRaceDoesNotNotify(t *testing.T) {
	t.Parallel()
	f := newProcFixture(5, loadAnswer{err: errors.New("x")}, snapshot(activePurchase(11)))
	f.store.finalizes = []error{transfer.ErrAlreadyFinalized}
	_ = f.proc.Handle(context.Background(), testJob, 5)
	if len(f.store.finalizeCalls) != 1 {
		t.Fatalf("Finalize called %d times, want 1", len(f.store.finalizeCalls))
	}
	if len(f.notifier.syncs) != 0 {
		t.Errorf("notified %+v for a TRANSFER_FAILED that was never committed", f.notifier.syncs)
	}
}

package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/memstore"
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
			name:       "unowned purchase, known only from Apple, is not found",
			purchase:   withPurchase(func(p *transfer.Purchase) { p.Owner = 0 }),
			locks:      held,
			wantResult: transfer.ResultNotFound,
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

type markCall struct {
	job      transfer.Job
	attempts int
	at       time.Time
}

// procFixture is a Processor on a memstore holding the open synchronization
// of testJob (both its locks) and the active purchase of customer 11.
type procFixture struct {
	t        *testing.T
	mem      *memstore.Store
	notifier *memstore.Notifier
	proc     *transfer.Processor

	// Scripts, read when the call happens: the i-th Load fails with
	// loadErrs[i], the i-th Finalize answers finErrs[i] without running (the
	// last entry repeats; nil lets the store answer). beforeLoad and
	// beforeFinalize change the store under the i-th call.
	loadErrs       []error
	finErrs        []error
	markErr        error
	beforeLoad     func(i int)
	beforeFinalize func(i int)

	// What reached the store.
	finalizes []transfer.Finalization
	marks     []markCall
}

func scripted(errs []error, i int) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[min(i, len(errs)-1)]
}

// seededSync is the record of testJob as the store holds it.
func seededSync() transfer.Synchronization {
	s := *openSync()
	s.OriginalTransactionID = testChain
	return s
}

var testJob = transfer.JobOf(seededSync())

func newProcFixture(t *testing.T, maxReceives int) *procFixture {
	t.Helper()
	f := &procFixture{t: t, mem: memstore.New(memstore.WithClock(func() time.Time { return procNow })), notifier: &memstore.Notifier{}}
	ctx := context.Background()
	if err := f.mem.PutCustomers(ctx, testPublisher, testTarget, 11, 12); err != nil {
		t.Fatal(err)
	}
	f.setPurchase(activePurchase(11))
	if err := f.mem.Open(ctx, seededSync(), procNow.Add(transfer.DefaultLockLease), transfer.Limits{}); err != nil {
		t.Fatal(err)
	}
	var loads int
	f.mem.SetHooks(memstore.Hooks{
		Load: func(context.Context, transfer.Job) error {
			i := loads
			loads++
			if f.beforeLoad != nil {
				f.beforeLoad(i)
			}
			return scripted(f.loadErrs, i)
		},
		Finalize: func(_ context.Context, fin transfer.Finalization) error {
			i := len(f.finalizes)
			f.finalizes = append(f.finalizes, fin)
			if f.beforeFinalize != nil {
				f.beforeFinalize(i)
			}
			return scripted(f.finErrs, i)
		},
		MarkRetrying: func(_ context.Context, job transfer.Job, attempts int, at time.Time) error {
			f.marks = append(f.marks, markCall{job: job, attempts: attempts, at: at})
			return f.markErr
		},
	})
	f.proc = transfer.NewProcessor(f.mem,
		transfer.WithClock(func() time.Time { return procNow }),
		transfer.WithMaxReceives(maxReceives),
		transfer.WithNotifier(f.notifier))
	return f
}

func (f *procFixture) setPurchase(p *transfer.Purchase) {
	f.t.Helper()
	if err := f.mem.PutPurchase(context.Background(), *p); err != nil {
		f.t.Fatal(err)
	}
}

// finishedElsewhere stores the record as another delivery finalized it.
func (f *procFixture) finishedElsewhere(r transfer.Result) {
	s := seededSync()
	s.Status, s.Result, s.FinalizedAt = transfer.StatusFinalized, r, procNow
	f.mem.PutSynchronization(s)
}

func (f *procFixture) stored() transfer.Synchronization {
	f.t.Helper()
	s, ok, err := f.mem.Get(context.Background(), testPublisher, testJob.SynchronizationID)
	if err != nil || !ok {
		f.t.Fatalf("the record is gone (%v)", err)
	}
	return s
}

func (f *procFixture) owner() transfer.CustomerID {
	f.t.Helper()
	p, err := f.mem.Purchase(context.Background(), testPublisher, testChain)
	if err != nil || p == nil {
		f.t.Fatalf("purchase: %v, %v", p, err)
	}
	return p.Owner
}

func TestProcessorNothingToDo(t *testing.T) {
	t.Parallel()
	for name, prepare := range map[string]func(f *procFixture){
		// Rolled back after a failed enqueue whose message got through anyway.
		"missing synchronization": func(f *procFixture) {
			if err := f.mem.Abandon(context.Background(), seededSync()); err != nil {
				t.Fatal(err)
			}
		},
		"finalized synchronization": func(f *procFixture) { f.finishedElsewhere(transfer.ResultUnchanged) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, receive := range []int{1, 5} { // also on the last delivery
				f := newProcFixture(t, 5)
				prepare(f)
				if err := f.proc.Handle(context.Background(), testJob, receive); err != nil {
					t.Fatalf("receive %d: Handle = %v, want nil (ack)", receive, err)
				}
				if n := f.mem.Calls("Finalize"); n != 0 {
					t.Errorf("receive %d: Finalize called %d times", receive, n)
				}
				if len(f.marks) != 0 || len(f.notifier.Synchronizations()) != 0 {
					t.Errorf("receive %d: marks %v, notifications %v", receive, f.marks, f.notifier.Synchronizations())
				}
				if f.owner() != 11 {
					t.Errorf("receive %d: the purchase moved to %d", receive, f.owner())
				}
			}
		})
	}
}

func TestProcessorSuccessNotifiesOnce(t *testing.T) {
	t.Parallel()
	f := newProcFixture(t, 5)
	if err := f.proc.Handle(context.Background(), testJob, 1); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(f.finalizes) != 1 {
		t.Fatalf("Finalize called %d times", len(f.finalizes))
	}
	fin := f.finalizes[0]
	if fin.Sync.Result != transfer.ResultTransferred || fin.Change == nil || fin.Change.From != 11 || fin.Change.To != testTarget {
		t.Errorf("finalization = %+v", fin)
	}
	if n := f.notifier.Synchronizations(); len(n) != 1 || n[0] != fin.Sync {
		t.Errorf("notifications = %+v, want exactly the finalized record", n)
	}
	if len(f.marks) != 0 {
		t.Errorf("MarkRetrying called on success: %+v", f.marks)
	}
	// The store applied it: the record, the owner, the history, the locks, the event.
	if s := f.stored(); s.Status != transfer.StatusFinalized || s.Result != transfer.ResultTransferred || s.PreviousOwner != 11 {
		t.Errorf("stored record = %+v", s)
	}
	if f.owner() != testTarget {
		t.Errorf("owner = %d, want %d", f.owner(), testTarget)
	}
	if h, _ := f.mem.History(context.Background(), testPublisher, testChain); len(h) != 1 || h[0].From != 11 || h[0].To != testTarget {
		t.Errorf("history = %+v", h)
	}
	if locks := f.mem.Locks(); len(locks) != 0 {
		t.Errorf("locks still held: %+v", locks)
	}
	if ev := f.mem.Events(); len(ev) != 1 || ev[0].ID != fin.EventID || ev[0].Sync != fin.Sync {
		t.Errorf("events = %+v, want the finalization's", ev)
	}
}

func TestProcessorAlreadyFinalizedIsDone(t *testing.T) {
	t.Parallel()
	f := newProcFixture(t, 5)
	f.finErrs = []error{fmt.Errorf("transact: %w", transfer.ErrAlreadyFinalized)}
	if err := f.proc.Handle(context.Background(), testJob, 2); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	if len(f.finalizes) != 1 {
		t.Errorf("Finalize called %d times", len(f.finalizes))
	}
	if n := f.notifier.Synchronizations(); len(n) != 0 {
		t.Errorf("notified %d times for a finalization another delivery made", len(n))
	}
	if len(f.marks) != 0 {
		t.Errorf("marked retrying: %+v", f.marks)
	}
}

func TestProcessorAlreadyFinalizedByTheStore(t *testing.T) {
	t.Parallel()
	f := newProcFixture(t, 5)
	// Another delivery finalizes it between this one's read and its write.
	f.beforeFinalize = func(int) { f.finishedElsewhere(transfer.ResultUnchanged) }
	if err := f.proc.Handle(context.Background(), testJob, 2); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	if len(f.finalizes) != 1 || len(f.notifier.Synchronizations()) != 0 || len(f.marks) != 0 {
		t.Errorf("finalizes %d, notifications %+v, marks %+v; want one refused finalization and nothing else",
			len(f.finalizes), f.notifier.Synchronizations(), f.marks)
	}
	if s := f.stored(); s.Result != transfer.ResultUnchanged || f.owner() != 11 {
		t.Errorf("record %+v, owner %d: the other delivery's result was overwritten", s, f.owner())
	}
}

func TestProcessorStaleReloadsAndRetries(t *testing.T) {
	t.Parallel()
	// The first read sees owner 11; the purchase then moves to 12 under us.
	f := newProcFixture(t, 5)
	f.beforeFinalize = func(i int) {
		if i == 0 {
			p := activePurchase(12)
			p.Version++
			f.setPurchase(p)
		}
	}
	if err := f.proc.Handle(context.Background(), testJob, 1); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if n := f.mem.Calls("Load"); n != 2 {
		t.Errorf("Load called %d times, want 2 (reload after stale)", n)
	}
	if len(f.finalizes) != 2 {
		t.Fatalf("Finalize called %d times, want 2", len(f.finalizes))
	}
	second := f.finalizes[1]
	if second.Change == nil || second.Change.From != 12 {
		t.Errorf("the retry did not decide on the fresh read: %+v", second.Change)
	}
	if n := f.notifier.Synchronizations(); len(n) != 1 {
		t.Errorf("notified %d times, want 1", len(n))
	}
	if s := f.stored(); s.PreviousOwner != 12 || f.owner() != testTarget {
		t.Errorf("record %+v, owner %d: want the transfer from 12 applied", s, f.owner())
	}
}

func TestProcessorStaleIsBounded(t *testing.T) {
	t.Parallel()
	f := newProcFixture(t, 5)
	// The purchase changes under every write.
	f.beforeFinalize = func(i int) {
		p := activePurchase(11)
		p.Version += int64(i + 1)
		f.setPurchase(p)
	}
	err := f.proc.Handle(context.Background(), testJob, 2)
	if err == nil {
		t.Fatal("Handle = nil after the purchase never stopped changing")
	}
	loads := f.mem.Calls("Load")
	if loads < 2 || loads > 10 {
		t.Errorf("Load called %d times, want a small bound", loads)
	}
	if len(f.finalizes) != loads {
		t.Errorf("Finalize %d times for %d loads", len(f.finalizes), loads)
	}
	if len(f.marks) != 1 || f.marks[0].attempts != 2 {
		t.Errorf("marks = %+v, want one with attempts 2", f.marks)
	}
	if s := f.stored(); s.Status != transfer.StatusRetrying || s.Attempts != 2 {
		t.Errorf("stored record = %+v, want retrying after 2 attempts", s)
	}
	if n := f.notifier.Synchronizations(); len(n) != 0 {
		t.Error("notified without a finalization")
	}
}

func TestProcessorTransientFailureBelowMax(t *testing.T) {
	t.Parallel()
	loadErr := errors.New("dynamodb throttled")
	finErr := errors.New("transaction conflict")
	tests := []struct {
		name      string
		loadErrs  []error
		finErrs   []error
		markErr   error
		receive   int
		wantCause error
	}{
		{name: "load fails on first receive", loadErrs: []error{loadErr}, receive: 1, wantCause: loadErr},
		{name: "finalize fails one before the last", finErrs: []error{finErr}, receive: 4, wantCause: finErr},
		{name: "mark retrying fails too", loadErrs: []error{loadErr}, markErr: errors.New("x"), receive: 3, wantCause: loadErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newProcFixture(t, 5)
			f.loadErrs = tc.loadErrs
			f.finErrs = tc.finErrs
			f.markErr = tc.markErr
			err := f.proc.Handle(context.Background(), testJob, tc.receive)
			if !errors.Is(err, tc.wantCause) {
				t.Fatalf("Handle = %v, want it to wrap %v (the message must be delivered again)", err, tc.wantCause)
			}
			if len(f.marks) != 1 {
				t.Fatalf("MarkRetrying called %d times, want 1", len(f.marks))
			}
			m := f.marks[0]
			if m.attempts != tc.receive || m.job != testJob || !m.at.Equal(procNow) {
				t.Errorf("MarkRetrying(%+v, %d, %v), want (%+v, %d, %v)", m.job, m.attempts, m.at, testJob, tc.receive, procNow)
			}
			for _, fin := range f.finalizes {
				if fin.Sync.Result == transfer.ResultTransferFailed {
					t.Error("gave up before the last delivery")
				}
			}
			if n := f.notifier.Synchronizations(); len(n) != 0 {
				t.Error("notified without a finalization")
			}
			s := f.stored()
			if tc.markErr == nil && (s.Status != transfer.StatusRetrying || s.Attempts != tc.receive || !s.UpdatedAt.Equal(procNow)) {
				t.Errorf("stored record = %+v, want retrying after %d attempts", s, tc.receive)
			}
			if s.Status == transfer.StatusFinalized || f.owner() != 11 {
				t.Errorf("a failed attempt applied something: record %+v, owner %d", s, f.owner())
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
			f := newProcFixture(t, 5)
			f.loadErrs = []error{loadErr, nil}
			err := f.proc.Handle(context.Background(), testJob, receive)
			if !errors.Is(err, loadErr) {
				t.Fatalf("Handle = %v, want the failure returned so the message is dead-lettered", err)
			}
			if len(f.marks) != 0 {
				t.Errorf("MarkRetrying called on the last delivery: %+v", f.marks)
			}
			if len(f.finalizes) != 1 {
				t.Fatalf("Finalize called %d times, want 1", len(f.finalizes))
			}
			fin := f.finalizes[0]
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
			if n := f.notifier.Synchronizations(); len(n) != 1 || n[0].Result != transfer.ResultTransferFailed {
				t.Errorf("notifications = %+v, want one TRANSFER_FAILED", n)
			}
			if s := f.stored(); s.Result != transfer.ResultTransferFailed || f.owner() != 11 || len(f.mem.Locks()) != 0 {
				t.Errorf("stored %+v, owner %d, locks %+v; want TRANSFER_FAILED, the purchase untouched, no locks", s, f.owner(), f.mem.Locks())
			}
		})
	}
}

func TestProcessorLastReceiveAfterFinalizeFailure(t *testing.T) {
	t.Parallel()
	finErr := errors.New("transaction canceled")
	f := newProcFixture(t, 3)
	f.finErrs = []error{finErr, nil}
	err := f.proc.Handle(context.Background(), testJob, 3)
	if !errors.Is(err, finErr) {
		t.Fatalf("Handle = %v, want %v", err, finErr)
	}
	if len(f.finalizes) != 2 || f.finalizes[1].Sync.Result != transfer.ResultTransferFailed {
		t.Fatalf("finalizations = %+v, want the failed attempt then TRANSFER_FAILED", f.finalizes)
	}
	if n := f.notifier.Synchronizations(); len(n) != 1 {
		t.Errorf("notified %d times, want 1", len(n))
	}
	if s := f.stored(); s.Result != transfer.ResultTransferFailed {
		t.Errorf("stored record = %+v, want TRANSFER_FAILED", s)
	}
}

func TestProcessorGiveUpFindsItDone(t *testing.T) {
	t.Parallel()
	// The attempt fails; by the give-up read another delivery has finished it.
	f := newProcFixture(t, 5)
	f.loadErrs = []error{errors.New("x"), nil}
	f.beforeLoad = func(i int) {
		if i == 0 {
			f.finishedElsewhere(transfer.ResultTransferred)
		}
	}
	if err := f.proc.Handle(context.Background(), testJob, 5); err == nil {
		t.Fatal("Handle = nil, want the attempt's error")
	}
	if len(f.finalizes) != 0 {
		t.Errorf("TRANSFER_FAILED written over a finalized record: %+v", f.finalizes)
	}
	if n := f.notifier.Synchronizations(); len(n) != 0 {
		t.Errorf("notified %+v", n)
	}
	if s := f.stored(); s.Result != transfer.ResultTransferred {
		t.Errorf("stored record = %+v, want the other delivery's result", s)
	}
}

func TestProcessorGiveUpLosingTheRaceDoesNotNotify(t *testing.T) {
	t.Parallel()
	f := newProcFixture(t, 5)
	f.loadErrs = []error{errors.New("x"), nil}
	// Another delivery commits its result between the give-up read and write.
	f.beforeFinalize = func(int) { f.finishedElsewhere(transfer.ResultTransferred) }
	_ = f.proc.Handle(context.Background(), testJob, 5)
	if len(f.finalizes) != 1 {
		t.Fatalf("Finalize called %d times, want 1", len(f.finalizes))
	}
	if n := f.notifier.Synchronizations(); len(n) != 0 {
		t.Errorf("notified %+v for a TRANSFER_FAILED that was never committed", n)
	}
	if s := f.stored(); s.Result != transfer.ResultTransferred {
		t.Errorf("stored record = %+v, want the other delivery's result", s)
	}
}

// Several WithNotifier options are each told, in order (the webhook
// announcer and the metrics).
func TestProcessorTellsEveryNotifier(t *testing.T) {
	t.Parallel()
	f := newProcFixture(t, 5)
	second := &memstore.Notifier{}
	proc := transfer.NewProcessor(f.mem, transfer.WithClock(func() time.Time { return procNow }),
		transfer.WithNotifier(f.notifier), transfer.WithNotifier(second))
	if err := proc.Handle(context.Background(), testJob, 1); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if a, b := f.notifier.Synchronizations(), second.Synchronizations(); len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Errorf("notifications %v and %v, want the finalized record once each", a, b)
	}
}

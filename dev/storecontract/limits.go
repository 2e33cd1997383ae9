package storecontract

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Limits: the counts of unfinished synchronizations (docs/contract.md §1.6,
// REQ0007), kept by Open, Abandon and Finalize.

// openWithin opens s under limits, failing the test on a refusal.
func (w *world) openWithin(s transfer.Synchronization, limits transfer.Limits) {
	w.t.Helper()
	if err := w.Sync.Open(w.ctx, s, future(), limits); err != nil {
		w.t.Fatalf("Open(%s) within %+v: %v", s.ID, limits, err)
	}
}

// finalize finalizes s as the processor would.
func (w *world) finalize(s transfer.Synchronization) error {
	w.t.Helper()
	return w.Work.Finalize(w.ctx, w.decide(s))
}

// lone is a counted synchronization of a transaction of its own (no chain).
func (w *world) lone(target transfer.CustomerID) transfer.Synchronization {
	return w.newSync("tx-"+w.hash+"-"+rand.Text(), "", target)
}

func testLimitPerCustomer(t *testing.T, w *world) {
	limits := transfer.Limits{PerCustomer: 2}
	first, second := w.lone(w.b), w.lone(w.b)
	w.openWithin(first, limits)
	w.openWithin(second, limits)

	third := w.lone(w.b)
	if c := w.conflictWithin(third, limits); *c != (transfer.OpenConflict{CustomerAtLimit: true}) {
		t.Errorf("the third for one customer: conflict %+v, want CustomerAtLimit only", *c)
	}
	if _, ok := w.get(third.ID); ok {
		t.Error("a refused Open left its record")
	}
	// Another customer has a count of its own.
	w.openWithin(w.lone(w.a), limits)

	// Finalizing one makes room for one (the refused one took no lock);
	// finalizing it again makes none.
	w.must(w.finalize(first))
	w.openWithin(third, limits)
	if err := w.Work.Finalize(w.ctx, transfer.Decide(transfer.Snapshot{Sync: &first}, first.CreatedAt)); !errors.Is(err, transfer.ErrAlreadyFinalized) {
		t.Fatalf("second Finalize = %v, want ErrAlreadyFinalized", err)
	}
	if c := w.conflictWithin(w.lone(w.b), limits); !c.CustomerAtLimit {
		t.Errorf("after a repeated Finalize: conflict %+v, want CustomerAtLimit (uncounted twice?)", *c)
	}

	// A rollback makes room too, once.
	w.must(w.Sync.Abandon(w.ctx, second))
	if err := w.Sync.Abandon(w.ctx, second); err == nil {
		t.Error("a second Abandon succeeded")
	}
	w.openWithin(w.lone(w.b), limits)
	if c := w.conflictWithin(w.lone(w.b), limits); !c.CustomerAtLimit {
		t.Errorf("after a repeated Abandon: conflict %+v, want CustomerAtLimit (uncounted twice?)", *c)
	}
}

// testLimitUncounted: a record opened before counts existed is neither
// counted nor uncounted, so it cannot drive a count below what is open.
func testLimitUncounted(t *testing.T, w *world) {
	limits := transfer.Limits{PerCustomer: 1, PerPublisher: 1}
	old := []transfer.Synchronization{w.lone(w.b), w.lone(w.b)}
	for _, s := range old {
		s.Counted = false
		w.openWithin(s, limits)
		w.must(w.finalize(s))
	}
	abandoned := w.lone(w.b)
	abandoned.Counted = false
	w.openWithin(abandoned, limits)
	w.must(w.Sync.Abandon(w.ctx, abandoned))

	w.openWithin(w.lone(w.b), limits)
	if c := w.conflictWithin(w.lone(w.b), limits); !c.CustomerAtLimit {
		t.Errorf("conflict %+v, want CustomerAtLimit: uncounted records were uncounted", *c)
	}
}

// testLimitPerPublisher: a publisher's bound holds across its customers. A
// store may keep the count in parts (transfer.SynchronizationStore.Open), so
// with a limit of 1 the contract is only: some Open among 17 is refused, and
// nothing is refused once every counted one is finalized.
func testLimitPerPublisher(t *testing.T, w *world) {
	limits := transfer.Limits{PerPublisher: 1}
	var opened []transfer.Synchronization
	refused := 0
	for range 17 {
		s := w.lone(w.b)
		err := w.Sync.Open(w.ctx, s, future(), limits)
		var c *transfer.OpenConflict
		switch {
		case err == nil:
			opened = append(opened, s)
		case errors.As(err, &c) && *c == (transfer.OpenConflict{PublisherAtLimit: true}):
			refused++
			if _, ok := w.get(s.ID); ok {
				t.Error("a refused Open left its record")
			}
		default:
			t.Fatalf("Open(%s) = %v, want nil or PublisherAtLimit only", s.ID, err)
		}
	}
	if refused == 0 || len(opened) > 16 {
		t.Errorf("%d opened, %d refused under a publisher limit of 1", len(opened), refused)
	}
	for _, s := range opened {
		w.must(w.finalize(s))
	}
	for range 17 {
		s := w.lone(w.a)
		w.openWithin(s, limits)
		w.must(w.finalize(s))
	}
}

// testLimitExisting: at the limit, an Open of a stored id still reports the
// stored synchronization, so the Acceptor can answer a replay.
func testLimitExisting(t *testing.T, w *world) {
	limits := transfer.Limits{PerCustomer: 1}
	s := w.lone(w.b)
	s.CorrelationID = s.ID
	w.openWithin(s, limits)
	c := w.conflictWithin(s, limits)
	if c.Existing == nil || c.Existing.RequestHash != s.RequestHash {
		t.Errorf("conflict %+v, want Existing", *c)
	}
}

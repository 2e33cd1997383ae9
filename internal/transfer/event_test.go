package transfer_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestEveryFinalizationRecordsItsEvent: whatever the result, including
// TRANSFER_FAILED, the finalization carries the webhook event, with an id
// that every delivery of the job derives alike.
const otherOwner = transfer.CustomerID(7)

func TestEveryFinalizationRecordsItsEvent(t *testing.T) {
	t.Parallel()
	idForm := regexp.MustCompile(`^evt_[A-Z2-7]{26}$`)
	snaps := map[string]transfer.Snapshot{
		"transferred": {Sync: openSync(), Purchase: activePurchase(otherOwner)},
		"unchanged":   {Sync: openSync(), Purchase: activePurchase(testTarget)},
		"not found":   {Sync: openSync()},
	}
	for name, snap := range snaps {
		fin := transfer.Decide(snap, procNow)
		if !idForm.MatchString(fin.EventID) {
			t.Errorf("%s: event id %q, want evt_ and 26 base32 characters", name, fin.EventID)
		}
		if again := transfer.Decide(snap, procNow.Add(time.Hour)); again.EventID != fin.EventID {
			t.Errorf("%s: a later decision names another event: %s then %s", name, fin.EventID, again.EventID)
		}
	}

	f := newProcFixture(t, 2)
	f.setPurchase(activePurchase(otherOwner))
	f.loadErrs = []error{errors.New("storage down"), nil}
	_ = f.proc.Handle(context.Background(), testJob, 2)
	if len(f.finalizes) == 0 {
		t.Fatal("the last delivery finalized nothing")
	}
	last := f.finalizes[len(f.finalizes)-1]
	if last.Sync.Result != transfer.ResultTransferFailed || last.EventID != transfer.EventID(*openSync()) {
		t.Errorf("TRANSFER_FAILED finalization: result %s, event %q; want the synchronization's event", last.Sync.Result, last.EventID)
	}
	// The store recorded the event with the finalization.
	if ev := f.mem.Events(); len(ev) != 1 || ev[0].ID != last.EventID || ev[0].Sync.Result != transfer.ResultTransferFailed {
		t.Errorf("recorded events = %+v, want the TRANSFER_FAILED one", ev)
	}
}

func TestEventIDsDiffer(t *testing.T) {
	t.Parallel()
	a := *openSync()
	b := a
	b.ID = "sync-2"
	c := a
	c.PublisherID++
	d := a
	d.CreatedAt = d.CreatedAt.Add(time.Nanosecond) // the same id reused after the first record expired
	seen := map[string]string{}
	for name, s := range map[string]transfer.Synchronization{"a": a, "other id": b, "other publisher": c, "recreated": d} {
		id := transfer.EventID(s)
		if prev, dup := seen[id]; dup {
			t.Errorf("%s and %s share event id %s", name, prev, id)
		}
		seen[id] = name
	}
}

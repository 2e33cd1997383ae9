package integration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestForgedJobMovesOnlyItsRecordsPurchase: a message on the transfer queue
// that names a real, unfinished synchronization but another purchase (its
// transactionId and originalTransactionId, as jobs once carried them) moves
// the purchase the stored record names, to the record's target, and leaves
// the other purchase untouched: owner, version and history. The genuine job
// is lost on purpose, so that the forged one is the only delivery.
func TestForgedJobMovesOnlyItsRecordsPurchase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withQueue(func(transfer.Queue) transfer.Queue { return lostQueue{} }))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	owner, target, otherOwner := cs[0], cs[1], cs[2]
	mine := e.seedPurchase(pub, owner, transfer.StateActive, time.Now().Add(time.Hour))
	other := e.seedPurchase(pub, otherOwner, transfer.StateActive, time.Now().Add(time.Hour))
	otherBefore := e.purchase(pub, other.OriginalTransactionID)

	r := e.transfer(tokenHeader(pub), transferBody(target, mine.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")

	forged, err := json.Marshal(map[string]any{
		"publisherId":           pub.id,
		"synchronizationId":     id,
		"transactionId":         other.TransactionIDs[0],
		"originalTransactionId": other.OriginalTransactionID,
	})
	if err != nil {
		t.Fatal(err)
	}
	body, url := string(forged), e.res.TransferQueueURL()
	if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}); err != nil {
		t.Fatal(err)
	}
	e.startProcessor()
	assertFinal(t, e.waitFinalized(tokenHeader(pub), id), transfer.ResultTransferred, true, mine.OfferID)

	if got := e.purchase(pub, mine.OriginalTransactionID); got.Owner != target {
		t.Errorf("the record's purchase is owned by %d, want the record's target %d", got.Owner, target)
	}
	otherAfter := e.purchase(pub, other.OriginalTransactionID)
	if otherAfter.Owner != otherOwner || otherAfter.Version != otherBefore.Version {
		t.Errorf("the purchase the message named changed: owner %d version %d, was %d version %d",
			otherAfter.Owner, otherAfter.Version, otherBefore.Owner, otherBefore.Version)
	}
	if h := e.history(pub, other.OriginalTransactionID); len(h) != 0 {
		t.Errorf("the purchase the message named has history %+v", h)
	}
	s, ok, err := e.svc.Stores.Syncs.Get(context.Background(), pub.id, id)
	if err != nil || !ok || s.OriginalTransactionID != mine.OriginalTransactionID || s.PreviousOwner != owner {
		t.Errorf("record %+v (%v, %v): want the chain %s moved from %d", s, ok, err, mine.OriginalTransactionID, owner)
	}
}

// TestWrongHintProcessesItsOwnRecord: a message whose prefetch hint is not
// its record's (stale, forged, malformed, or naming a purchase another
// synchronization holds) still finalizes its own record with the record's
// result, releases the record's locks, and moves nothing else. The genuine
// jobs are lost on purpose, so that the wrong ones are the only deliveries.
func TestWrongHintProcessesItsOwnRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withQueue(func(transfer.Queue) transfer.Queue { return lostQueue{} }))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	owner, target, otherOwner := cs[0], cs[1], cs[2]
	later := time.Now().Add(time.Hour)
	other := e.seedPurchase(pub, otherOwner, transfer.StateActive, later)
	// other is held by an unfinished synchronization of its own, so its
	// locks exist: a hint naming them must not make them this record's.
	held := e.transfer(tokenHeader(pub), transferBody(owner, other.TransactionIDs[0]))
	if held.status != http.StatusAccepted {
		t.Fatalf("transfer of the other purchase: %d %s", held.status, held.raw)
	}
	heldID := held.str("synchronizationId")
	otherBefore := e.purchase(pub, other.OriginalTransactionID)

	type sent struct {
		name string
		id   string
		mine transfer.Purchase
		want transfer.Result
	}
	var all []sent
	for _, tc := range []struct {
		name  string
		hint  func(mine transfer.Purchase) (tx, otx string)
		state transfer.PurchaseState
		want  transfer.Result
	}{
		{"another chain", func(m transfer.Purchase) (string, string) { return m.TransactionIDs[0], other.OriginalTransactionID },
			transfer.StateActive, transfer.ResultTransferred},
		{"no chain", func(m transfer.Purchase) (string, string) { return m.TransactionIDs[0], "" },
			transfer.StateActive, transfer.ResultTransferred},
		{"another transaction, no chain", func(transfer.Purchase) (string, string) { return other.TransactionIDs[0], "" },
			transfer.StateActive, transfer.ResultTransferred},
		{"malformed", func(m transfer.Purchase) (string, string) { return m.TransactionIDs[0] + "#LOCK", "x#SYNC#y" },
			transfer.StateActive, transfer.ResultTransferred},
		{"another purchase, the record's expired", func(transfer.Purchase) (string, string) {
			return other.TransactionIDs[0], other.OriginalTransactionID
		}, transfer.StateExpired, transfer.ResultExpired},
	} {
		mine := e.seedPurchase(pub, owner, tc.state, later)
		r := e.transfer(tokenHeader(pub), transferBody(target, mine.TransactionIDs[0]))
		if r.status != http.StatusAccepted {
			t.Fatalf("%s: transfer: %d %s", tc.name, r.status, r.raw)
		}
		id := r.str("synchronizationId")
		tx, otx := tc.hint(mine)
		e.sendJobBody(map[string]any{"publisherId": pub.id, "synchronizationId": id, "transactionId": tx, "originalTransactionId": otx})
		all = append(all, sent{tc.name, id, mine, tc.want})
	}
	e.startProcessor()
	for _, s := range all {
		granted, offer, wantOwner := s.want.AccessGranted(), "", owner
		if granted {
			offer, wantOwner = s.mine.OfferID, target
		}
		got := e.waitFinalized(tokenHeader(pub), s.id)
		if got.str("result") != string(s.want) || got.body["accessGranted"] != granted || (granted && got.str("offerId") != offer) {
			t.Errorf("%s: finalized %s, want %s", s.name, got.raw, s.want)
		}
		if p := e.purchase(pub, s.mine.OriginalTransactionID); p.Owner != wantOwner {
			t.Errorf("%s: the record's purchase is owned by %d, want %d", s.name, p.Owner, wantOwner)
		}
	}
	// Only the other synchronization's two locks are left.
	locks := e.items()["LOCK"]
	if len(locks) != 2 {
		t.Errorf("locks left: %v, want the other synchronization's two", locks)
	}
	for _, l := range locks {
		if l["synchronizationId"] != heldID {
			t.Errorf("lock %v is not the other synchronization's (%s)", l, heldID)
		}
	}
	otherAfter := e.purchase(pub, other.OriginalTransactionID)
	if otherAfter.Owner != otherOwner || otherAfter.Version != otherBefore.Version {
		t.Errorf("the purchase the hints named changed: owner %d version %d, was %d version %d",
			otherAfter.Owner, otherAfter.Version, otherBefore.Owner, otherBefore.Version)
	}
	if h := e.history(pub, other.OriginalTransactionID); len(h) != 0 {
		t.Errorf("the purchase the hints named has history %+v", h)
	}
}

// sendJobBody puts a message of the given fields on the transfer queue, as
// anyone allowed to send to it could.
func (e *env) sendJobBody(fields map[string]any) {
	e.t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		e.t.Fatal(err)
	}
	body, url := string(b), e.res.TransferQueueURL()
	if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}); err != nil {
		e.t.Fatal(err)
	}
}

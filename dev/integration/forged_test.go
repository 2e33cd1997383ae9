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

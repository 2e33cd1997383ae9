package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const racers = 120

// race sends all requests at once (after a barrier) and counts the answers
// by status and code. Each racer is a client with a Correlation-Id of its
// own that, as the contract asks, retries a 5xx with the same Correlation-Id:
// on a loaded machine DynamoDB Local can outlast a request's deadline, and
// such an answer is no answer. A retry finds its own synchronization (202,
// the same id) if the first try committed after all, so the counts are the
// system's decisions, not the machine's speed.
func race(e *env, requests []func(correlationID string) response) map[string]int {
	var (
		mu      sync.Mutex
		counts  = map[string]int{}
		retries int
		start   = make(chan struct{})
		wg      sync.WaitGroup
	)
	prefix := newTxID()
	for i, req := range requests {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("race-%s-%d", prefix, i)
			r := req(id)
			for try := 1; r.status >= 500 && try < raceTries; try++ {
				mu.Lock()
				retries++
				mu.Unlock()
				r = req(id)
			}
			key := http.StatusText(r.status)
			if r.status != http.StatusAccepted {
				key = r.code()
			}
			mu.Lock()
			counts[key]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if retries > 0 {
		e.t.Logf("race: %d answers were 5xx and retried with their Correlation-Id", retries)
	}
	return counts
}

// raceTries bounds each racer's tries; past it, a 5xx is counted as it is.
const raceTries = 10

// withCorrelationID adds a Correlation-Id header to a copy of headers.
func withCorrelationID(headers map[string]string, id string) map[string]string {
	out := maps.Clone(headers)
	out["Correlation-Id"] = id
	return out
}

// TestOneWinnerPerTransaction: many concurrent transfers of one
// transactionId, processor held back: exactly one 202, all others SK2C0103,
// one record and one message.
func TestOneWinnerPerTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 4)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))

	reqs := make([]func(string) response, racers)
	for i := range reqs {
		target := cs[1+i%3]
		reqs[i] = func(id string) response {
			return e.transfer(withCorrelationID(tokenHeader(pub), id), transferBody(target, p.TransactionIDs[0]))
		}
	}
	counts := race(e, reqs)
	if counts["Accepted"] != 1 || counts[string(transfer.CodeTransactionLocked)] != racers-1 {
		t.Fatalf("answers = %v, want 1 Accepted and %d %s", counts, racers-1, transfer.CodeTransactionLocked)
	}
	if n := len(e.items()["SYNC"]); n != 1 {
		t.Errorf("%d synchronization records, want 1", n)
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != 1 {
		t.Errorf("%d messages enqueued, want 1", d)
	}
}

// TestOneWinnerPerPurchase: concurrent transfers of the two transactionIds of
// one chain: exactly one 202; the rest are SK2C0103 (same transactionId as
// the winner) or SK2C0104 (the other one).
func TestOneWinnerPerPurchase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour), newTxID(), newTxID())

	reqs := make([]func(string) response, racers)
	for i := range reqs {
		tx := p.TransactionIDs[i%2]
		reqs[i] = func(id string) response {
			return e.transfer(withCorrelationID(tokenHeader(pub), id), transferBody(cs[1], tx))
		}
	}
	counts := race(e, reqs)
	locked := counts[string(transfer.CodeTransactionLocked)]
	purchaseLocked := counts[string(transfer.CodePurchaseLocked)]
	if counts["Accepted"] != 1 || locked != racers/2-1 || purchaseLocked != racers/2 {
		t.Fatalf("answers = %v, want 1 Accepted, %d %s and %d %s", counts,
			racers/2-1, transfer.CodeTransactionLocked, racers/2, transfer.CodePurchaseLocked)
	}
	if n := len(e.items()["SYNC"]); n != 1 {
		t.Errorf("%d synchronization records, want 1", n)
	}
}

// TestRedeliveryAppliesOnce delivers a job again after it finished, twice at
// once, and late (after a later transfer moved the purchase on): the
// ownership changes exactly once per synchronization.
func TestRedeliveryAppliesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	a, b, c := cs[0], cs[1], cs[2]
	p := e.seedPurchase(pub, a, transfer.StateActive, time.Now().Add(time.Hour))
	e.startProcessor()

	first := e.transfer(tokenHeader(pub), transferBody(b, p.TransactionIDs[0])).str("synchronizationId")
	done := e.waitFinalized(tokenHeader(pub), first)
	firstJob := e.job(pub, first)

	// The same message, twice at once.
	e.sendJob(firstJob)
	e.sendJob(firstJob)
	testkit.Eventually(t, "redeliveries consumed", 10*time.Second, func() bool { return e.queueDepth(e.res.TransferQueueURL()) == 0 })
	if pur := e.purchase(pub, p.OriginalTransactionID); pur.Owner != b || pur.Version != 1 {
		t.Errorf("after redelivery: owner %d version %d, want %d version 1", pur.Owner, pur.Version, b)
	}
	if again := e.status(tokenHeader(pub), first); again.str("updatedAt") != done.str("updatedAt") {
		t.Errorf("redelivery touched the finalized record: %s then %s", done.raw, again.raw)
	}

	// A later transfer moves the purchase on; the first job arrives late.
	second := e.transfer(tokenHeader(pub), transferBody(c, p.TransactionIDs[0])).str("synchronizationId")
	assertFinal(t, e.waitFinalized(tokenHeader(pub), second), transfer.ResultTransferred, true, p.OfferID)
	e.sendJob(firstJob)
	testkit.Eventually(t, "late redelivery consumed", 10*time.Second, func() bool { return e.queueDepth(e.res.TransferQueueURL()) == 0 })
	if pur := e.purchase(pub, p.OriginalTransactionID); pur.Owner != c || pur.Version != 2 {
		t.Errorf("after late redelivery: owner %d version %d, want %d version 2", pur.Owner, pur.Version, c)
	}
	if h := e.history(pub, p.OriginalTransactionID); len(h) != 2 {
		t.Errorf("history has %d entries, want 2: %+v", len(h), h)
	}
}

// TestStaleLockIsTakenOver: a lock whose lease ran out (its owner never
// finished) no longer blocks; a live one does.
func TestStaleLockIsTakenOver(t *testing.T) {
	t.Parallel()
	const lease = 500 * time.Millisecond
	e := newEnv(t, withLockLease(lease))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour), newTxID(), newTxID())

	// The lease starts when the lock is written, after this instant.
	orphanedAt := time.Now()
	orphan := e.transfer(tokenHeader(pub), transferBody(cs[1], p.TransactionIDs[0]))
	if orphan.status != http.StatusAccepted {
		t.Fatalf("first transfer: %d %s", orphan.status, orphan.raw)
	}
	if r := e.transfer(tokenHeader(pub), transferBody(cs[2], p.TransactionIDs[1])); r.status != http.StatusConflict && time.Since(orphanedAt) < lease {
		t.Fatalf("while the lease is live: %d %s, want 409", r.status, r.raw)
	}

	var taker response
	testkit.Eventually(t, "lease expiry", 10*time.Second, func() bool {
		taker = e.transfer(tokenHeader(pub), transferBody(cs[2], p.TransactionIDs[1]))
		return taker.status == http.StatusAccepted
	})
	if time.Since(orphanedAt) < lease {
		t.Fatalf("lock taken over after %v, before its %v lease ran out", time.Since(orphanedAt), lease)
	}
	takerID := taker.str("synchronizationId")
	// The taker holds the chain lock it took over and its own transaction's
	// lock; the orphan still holds its transaction's (expired) lock.
	owners := map[any]int{}
	for _, lock := range e.items()["LOCK"] {
		owners[lock["synchronizationId"]]++
	}
	if owners[takerID] != 2 || owners[orphan.str("synchronizationId")] != 1 {
		t.Errorf("lock owners = %v, want 2 for the taker %s and 1 for the orphan", owners, takerID)
	}

	// Both jobs run; each finalizes, the purchase ends with one owner, and no
	// lock survives.
	e.startProcessor()
	e.waitFinalized(tokenHeader(pub), orphan.str("synchronizationId"))
	e.waitFinalized(tokenHeader(pub), takerID)
	if locks := e.items()["LOCK"]; len(locks) != 0 {
		t.Errorf("locks left: %v", locks)
	}
	if owner := e.purchase(pub, p.OriginalTransactionID).Owner; owner != cs[1] && owner != cs[2] {
		t.Errorf("owner %d is neither target", owner)
	}
}

// TestCorrelationIDReplay: the same Correlation-Id and body answers 202 with
// the same id and starts nothing new, before and after finalization; another
// body is REQ0006.
func TestCorrelationIDReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))
	h := map[string]string{"X-Publisher-Token": pub.token, "Correlation-Id": "order-" + newTxID()}
	body := transferBody(cs[1], p.TransactionIDs[0])

	first := e.transfer(h, body)
	replay := e.transfer(h, body)
	if first.status != http.StatusAccepted || replay.status != http.StatusAccepted ||
		replay.str("synchronizationId") != h["Correlation-Id"] || first.str("synchronizationId") != h["Correlation-Id"] {
		t.Fatalf("first %d %s, replay %d %s", first.status, first.raw, replay.status, replay.raw)
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != 1 {
		t.Errorf("a replay enqueued again: %d messages", d)
	}

	e.startProcessor()
	e.waitFinalized(h, h["Correlation-Id"])
	testkit.Eventually(t, "queue drained", 10*time.Second, func() bool { return e.queueDepth(e.res.TransferQueueURL()) == 0 })
	if r := e.transfer(h, body); r.status != http.StatusAccepted || r.str("synchronizationId") != h["Correlation-Id"] {
		t.Errorf("replay after finalization: %d %s", r.status, r.raw)
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != 0 {
		t.Errorf("a replay after finalization enqueued again: %d messages", d)
	}
	assertError(t, e.transfer(h, transferBody(cs[0], p.TransactionIDs[0])), 409, transfer.CodeCorrelationIDReused, "Correlation-Id")
	if pur := e.purchase(pub, p.OriginalTransactionID); pur.Version != 1 {
		t.Errorf("purchase changed %d times, want once", pur.Version)
	}
}

// TestTenantIsolation: nothing of one publisher is visible to, or movable
// by, another, on either endpoint.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startProcessor()
	p1, p2 := e.seedPublisher(true, false), e.seedPublisher(true, false)
	c1, c2 := e.seedCustomers(p1, 2), e.seedCustomers(p2, 1)
	pur := e.seedPurchase(p1, c1[0], transfer.StateActive, time.Now().Add(time.Hour))

	// The same Correlation-Id names two different synchronizations.
	shared := "shared-" + newTxID()
	r1 := e.transfer(map[string]string{"X-Publisher-Token": p1.token, "Correlation-Id": shared}, transferBody(c1[1], pur.TransactionIDs[0]))
	r2 := e.transfer(map[string]string{"X-Publisher-Token": p2.token, "Correlation-Id": shared}, transferBody(c2[0], pur.TransactionIDs[0]))
	if r1.status != http.StatusAccepted || r2.status != http.StatusAccepted {
		t.Fatalf("same Correlation-Id in two tenants: %d %s / %d %s", r1.status, r1.raw, r2.status, r2.raw)
	}
	// Publisher 2 cannot reach publisher 1's purchase through its transactionId.
	assertFinal(t, e.waitFinalized(tokenHeader(p2), shared), transfer.ResultNotFound, false, "")
	assertFinal(t, e.waitFinalized(tokenHeader(p1), shared), transfer.ResultTransferred, true, pur.OfferID)
	if owner := e.purchase(p1, pur.OriginalTransactionID).Owner; owner != c1[1] {
		t.Errorf("owner = %d, want %d", owner, c1[1])
	}

	// Publisher 2 cannot see publisher 1's synchronization, by token or JWT.
	own := e.transfer(tokenHeader(p1), transferBody(c1[0], newTxID())).str("synchronizationId")
	assertError(t, e.status(tokenHeader(p2), own), 404, transfer.CodeNotFound, "")
	assertError(t, e.status(map[string]string{"Authorization": "Bearer " + e.jwt(p2, c1[0])}, own), 404, transfer.CodeNotFound, "")
	if r := e.status(map[string]string{"Authorization": "Bearer " + e.jwt(p1, c1[0])}, own); r.status != http.StatusOK {
		t.Errorf("the target's own JWT: %d %s", r.status, r.raw)
	}
	// Nor move a purchase to one of publisher 1's customers.
	assertError(t, e.transfer(tokenHeader(p2), transferBody(c1[0], newTxID())), 422, transfer.CodeUnknownCustomer, "cleengCustomerId")
}

func (e *env) job(p publisher, id string) transfer.Job {
	e.t.Helper()
	s, ok, err := e.svc.Stores.Syncs.Get(context.Background(), p.id, id)
	if err != nil || !ok {
		e.t.Fatalf("get %s: %v %v", id, ok, err)
	}
	return transfer.JobOf(s)
}

func (e *env) sendJob(j transfer.Job) {
	e.t.Helper()
	body, _ := json.Marshal(j)
	text := string(body)
	url := e.res.TransferQueueURL()
	if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &text}); err != nil {
		e.t.Fatal(err)
	}
}

package integration_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// lostQueue acknowledges jobs without sending them: the process "crashed"
// between the accepting transaction and its SendMessage.
type lostQueue struct{}

func (lostQueue) Enqueue(context.Context, transfer.Job) error { return nil }

// TestSweeperRecoversALostJob: a record whose job never reached the queue is
// re-enqueued by the sweeper once its grace period passed, then finalized by
// the processor; a second sweep right after does not send it again.
func TestSweeperRecoversALostJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withQueue(func(transfer.Queue) transfer.Queue { return lostQueue{} }))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))

	r := e.transfer(tokenHeader(pub), transferBody(cs[1], p.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")
	if d := e.queueDepth(e.res.TransferQueueURL()); d != 0 {
		t.Fatalf("the lost job reached the queue: %d messages", d)
	}

	ctx := context.Background()
	realQueue := e.svc.Queue(stack.Clients)
	// Within its grace period a record is left alone.
	if n, err := e.svc.Sweeper(realQueue).Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep within the grace period: requeued %d, err %v", n, err)
	}
	later := func() time.Time { return time.Now().Add(transfer.DefaultSweepGrace + time.Minute) }
	sweeper := e.svc.Sweeper(realQueue, transfer.WithClock(later))
	if n, err := sweeper.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep past the grace period: requeued %d, err %v", n, err)
	}
	if n, err := sweeper.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second sweep: requeued %d, err %v; the grace must restart", n, err)
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != 1 {
		t.Errorf("%d messages after the sweeps, want 1", d)
	}

	e.startProcessor()
	assertFinal(t, e.waitFinalized(tokenHeader(pub), id), transfer.ResultTransferred, true, p.OfferID)
	// A finalized record is no longer open: nothing left to sweep, ever.
	if n, err := e.svc.Sweeper(realQueue, transfer.WithClock(func() time.Time { return time.Now().Add(24 * time.Hour) })).Sweep(ctx); err != nil || n != 0 {
		t.Errorf("sweep after finalization: requeued %d, err %v", n, err)
	}
}

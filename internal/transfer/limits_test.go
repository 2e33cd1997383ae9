package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/memstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The bounds on unfinished synchronizations (docs/contract.md §1.6, REQ0007).

// transferOf is a valid request of a transaction of its own for target.
func transferOf(target transfer.CustomerID, i int) transfer.Request {
	return transfer.Request{Target: target, TransactionID: fmt.Sprintf("tx-limit-%d", i)}
}

func (f *acceptFixture) accept(t *testing.T, req transfer.Request, correlationID string) (transfer.Accepted, error) {
	t.Helper()
	return f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: req, CorrelationID: correlationID})
}

// tooMany checks a REQ0007 refusal: its Retry-After, and details naming the
// target customer for a customer's bound, nothing for a publisher's.
func tooMany(t *testing.T, err error, field string) {
	t.Helper()
	var e *transfer.Error
	if !errors.As(err, &e) || e.Code != transfer.CodeTooManyUnfinished {
		t.Fatalf("err = %v, want %s", err, transfer.CodeTooManyUnfinished)
	}
	// 5 s, as docs/contract.md and the OpenAPI file say.
	if e.RetryAfter != 5*time.Second {
		t.Errorf("RetryAfter = %v, want 5s", e.RetryAfter)
	}
	switch {
	case field == "" && len(e.Details) != 0:
		t.Errorf("details = %+v, want none", e.Details)
	case field != "" && (len(e.Details) != 1 || e.Details[0].Field != field):
		t.Errorf("details = %+v, want one naming %s", e.Details, field)
	}
}

func TestAcceptRefusesPastTheCustomerLimit(t *testing.T) {
	t.Parallel()
	limits := transfer.Limits{PerCustomer: 2, PerPublisher: 100}
	f := newAcceptFixture(t, livePublisher(), transfer.WithLimits(limits))
	var first transfer.Synchronization
	for i := range 2 {
		got, err := f.accept(t, transferOf(testTarget, i), "")
		if err != nil {
			t.Fatalf("transfer %d within the limit: %v", i, err)
		}
		if i == 0 {
			first = got.Synchronization
		}
	}
	_, err := f.accept(t, transferOf(testTarget, 2), "limited-1")
	tooMany(t, err, "cleengCustomerId")
	if len(f.opens) != 3 || f.opens[2].limits != limits {
		t.Errorf("Open calls %+v, want 3 with the configured limits", f.opens)
	}
	if s, ok, _ := f.mem.Get(context.Background(), testPublisher, "limited-1"); ok {
		t.Errorf("record left behind: %+v", s)
	}
	if len(f.mem.Locks()) != 2 {
		t.Errorf("locks = %+v, want the two accepted transfers' only", f.mem.Locks())
	}
	if len(f.queue.Jobs()) != 2 {
		t.Errorf("jobs = %+v, want the two accepted transfers' only", f.queue.Jobs())
	}
	if c, p := f.mem.Unfinished(testPublisher, testTarget); c != 2 || p != 2 {
		t.Errorf("counts = %d, %d after a refusal, want 2 and 2", c, p)
	}

	// The bound is the target's: another customer is accepted.
	if err := f.mem.PutCustomers(context.Background(), testPublisher, testTarget+1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.accept(t, transferOf(testTarget+1, 3), ""); err != nil {
		t.Errorf("another customer's transfer: %v", err)
	}

	// Once the processor finalizes one (twice: a redelivery), there is room
	// for exactly one more.
	proc := transfer.NewProcessor(f.mem, transfer.WithClock(func() time.Time { return testNow }))
	for range 2 {
		if err := proc.Handle(context.Background(), transfer.JobOf(first), 1); err != nil {
			t.Fatalf("processing the first: %v", err)
		}
	}
	if _, err := f.accept(t, transferOf(testTarget, 4), ""); err != nil {
		t.Fatalf("a transfer after one finalized: %v", err)
	}
	_, err = f.accept(t, transferOf(testTarget, 5), "")
	tooMany(t, err, "cleengCustomerId")
}

func TestAcceptRefusesPastThePublisherLimit(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher(), transfer.WithLimits(transfer.Limits{PerPublisher: 2}))
	others := []transfer.CustomerID{testTarget + 1, testTarget + 2}
	if err := f.mem.PutCustomers(context.Background(), testPublisher, others...); err != nil {
		t.Fatal(err)
	}
	for i, c := range []transfer.CustomerID{testTarget, others[0]} {
		if _, err := f.accept(t, transferOf(c, i), ""); err != nil {
			t.Fatalf("transfer %d within the limit: %v", i, err)
		}
	}
	_, err := f.accept(t, transferOf(others[1], 2), "limited-2")
	tooMany(t, err, "")
	if _, ok, _ := f.mem.Get(context.Background(), testPublisher, "limited-2"); ok || len(f.queue.Jobs()) != 2 {
		t.Errorf("the refusal left a record (%v) or a job (%d jobs)", ok, len(f.queue.Jobs()))
	}
}

// TestAcceptLimitComesLast: every other refusal of §1.6 is reported before
// REQ0007, and a replay is answered 202 even with its customer at the limit.
func TestAcceptLimitComesLast(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher(), transfer.WithLimits(transfer.Limits{PerCustomer: 1}))
	req := transferOf(testTarget, 0)
	first, err := f.accept(t, req, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	replay, err := f.accept(t, req, "order-1")
	if err != nil || !replay.Replayed || replay.Synchronization != first.Synchronization {
		t.Errorf("replay at the limit = %+v, %v; want the first answered again", replay, err)
	}
	for _, c := range []struct {
		name          string
		req           transfer.Request
		correlationID string
		want          transfer.Code
	}{
		{"unknown customer", transferOf(testTarget+99, 1), "", transfer.CodeUnknownCustomer},
		{"transaction held", req, "", transfer.CodeTransactionLocked},
		{"Correlation-Id reused", transferOf(testTarget, 2), "order-1", transfer.CodeCorrelationIDReused},
		{"at the limit", transferOf(testTarget, 3), "", transfer.CodeTooManyUnfinished},
	} {
		if _, err := f.accept(t, c.req, c.correlationID); codeOf(t, err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

// TestAcceptRollbackUncounts: a transfer whose job could not be enqueued is
// rolled back, its count with it, so the client's retry is not refused.
func TestAcceptRollbackUncounts(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher(), transfer.WithLimits(transfer.Limits{PerCustomer: 1}))
	f.queue.SetHook(func(context.Context, transfer.Job) error { return errors.New("sqs: throttled") })
	if _, err := f.accept(t, validRequest(), ""); codeOf(t, err) != transfer.CodeQueueFailure {
		t.Fatalf("err = %v, want %s", err, transfer.CodeQueueFailure)
	}
	if c, p := f.mem.Unfinished(testPublisher, testTarget); c != 0 || p != 0 {
		t.Errorf("counts after the rollback = %d, %d, want 0", c, p)
	}
	f.queue.SetHook(nil)
	if _, err := f.accept(t, validRequest(), ""); err != nil {
		t.Errorf("the retry: %v", err)
	}
}

// TestGiveUpUncounts: a synchronization finalized TRANSFER_FAILED on its
// last delivery is uncounted like any other.
func TestGiveUpUncounts(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher(), transfer.WithLimits(transfer.Limits{PerCustomer: 1}))
	got, err := f.accept(t, validRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	finalizes := 0
	f.mem.SetHooks(memstore.Hooks{Finalize: func(context.Context, transfer.Finalization) error {
		if finalizes++; finalizes == 1 {
			return errors.New("dynamodb: throttled")
		}
		return nil
	}})
	proc := transfer.NewProcessor(f.mem, transfer.WithMaxReceives(5), transfer.WithClock(func() time.Time { return testNow }))
	if err := proc.Handle(context.Background(), transfer.JobOf(got.Synchronization), 5); err == nil {
		t.Fatal("the failed last delivery reported success")
	}
	if s, _, _ := f.mem.Get(context.Background(), testPublisher, got.Synchronization.ID); s.Result != transfer.ResultTransferFailed {
		t.Fatalf("result %q, want TRANSFER_FAILED", s.Result)
	}
	if c, p := f.mem.Unfinished(testPublisher, testTarget); c != 0 || p != 0 {
		t.Errorf("counts after TRANSFER_FAILED = %d, %d, want 0", c, p)
	}
}

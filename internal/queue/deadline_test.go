package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// hangingJobHandler: "ok" succeeds; "slow" waits for its context to end (a
// dependency that hangs, called under the context); "stuck" ignores its
// context and waits for the test to end (a call that never returns).
type hangingJobHandler struct {
	release chan struct{}
	mu      sync.Mutex
	seen    map[string]time.Time // each job's work deadline
}

func (h *hangingJobHandler) Handle(ctx context.Context, job transfer.Job, _ int) error {
	d, _ := ctx.Deadline()
	h.mu.Lock()
	h.seen[job.SynchronizationID] = d
	h.mu.Unlock()
	switch job.SynchronizationID {
	case "slow":
		<-ctx.Done()
		return ctx.Err()
	case "stuck":
		<-h.release
	}
	return nil
}

func TestBatchAnswersBeforeTheInvocationEnds(t *testing.T) {
	t.Parallel()
	h := &hangingJobHandler{release: make(chan struct{}), seen: map[string]time.Time{}}
	t.Cleanup(func() { close(h.release) })
	event := events.SQSEvent{}
	for _, id := range []string{"ok", "slow", "stuck"} {
		event.Records = append(event.Records, record("m-"+id, jobBody(t, transfer.Job{SynchronizationID: id, PublisherID: 7}), nil))
	}
	// As Lambda invokes it: a context that ends with the function's Timeout.
	const timeout = 2 * time.Second
	invocationEnd := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), invocationEnd)
	defer cancel()

	start := time.Now()
	answered := make(chan events.SQSEventResponse, 1)
	go func() {
		resp, _ := queue.TransferBatchHandler(h)(ctx, event)
		answered <- resp
	}()
	var resp events.SQSEventResponse
	select {
	case resp = <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the batch handler hung with its records")
	}
	took := time.Since(start)
	t.Logf("batch with a hanging record answered after %v (invocation timeout %v, margin %v)", took, timeout, deadline.Margin)
	if got, want := failedIDs(resp), []string{"m-slow", "m-stuck"}; !equal(got, want) {
		t.Errorf("batch item failures = %v, want %v: unfinished records come back, finished ones are deleted", got, want)
	}
	// Every record's work ends a margin before the invocation does.
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, d := range h.seen {
		if !d.Equal(invocationEnd.Add(-deadline.Margin)) {
			t.Errorf("job %s worked until %v, want %v (the invocation's end less the margin)", id, d, invocationEnd.Add(-deadline.Margin))
		}
	}
	if len(h.seen) != 3 {
		t.Errorf("%d jobs were handled, want 3", len(h.seen))
	}
}

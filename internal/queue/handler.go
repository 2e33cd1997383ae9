package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// JobHandler processes one delivery of a job; see transfer.Processor.Handle.
type JobHandler interface {
	Handle(ctx context.Context, job transfer.Job, receiveCount int) error
}

// BatchHandler is what a Lambda SQS event source (or the Poller) calls.
type BatchHandler func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error)

// TransferBatchHandler processes the records of a batch concurrently and
// reports the ones that failed, so that only those are delivered again
// (ReportBatchItemFailures).
func TransferBatchHandler(h JobHandler) BatchHandler {
	return func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
		return partialBatch(ctx, event, func(ctx context.Context, msg events.SQSMessage) error {
			return handleRecord(ctx, h, msg)
		}), nil
	}
}

// partialBatch handles the records of a batch concurrently and reports the
// ones that failed. The work has the invocation's deadline less the margin
// to answer (deadline.ForWork): a record still unfinished then — a
// dependency that hangs — is reported failed, so that SQS delivers it again,
// instead of the batch running into the function's timeout, which would
// fail the records that succeeded too.
func partialBatch(ctx context.Context, event events.SQSEvent, handle func(context.Context, events.SQSMessage) error) events.SQSEventResponse {
	ctx, cancel := deadline.ForWork(ctx, 0)
	defer cancel()
	var (
		mu       sync.Mutex
		finished = make([]bool, len(event.Records))
		failed   = make([]bool, len(event.Records))
		wg       sync.WaitGroup
	)
	for i, msg := range event.Records {
		wg.Go(func() {
			err := recovered(ctx, msg, handle)
			mu.Lock()
			finished[i], failed[i] = true, err != nil
			mu.Unlock()
		})
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	select {
	case <-allDone:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	var resp events.SQSEventResponse
	for i, msg := range event.Records {
		if !finished[i] {
			slog.ErrorContext(ctx, "message unfinished at the invocation's deadline; it will come back", "messageId", msg.MessageId)
		}
		if !finished[i] || failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp
}

// recovered makes a panic fail its record only, not its batch nor the process.
func recovered(ctx context.Context, msg events.SQSMessage, handle func(context.Context, events.SQSMessage) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			slog.ErrorContext(ctx, "panic while handling a message", "messageId", msg.MessageId, "panic", fmt.Sprint(v))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return handle(ctx, msg)
}

func handleRecord(ctx context.Context, h JobHandler, msg events.SQSMessage) error {
	var job transfer.Job
	if err := json.Unmarshal([]byte(msg.Body), &job); err != nil || job.SynchronizationID == "" || job.PublisherID <= 0 {
		// Not ours to fix: let it reach the dead-letter queue for an operator.
		slog.ErrorContext(ctx, "malformed transfer job", "messageId", msg.MessageId, "error", err)
		return fmt.Errorf("malformed job %s", msg.MessageId)
	}
	return h.Handle(ctx, job, ReceiveCount(msg))
}

// ReceiveCount is SQS's count of deliveries of a message, 1 on the first.
func ReceiveCount(msg events.SQSMessage) int {
	n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

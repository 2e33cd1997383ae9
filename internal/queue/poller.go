package queue

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Poller does locally what Lambda's SQS event source mapping does in AWS:
// long-polls a queue, hands each batch to a BatchHandler and deletes the
// messages that did not fail. Failed messages become visible again after the
// queue's visibility timeout, and move to the dead-letter queue after
// maxReceiveCount, exactly as in AWS.
type Poller struct {
	SQS       API
	QueueURL  string
	QueueARN  string
	Handler   BatchHandler
	BatchSize int32
	// Wait is the long-poll duration of one ReceiveMessage.
	Wait time.Duration
	// Timeout is the consuming function's Timeout in the template: each
	// batch is handled under that deadline, as Lambda gives an invocation.
	// Zero gives none.
	Timeout time.Duration
}

// Run polls until ctx is done.
func (p *Poller) Run(ctx context.Context) error {
	batch := p.BatchSize
	if batch == 0 {
		batch = 10
	}
	wait := int32(p.Wait / time.Second)
	if p.Wait == 0 {
		wait = 1
	}
	for ctx.Err() == nil {
		out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &p.QueueURL,
			MaxNumberOfMessages:         batch,
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			slog.WarnContext(ctx, "receive failed", "queue", p.QueueURL, "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if len(out.Messages) > 0 {
			p.deliver(ctx, out.Messages)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

func (p *Poller) deliver(ctx context.Context, msgs []types.Message) {
	event := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		event.Records[i] = events.SQSMessage{
			MessageId:      aws.ToString(m.MessageId),
			ReceiptHandle:  aws.ToString(m.ReceiptHandle),
			Body:           aws.ToString(m.Body),
			Attributes:     m.Attributes,
			EventSource:    "aws:sqs",
			EventSourceARN: p.QueueARN,
			AWSRegion:      "us-east-1",
		}
	}
	invocation := ctx
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		invocation, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	resp, err := p.Handler(invocation, event)
	if err != nil {
		// A handler error fails the whole batch, as in Lambda.
		slog.ErrorContext(ctx, "batch handler failed", "queue", p.QueueURL, "error", err)
		return
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var done []types.DeleteMessageBatchRequestEntry
	for _, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			done = append(done, types.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(done) == 0 {
		return
	}
	if _, err := p.SQS.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: &p.QueueURL, Entries: done}); err != nil {
		slog.WarnContext(ctx, "delete failed; the messages will be delivered again", "queue", p.QueueURL, "error", err)
	}
}

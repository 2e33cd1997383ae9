package soak

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/internal/queue"
)

// Messages wraps a consumer's batch handler with the message faults: a
// batch reordered before it is handled, a message handled twice, a copy of a
// message sent back to its queue to arrive late. Copies go through client,
// which injects nothing itself.
func (in *Injector) Messages(h queue.BatchHandler, client queue.API, queueURL string) queue.BatchHandler {
	return func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
		f := in.Faults
		if len(event.Records) > 1 && in.fire(f.Reorder, FaultReorder) {
			recs := append([]events.SQSMessage(nil), event.Records...)
			for i := len(recs) - 1; i > 0; i-- {
				j := in.intN(i + 1)
				recs[i], recs[j] = recs[j], recs[i]
			}
			event.Records = recs
		}
		// A copy handled again gets an invocation of its own, as long as this one.
		invocation := time.Minute
		if d, ok := ctx.Deadline(); ok {
			invocation = time.Until(d)
		}
		resp, err := h(ctx, event)
		for _, rec := range event.Records {
			if in.fire(f.Duplicate, FaultDuplicate) {
				// Handled once this batch is, but not as part of it: SQS
				// delivers a duplicate to another invocation, which never
				// holds up this one's answer and the next receive. (Handled
				// while the batch runs, it would share the original's
				// receipt handle, which a real copy never does.)
				go func() {
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invocation)
					defer cancel()
					_, _ = h(dctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
				}()
			}
			if in.fire(f.Late, FaultLate) {
				body := rec.Body
				delay := int32(1 + in.intN(5))
				_, _ = client.SendMessage(context.WithoutCancel(ctx), &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: &body, DelaySeconds: delay})
			}
		}
		return resp, err
	}
}

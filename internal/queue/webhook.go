package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/internal/webhook"
)

// WebhookAPI is the part of the SQS client the webhook path uses.
type WebhookAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// WebhookQueue is the webhook queue (dispatch and deliver messages) and its
// dead-letter queue; it implements webhook.Queue.
type WebhookQueue struct {
	sqs    WebhookAPI
	url    string
	dlqURL string
}

// NewWebhookQueue sends to the queue at url and parks in the one at dlqURL.
func NewWebhookQueue(client WebhookAPI, url, dlqURL string) *WebhookQueue {
	return &WebhookQueue{sqs: client, url: url, dlqURL: dlqURL}
}

// Dispatch sends a dispatch message.
func (q *WebhookQueue) Dispatch(ctx context.Context, k webhook.EventKey) error {
	return q.send(ctx, q.url, webhook.DispatchMessage(k), nil)
}

// sendBatchSize is SQS's limit of entries per SendMessageBatch.
const sendBatchSize = 10

// Deliver sends one deliver message per delivery, ten per request.
func (q *WebhookQueue) Deliver(ctx context.Context, keys []webhook.DeliveryKey) error {
	for start := 0; start < len(keys); start += sendBatchSize {
		chunk := keys[start:min(start+sendBatchSize, len(keys))]
		entries := make([]types.SendMessageBatchRequestEntry, len(chunk))
		for i, k := range chunk {
			body, err := json.Marshal(webhook.DeliverMessage(k))
			if err != nil {
				return fmt.Errorf("encode message: %w", err)
			}
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))}
		}
		out, err := q.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return fmt.Errorf("send message batch: %w", err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("send message batch: %d of %d failed (%s: %s)", len(out.Failed), len(entries),
				aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return nil
}

// Park puts a delivery in the dead-letter queue, with why it was given up
// as message attributes (the state itself stays in the table).
func (q *WebhookQueue) Park(ctx context.Context, d webhook.Delivery) error {
	attrs := map[string]types.MessageAttributeValue{
		"attempts":  {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(d.Attempts))},
		"lastError": {DataType: aws.String("String"), StringValue: aws.String(cmp.Or(d.LastError, "-"))},
	}
	if d.LastStatus != 0 {
		attrs["lastStatus"] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(d.LastStatus))}
	}
	return q.send(ctx, q.dlqURL, webhook.ParkedMessage(d.DeliveryKey), attrs)
}

func (q *WebhookQueue) send(ctx context.Context, url string, m webhook.Message, attrs map[string]types.MessageAttributeValue) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	_, err = q.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(string(body)), MessageAttributes: attrs})
	if err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	return nil
}

// WebhookHandler handles one webhook message; *webhook.Worker implements it.
type WebhookHandler interface {
	Handle(ctx context.Context, m webhook.Message) (webhook.Outcome, error)
}

// maxVisibility is the longest SQS hides a received message (12 hours).
const maxVisibility = 43200

// WebhookBatchHandler handles a batch of the webhook queue, every message
// concurrently: a slow endpoint delays nobody else's delivery. A message to
// retry later is hidden for its delay (ChangeMessageVisibility, the backoff)
// and reported failed so it is not deleted; errors are reported failed and
// come back after the queue's visibility timeout.
func WebhookBatchHandler(h WebhookHandler, q *WebhookQueue) BatchHandler {
	return func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
		return partialBatch(ctx, event, func(ctx context.Context, msg events.SQSMessage) error {
			var m webhook.Message
			if err := json.Unmarshal([]byte(msg.Body), &m); err != nil || !m.Valid() {
				slog.ErrorContext(ctx, "malformed webhook message", "messageId", msg.MessageId, "error", err)
				return fmt.Errorf("malformed webhook message %s", msg.MessageId)
			}
			out, err := h.Handle(ctx, m)
			if err != nil {
				slog.ErrorContext(ctx, "webhook message failed; it will come back", "messageId", msg.MessageId,
					"kind", m.Kind, "synchronizationId", m.SynchronizationID, "publisherId", m.PublisherID,
					"endpointId", m.EndpointID, "error", err)
				return err
			}
			if out.RetryIn <= 0 {
				return nil
			}
			q.hide(ctx, msg, out.RetryIn)
			return errRetryLater
		}), nil
	}
}

var errRetryLater = fmt.Errorf("retry later")

// hideTimeout bounds the call that hides a message, which runs even when the
// delivery used up the work's deadline (it is what paces the retries).
const hideTimeout = time.Second

// hide makes a message invisible for d (rounded up to whole seconds, at
// most 12 hours). If that fails the message comes back after the queue's
// visibility timeout, and the deliverer hides it again for what remains.
func (q *WebhookQueue) hide(ctx context.Context, msg events.SQSMessage, d time.Duration) {
	secs := int32(min(math.Ceil(d.Seconds()), maxVisibility))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hideTimeout)
	defer cancel()
	_, err := q.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &q.url, ReceiptHandle: &msg.ReceiptHandle, VisibilityTimeout: secs,
	})
	if err != nil {
		slog.WarnContext(ctx, "could not delay a webhook message; it comes back after the queue's visibility timeout",
			"messageId", msg.MessageId, "delaySeconds", secs, "error", err)
	}
}

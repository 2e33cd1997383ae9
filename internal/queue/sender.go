// Package queue is the SQS adapter: it sends transfer jobs, turns SQS events
// into processor calls with partial batch failures, and, where no Lambda
// event source mapping exists (the local runner, tests), polls a queue and
// feeds the same handler.
package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// API is the part of the SQS client this package uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Sender enqueues transfer jobs.
type Sender struct {
	sqs API
	url string
}

// NewSender sends to the queue at url.
func NewSender(client API, url string) *Sender { return &Sender{sqs: client, url: url} }

// Enqueue sends one job as a JSON message.
func (s *Sender) Enqueue(ctx context.Context, job transfer.Job) error {
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	text := string(body)
	if _, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.url, MessageBody: &text}); err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// deadLetterQueue is a dead-letter queue the dlq commands know. Another
// queue is one entry in deadLetterQueues.
type deadLetterQueue struct {
	// Name is what the commands call it: "transfer", "webhook".
	Name string
	// URLSetting and SourceSetting name the settings holding the URLs of the
	// dead-letter queue and of the queue its messages are redriven to.
	URLSetting, SourceSetting string
	// Reason says why a message is here, from what the service stored about
	// it (the message body says only which synchronization it is about).
	Reason func(ctx context.Context, c *connection, m deadLetter) string
}

// deadLetterQueues are the service's dead-letter queues.
var deadLetterQueues = []deadLetterQueue{
	{Name: "transfer", URLSetting: settingTransferDLQ, SourceSetting: settingTransferQ, Reason: transferDeadLetterReason},
	{Name: "webhook", URLSetting: settingWebhookDLQ, SourceSetting: settingWebhookQ, Reason: webhookDeadLetterReason},
}

// deadLetter is one message of a dead-letter queue, decoded as far as the
// service's messages go: every one of them names a publisher and a
// synchronization.
type deadLetter struct {
	Queue             string               `json:"queue"`
	MessageID         string               `json:"messageId"`
	PublisherID       transfer.PublisherID `json:"publisherId,omitempty"`
	SynchronizationID string               `json:"synchronizationId,omitempty"`
	Reason            string               `json:"reason"`
	SentAt            time.Time            `json:"sentAt"`
	AgeSeconds        int64                `json:"ageSeconds"`
	Receives          int                  `json:"receives"`
	Body              string               `json:"body"`

	receipt string
}

// dlqVisibility hides the messages a command has received until it is done
// with them (then it makes the ones it keeps visible again at once).
const dlqVisibility = 60

func newDLQCommand(a *app) *cobra.Command {
	return group("dlq", "List and redrive the dead-letter queues ("+strings.Join(dlqNames(), ", ")+")",
		a.dlqListCommand(), a.dlqRedriveCommand())
}

func dlqNames() []string {
	names := make([]string, len(deadLetterQueues))
	for i, q := range deadLetterQueues {
		names[i] = q.Name
	}
	return names
}

// pickQueues resolves queue names given on the command line; none means all.
func pickQueues(names []string) ([]deadLetterQueue, error) {
	if len(names) == 0 {
		return deadLetterQueues, nil
	}
	var out []deadLetterQueue
	for _, n := range names {
		i := slices.IndexFunc(deadLetterQueues, func(q deadLetterQueue) bool { return q.Name == n })
		if i < 0 {
			return nil, usage("unknown queue %q: known are %s", n, strings.Join(dlqNames(), ", "))
		}
		out = append(out, deadLetterQueues[i])
	}
	return out, nil
}

func (a *app) dlqListCommand() *cobra.Command {
	var max int
	cmd := &cobra.Command{
		Use:   "list [QUEUE...] [--max N]",
		Short: "List dead-lettered messages: synchronization, publisher, reason, age",
		Long: `List the messages of the dead-letter queues (all of them, or those named:
` + strings.Join(dlqNames(), ", ") + `), with the synchronization and publisher each is about,
why it is there (what the service stored about it), and its age since it was
first sent.

Listing receives the messages (SQS has no way to look without receiving)
and makes them visible again right after; nothing is deleted.`,
		Example: `  transferctl --local dlq list
  transferctl --stack transfers-prod --json dlq list transfer`,
		RunE: func(cmd *cobra.Command, names []string) error {
			queues, err := pickQueues(names)
			if err != nil {
				return err
			}
			if max < 1 {
				return usage("--max must be at least 1")
			}
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			var all []deadLetter
			var missing []string
			for _, q := range queues {
				url := c.setting(q.URLSetting)
				if url == "" {
					missing = append(missing, q.Name+" ("+q.URLSetting+" not set)")
					continue
				}
				letters, err := receiveAll(ctx, c.sqs, url, max)
				release(context.WithoutCancel(ctx), c.sqs, url, letters)
				if err != nil {
					return fmt.Errorf("list %s dead letters: %w", q.Name, err)
				}
				for i := range letters {
					letters[i].Queue = q.Name
					letters[i].Reason = q.Reason(ctx, c, letters[i])
				}
				all = append(all, letters...)
			}
			if len(missing) == len(queues) {
				return fmt.Errorf("no dead-letter queue is known: %s", strings.Join(missing, ", "))
			}
			if a.jsonOutput {
				return a.printJSON(nonNil(all))
			}
			if len(all) == 0 {
				a.out("No dead letters.")
			} else {
				t := a.table()
				fmt.Fprintln(t, "QUEUE\tSYNCHRONIZATION\tPUBLISHER\tAGE\tRECEIVES\tREASON")
				for _, l := range all {
					fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%d\t%s\n", l.Queue, dash(l.SynchronizationID), l.PublisherID, age(time.Duration(l.AgeSeconds)*time.Second), l.Receives, l.Reason)
				}
				if err := t.Flush(); err != nil {
					return err
				}
			}
			for _, m := range missing {
				fmt.Fprintln(a.stderr, "skipped:", m)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&max, "max", 1000, "list at most `N` messages per queue")
	return cmd
}

func (a *app) dlqRedriveCommand() *cobra.Command {
	var (
		max     int
		syncIDs []string
	)
	cmd := &cobra.Command{
		Use:   "redrive QUEUE [--sync ID]... [--max N]",
		Short: "Move dead-lettered messages back to their queue, to be processed again",
		Long: `Move the messages of a dead-letter queue back to the queue they came from, where
the service processes them again (a message whose synchronization was already
finalized is simply acknowledged: processing is idempotent). Each message is
sent to the source queue first and deleted from the dead-letter queue after,
so a failure half-way duplicates a message rather than losing it.

--sync limits the move to the messages of the given synchronizations; the
others stay where they are.`,
		Example: `  transferctl --local dlq redrive transfer
  transferctl --stack transfers-prod dlq redrive transfer --sync S4BHDJ6KT5FFYT6WJJNPNUBQM4`,
		Args: args("QUEUE"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			queues, err := pickQueues(argv)
			if err != nil {
				return err
			}
			if max < 1 {
				return usage("--max must be at least 1")
			}
			q := queues[0]
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			from, err := c.require(q.URLSetting)
			if err != nil {
				return err
			}
			to, err := c.require(q.SourceSetting)
			if err != nil {
				return err
			}
			moved, kept, err := redrive(ctx, c.sqs, from, to, max, func(l deadLetter) bool {
				return len(syncIDs) == 0 || slices.Contains(syncIDs, l.SynchronizationID)
			})
			if a.jsonOutput && err == nil {
				return a.printJSON(map[string]any{"queue": q.Name, "moved": nonNil(moved), "kept": kept})
			}
			for _, l := range moved {
				a.out("moved %s (synchronization %s, publisher %d)", l.MessageID, dash(l.SynchronizationID), l.PublisherID)
			}
			if err != nil {
				return fmt.Errorf("redrive %s: %d moved before: %w", q.Name, len(moved), err)
			}
			a.out("Redrove %d message(s) from the %s dead-letter queue; %d left there.", len(moved), q.Name, kept)
			return nil
		},
	}
	cmd.Flags().IntVar(&max, "max", 1000, "move at most `N` messages")
	cmd.Flags().StringSliceVar(&syncIDs, "sync", nil, "move only the messages of synchronization `ID` (repeatable)")
	return cmd
}

// sqsAPI is what the dlq commands use of SQS.
type sqsAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// receiveAll receives the queue's messages, up to max, hiding each for
// dlqVisibility seconds. A receive that returns nothing ends it.
func receiveAll(ctx context.Context, client sqsAPI, url string, max int) ([]deadLetter, error) {
	var out []deadLetter
	seen := map[string]bool{}
	for len(out) < max {
		got, err := receive(ctx, client, url, min(10, max-len(out)))
		if err != nil {
			return out, err
		}
		if len(got) == 0 {
			return out, nil
		}
		for _, l := range got {
			if !seen[l.MessageID] {
				seen[l.MessageID] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func receive(ctx context.Context, client sqsAPI, url string, n int) ([]deadLetter, error) {
	resp, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &url,
		MaxNumberOfMessages:         int32(n),
		VisibilityTimeout:           dlqVisibility,
		WaitTimeSeconds:             1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]deadLetter, len(resp.Messages))
	for i, m := range resp.Messages {
		out[i] = decodeDeadLetter(m, now)
	}
	return out, nil
}

func decodeDeadLetter(m sqstypes.Message, now time.Time) deadLetter {
	l := deadLetter{MessageID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), receipt: aws.ToString(m.ReceiptHandle)}
	var names struct {
		PublisherID       transfer.PublisherID `json:"publisherId"`
		SynchronizationID string               `json:"synchronizationId"`
	}
	if json.Unmarshal([]byte(l.Body), &names) == nil {
		l.PublisherID, l.SynchronizationID = names.PublisherID, names.SynchronizationID
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		l.SentAt = time.UnixMilli(ms).UTC()
		l.AgeSeconds = int64(now.Sub(l.SentAt) / time.Second)
	}
	l.Receives, _ = strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	return l
}

// release makes received messages visible again at once.
func release(ctx context.Context, client sqsAPI, url string, letters []deadLetter) {
	for _, l := range letters {
		_, _ = client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: &url, ReceiptHandle: &l.receipt, VisibilityTimeout: 0})
	}
}

// redrive moves the messages of from that match to the queue to, up to max.
// Messages that do not match are made visible again. A message is sent
// before it is deleted, so a failure in between duplicates it (the
// processors are idempotent) rather than losing it.
func redrive(ctx context.Context, client sqsAPI, from, to string, max int, match func(deadLetter) bool) (moved []deadLetter, kept int, err error) {
	var skipped []deadLetter
	defer func() { release(context.WithoutCancel(ctx), client, from, skipped) }()
	seen := map[string]bool{}
	for len(moved) < max {
		got, err := receive(ctx, client, from, min(10, max-len(moved)))
		if err != nil {
			return moved, len(skipped), err
		}
		fresh := 0
		for _, l := range got {
			if seen[l.MessageID] {
				// Back again (processed, failed and dead-lettered while we
				// run): leave it for the next redrive.
				skipped = append(skipped, l)
				continue
			}
			seen[l.MessageID] = true
			fresh++
			if !match(l) || len(moved) >= max {
				skipped = append(skipped, l)
				continue
			}
			if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &to, MessageBody: &l.Body}); err != nil {
				skipped = append(skipped, l)
				return moved, len(skipped), fmt.Errorf("send %s: %w", l.MessageID, err)
			}
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &from, ReceiptHandle: &l.receipt}); err != nil {
				return moved, len(skipped), fmt.Errorf("delete %s after sending it (it is now in both queues): %w", l.MessageID, err)
			}
			moved = append(moved, l)
		}
		if fresh == 0 {
			break
		}
	}
	return moved, len(skipped), nil
}

// transferDeadLetterReason explains a dead-lettered transfer job by its
// synchronization record.
func transferDeadLetterReason(ctx context.Context, c *connection, l deadLetter) string {
	if l.PublisherID <= 0 || l.SynchronizationID == "" {
		return "malformed message: names no publisher and synchronization"
	}
	store, err := c.store()
	if err != nil {
		return "unknown: " + err.Error()
	}
	s, ok, err := store.syncs.Get(ctx, l.PublisherID, l.SynchronizationID)
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case !ok:
		return "no synchronization record (rolled back or expired): redriving only drops it"
	case s.Status == transfer.StatusFinalized && s.Result == transfer.ResultTransferFailed:
		return "finalized TRANSFER_FAILED after its retries: nothing changed; redriving only drops it"
	case s.Status == transfer.StatusFinalized:
		return "finalized " + string(s.Result) + ": redriving only drops it"
	default:
		return fmt.Sprintf("%s, not finalized (%d failed attempts): redrive to finish it", s.Status, s.Attempts)
	}
}

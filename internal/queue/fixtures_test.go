package queue_test

// Wire formats pinned by the files under testdata/: the transfer job and the
// webhook queue's messages as the senders write them, and SQS events as
// Lambda's event source mapping hands them to the functions. A change that
// alters one of them fails here, not in production against messages already
// in flight.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

const (
	fixturePublisher = transfer.PublisherID(123456789)
	fixtureSync      = "S4BHDJ6KT5FFYT6WJJNPNUBQM4"
	fixtureEndpoint  = "ep_K7Q2M5R7VYB6NE4TQ5E3KXGZJ4"
)

// fixtureJobs are the Go values of testdata/transfer-job*.json.
var fixtureJobs = map[string]transfer.Job{
	// As JobOf writes a job: the record's key and the prefetch hint (the
	// record's transactionId and chain).
	"transfer-job-hinted.json": {PublisherID: fixturePublisher, SynchronizationID: fixtureSync,
		HintTransactionID: "2000000123456789", HintOriginalTransactionID: "2000000000000001"},
	// The key of the synchronization record, nothing else: jobs sent while
	// they carried no hint, still in flight when this version deploys.
	"transfer-job.json": {PublisherID: fixturePublisher, SynchronizationID: fixtureSync},
	// A job as senders wrote it before jobs named only their record: the
	// same fields as the hint, so it decodes to a hinted job.
	"transfer-job-legacy.json": legacyJob,
}

// legacyJob is testdata/transfer-job-legacy.json.
var legacyJob = transfer.Job{PublisherID: fixturePublisher, SynchronizationID: "order-4711-transfer",
	HintTransactionID: "2000000999999999", HintOriginalTransactionID: "2000000000000001"}

// fixtureMessages are the Go values of testdata/webhook-*.json.
var fixtureMessages = map[string]webhook.Message{
	"webhook-dispatch.json": {Kind: webhook.KindDispatch, PublisherID: fixturePublisher, SynchronizationID: fixtureSync},
	"webhook-deliver.json": {Kind: webhook.KindDeliver, PublisherID: fixturePublisher, SynchronizationID: fixtureSync,
		EndpointID: fixtureEndpoint},
	"webhook-deliver-parked.json": {Kind: webhook.KindDeliver, PublisherID: fixturePublisher, SynchronizationID: fixtureSync,
		EndpointID: fixtureEndpoint, Parked: true},
}

func TestJobFixturesRoundTrip(t *testing.T) {
	t.Parallel()
	for name, want := range fixtureJobs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sample := fixture.Read(t, name)
			var got transfer.Job
			fixture.DecodeStrict(t, name, sample, &got)
			if got != want {
				t.Errorf("decoded %+v, want %+v", got, want)
			}
			encoded, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			fixture.AssertJSONEqual(t, name, encoded, sample)
		})
	}
}

// JobOf writes the hinted format: the record's key, its transactionId and
// its chain, under the names of testdata/transfer-job-hinted.json.
func TestJobOfWritesTheHintedFixture(t *testing.T) {
	t.Parallel()
	s := transfer.Synchronization{PublisherID: fixturePublisher, ID: fixtureSync, TransactionID: "2000000123456789",
		OriginalTransactionID: "2000000000000001", Target: 987654321, Status: transfer.StatusProcessing}
	encoded, err := json.Marshal(transfer.JobOf(s))
	if err != nil {
		t.Fatal(err)
	}
	fixture.AssertJSONEqual(t, "transfer-job-hinted.json", encoded, fixture.Read(t, "transfer-job-hinted.json"))
}

// A job of each format reaches the processor with the hint it carries, or
// none: what the hint is worth is the processor's to judge against the
// stored record.
func TestJobsReachTheHandlerAsSent(t *testing.T) {
	t.Parallel()
	for name, want := range fixtureJobs {
		h := &fakeJobHandler{}
		event := events.SQSEvent{Records: []events.SQSMessage{record("m-1", string(fixture.Read(t, name)), nil)}}
		resp, err := queue.TransferBatchHandler(h)(context.Background(), event)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: answered %+v, %v", name, resp, err)
		}
		if got := h.byID()[want.SynchronizationID]; got.job != want {
			t.Errorf("%s: handled %+v, want %+v", name, h.calls, want)
		}
	}
}

// sentMessages is a fake SQS client that records what is sent.
type sentMessages struct {
	mu         sync.Mutex
	sends      []*sqs.SendMessageInput
	batches    []*sqs.SendMessageBatchInput
	visibility []*sqs.ChangeMessageVisibilityInput
}

func (s *sentMessages) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends = append(s.sends, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("sent")}, nil
}

func (s *sentMessages) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, in)
	return &sqs.SendMessageBatchOutput{}, nil
}

func (s *sentMessages) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visibility = append(s.visibility, in)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (s *sentMessages) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return nil, errors.New("not used")
}

func (s *sentMessages) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return nil, errors.New("not used")
}

// TestSenderWritesTheJobFixture: the body the transfer function enqueues is
// the sample, byte for byte what the processor of the previous release
// would read.
func TestSenderWritesTheJobFixture(t *testing.T) {
	t.Parallel()
	for name, job := range fixtureJobs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client := &sentMessages{}
			if err := queue.NewSender(client, "https://sqs.eu-west-1.amazonaws.com/123456789012/transfer").Enqueue(context.Background(), job); err != nil {
				t.Fatal(err)
			}
			if len(client.sends) != 1 {
				t.Fatalf("%d messages sent, want 1", len(client.sends))
			}
			fixture.AssertJSONEqual(t, name, []byte(aws.ToString(client.sends[0].MessageBody)), fixture.Read(t, name))
		})
	}
}

func TestWebhookMessageFixturesRoundTrip(t *testing.T) {
	t.Parallel()
	for name, want := range fixtureMessages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sample := fixture.Read(t, name)
			var got webhook.Message
			fixture.DecodeStrict(t, name, sample, &got)
			if got != want {
				t.Errorf("decoded %+v, want %+v", got, want)
			}
			if !got.Valid() {
				t.Errorf("%s is not a valid message", name)
			}
			encoded, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			fixture.AssertJSONEqual(t, name, encoded, sample)
		})
	}
}

const (
	webhookQueueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/purchase-transfer-WebhookQueue-8FJ2N6Q4T1ZP"
	webhookDLQURL   = "https://sqs.eu-west-1.amazonaws.com/123456789012/purchase-transfer-WebhookDeadLetterQueue-2RM7W5YH9C3D"
)

// TestWebhookQueueWritesTheMessageFixtures: Dispatch, Deliver and Park send
// the fixtures' bodies, each to its queue.
func TestWebhookQueueWritesTheMessageFixtures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := webhook.DeliveryKey{PublisherID: fixturePublisher, SynchronizationID: fixtureSync, EndpointID: fixtureEndpoint}
	client := &sentMessages{}
	q := queue.NewWebhookQueue(client, webhookQueueURL, webhookDLQURL)
	if err := q.Dispatch(ctx, webhook.EventKey{PublisherID: fixturePublisher, SynchronizationID: fixtureSync}); err != nil {
		t.Fatal(err)
	}
	if err := q.Deliver(ctx, []webhook.DeliveryKey{key}); err != nil {
		t.Fatal(err)
	}
	if err := q.Park(ctx, parkedDelivery(key)); err != nil {
		t.Fatal(err)
	}
	if len(client.sends) != 2 || len(client.batches) != 1 || len(client.batches[0].Entries) != 1 {
		t.Fatalf("sent %d messages and %d batches, want dispatch and park alone and one batch of one deliver", len(client.sends), len(client.batches))
	}
	dispatch, park, deliver := client.sends[0], client.sends[1], client.batches[0]
	if aws.ToString(dispatch.QueueUrl) != webhookQueueURL || aws.ToString(deliver.QueueUrl) != webhookQueueURL {
		t.Errorf("dispatch to %q, deliver to %q; want the webhook queue", aws.ToString(dispatch.QueueUrl), aws.ToString(deliver.QueueUrl))
	}
	if aws.ToString(park.QueueUrl) != webhookDLQURL {
		t.Errorf("park to %q, want the dead-letter queue", aws.ToString(park.QueueUrl))
	}
	fixture.AssertJSONEqual(t, "dispatch", []byte(aws.ToString(dispatch.MessageBody)), fixture.Read(t, "webhook-dispatch.json"))
	fixture.AssertJSONEqual(t, "deliver", []byte(aws.ToString(deliver.Entries[0].MessageBody)), fixture.Read(t, "webhook-deliver.json"))
	fixture.AssertJSONEqual(t, "park", []byte(aws.ToString(park.MessageBody)), fixture.Read(t, "webhook-deliver-parked.json"))

	// What Park attaches is what an operator's redrive brings back to the
	// webhook queue: the message attributes of the event sample's last record.
	var event events.SQSEvent
	fixture.DecodeStrict(t, "sqs-event-webhook.json", fixture.Read(t, "sqs-event-webhook.json"), &event)
	redriven := event.Records[len(event.Records)-1].MessageAttributes
	if len(park.MessageAttributes) != len(redriven) {
		t.Errorf("park attributes %v, want the %d of the redriven record", park.MessageAttributes, len(redriven))
	}
	for name, want := range redriven {
		got, ok := park.MessageAttributes[name]
		if !ok {
			t.Errorf("park sends no %q attribute", name)
			continue
		}
		if aws.ToString(got.DataType) != want.DataType || aws.ToString(got.StringValue) != aws.ToString(want.StringValue) {
			t.Errorf("park attribute %s = %s %q, want %s %q", name, aws.ToString(got.DataType), aws.ToString(got.StringValue),
				want.DataType, aws.ToString(want.StringValue))
		}
	}
}

// parkedDelivery is the delivery whose parking the webhook event sample's
// redriven record carries.
func parkedDelivery(k webhook.DeliveryKey) webhook.Delivery {
	return webhook.Delivery{DeliveryKey: k, EventID: "evt_QJ4XKQ2M5R7VYB6NE7TQ5E3KXG", State: webhook.StateFailed,
		Attempts: 12, LastStatus: 503, LastError: "HTTP 503 Service Unavailable"}
}

// checkSQSEvent checks that a sample is an SQS event as Lambda sends it:
// every record from SQS, with its queue's ARN, a receive count, and an
// md5OfBody that is the MD5 of its body (as SQS computes it).
func checkSQSEvent(t *testing.T, name string) events.SQSEvent {
	t.Helper()
	var event events.SQSEvent
	fixture.DecodeStrict(t, name, fixture.Read(t, name), &event)
	if len(event.Records) == 0 {
		t.Fatalf("%s has no records", name)
	}
	for _, r := range event.Records {
		sum := md5.Sum([]byte(r.Body))
		if r.Md5OfBody != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: record %s: md5OfBody %s is not the MD5 of its body", name, r.MessageId, r.Md5OfBody)
		}
		if r.EventSource != "aws:sqs" || r.EventSourceARN == "" || r.AWSRegion == "" || r.ReceiptHandle == "" {
			t.Errorf("%s: record %s lacks what Lambda always sends: %+v", name, r.MessageId, r)
		}
		if r.Attributes["ApproximateReceiveCount"] == "" || r.Attributes["SentTimestamp"] == "" {
			t.Errorf("%s: record %s lacks system attributes: %v", name, r.MessageId, r.Attributes)
		}
	}
	return event
}

// assertBatchResponse compares a handler's answer, as Lambda reads it (JSON),
// with a sample; failures are compared in any order.
func assertBatchResponse(t *testing.T, name string, resp events.SQSEventResponse) {
	t.Helper()
	sample := fixture.Read(t, name)
	var want events.SQSEventResponse
	fixture.DecodeStrict(t, name, sample, &want)
	if got, w := failedIDs(resp), failedIDs(want); !equal(got, w) {
		t.Errorf("batchItemFailures = %v, want %v (%s)", got, w, name)
	}
	encoded, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	// One failure per sample, so the order cannot differ: compare the JSON.
	fixture.AssertJSONEqual(t, name, encoded, sample)
}

// TestTransferBatchHandlerOnTheEventFixture: the processor's handler decodes
// the jobs of a real event, with their receive counts, and reports the one
// that failed by its messageId.
func TestTransferBatchHandlerOnTheEventFixture(t *testing.T) {
	t.Parallel()
	event := checkSQSEvent(t, "sqs-event-transfer.json")
	h := &fakeJobHandler{fail: map[string]bool{"order-4711-transfer": true}}
	resp, err := queue.TransferBatchHandler(h)(context.Background(), event)
	if err != nil {
		t.Fatalf("batch error %v: it would fail the whole batch", err)
	}
	calls := h.byID()
	want := map[string]handled{
		fixtureSync: {job: fixtureJobs["transfer-job.json"], receive: 1},
		// Sent before jobs named only their record, when its chain was
		// unknown at accept time: the hint is its transactionId alone.
		"order-4711-transfer": {job: transfer.Job{PublisherID: fixturePublisher, SynchronizationID: "order-4711-transfer",
			HintTransactionID: "2000000999999999"}, receive: 3},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("handled %+v, want %+v", calls, want)
	}
	assertBatchResponse(t, "sqs-event-transfer-response.json", resp)
}

// fakeWebhookHandler asks for a deliver message again later unless it is a
// parked copy (as the deliverer does while a receiver answers 503).
type fakeWebhookHandler struct {
	mu       sync.Mutex
	messages []webhook.Message
}

const retryIn = 90 * time.Second

func (h *fakeWebhookHandler) Handle(_ context.Context, m webhook.Message) (webhook.Outcome, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.messages = append(h.messages, m)
	if m.Kind == webhook.KindDeliver && !m.Parked {
		return webhook.Outcome{RetryIn: retryIn}, nil
	}
	return webhook.Outcome{}, nil
}

// TestWebhookBatchHandlerOnTheEventFixture: the webhook function's handler
// decodes a dispatch, a deliver and a redriven parked deliver from a real
// event, hides the message to retry by its receipt handle, and reports it.
func TestWebhookBatchHandlerOnTheEventFixture(t *testing.T) {
	t.Parallel()
	event := checkSQSEvent(t, "sqs-event-webhook.json")
	h := &fakeWebhookHandler{}
	client := &sentMessages{}
	resp, err := queue.WebhookBatchHandler(h, queue.NewWebhookQueue(client, webhookQueueURL, webhookDLQURL))(context.Background(), event)
	if err != nil {
		t.Fatalf("batch error %v: it would fail the whole batch", err)
	}
	got := map[webhook.Message]int{}
	for _, m := range h.messages {
		got[m]++
	}
	want := map[webhook.Message]int{}
	for _, m := range fixtureMessages {
		want[m]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("handled %v, want each sample message once: %v", got, want)
	}
	assertBatchResponse(t, "sqs-event-webhook-response.json", resp)

	var retried events.SQSMessage
	for _, r := range event.Records {
		if r.MessageId == resp.BatchItemFailures[0].ItemIdentifier {
			retried = r
		}
	}
	if len(client.visibility) != 1 {
		t.Fatalf("%d visibility changes, want 1 for the message to retry", len(client.visibility))
	}
	v := client.visibility[0]
	if aws.ToString(v.QueueUrl) != webhookQueueURL || aws.ToString(v.ReceiptHandle) != retried.ReceiptHandle ||
		v.VisibilityTimeout != int32(retryIn/time.Second) {
		t.Errorf("visibility change %s %s %ds, want %s %s %ds", aws.ToString(v.QueueUrl), aws.ToString(v.ReceiptHandle),
			v.VisibilityTimeout, webhookQueueURL, retried.ReceiptHandle, int32(retryIn/time.Second))
	}
}

// Compile-time checks that the fake satisfies both clients.
var (
	_ queue.API        = (*sentMessages)(nil)
	_ queue.WebhookAPI = (*sentMessages)(nil)
)

package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
)

type handled struct {
	job     transfer.Job
	receive int
}

// fakeJobHandler fails the jobs whose synchronization id is in fail.
type fakeJobHandler struct {
	mu    sync.Mutex
	fail  map[string]bool
	calls []handled
	// before, when set, runs at the start of every call.
	before func()
}

func (h *fakeJobHandler) Handle(_ context.Context, job transfer.Job, receiveCount int) error {
	if h.before != nil {
		h.before()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, handled{job: job, receive: receiveCount})
	if h.fail[job.SynchronizationID] {
		return errors.New("transient")
	}
	return nil
}

func (h *fakeJobHandler) byID() map[string]handled {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]handled{}
	for _, c := range h.calls {
		out[c.job.SynchronizationID] = c
	}
	return out
}

func jobBody(t *testing.T, job transfer.Job) string {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func record(id, body string, attrs map[string]string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body, Attributes: attrs, EventSource: "aws:sqs"}
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	sort.Strings(ids)
	return ids
}

func TestBatchReportsOnlyFailingRecords(t *testing.T) {
	t.Parallel()
	h := &fakeJobHandler{fail: map[string]bool{"s-2": true}}
	job := func(id string) transfer.Job {
		return transfer.Job{PublisherID: 7, SynchronizationID: id}
	}
	event := events.SQSEvent{Records: []events.SQSMessage{
		record("m-1", jobBody(t, job("s-1")), map[string]string{"ApproximateReceiveCount": "1"}),
		record("m-2", jobBody(t, job("s-2")), map[string]string{"ApproximateReceiveCount": "3"}),
		record("m-3", `{not json`, nil),
		record("m-4", `{"publisherId":7}`, nil),                             // no synchronization id
		record("m-5", `{"publisherId":0,"synchronizationId":"s-5"}`, nil),   // no publisher
		record("m-6", `{"publisherId":-1,"synchronizationId":"s-6"}`, nil),  // negative publisher
		record("m-7", `{"publisherId":"7","synchronizationId":"s-7"}`, nil), // wrong type
		record("m-8", ``, nil),                                              // empty body
		record("m-9", jobBody(t, job("s-9")), map[string]string{"SenderId": "x"}),
	}}
	resp, err := queue.TransferBatchHandler(h)(context.Background(), event)
	if err != nil {
		t.Fatalf("batch error %v: it would fail the whole batch", err)
	}
	want := []string{"m-2", "m-3", "m-4", "m-5", "m-6", "m-7", "m-8"}
	if got := failedIDs(resp); !equal(got, want) {
		t.Errorf("failures = %v, want %v", got, want)
	}
	calls := h.byID()
	if len(calls) != 3 {
		t.Errorf("handler called for %v, want only the well-formed s-1, s-2, s-9", calls)
	}
	for _, id := range []string{"s-1", "s-2", "s-9"} {
		c, ok := calls[id]
		if !ok {
			t.Errorf("job %s not handled", id)
			continue
		}
		if c.job != job(id) {
			t.Errorf("job %s decoded as %+v", id, c.job)
		}
	}
	if calls["s-2"].receive != 3 {
		t.Errorf("s-2 receive count = %d, want 3", calls["s-2"].receive)
	}
	if calls["s-9"].receive != 1 {
		t.Errorf("s-9 receive count = %d, want the default 1", calls["s-9"].receive)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBatchAllSucceed(t *testing.T) {
	t.Parallel()
	h := &fakeJobHandler{}
	var records []events.SQSMessage
	for _, id := range []string{"a", "b", "c"} {
		records = append(records, record("m-"+id, jobBody(t, transfer.Job{PublisherID: 1, SynchronizationID: id}), nil))
	}
	resp, err := queue.TransferBatchHandler(h)(context.Background(), events.SQSEvent{Records: records})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("resp = %+v, err = %v; want no failures", resp, err)
	}
	if len(h.byID()) != 3 {
		t.Errorf("handled %d jobs, want 3", len(h.byID()))
	}
}

func TestBatchEmpty(t *testing.T) {
	t.Parallel()
	h := &fakeJobHandler{}
	resp, err := queue.TransferBatchHandler(h)(context.Background(), events.SQSEvent{})
	if err != nil || len(resp.BatchItemFailures) != 0 || len(h.byID()) != 0 {
		t.Errorf("empty batch: resp %+v, err %v, calls %v", resp, err, h.byID())
	}
}

func TestBatchRecordsAreHandledConcurrently(t *testing.T) {
	t.Parallel()
	const n = 5
	var arrived sync.WaitGroup
	arrived.Add(n)
	allIn := make(chan struct{})
	go func() { arrived.Wait(); close(allIn) }()
	h := &fakeJobHandler{before: func() {
		arrived.Done()
		select {
		case <-allIn: // every record is in flight at once
		case <-time.After(10 * time.Second):
		}
	}}
	var records []events.SQSMessage
	for i := range n {
		id := string(rune('a' + i))
		records = append(records, record("m-"+id, jobBody(t, transfer.Job{PublisherID: 1, SynchronizationID: id}), nil))
	}
	done := make(chan events.SQSEventResponse)
	go func() {
		resp, _ := queue.TransferBatchHandler(h)(context.Background(), events.SQSEvent{Records: records})
		done <- resp
	}()
	select {
	case <-allIn:
	case <-time.After(10 * time.Second):
		t.Fatal("records were not all in flight together: the batch is handled sequentially")
	}
	if resp := <-done; len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures = %+v", resp.BatchItemFailures)
	}
}

func TestReceiveCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attrs map[string]string
		want  int
	}{
		{nil, 1},
		{map[string]string{}, 1},
		{map[string]string{"ApproximateReceiveCount": "1"}, 1},
		{map[string]string{"ApproximateReceiveCount": "5"}, 5},
		{map[string]string{"ApproximateReceiveCount": "17"}, 17},
		{map[string]string{"ApproximateReceiveCount": "0"}, 1},
		{map[string]string{"ApproximateReceiveCount": "-3"}, 1},
		{map[string]string{"ApproximateReceiveCount": "abc"}, 1},
		{map[string]string{"ApproximateReceiveCount": ""}, 1},
		{map[string]string{"approximateReceiveCount": "4"}, 1}, // SQS spells it exactly
	}
	for _, tc := range tests {
		if got := queue.ReceiveCount(events.SQSMessage{Attributes: tc.attrs}); got != tc.want {
			t.Errorf("ReceiveCount(%v) = %d, want %d", tc.attrs, got, tc.want)
		}
	}
}
